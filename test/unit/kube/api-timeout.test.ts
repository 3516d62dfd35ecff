/**
 * The API client on a connection that misbehaves: a request the API server never answers (a
 * connection that died without a word) fails after the client's request timeout instead of
 * holding its caller for undici's default 300 s; a read whose connection broke is asked again.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { KubeApi, KubeApiError, REQUEST_TIMEOUT_MS } from "../../../src/kube/api.ts";

/** A KubeApi talking to a local HTTP server that answers with `handler`; both closed after `fn`. */
async function withServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  fn: (api: KubeApi) => Promise<void>,
): Promise<void> {
  const open: ServerResponse[] = [];
  const server = createServer((req, res) => {
    open.push(res);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const dispatcher = new Agent();
  try {
    await fn(
      new KubeApi({
        server: `http://127.0.0.1:${port}`,
        kubeconfig: undefined,
        prepare: async () => ({ headers: {}, dispatcher }),
      }),
    );
  } finally {
    for (const r of open) r.destroy();
    await dispatcher.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

test("a request without an answer fails as unreachable after requestTimeoutMs", { timeout: 20_000 }, () =>
  withServer(
    () => undefined, // accepted, never answered
    async (api) => {
      assert.equal(api.requestTimeoutMs, REQUEST_TIMEOUT_MS);
      assert.ok(REQUEST_TIMEOUT_MS > 60_000, "longer than the API server's own 60 s request timeout");
      api.requestTimeoutMs = 300;
      await assert.rejects(api.get("/api/v1/namespaces"), (e: unknown) => {
        assert.ok(e instanceof KubeApiError);
        assert.equal(e.status, 0);
        assert.match(e.message, /GET \/api\/v1\/namespaces: .*timeout/i);
        return true;
      });
    },
  ),
);

test("a GET whose connection breaks is asked again once; a write is not", { timeout: 20_000 }, async () => {
  const seen: string[] = [];
  let broken = 0;
  await withServer(
    (req, res) => {
      seen.push(req.method ?? "");
      if (broken < 2) {
        broken++;
        req.socket.destroy(); // the connection drops without an answer
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    },
    async (api) => {
      await assert.rejects(api.create("/api/v1/namespaces/a/secrets", {}), (e: unknown) => {
        assert.ok(e instanceof KubeApiError);
        assert.equal(e.status, 0);
        return true;
      });
      assert.deepEqual(seen, ["POST"], "a write is not repeated");
      assert.deepEqual(await api.get("/api/v1/namespaces"), { ok: true });
      assert.deepEqual(seen, ["POST", "GET", "GET"], "the read was asked twice");
    },
  );
});
