/**
 * The operator's HTTP endpoints: `/healthz` (the process is alive and its loops are running),
 * `/readyz` (caches synced; with leader election, also when standing by), `/metrics`.
 * Extra routes (the Sealed Secrets API) are mounted by their controllers.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from "node:http";
import type { Metrics } from "./metrics.ts";

export type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export class HttpEndpoints {
  readonly #routes = new Map<string, Route>();
  #server: Server | undefined;
  healthy: () => boolean = () => true;
  ready: () => boolean = () => true;

  constructor(readonly metrics?: Metrics) {
    this.route("GET /healthz", (_req, res) => {
      text(res, this.healthy() ? 200 : 500, this.healthy() ? "ok" : "unhealthy");
    });
    this.route("GET /readyz", (_req, res) => {
      text(res, this.ready() ? 200 : 503, this.ready() ? "ok" : "not ready");
    });
    if (metrics) {
      this.route("GET /metrics", async (_req, res) => {
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
      });
    }
  }

  /** `route("POST /v1/verify", handler)`. */
  route(methodAndPath: string, handler: Route): void {
    this.#routes.set(methodAndPath, handler);
  }

  listen(port: number, host = "0.0.0.0"): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0]!;
      const handler = this.#routes.get(`${req.method ?? "GET"} ${path}`);
      if (!handler) {
        req.resume();
        text(res, 404, "not found");
        return;
      }
      Promise.resolve(handler(req, res)).catch((e: unknown) => {
        // A fixed text: an error's message may quote what the request carried (or decrypted).
        if (res.headersSent) res.end();
        else if (e instanceof HttpError) text(res, e.status, e.message);
        else text(res, 500, "internal error");
      });
    });
    // Slow or stalled clients give their connection back (the endpoints are unauthenticated).
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = Math.min(server.headersTimeout, REQUEST_TIMEOUT_MS);
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        const a = server.address();
        resolve(typeof a === "object" && a ? a.port : port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((r) => {
      if (!this.#server) {
        r();
        return;
      }
      this.#server.close(() => {
        r();
      });
      this.#server.closeAllConnections();
    });
  }
}

export function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(body);
}

/** An answer with a fixed text, thrown by route handlers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const REQUEST_TIMEOUT_MS = 60_000;

/**
 * The request body, refused with 413 past `limit` bytes: by its Content-Length before reading,
 * else as soon as the count passes it (the rest is not read).
 */
export async function readBody(req: IncomingMessage, limit = 5 * 1024 * 1024): Promise<Buffer> {
  const tooLarge = new HttpError(413, `request body larger than ${limit} bytes`);
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    discardRest(req);
    throw tooLarge;
  }
  // Events, not `for await`: leaving an async iterator early destroys the socket before the 413.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        discardRest(req);
        reject(tooLarge);
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => {
      resolve(Buffer.concat(chunks));
    });
    req.once("error", reject);
  });
}

const DISCARD_MAX = 16 * 1024 * 1024;

/**
 * Reads and drops the rest of a refused body, so the client finishes sending and reads the answer
 * (closing on a client still sending makes it see a broken pipe instead of the 413) and the
 * connection stays usable; past 16 MiB it is cut.
 */
function discardRest(req: IncomingMessage): void {
  let dropped = 0;
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DISCARD_MAX) req.socket.destroy();
  });
  req.resume();
}
