/**
 * The per-object memos of the reconcile path (a refresh of an unchanged object recomputes no hash)
 * give the same answers as computing afresh, and a changed object (a new object in the informer's
 * cache) is never answered from the memo of the old one. And which Secret writes post an Event.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { secretDataHash, syncDecision } from "../../../src/controllers/externalsecret/status.ts";
import { ownerLabelValue } from "../../../src/controllers/externalsecret/plan.ts";
import { validated } from "../../../src/controllers/externalsecret/stores.ts";
import { recordsEvent } from "../../../src/controllers/externalsecret/reconcile.ts";
import { validateExternalSecret } from "../../../src/controllers/externalsecret/validate.ts";
import { Metrics } from "../../../src/manager/metrics.ts";
import { SessionPool } from "../../../src/engine/sessions.ts";
import { esoDataHash, syncedResourceVersion } from "../../../src/util/eso-hash.ts";
import type { ProviderDefinition } from "../../../src/providers/types.ts";
import type { ExternalSecret } from "../../../src/controllers/externalsecret/types.ts";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

test("secretDataHash: ESO's data hash, per object; a new object with other data gets its own", () => {
  const a = { metadata: { name: "t" }, data: { k: b64("one") } };
  const expected = esoDataHash({ k: Buffer.from("one") });
  assert.equal(secretDataHash(a), expected);
  assert.equal(secretDataHash(a), expected); // from the memo
  const changed = { ...a, data: { k: b64("two") } };
  assert.equal(secretDataHash(changed), esoDataHash({ k: Buffer.from("two") }));
  assert.equal(secretDataHash(a), expected);
});

test("syncDecision still sees a Secret changed by hand (the memo is per object)", () => {
  const es: ExternalSecret = {
    metadata: { name: "t", namespace: "n", uid: "u-memo", generation: 1 },
    spec: { refreshInterval: "1h", secretStoreRef: { name: "s" }, data: [] },
  };
  es.status = {
    refreshTime: new Date(0).toISOString(),
    syncedResourceVersion: syncedResourceVersion(es.metadata),
    conditions: [{ type: "Ready", status: "True", reason: "SecretSynced" }],
  };
  const hash = esoDataHash({ k: Buffer.from("one") });
  const ours = {
    metadata: { name: "t", annotations: { "reconcile.external-secrets.io/data-hash": hash } },
    data: { k: b64("one") },
  };
  assert.equal(syncDecision(es, ours, 1000).due, false);
  assert.equal(syncDecision(es, ours, 1000).due, false);
  const edited = { ...ours, data: { k: b64("edited") } };
  assert.deepEqual(
    [syncDecision(es, edited, 1000).due, syncDecision(es, edited, 1000).reason],
    [true, "secret-changed"],
  );
});

test("ownerLabelValue: SHA3-224 of namespace/name, also when the same metadata object is renamed", () => {
  const es: ExternalSecret = { metadata: { name: "a", namespace: "n" } };
  const sha = (s: string): string => createHash("sha3-224").update(s).digest("hex");
  assert.equal(ownerLabelValue(es), sha("n/a"));
  assert.equal(ownerLabelValue(es), sha("n/a"));
  es.metadata.name = "b";
  assert.equal(ownerLabelValue(es), sha("n/b"));
});

test("specHash: the same for equal specs, memoised per object, different for a changed copy", () => {
  const spec = { server: "https://v", path: "kv" };
  const h = SessionPool.specHash(spec);
  assert.equal(SessionPool.specHash(spec), h);
  assert.equal(SessionPool.specHash({ ...spec }), h);
  assert.notEqual(SessionPool.specHash({ ...spec, path: "other" }), h);
  assert.equal(SessionPool.specHash(undefined), SessionPool.specHash(null));
  assert.equal(SessionPool.specHash("x"), SessionPool.specHash("x"));
});

test("validated: a store spec is validated once per object; a new object is validated again", () => {
  let calls = 0;
  const def = {
    validate: (spec: unknown) => {
      calls++;
      return (spec as { bad?: boolean }).bad ? ["bad"] : [];
    },
  } as unknown as ProviderDefinition;
  const spec = { bad: false };
  assert.deepEqual(validated(def, spec), []);
  assert.deepEqual(validated(def, spec), []);
  assert.equal(calls, 1);
  assert.deepEqual(validated(def, { bad: true }), ["bad"]);
  assert.equal(calls, 2);
});

test("recordsEvent: no Event for a new ExternalSecret's first Secret; every other write has one", () => {
  assert.equal(recordsEvent("new", "create"), false);
  assert.equal(recordsEvent("new", "update"), true); // an existing Secret taken over
  assert.equal(recordsEvent("secret-missing", "create"), true); // deleted by someone: a repair
  assert.equal(recordsEvent("refresh", "update"), true); // rotated data
  assert.equal(recordsEvent("changed", "create"), true);
  assert.equal(recordsEvent("secret-changed", "update"), true);
});

test("validateExternalSecret: remembered per object, a copy each time; a changed object is validated again", () => {
  const ok: ExternalSecret = {
    metadata: { name: "v", namespace: "n" },
    spec: { secretStoreRef: { name: "s" }, data: [{ secretKey: "k", remoteRef: { key: "r" } }] },
  };
  assert.deepEqual(validateExternalSecret(ok), []);
  const first = validateExternalSecret(ok);
  first.push("changed by a caller");
  assert.deepEqual(validateExternalSecret(ok), []);
  const bad = { ...ok, spec: { ...ok.spec, data: [{ secretKey: "bad key!", remoteRef: { key: "r" } }] } };
  assert.equal(validateExternalSecret(bad).length, 1);
  assert.deepEqual(validateExternalSecret(ok), []);
});

test("the Ready condition metric: an unchanged status is not set again, a change and a removal are exported", async () => {
  const m = new Metrics();
  const series = async (): Promise<string[]> =>
    (await m.registry.getSingleMetricAsString("externalsecret_status_condition"))
      .split("\n")
      .filter((l) => l.startsWith("externalsecret_status_condition{") && l.endsWith(" 1"));
  m.setExternalSecretCondition("n", "a", "Ready", "True");
  m.setExternalSecretCondition("n", "a", "Ready", "True");
  assert.deepEqual(await series(), [
    'externalsecret_status_condition{name="a",namespace="n",condition="Ready",status="True"} 1',
  ]);
  m.setExternalSecretCondition("n", "a", "Ready", "False");
  assert.deepEqual(await series(), [
    'externalsecret_status_condition{name="a",namespace="n",condition="Ready",status="False"} 1',
  ]);
  m.removeExternalSecret("n", "a");
  assert.deepEqual(await series(), []);
  m.setExternalSecretCondition("n", "a", "Ready", "False"); // the same status as before the removal
  assert.equal((await series()).length, 1);
});
