import { test } from "node:test";
import assert from "node:assert/strict";
import {
  clusterRefreshMs,
  desiredExternalSecret,
  externalSecretName,
  isOwnedBy,
  nextStatus,
  targetNamespaces,
  updated,
  type ClusterExternalSecret,
} from "../../../src/controllers/clusterexternalsecret/plan.ts";

const ns = (name: string, labels: Record<string, string> = {}, terminating = false) => ({
  metadata: { name, labels, ...(terminating ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) },
});
const ces = (
  spec: ClusterExternalSecret["spec"],
  annotations?: Record<string, string>,
): ClusterExternalSecret => ({
  metadata: { name: "shared", uid: "u-1", ...(annotations ? { annotations } : {}) },
  spec: { externalSecretSpec: { refreshInterval: "1h" }, ...spec },
});

test("target namespaces: listed names OR any selector (deprecated single selector too); terminating ones left out; sorted", () => {
  const all = [
    ns("b", { team: "x" }),
    ns("a", { team: "x" }),
    ns("c"),
    ns("d", { env: "prod" }),
    ns("e", { team: "x" }, true),
  ];
  assert.deepEqual(targetNamespaces(ces({ namespaceSelectors: [{ matchLabels: { team: "x" } }] }), all), [
    "a",
    "b",
  ]);
  assert.deepEqual(
    targetNamespaces(ces({ namespaceSelector: { matchLabels: { env: "prod" } }, namespaces: ["c"] }), all),
    ["c", "d"],
  );
  assert.deepEqual(targetNamespaces(ces({}), all), [], "no selector and no list selects nothing");
  assert.deepEqual(
    targetNamespaces(ces({ namespaceSelectors: [{}] }), all),
    ["a", "b", "c", "d"],
    "{} matches all",
  );
});

test("the desired ExternalSecret: name, metadata, force-sync copied, controlled by the ClusterExternalSecret", () => {
  const c = ces(
    { externalSecretMetadata: { labels: { l: "1" }, annotations: { a: "2" } } },
    {
      "external-secrets.io/force-sync": "123",
    },
  );
  assert.equal(externalSecretName(c), "shared");
  assert.equal(externalSecretName(ces({ externalSecretName: "db" })), "db");
  const es = desiredExternalSecret(c, "team-a");
  assert.equal(es.metadata.namespace, "team-a");
  assert.deepEqual(es.metadata.labels, { l: "1" });
  assert.deepEqual(es.metadata.annotations, { a: "2", "external-secrets.io/force-sync": "123" });
  assert.ok(isOwnedBy(es, "shared"));
  assert.ok(!isOwnedBy(es, "other"));
  assert.deepEqual(es.spec, { refreshInterval: "1h" });
});

test("updates only when something differs, keeping other owners", () => {
  const want = desiredExternalSecret(ces({}), "a");
  const existing = { ...want, metadata: { ...want.metadata, resourceVersion: "7" } };
  assert.equal(updated(existing, want), undefined, "identical: no write");
  const drifted = { ...existing, spec: { refreshInterval: "5m" } };
  const next = updated(drifted, want)!;
  assert.deepEqual(next.spec, { refreshInterval: "1h" });
  assert.equal(next.metadata.resourceVersion, "7", "an update, not a blind overwrite");
});

test("status: Ready True, or False with ESO's message; failures sorted; transition time kept while unchanged", () => {
  const t0 = new Date("2026-01-01T00:00:00Z");
  const ok = nextStatus(undefined, "db", ["b", "a"], new Map(), t0);
  assert.deepEqual(ok.provisionedNamespaces, ["a", "b"]);
  assert.deepEqual(
    ok.conditions?.map((c) => [c.type, c.status]),
    [["Ready", "True"]],
  );
  const again = nextStatus(ok, "db", ["a", "b"], new Map(), new Date("2026-01-02T00:00:00Z"));
  assert.equal(again.conditions?.[0]?.lastTransitionTime, "2026-01-01T00:00:00Z");
  const bad = nextStatus(
    ok,
    "db",
    ["a"],
    new Map([
      ["z", "boom"],
      ["c", "external secret already exists in namespace"],
    ]),
    t0,
  );
  assert.deepEqual(
    bad.failedNamespaces?.map((f) => f.namespace),
    ["c", "z"],
  );
  assert.deepEqual(
    bad.conditions?.map((c) => [c.status, c.message]),
    [["False", "one or more namespaces failed"]],
  );
});

test("refreshTime of cluster-wide objects: parsed, at least 1 s, 1m when absent or invalid", () => {
  assert.equal(clusterRefreshMs(undefined), 60_000);
  assert.equal(clusterRefreshMs("5m"), 300_000);
  assert.equal(clusterRefreshMs("10ms"), 1000);
  assert.equal(clusterRefreshMs("soon"), 60_000);
});
