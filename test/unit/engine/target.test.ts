import { test } from "node:test";
import assert from "node:assert/strict";
import { planTarget, type DesiredSecret, type SecretObject } from "../../../src/engine/target.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const b64 = (s: string): string => Buffer.from(s).toString("base64");
const owner = { apiVersion: "x/v1", kind: "K", name: "k", uid: "u1", controller: true };
const desired = (over: Partial<DesiredSecret> = {}): DesiredSecret => ({
  namespace: "ns",
  name: "s",
  data: { a: enc("1") },
  labels: { l: "1" },
  annotations: {},
  owner,
  ...over,
});
const existing = (over: Partial<SecretObject> = {}): SecretObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "s", namespace: "ns", labels: { l: "1", other: "kept" }, ownerReferences: [owner] },
  type: "Opaque",
  data: { a: b64("1") },
  ...over,
});

test("creates an absent Secret with the owner reference", () => {
  const p = planTarget(desired(), undefined);
  assert.equal(p.action, "create");
  assert.deepEqual(p.secret?.metadata.ownerReferences, [owner]);
  assert.deepEqual({ ...p.secret?.data }, { a: b64("1") });
});

test("leaves an equal Secret alone; others' labels do not count as a difference", () => {
  assert.equal(planTarget(desired(), existing()).action, "none");
});

test("updates only what differs and keeps others' labels", () => {
  const p = planTarget(desired({ data: { a: enc("2") } }), existing());
  assert.equal(p.action, "update");
  assert.equal(p.secret?.metadata.labels?.["other"], "kept");
  assert.deepEqual({ ...p.secret?.data }, { a: b64("2") });
});

test("never takes over a Secret another object controls", () => {
  const foreign = existing({
    metadata: { name: "s", namespace: "ns", ownerReferences: [{ ...owner, uid: "other", name: "o" }] },
  });
  assert.throws(
    () => planTarget(desired(), foreign),
    (e) => isCustosError(e, "CUSTOS_OWNERSHIP_CONFLICT"),
  );
});

test("a front door's own refusal is an ownership conflict with its message", () => {
  assert.throws(
    () => planTarget(desired(), existing(), { mayWrite: () => "not ours without overwrite" }),
    (e) => isCustosError(e, "CUSTOS_OWNERSHIP_CONFLICT") && /overwrite/.test((e as Error).message),
  );
});

test("mergeData keeps the existing keys", () => {
  const p = planTarget(desired({ owner: undefined }), existing({ data: { b: b64("x") } }), {
    mergeData: true,
  });
  assert.deepEqual({ ...p.secret?.data }, { a: b64("1"), b: b64("x") });
});

test("a type change and an immutable Secret are refused with the fix", () => {
  assert.throws(
    () => planTarget(desired({ type: "kubernetes.io/tls" }), existing()),
    /delete it to let it be re-created/,
  );
  assert.throws(
    () => planTarget(desired({ data: { a: enc("2") } }), existing({ immutable: true })),
    /immutable/,
  );
});

test("a kind that vouches for a Secret replaces its own earlier incarnation's reference", () => {
  const stale = {
    apiVersion: "bitnami.com/v1alpha1",
    kind: "SealedSecret",
    name: "s",
    uid: "old",
    controller: true,
  };
  const fresh = { ...stale, uid: "new" };
  const rules = { mayWrite: () => undefined, supersedes: (r: { kind: string }) => r.kind === "SealedSecret" };
  const p = planTarget(
    desired({ owner: fresh }),
    existing({ metadata: { name: "s", ownerReferences: [stale] } }),
    rules,
  );
  assert.equal(p.action, "update");
  assert.deepEqual(p.secret?.metadata.ownerReferences, [fresh]);
  // without the kind's vouching, the stale controller is another controller
  assert.throws(
    () =>
      planTarget(desired({ owner: fresh }), existing({ metadata: { name: "s", ownerReferences: [stale] } })),
    (e) => isCustosError(e, "CUSTOS_OWNERSHIP_CONFLICT"),
  );
});

test("labels: replace makes the Secret's labels exactly the desired ones", () => {
  const p = planTarget(desired(), existing(), { labels: "replace" });
  assert.equal(p.action, "update");
  assert.deepEqual(p.secret?.metadata.labels, { l: "1" });
  assert.equal(
    planTarget(desired({ labels: { l: "1", other: "kept" } }), existing(), { labels: "replace" }).action,
    "none",
  );
});
