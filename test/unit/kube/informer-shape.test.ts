import { test } from "node:test";
import assert from "node:assert/strict";
import { dropLastApplied, identityAndLabels, LAST_APPLIED } from "../../../src/kube/informer.ts";
import { rememberSyncedResourceVersion, syncedResourceVersion } from "../../../src/util/eso-hash.ts";
import type { KubeObject } from "../../../src/kube/api.ts";

test("dropLastApplied removes kubectl's copy and keeps the other annotations", () => {
  const obj: KubeObject = {
    metadata: { name: "a", annotations: { [LAST_APPLIED]: "{...}", keep: "1" } },
  };
  assert.deepEqual(dropLastApplied(obj).metadata.annotations, { keep: "1" });
  const only: KubeObject = { metadata: { name: "b", annotations: { [LAST_APPLIED]: "{}" } } };
  assert.equal(dropLastApplied(only).metadata.annotations, undefined);
  const none: KubeObject = { metadata: { name: "c" } };
  assert.deepEqual(dropLastApplied(none), { metadata: { name: "c" } });
});

test("identityAndLabels keeps name, uid, resourceVersion, labels and deletionTimestamp only", () => {
  const ns = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: "n",
      uid: "u",
      resourceVersion: "7",
      labels: { team: "a" },
      annotations: { big: "x".repeat(1000) },
      managedFields: [{}],
      deletionTimestamp: "2026-01-01T00:00:00Z",
    },
    spec: { finalizers: ["kubernetes"] },
  };
  assert.deepEqual(identityAndLabels(ns), {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: "n",
      uid: "u",
      resourceVersion: "7",
      labels: { team: "a" },
      deletionTimestamp: "2026-01-01T00:00:00Z",
    },
  });
});

test("syncedResourceVersion remembered on arrival still covers the dropped last-applied annotation", () => {
  const meta = { generation: 3, labels: { a: "b" }, annotations: { [LAST_APPLIED]: "{x}", k: "v" } };
  const full = syncedResourceVersion({ ...meta, annotations: { ...meta.annotations } });
  const obj: KubeObject = { metadata: meta };
  assert.equal(rememberSyncedResourceVersion(obj.metadata), full);
  dropLastApplied(obj);
  assert.equal(syncedResourceVersion(obj.metadata), full);
  // an object never remembered is hashed as it is
  assert.notEqual(syncedResourceVersion({ ...obj.metadata }), full);
});
