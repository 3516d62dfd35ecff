import { test } from "node:test";
import assert from "node:assert/strict";
import { TlsAgentCache } from "../../../src/util/tls-agent.ts";

const pem = (n: number): string => `-----BEGIN CERTIFICATE-----\nCA${n}\n-----END CERTIFICATE-----\n`;

test("one agent per TLS setting: the same CA shares, another CA or client cert does not", () => {
  const c = new TlsAgentCache();
  const a = c.get({ ca: pem(1) });
  assert.equal(c.get({ ca: pem(1) }), a);
  assert.notEqual(c.get({ ca: pem(2) }), a);
  assert.notEqual(c.get({ ca: pem(1), client: { cert: "c", key: "k" } }), a);
  assert.notEqual(c.get({ ca: pem(1), variant: "guarded" }), a);
  assert.equal(c.size, 4);
});

test("a tenant minting ever new CAs cannot grow the cache past its bound", () => {
  const c = new TlsAgentCache(16);
  for (let i = 0; i < 1_000; i++) c.get({ ca: pem(i) });
  assert.equal(c.size, 16);
});

test("eviction takes the longest unused setting, not one in use", () => {
  const c = new TlsAgentCache(3);
  const hot = c.get({ ca: pem(0) });
  for (let i = 1; i < 10; i++) {
    c.get({ ca: pem(i) });
    assert.equal(c.get({ ca: pem(0) }), hot); // used every round: never evicted
  }
  assert.equal(c.size, 3);
});
