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
        text(res, 404, "not found");
        return;
      }
      Promise.resolve(handler(req, res)).catch((e: unknown) => {
        if (!res.headersSent) text(res, 500, (e as Error).message);
        else res.end();
      });
    });
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

export async function readBody(req: IncomingMessage, limit = 5 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
