/**
 * A request the API server never answers (a connection that died without a word) fails after the
 * client's request timeout instead of holding its caller for undici's default 300 s.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { KubeApi, KubeApiError, REQUEST_TIMEOUT_MS } from "../../../src/kube/api.ts";

test(
  "a request without an answer fails as unreachable after requestTimeoutMs",
  { timeout: 20_000 },
  async () => {
    const held: ServerResponse[] = [];
    const server = createServer((_req, res) => {
      held.push(res); // accepted, never answered
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    const dispatcher = new Agent();
    try {
      const api = new KubeApi({
        server: `http://127.0.0.1:${port}`,
        kubeconfig: undefined,
        prepare: async () => ({ headers: {}, dispatcher }),
      });
      assert.equal(api.requestTimeoutMs, REQUEST_TIMEOUT_MS);
      assert.ok(REQUEST_TIMEOUT_MS > 60_000, "longer than the API server's own 60 s request timeout");
      api.requestTimeoutMs = 300;
      await assert.rejects(api.get("/api/v1/namespaces"), (e: unknown) => {
        assert.ok(e instanceof KubeApiError);
        assert.equal(e.status, 0);
        assert.match(e.message, /GET \/api\/v1\/namespaces: .*timeout/i);
        return true;
      });
    } finally {
      for (const r of held) r.destroy();
      await dispatcher.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  },
);

test("a GET whose connection breaks is asked again once; a write is not", { timeout: 20_000 }, async () => {
  const seen: string[] = [];
  let broken = 0;
  const server = createServer((req, res) => {
    seen.push(req.method ?? "");
    if (broken < 2) {
      broken++;
      req.socket.destroy(); // the connection drops without an answer
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const dispatcher = new Agent();
  try {
    const api = new KubeApi({
      server: `http://127.0.0.1:${port}`,
      kubeconfig: undefined,
      prepare: async () => ({ headers: {}, dispatcher }),
    });
    await assert.rejects(api.create("/api/v1/namespaces/a/secrets", {}), (e: unknown) => {
      assert.ok(e instanceof KubeApiError);
      assert.equal(e.status, 0);
      return true;
    });
    assert.deepEqual(seen, ["POST"], "a write is not repeated");
    assert.deepEqual(await api.get("/api/v1/namespaces"), { ok: true });
    assert.deepEqual(seen, ["POST", "GET", "GET"], "the read was asked twice");
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await dispatcher.destroy();
  }
});
