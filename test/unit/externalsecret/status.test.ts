import { test } from "node:test";
import assert from "node:assert/strict";
import {
  syncDecision,
  buildStatus,
  statusChanged,
  recordRefresh,
  intervalOf,
} from "../../../src/controllers/externalsecret/status.ts";
import { readWindow, retryNoLaterThan } from "../../../src/controllers/externalsecret/schedule.ts";
import { validateExternalSecret } from "../../../src/controllers/externalsecret/validate.ts";
import { syncedResourceVersion } from "../../../src/util/eso-hash.ts";
import type { ExternalSecret } from "../../../src/controllers/externalsecret/types.ts";

const base = (spec: ExternalSecret["spec"] = {}, status?: ExternalSecret["status"]): ExternalSecret => ({
  metadata: { name: "a", namespace: "n", uid: "u-status", generation: 2, labels: { x: "1" } },
  spec: { secretStoreRef: { name: "s" }, data: [{ secretKey: "k", remoteRef: { key: "r" } }], ...spec },
  ...(status ? { status } : {}),
});
const synced = (e: ExternalSecret, refreshTime = "1970-01-01T00:00:00Z"): ExternalSecret => ({
  ...e,
  status: {
    refreshTime,
    syncedResourceVersion: syncedResourceVersion(e.metadata),
    conditions: [{ type: "Ready", status: "True", reason: "SecretSynced" }],
  },
});
const secret = { metadata: { name: "a", annotations: {} } };

test("new objects are due", () => assert.equal(syncDecision(base(), undefined, 0).reason, "new"));
test("a label or annotation change (force-sync) is due", () => {
  const e = synced(base());
  const changed = { ...e, metadata: { ...e.metadata, annotations: { "force-sync": "1" } } };
  assert.equal(syncDecision(changed, secret, 0).reason, "changed");
  assert.equal(syncDecision(e, secret, 1000).due, false);
});
test("a deleted target Secret is due", () =>
  assert.equal(syncDecision(synced(base()), undefined, 0).reason, "secret-missing"));
test("periodic refresh after the interval", () => {
  const e = synced(base({ refreshInterval: "10s" }));
  const d = syncDecision(e, secret, 5000);
  assert.equal(d.due, false);
  assert.equal(d.nextInMs, 5000);
  assert.equal(syncDecision(e, secret, 10_000).reason, "refresh");
  recordRefresh("u-status", 10_000);
  assert.equal(syncDecision(e, secret, 12_000).due, false, "in-memory refresh time counts");
});
test("refreshInterval 0, OnChange and CreatedOnce never refresh periodically", () => {
  for (const spec of [
    { refreshInterval: "0" },
    { refreshPolicy: "OnChange" as const },
    { refreshPolicy: "CreatedOnce" as const },
  ]) {
    const d = syncDecision(synced(base(spec)), secret, 10 ** 12);
    assert.equal(d.due, false);
    assert.equal(d.nextInMs, undefined);
  }
});
test("CreatedOnce ignores spec changes once synced (as ESO); refreshInterval 0 and OnChange follow them (force-sync works with 0, unlike ESO); a missing Secret is re-made by all", () => {
  const changed = (e: ExternalSecret): ExternalSecret => ({
    ...e,
    metadata: { ...e.metadata, generation: 3, annotations: { "force-sync": "1" } },
  });
  const once = changed(synced(base({ refreshPolicy: "CreatedOnce" })));
  assert.equal(syncDecision(once, secret, 10 ** 12).due, false);
  for (const spec of [{ refreshInterval: "0" }, { refreshPolicy: "CreatedOnce" as const }])
    assert.equal(syncDecision(changed(synced(base(spec))), undefined, 10 ** 12).reason, "secret-missing");
  for (const spec of [{ refreshInterval: "0" }, { refreshPolicy: "OnChange" as const }])
    assert.equal(
      syncDecision(changed(synced(base(spec))), secret, 0).reason,
      "changed",
      JSON.stringify(spec),
    );
});
test("status: lastTransitionTime kept while the status holds; change detection", () => {
  const e = base();
  const s1 = buildStatus(
    e,
    { ok: true, reason: "SecretSynced", message: "ok" },
    { synced: true, now: new Date(1000), secretName: "a" },
    new Date(1000),
  );
  assert.equal(s1.binding?.name, "a");
  const again = buildStatus(
    { ...e, status: s1 },
    { ok: true, reason: "SecretSynced", message: "ok" },
    undefined,
    new Date(99_000),
  );
  assert.equal(again.conditions?.[0]?.lastTransitionTime, s1.conditions?.[0]?.lastTransitionTime);
  assert.equal(statusChanged(s1, again), false);
  const failed = buildStatus(
    { ...e, status: s1 },
    { ok: false, reason: "SecretSyncedError", message: "boom" },
    undefined,
    new Date(99_000),
  );
  assert.equal(statusChanged(s1, failed), true);
  assert.equal(
    failed.syncedResourceVersion,
    s1.syncedResourceVersion,
    "an error keeps the last synced version",
  );
});
test("validation mirrors ESO's webhook", () => {
  assert.deepEqual(validateExternalSecret(base()), []);
  // ESO's webhook messages, as the CRD's rules give them at apply time
  for (const creationPolicy of ["Merge", "None"] as const)
    assert.deepEqual(validateExternalSecret(base({ target: { creationPolicy, deletionPolicy: "Delete" } })), [
      "deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner",
    ]);
  // Orphan with Delete passes ESO's webhook (it fails only when a deletion is due: plan.test.ts)
  assert.deepEqual(
    validateExternalSecret(base({ target: { creationPolicy: "Orphan", deletionPolicy: "Delete" } })),
    [],
  );
  assert.deepEqual(
    validateExternalSecret(base({ target: { creationPolicy: "None", deletionPolicy: "Merge" } })),
    ["deletionPolicy=Merge must not be used with creationPolicy=None. There is no Secret to merge with"],
  );
  const dup = [
    { secretKey: "a", remoteRef: { key: "x" } },
    { secretKey: "a", remoteRef: { key: "y" } },
    { secretKey: "b", remoteRef: { key: "y" } },
    { secretKey: "a", remoteRef: { key: "z" } },
  ];
  // ESO's webhook refuses duplicates only under deletionPolicy Retain (the default), with its message
  assert.deepEqual(validateExternalSecret(base({ data: dup })), [
    "duplicate secretKey found: a",
    "duplicate secretKey found: a",
  ]);
  assert.deepEqual(validateExternalSecret(base({ data: dup, target: { deletionPolicy: "Retain" } })), [
    "duplicate secretKey found: a",
    "duplicate secretKey found: a",
  ]);
  // with Delete or Merge the object is accepted (the last entry wins, see plan.test.ts)
  assert.deepEqual(validateExternalSecret(base({ data: dup, target: { deletionPolicy: "Delete" } })), []);
  assert.deepEqual(validateExternalSecret(base({ data: dup, target: { deletionPolicy: "Merge" } })), []);
  assert.match(validateExternalSecret(base({ data: [], dataFrom: [{}] })).join(), /exactly one/);
  assert.match(validateExternalSecret(base({ refreshInterval: "soon" })).join(), /invalid duration/);
  assert.match(
    validateExternalSecret(base({ data: [{ secretKey: "bad key", remoteRef: { key: "x" } }] })).join(),
    /secretKey/,
  );
});

test("a positive refresh interval below the operator's floor is raised to it; 0 stays no polling", () => {
  assert.equal(intervalOf(base({ refreshInterval: "1ns" }), 5000), 5000);
  assert.equal(intervalOf(base({ refreshInterval: "1ms" }), 5000), 5000);
  assert.equal(intervalOf(base({ refreshInterval: "1m" }), 5000), 60_000);
  assert.equal(intervalOf(base({ refreshInterval: "0" }), 5000), 0);
  assert.ok(intervalOf(base({ refreshInterval: "1ns" })) < 1, "without a floor, 1ns stays 1ns");
  // the decision uses the floor: a 1ns interval synced a second ago is not due again
  const e = synced(base({ refreshInterval: "1ns" }), new Date(10_000).toISOString());
  recordRefresh(e.metadata.uid, 10_000);
  const d = syncDecision(e, secret, 11_000, 5000);
  assert.equal(d.due, false);
  assert.equal(d.intervalMs, 5000);
});

test("target.name must be a DNS subdomain: '.', '..', slashes and upper case are refused", () => {
  for (const name of [".", "..", "a/b", "../x", "A", "a_b", "-a", "a.", "x".repeat(254), "a%2fb"]) {
    const problems = validateExternalSecret(base({ target: { name } }));
    assert.ok(
      problems.some((p) => p.includes("must be a DNS subdomain")),
      `${name}: ${problems.join("; ")}`,
    );
  }
  for (const name of ["db", "db-creds.v2", "a", "x".repeat(253)])
    assert.deepEqual(validateExternalSecret(base({ target: { name } })), [], name);
});
test("a failed sync is retried as 'retry' (shared reads) unless its spec changed ('changed': fresh reads)", () => {
  const failed = (srvOf: ExternalSecret["metadata"]): ExternalSecret => ({
    ...base(),
    status: {
      syncedResourceVersion: syncedResourceVersion(srvOf),
      conditions: [{ type: "Ready", status: "False", reason: "SecretSyncedError", message: "x" }],
    },
  });
  assert.equal(syncDecision(failed(base().metadata), secret, 0).reason, "retry");
  assert.equal(syncDecision(failed({ ...base().metadata, generation: 1 }), secret, 0).reason, "changed");
  assert.ok(readWindow("retry", 60_000, 0) > 0);
  assert.equal(readWindow("changed", 60_000, 0), 0);
});

test("retryNoLaterThan: a failed sync is retried by its next refresh cycle at the latest, whatever failed", () => {
  const interval = 10_000;
  const now = 1_000_000_003_000; // 3 s into a 10 s cycle
  for (let i = 0; i < 50; i++) {
    const cap = retryNoLaterThan(now, interval)!;
    // the rest of this cycle (7 s) plus at most 5% spread: never the 7-minute back-off ceiling
    assert.ok(cap >= 7_000 && cap <= 7_500, `${cap}`);
  }
  assert.equal(retryNoLaterThan(now, 0), undefined, "no periodic refresh: the back-off alone");
});
