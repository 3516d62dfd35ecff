/**
 * `custos diff`, pure: keys added/removed/changed with values hidden unless asked, label and
 * annotation changes (the data hash by name only), owner and type, and the rollout prediction by
 * Reloader's rules.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { diffSecret, formatDiff, hasChanges, valuesOf } from "../../../src/cli/diff/secret-diff.ts";
import type { SecretObject } from "../../../src/controllers/externalsecret/types.ts";
import type { Workload } from "../../../src/controllers/rollout/match.ts";

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const T = { namespace: "team-a", name: "db" };
const HASH = "reconcile.external-secrets.io/data-hash";

const secret = (
  data: Record<string, string>,
  meta: Partial<SecretObject["metadata"]> = {},
): SecretObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "db", namespace: "team-a", ...meta },
  type: "Opaque",
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});

const deployment = (name: string, annotations: Record<string, string>, uses = "db"): Workload => ({
  kind: "Deployment",
  metadata: { name, namespace: "team-a", annotations },
  spec: { template: { spec: { containers: [{ name: "c", envFrom: [{ secretRef: { name: uses } }] }] } } },
});

test("keys: added, removed, changed; values hidden by default", () => {
  const before = secret(
    { keep: "same-value", old: "old-canary-1", pw: "old-canary-2" },
    { annotations: { [HASH]: "aaa" } },
  );
  const after = secret(
    { keep: "same-value", pw: "new-canary-3", url: "new-canary-4" },
    { annotations: { [HASH]: "bbb" } },
  );
  const d = diffSecret(T, "update", before, after, []);
  assert.deepEqual(d.keys, { added: ["url"], removed: ["old"], changed: ["pw"] });
  assert.equal(hasChanges(d), true);
  const text = formatDiff(d, undefined);
  assert.equal(
    text,
    [
      "Secret team-a/db: would be updated",
      "  data:",
      "    + url",
      "    - old",
      "    ~ pw (value changed)",
      "  annotations:",
      `    ~ ${HASH}`,
      "  rollout: none",
      "",
    ].join("\n"),
  );
  for (const canary of ["old-canary-1", "old-canary-2", "new-canary-3", "new-canary-4", "aaa", "bbb"])
    assert.ok(!text.includes(canary), canary);
  const shown = formatDiff(d, valuesOf(before, after));
  assert.match(shown, /~ pw: "old-canary-2" -> "new-canary-3"/);
  assert.match(shown, /\+ url: "new-canary-4"/);
});

test("create, delete and no change", () => {
  const after = secret({ a: "1" }, { labels: { app: "web" } });
  const created = diffSecret(T, "create", undefined, after, []);
  assert.match(
    formatDiff(created, undefined),
    /^Secret team-a\/db: would be created\n {2}data:\n {4}\+ a\n {2}labels:\n {4}\+ app: web\n/,
  );
  assert.deepEqual(created.type, { from: "", to: "Opaque" });
  const existing = secret({ a: "1" });
  const deleted = diffSecret(T, "delete", existing, undefined, []);
  assert.deepEqual(deleted.keys.removed, ["a"]);
  assert.match(formatDiff(deleted, undefined), /would be deleted/);
  const none = diffSecret(T, "none", existing, undefined, []);
  assert.equal(hasChanges(none), false);
  assert.equal(formatDiff(none, undefined), "Secret team-a/db: no changes\n");
});

test("owner changes are shown", () => {
  const before = secret({ a: "1" });
  const after = secret(
    { a: "1" },
    {
      ownerReferences: [
        {
          apiVersion: "external-secrets.io/v1",
          kind: "ExternalSecret",
          name: "db",
          uid: "u",
          controller: true,
        },
      ],
    },
  );
  const d = diffSecret(T, "update", before, after, []);
  assert.deepEqual(d.owners, { from: [], to: ["ExternalSecret/db (controller)"] });
  assert.match(formatDiff(d, undefined), /owner: \(none\) -> ExternalSecret\/db \(controller\)/);
});

test("rollout: Reloader's annotations decide, only when the data changes", () => {
  const before = secret({ a: "1" });
  const after = secret({ a: "2" });
  const workloads = [
    deployment("auto", { "reloader.stakater.com/auto": "true" }),
    deployment("named", { "secret.reloader.stakater.com/reload": "db" }, "other"),
    deployment("plain", {}),
    deployment("auto-other", { "reloader.stakater.com/auto": "true" }, "other"),
  ];
  assert.deepEqual(diffSecret(T, "update", before, after, workloads).rollouts, [
    "Deployment/auto",
    "Deployment/named",
  ]);
  // a label-only change restarts nothing; neither does a Secret that does not exist yet
  assert.deepEqual(
    diffSecret(T, "update", before, secret({ a: "1" }, { labels: { x: "y" } }), workloads).rollouts,
    [],
  );
  assert.deepEqual(diffSecret(T, "create", undefined, after, workloads).rollouts, []);
  // the Secret's own ignore annotation wins
  assert.deepEqual(
    diffSecret(
      T,
      "update",
      before,
      secret({ a: "2" }, { annotations: { "reloader.stakater.com/ignore": "true" } }),
      workloads,
    ).rollouts,
    [],
  );
  assert.match(
    formatDiff(diffSecret(T, "update", before, after, workloads), undefined),
    /rollout: would restart Deployment\/auto, Deployment\/named/,
  );
});
