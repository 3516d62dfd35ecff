import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { Value } from "@sinclair/typebox/value";
import {
  allDeletions,
  dataToPushes,
  desiredPushes,
  mergeEntries,
  mergeSynced,
  planPush,
  reverseKey,
  reverseKeys,
  statusRef,
  syncedMessage,
  syncedOf,
  withoutDeleted,
} from "../../../src/controllers/pushsecret/plan.ts";
import { refreshIntervalOf, withCondition } from "../../../src/controllers/pushsecret/controller.ts";
import type { PushSecret, SyncedPushSecrets } from "../../../src/controllers/pushsecret/types.ts";
import { ClusterPushSecretSpec, PushSecretSpec } from "../../../src/api/pushsecrets.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const render = (_n: string, text: string): string => text;

const ps = (spec: PushSecret["spec"]): PushSecret => ({ metadata: { name: "p", namespace: "n" }, spec });
const entry = (remoteKey: string, property?: string, secretKey?: string) => ({
  match: { ...(secretKey ? { secretKey } : {}), remoteRef: { remoteKey, ...(property ? { property } : {}) } },
});

test("statusRef is ESO's: remoteKey, or remoteKey/property", () => {
  assert.equal(statusRef(entry("a/b")), "a/b");
  assert.equal(statusRef(entry("a/b", "p")), "a/b/p");
});

test("ReverseUnicode turns _UXXXX_ back into the character; None keeps the key", () => {
  assert.equal(reverseKey("ReverseUnicode", "user_U0040_example.com"), "user@example.com");
  assert.equal(reverseKey("ReverseUnicode", "a_U1F600_b"), "a\u{1F600}b");
  assert.equal(reverseKey("None", "user_U0040_example.com"), "user_U0040_example.com");
  assert.equal(reverseKey(undefined, "x_U002f_y"), "x_U002f_y");
  assert.throws(
    () => reverseKeys("ReverseUnicode", { a_U0040_: enc("1"), "a@": enc("2") }),
    (e: unknown) => isCustosError(e, "CUSTOS_INVALID_SPEC") && /collision/.test((e as Error).message),
  );
});

test("desiredPushes: one key's bytes, or the whole Secret without secretKey; a missing key fails as ESO", () => {
  const p = ps({ data: [entry("r", "pw", "password"), entry("whole")], updatePolicy: "IfNotExists" });
  const d = desiredPushes(p, { password: enc("s3cret"), user: enc("u") }, ["SecretStore/v"]);
  assert.equal(d.length, 2);
  assert.deepEqual(d[0]!.entry.value, { kind: "bytes", value: enc("s3cret") });
  assert.equal(d[0]!.entry.property, "pw");
  assert.equal(d[0]!.entry.updatePolicy, "IfNotExists");
  assert.equal(d[1]!.entry.value.kind, "map");
  assert.equal(d[1]!.ref, "whole");
  assert.throws(
    () => desiredPushes(ps({ data: [entry("r", undefined, "nope")] }), {}, ["SecretStore/v"]),
    /secret key nope does not exist/,
  );
  // default update policy: Replace
  assert.equal(
    desiredPushes(ps({ data: [entry("r")] }), {}, ["SecretStore/v"])[0]!.entry.updatePolicy,
    "Replace",
  );
});

const synced: SyncedPushSecrets = {
  "SecretStore/v": { "a/p": entry("a", "p"), b: entry("b"), c: entry("c") },
  "ClusterSecretStore/gone": { x: entry("x") },
};

test("planPush: Delete removes dropped entries and dropped stores; None removes nothing", () => {
  const desired = desiredPushes(ps({ data: [entry("a", "p", "k")] }), { k: enc("v") }, ["SecretStore/v"]);
  const del = planPush(desired, synced, "Delete");
  assert.equal(del.pushes.length, 1);
  assert.deepEqual(
    del.deletions.map((d) => `${d.store}|${d.ref}`),
    ["ClusterSecretStore/gone|x", "SecretStore/v|b", "SecretStore/v|c"],
  );
  assert.deepEqual(planPush(desired, synced, "None").deletions, []);
  assert.deepEqual(planPush(desired, synced, undefined).deletions, []);
});

test("planPush: a whole remote secret still written by a desired entry is not removed", () => {
  // spec moved from whole-secret "b" to property "b/q": deleting "b" would delete the new push
  const desired = desiredPushes(ps({ data: [entry("b", "q", "k")] }), { k: enc("v") }, ["SecretStore/v"]);
  const refs = planPush(desired, synced, "Delete").deletions.map((d) => d.ref);
  assert.ok(!refs.includes("b"));
  assert.ok(refs.includes("a/p") && refs.includes("c"));
});

test("allDeletions: everything synced; withoutDeleted drops removed entries and empty stores", () => {
  const all = allDeletions(synced);
  assert.equal(all.length, 4);
  const left = withoutDeleted(synced, all.slice(0, 1));
  assert.equal(left["ClusterSecretStore/gone"], undefined);
  assert.equal(Object.keys(left["SecretStore/v"]!).length, 3);
  assert.deepEqual(withoutDeleted(synced, all), {});
});

test("mergeSynced keeps what was synced before after a failure (ESO's mergeSecretState)", () => {
  const next = syncedOf(desiredPushes(ps({ data: [entry("n")] }), {}, ["SecretStore/v"]));
  const merged = mergeSynced(next, synced);
  assert.deepEqual(Object.keys(merged["SecretStore/v"]!).sort(), ["a/p", "b", "c", "n"]);
  assert.ok(merged["ClusterSecretStore/gone"]);
});

test("dataTo: per-key with match and rewrite, bundle mode, store targeting, and data winning", () => {
  const store = { key: "SecretStore/v", kind: "SecretStore", name: "v", labels: { tier: "a" } };
  const data = { "svc-a": enc("1"), "svc-b": enc("2"), other: enc("3") };
  const p = ps({
    dataTo: [
      {
        storeRef: { name: "v" },
        match: { regexp: "^svc-" },
        rewrite: [{ regexp: { source: "^svc-(.*)$", target: "services/$1" } }],
      },
      { storeRef: { labelSelector: { matchLabels: { tier: "a" } } }, remoteKey: "bundle" },
      { storeRef: { name: "elsewhere" }, remoteKey: "never" },
    ],
    data: [entry("services/a", undefined, "other")],
  });
  const d = dataToPushes(p, data, store, render);
  assert.deepEqual(
    d.map((x) => x.ref),
    ["services/a", "services/b", "bundle"],
  );
  assert.equal(d[0]!.data.match.secretKey, "svc-a");
  assert.equal(d[2]!.entry.value.kind, "map");
  const merged = mergeEntries(d, desiredPushes(p, data, [store.key]));
  assert.deepEqual(
    merged.map((x) => `${x.ref}:${x.data.match.secretKey ?? ""}`),
    ["services/b:svc-b", "bundle:", "services/a:other"],
  );
  assert.throws(
    () =>
      dataToPushes(
        ps({
          dataTo: [{ storeRef: { name: "v" }, rewrite: [{ regexp: { source: ".*", target: "same" } }] }],
        }),
        { a: enc("1"), b: enc("2") },
        store,
        render,
      ),
    /duplicate remote key|same/,
  );
});

test("conditions and refresh: ESO's messages, 1h default, transition time kept", () => {
  assert.equal(syncedMessage(ps({})), "PushSecret synced successfully");
  assert.equal(
    syncedMessage(ps({ updatePolicy: "IfNotExists" })),
    "PushSecret synced successfully. Existing secrets in providers unchanged.",
  );
  assert.equal(refreshIntervalOf(ps({})), 3_600_000);
  assert.equal(refreshIntervalOf(ps({ refreshInterval: "10s" })), 10_000);
  assert.equal(refreshIntervalOf(ps({ refreshInterval: "0" })), 0);
  const t0 = new Date("2026-01-01T00:00:00Z");
  const a = withCondition(undefined, "True", "Synced", "ok", t0);
  const b = withCondition(a, "True", "Synced", "ok2", new Date("2026-01-02T00:00:00Z"));
  assert.equal(b[0]!.lastTransitionTime, "2026-01-01T00:00:00Z");
  const c = withCondition(b, "False", "Errored", "x", new Date("2026-01-03T00:00:00Z"));
  assert.equal(c[0]!.lastTransitionTime, "2026-01-03T00:00:00Z");
});

test("schemas: ESO's documented manifests validate; a selector with two sources does not", () => {
  const spec = {
    updatePolicy: "Replace",
    deletionPolicy: "Delete",
    refreshInterval: "1h",
    secretStoreRefs: [
      { name: "aws-parameterstore", kind: "SecretStore" },
      { labelSelector: { matchLabels: { a: "b" } } },
    ],
    selector: { secret: { name: "pokedex-credentials" } },
    template: { data: { k: "{{ .x }}" } },
    data: [
      {
        conversionStrategy: "None",
        match: { secretKey: "best-pokemon", remoteRef: { remoteKey: "my-first-parameter" } },
        metadata: {
          apiVersion: "kubernetes.external-secrets.io/v1alpha1",
          kind: "PushSecretMetadata",
          spec: {},
        },
      },
    ],
  };
  assert.ok(
    Value.Check(PushSecretSpec, spec),
    [...Value.Errors(PushSecretSpec, spec)].map((e) => e.path).join(),
  );
  assert.ok(
    Value.Check(ClusterPushSecretSpec, { pushSecretSpec: spec, namespaceSelectors: [{ matchLabels: {} }] }),
  );
  assert.ok(!Value.Check(PushSecretSpec, { ...spec, updatePolicy: "Always" }));
  assert.ok(
    !Value.Check(PushSecretSpec, { ...spec, data: [{ ...spec.data[0], conversionStrategy: "Unicode" }] }),
  );
  const crd = parse(
    readFileSync(
      join(import.meta.dirname, "../../../deploy/crds/external-secrets.io_pushsecrets.yaml"),
      "utf8",
    ),
  ) as {
    spec: {
      versions: {
        name: string;
        schema: {
          openAPIV3Schema: {
            properties: { spec: { properties: Record<string, { maxProperties?: number }> } };
          };
        };
      }[];
    };
  };
  const v = crd.spec.versions[0]!;
  assert.equal(v.name, "v1alpha1");
  assert.equal(v.schema.openAPIV3Schema.properties.spec.properties.selector!.maxProperties, 1);
});
