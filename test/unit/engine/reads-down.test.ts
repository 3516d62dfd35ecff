import { test } from "node:test";
import assert from "node:assert/strict";
import { ReadCache, failureScope } from "../../../src/engine/reads.ts";
import type { RemoteKey, RemoteSecret, Session } from "../../../src/providers/types.ts";
import { CustosError } from "../../../src/util/errors.ts";

/** A session whose reads fail with `fail()` (or succeed when it returns undefined); optionally held until released. */
function session(
  fail: (ref: RemoteKey) => Error | undefined,
): Session & { calls: string[]; hold?: Promise<void> } {
  const s: Session & { calls: string[]; hold?: Promise<void> } = {
    calls: [],
    async read(ref) {
      s.calls.push(ref.key);
      if (s.hold) await s.hold;
      const e = fail(ref);
      if (e) throw e;
      return { kind: "map", value: { k: ref.key } } satisfies RemoteSecret;
    },
    async find() {
      return new Map();
    },
    async close() {},
  };
  return s;
}

const unreachable = (): CustosError =>
  new CustosError("CUSTOS_STORE_UNREACHABLE", "cannot reach Vault at http://v: UND_ERR_HEADERS_TIMEOUT");
const sealed = (): CustosError =>
  new CustosError("CUSTOS_STORE_ERROR", "Vault GET kv/data/a: HTTP 503: Vault is sealed", {
    retryable: true,
  });

test("failure scope: unreachable is the store's, 5xx and throttling the key's, the rest nothing", () => {
  assert.equal(failureScope(unreachable()), "store");
  assert.equal(failureScope(sealed()), "key");
  assert.equal(failureScope(new CustosError("CUSTOS_THROTTLED", "429")), "key");
  assert.equal(failureScope(new CustosError("CUSTOS_SECRET_NOT_FOUND", "404")), undefined);
  assert.equal(failureScope(new CustosError("CUSTOS_STORE_ERROR", "400", { retryable: false })), undefined);
  assert.equal(failureScope(new Error("x")), undefined);
});

test("an unreachable store is not asked by every reader: its error is returned for every key until the back-off ends, then one read probes", async () => {
  let now = 0;
  let down = true;
  const cache = new ReadCache({ now: () => now });
  const s = session(() => (down ? unreachable() : undefined));
  const first = await cache.readAll("id", s, [{ key: "a" }], 0);
  assert.match((first.get(ReadCache.refKey("id", { key: "a" })) as Error).message, /cannot reach Vault/);
  // other keys, other readers, maxAge 0: no request, the same cause
  for (const key of ["a", "b", "c"]) {
    const r = await cache.readAll("id", s, [{ key }], 0);
    assert.match((r.get(ReadCache.refKey("id", { key })) as Error).message, /cannot reach Vault/);
  }
  assert.equal(s.calls.length, 1);
  // another identity is another session: unaffected
  await cache.readAll("other", s, [{ key: "a" }], 0);
  assert.equal(s.calls.length, 2);
  // after the back-off (2 s) one probe; while it is in flight, others get the error without asking
  now += 2_000;
  let release!: () => void;
  s.hold = new Promise((r) => (release = r));
  const probe = cache.readAll("id", s, [{ key: "a" }], 0);
  const meanwhile = await cache.readAll("id", s, [{ key: "b" }], 0);
  assert.ok(meanwhile.get(ReadCache.refKey("id", { key: "b" })) instanceof Error);
  assert.equal(s.calls.length, 3);
  release();
  await probe;
  // the probe failed again: the back-off doubles (4 s)
  now += 3_000;
  delete s.hold;
  await cache.readAll("id", s, [{ key: "b" }], 0);
  assert.equal(s.calls.length, 3);
  now += 1_000;
  down = false;
  const back = await cache.readAll("id", s, [{ key: "b" }], 0);
  assert.deepEqual(back.get(ReadCache.refKey("id", { key: "b" })), { kind: "map", value: { k: "b" } });
  // a success clears it: every key is read again at once
  await cache.readAll("id", s, [{ key: "c" }], 0);
  assert.equal(s.calls.length, 5);
});

test("a 5xx holds for its key only; an answer from the store ends a store-wide hold", async () => {
  let now = 0;
  const cache = new ReadCache({ now: () => now });
  const s = session((ref) => (ref.key === "a" ? sealed() : undefined));
  await cache.readAll("id", s, [{ key: "a" }], 0);
  await cache.readAll("id", s, [{ key: "a" }], 0);
  assert.deepEqual(s.calls, ["a"]);
  await cache.readAll("id", s, [{ key: "b" }], 0);
  assert.deepEqual(s.calls, ["a", "b"]);
  now += 2_000;
  await cache.readAll("id", s, [{ key: "a" }], 0);
  assert.deepEqual(s.calls, ["a", "b", "a"]);
  // not found is an answer, never remembered as a failure
  const nf = session(() => new CustosError("CUSTOS_SECRET_NOT_FOUND", "404"));
  await cache.readAll("id2", nf, [{ key: "x" }], 0);
  await cache.readAll("id2", nf, [{ key: "x" }], 0);
  assert.equal(nf.calls.length, 2);
});
