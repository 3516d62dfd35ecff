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

test("failureOf names a remembered failure and when the store may be asked again; onRecovered tells when it is over", async () => {
  let now = 1_000;
  let down = true;
  const cache = new ReadCache({ now: () => now });
  const recovered: string[] = [];
  cache.onRecovered((k) => recovered.push(k));
  const s = session(() => (down ? unreachable() : undefined));
  const a = ReadCache.refKey("id", { key: "a" });
  const first = (await cache.readAll("id", s, [{ key: "a" }], 0)).get(a) as Error;
  const held = (await cache.readAll("id", s, [{ key: "b" }], 0)).get(ReadCache.refKey("id", { key: "b" }));
  // the reader that asked and the one refused without asking get the same failure, the store's
  assert.equal(held, first);
  const f = cache.failureOf(first);
  assert.ok(f);
  assert.equal(f.until, 3_000); // 2 s back-off
  assert.equal(cache.failureOf(new Error("other")), undefined);
  assert.equal(cache.failureOf(new CustosError("CUSTOS_SECRET_NOT_FOUND", "404")), undefined);
  // a failed probe: still down, a later `until`; no recovery
  now = 3_500;
  await cache.readAll("id", s, [{ key: "a" }], 0);
  assert.equal(cache.failureOf(first)?.until, 7_500); // 4 s
  assert.deepEqual(recovered, []);
  // the store answers: the failure is over, once
  now = 8_000;
  down = false;
  await cache.readAll("id", s, [{ key: "c" }], 0);
  assert.deepEqual(recovered, [f.key]);
  assert.equal(cache.failureOf(first), undefined);
  await cache.readAll("id", s, [{ key: "d" }], 0);
  assert.deepEqual(recovered, [f.key]);
});

test("a key's failure (a sealed Vault's 503) is over when the store answers anything for that key", async () => {
  let now = 0;
  let sealedNow = true;
  const cache = new ReadCache({ now: () => now });
  const recovered: string[] = [];
  cache.onRecovered((k) => recovered.push(k));
  const s = session((ref) =>
    sealedNow ? sealed() : ref.key === "gone" ? new CustosError("CUSTOS_SECRET_NOT_FOUND", "404") : undefined,
  );
  const e = (await cache.readAll("id", s, [{ key: "gone" }], 0)).get(ReadCache.refKey("id", { key: "gone" }));
  const f = cache.failureOf(e);
  assert.ok(f);
  assert.equal(f.key, ReadCache.refKey("id", { key: "gone" }));
  now = 5_000;
  sealedNow = false;
  // not found is an answer: the remembered 503 is over
  await cache.readAll("id", s, [{ key: "gone" }], 0);
  assert.deepEqual(recovered, [f.key]);
});
