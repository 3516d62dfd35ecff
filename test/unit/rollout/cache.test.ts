import { test } from "node:test";
import assert from "node:assert/strict";
import { secretForRollout } from "../../../src/controllers/rollout/controller.ts";
import { reloaderHash } from "../../../src/controllers/rollout/match.ts";

const secret = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: {
    name: "db",
    namespace: "team-a",
    uid: "u1",
    resourceVersion: "7",
    annotations: { "reloader.stakater.com/match": "true" },
    managedFields: [{ manager: "x" }],
  },
  data: { password: Buffer.from("hunter2-very-secret").toString("base64") },
};

test("the rollout cache keeps a Secret's hash and identity, never its data", () => {
  const kept = secretForRollout(secret);
  assert.equal(kept.data, undefined);
  assert.equal(kept.dataHash, reloaderHash(secret.data));
  assert.deepEqual(kept.metadata, {
    name: "db",
    namespace: "team-a",
    uid: "u1",
    resourceVersion: "7",
    annotations: { "reloader.stakater.com/match": "true" },
  });
  assert.ok(!JSON.stringify(kept).includes(secret.data.password));
});

test("a changed value changes the kept hash; a metadata-only change does not", () => {
  const a = secretForRollout(secret);
  const b = secretForRollout({ ...secret, metadata: { ...secret.metadata, labels: { x: "y" } } });
  const c = secretForRollout({ ...secret, data: { password: Buffer.from("other").toString("base64") } });
  assert.equal(a.dataHash, b.dataHash);
  assert.notEqual(a.dataHash, c.dataHash);
});

test("transforming an already transformed object keeps its hash", () => {
  const once = secretForRollout(secret);
  assert.equal(secretForRollout(once).dataHash, once.dataHash);
});
