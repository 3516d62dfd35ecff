/**
 * A counting loopback HTTP proxy between the operator and a store (Vault): counts every request
 * with its arrival time, and injects network faults the store itself cannot produce:
 * - "forward":   requests go to the store; if the store's port refuses, the client's connection
 *                is reset (what a client of a stopped server sees after connecting);
 * - "blackhole": connections are accepted and requests read, but nothing is ever answered;
 * - "reset":     every request's connection is reset at once.
 * Requests held by the blackhole are released (reset) when the mode changes.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { request, Agent } from "undici";

export type ProxyMode = "forward" | "blackhole" | "reset";

export interface StoreProxy {
  url: string;
  mode: ProxyMode;
  /** Arrival times (ms since epoch) of every request, in order. */
  readonly times: number[];
  /** Requests that arrived in [from, to). */
  count(from: number, to?: number): number;
  /** The highest number of requests in any one-second window starting in [from, to). */
  peakPerSecond(from: number, to?: number): number;
  stop(): Promise<void>;
}

export async function startStoreProxy(target: string): Promise<StoreProxy> {
  const times: number[] = [];
  const held = new Set<Socket>();
  const sockets = new Set<Socket>();
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });
  let mode: ProxyMode = "forward";

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined && k !== "host" && k !== "connection") headers[k] = v;
    request(`${target}${req.url ?? "/"}`, {
      method: (req.method ?? "GET") as "GET",
      headers,
      body: body.length ? body : null,
      dispatcher: agent,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    })
      .then(async (r) => {
        const buf = Buffer.from(await r.body.arrayBuffer());
        const h: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(r.headers))
          if (v !== undefined && k !== "transfer-encoding" && k !== "connection" && k !== "keep-alive")
            h[k] = v;
        res.writeHead(r.statusCode, h);
        res.end(buf);
      })
      .catch(() => {
        // the store is not there: the client sees its connection reset
        req.socket.destroy();
      });
  };

  const server = createServer((req, res) => {
    times.push(Date.now());
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (mode === "reset") {
        req.socket.destroy();
        return;
      }
      if (mode === "blackhole") {
        held.add(req.socket);
        return;
      }
      forward(req, res, Buffer.concat(chunks));
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => {
      sockets.delete(s);
      held.delete(s);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;

  const inWindow = (from: number, to = Infinity): number[] => times.filter((t) => t >= from && t < to);
  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    set mode(m: ProxyMode) {
      mode = m;
      for (const s of held) s.destroy();
      held.clear();
    },
    times,
    count: (from, to) => inWindow(from, to).length,
    peakPerSecond: (from, to) => peakPerSecond(inWindow(from, to)),
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await agent.close();
    },
  };
}

/** The most timestamps (ms, sorted) within any one-second window. */
export function peakPerSecond(sorted: readonly number[]): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= 1000) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/**
 * A TCP proxy in front of the kube-apiserver (TLS passes through untouched: the operator still
 * verifies the server's certificate): what a slow, lossy network or an overloaded API server looks
 * like to a client.
 * - every chunk the client sends is held `latencyMs` before it is passed on (order kept), so each
 *   request, and each TLS handshake, takes that much longer;
 * - each chunk the client sends is, with probability `resetRate`, not passed on: the connection is
 *   reset at once (both sides), so the request on it fails, and so does every other request and
 *   watch on it (the operator's client multiplexes them over a few HTTP/2 connections).
 * `slow` switches the faults on and off (off: a plain pipe).
 */
export interface SlowProxy {
  url: string;
  slow: boolean;
  /** connections accepted, and connections reset by the proxy */
  readonly stats: { connections: number; resets: number; chunks: number };
  stop(): Promise<void>;
}

export async function startSlowProxy(
  target: { host: string; port: number },
  opts: { latencyMs: number; resetRate: number; random?: () => number },
): Promise<SlowProxy> {
  const { createServer: createTcpServer, connect } = await import("node:net");
  const random = opts.random ?? Math.random;
  const stats = { connections: 0, resets: 0, chunks: 0 };
  const sockets = new Set<Socket>();
  let slow = false;
  const server = createTcpServer((client) => {
    stats.connections++;
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    let closed = false;
    const reset = (): void => {
      if (closed) return;
      closed = true;
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    };
    const close = (): void => {
      if (closed) return;
      closed = true;
      client.destroy();
      upstream.destroy();
    };
    // client -> server: held for the latency, in order
    let chain = Promise.resolve();
    client.on("data", (chunk: Buffer) => {
      stats.chunks++;
      if (slow && random() < opts.resetRate) {
        stats.resets++;
        reset();
        return;
      }
      // each chunk leaves `latencyMs` after it arrived (not after the one before it: a serialised
      // delay let one HTTP/2 connection carry one chunk per 2 s); equal delays keep the order
      const due = Date.now() + (slow ? opts.latencyMs : 0);
      chain = chain.then(
        () =>
          new Promise<void>((r) => {
            const t = setTimeout(
              () => {
                if (!closed) upstream.write(chunk);
                r();
              },
              Math.max(0, due - Date.now()),
            );
            t.unref();
          }),
      );
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!closed) client.write(chunk);
    });
    // a half-close is passed on after what the client sent before it
    client.on("end", () => void chain.then(() => !closed && upstream.end()));
    upstream.on("end", () => !closed && client.end());
    for (const s of [client, upstream]) {
      s.on("error", close);
      s.on("close", () => {
        sockets.delete(s);
        if (s === upstream) close();
        else void chain.then(close);
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    url: `https://127.0.0.1:${port}`,
    get slow() {
      return slow;
    },
    set slow(v: boolean) {
      slow = v;
    },
    stats,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
