import { test } from "node:test";
import assert from "node:assert/strict";
import { ReadCache } from "../../../src/engine/reads.ts";
import { SessionPool } from "../../../src/engine/sessions.ts";
import type { ProviderDefinition, RemoteKey, RemoteSecret, Session } from "../../../src/providers/types.ts";
import { Type } from "@sinclair/typebox";

function countingSession(delay = 5): Session & { calls: RemoteKey[] } {
  const calls: RemoteKey[] = [];
  return {
    calls,
    async read(ref) {
      calls.push(ref);
      await new Promise((r) => setTimeout(r, delay));
      if (ref.key === "missing") throw new Error("not found");
      return { kind: "map", value: { k: ref.key } } satisfies RemoteSecret;
    },
    async find() {
      return new Map();
    },
    async close() {},
  };
}

test("concurrent identical reads share one request", async () => {
  const cache = new ReadCache();
  const s = countingSession();
  const refs = [{ key: "a" }, { key: "b" }];
  await Promise.all(Array.from({ length: 20 }, () => cache.readAll("id1", s, refs, 0)));
  assert.equal(s.calls.length, 2);
});

test("results are reused within maxAge and re-read after", async () => {
  let now = 1000;
  const cache = new ReadCache({ now: () => now });
  const s = countingSession(0);
  await cache.readAll("id1", s, [{ key: "a" }], 100);
  now += 50;
  await cache.readAll("id1", s, [{ key: "a" }], 100);
  assert.equal(s.calls.length, 1);
  now += 100;
  await cache.readAll("id1", s, [{ key: "a" }], 100);
  assert.equal(s.calls.length, 2);
});

test("values never cross identities", async () => {
  const cache = new ReadCache();
  const s1 = countingSession(0);
  const s2 = countingSession(0);
  await cache.readAll("id1", s1, [{ key: "a" }], 10_000);
  await cache.readAll("id2", s2, [{ key: "a" }], 10_000);
  assert.equal(s1.calls.length, 1);
  assert.equal(s2.calls.length, 1);
});

test("errors are returned per ref and not cached", async () => {
  const cache = new ReadCache();
  const s = countingSession(0);
  const r1 = await cache.readAll("id", s, [{ key: "missing" }, { key: "a" }], 10_000);
  assert.ok([...r1.values()].some((v) => v instanceof Error));
  await cache.readAll("id", s, [{ key: "missing" }], 10_000);
  assert.equal(s.calls.filter((c) => c.key === "missing").length, 2);
});

test("readMany batches refs with distinct keys", async () => {
  const cache = new ReadCache();
  const batches: string[][] = [];
  const s: Session = {
    async read(ref) {
      return { kind: "bytes", value: Buffer.from(ref.key) };
    },
    async readMany(refs) {
      batches.push(refs.map((r) => r.key));
      return new Map(refs.map((r) => [r.key, { kind: "bytes", value: Buffer.from(r.key) } as RemoteSecret]));
    },
    async find() {
      return new Map();
    },
    async close() {},
  };
  const out = await cache.readAll(
    "id",
    s,
    [{ key: "a" }, { key: "b" }, { key: "c" }, { key: "a", version: "v1" }],
    0,
  );
  assert.deepEqual(batches, [["b", "c"]]);
  assert.equal(out.size, 4);
  assert.ok([...out.values()].every((v) => !(v instanceof Error)));
});

function fakeDef(fail: { n: number }): ProviderDefinition<{ id: string }> {
  return {
    name: "fake",
    schema: Type.Object({}),
    validate: () => [],
    identity: (spec) => spec.id,
    async connect() {
      if (fail.n-- > 0) throw new Error("login failed");
      return countingSession(0);
    },
  };
}

const ctx = {
  storeKind: "SecretStore" as const,
  storeName: "s",
  storeUid: "u",
  namespace: "ns",
  kube: {} as never,
};
const deps = { recordCall: () => undefined, redact: () => undefined };

test("one login per identity however many users", async () => {
  const pool = new SessionPool(deps);
  const def = fakeDef({ n: 0 }) as unknown as ProviderDefinition;
  await Promise.all(Array.from({ length: 50 }, () => pool.get(def, { id: "x" }, ctx)));
  await pool.get(def, { id: "y" }, ctx);
  assert.equal(pool.logins, 2);
  await pool.close();
});

test("a failed login is remembered with backoff, then retried", async () => {
  let now = 0;
  const pool = new SessionPool(deps, { now: () => now, failureBackoffMs: [100, 1000] });
  const def = fakeDef({ n: 1 }) as unknown as ProviderDefinition;
  await assert.rejects(pool.get(def, { id: "x" }, ctx), /login failed/);
  await assert.rejects(pool.get(def, { id: "x" }, ctx), /login failed/);
  assert.equal(pool.logins, 1);
  now = 200;
  await pool.get(def, { id: "x" }, ctx);
  assert.equal(pool.logins, 2);
  await pool.close();
});
