/** The differential harness' comparison (test/differential/observe.ts): pure. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { compare, ownerHash, secretView, unallowed, type Observation } from "../../differential/observe.ts";
import { CASES } from "../../differential/cases.ts";
import { FIXTURE_TITLES } from "../../differential/fixture.ts";

const raw = (ns: string, labels: Record<string, string> = {}) => ({
  metadata: {
    name: "c001",
    labels: { "reconcile.external-secrets.io/created-by": ownerHash(ns, "c001"), ...labels },
    annotations: { "reconcile.external-secrets.io/data-hash": "h" },
    ownerReferences: [{ kind: "ExternalSecret", name: "c001", controller: true }],
  },
  data: { a: "YQ==" },
});

test("the owner label is compared as 'hash of its own namespace/name', so two namespaces compare", () => {
  const e: Observation = { admitted: true, secret: secretView(raw("eso-c001"), "eso-c001", "c001") };
  const c: Observation = { admitted: true, secret: secretView(raw("cus-c001"), "cus-c001", "c001") };
  assert.deepEqual(compare(e, c), []);
  // a wrong hash shows
  const wrong = secretView(raw("elsewhere"), "cus-c001", "c001");
  assert.equal(
    compare(e, { admitted: true, secret: wrong })[0]?.field,
    "secret.labels[reconcile.external-secrets.io/created-by]",
  );
});

test("differences are field by field; admission differences stop there", () => {
  const base: Observation = { admitted: true, ready: { status: "True", reason: "SecretSynced" } };
  assert.deepEqual(
    compare(base, { admitted: true, ready: { status: "False", reason: "SecretSyncedError" } }).map(
      (d) => d.field,
    ),
    ["ready.status", "ready.reason"],
  );
  assert.deepEqual(
    compare(base, { admitted: false }).map((d) => d.field),
    ["admitted"],
  );
  assert.deepEqual(
    compare({ admitted: false, admissionMessage: "x" }, { admitted: false, admissionMessage: "y" }),
    [],
  );
});

test("the allow-list covers only its titles and fields", () => {
  const d = [
    { field: "secret.labels[reconcile.external-secrets.io/managed]", eso: '"true"', custos: "(none)" },
  ];
  assert.deepEqual(unallowed("policy missing remote creation=Owner deletion=Retain", d), []);
  assert.equal(unallowed("vault2 property plain:user", d).length, 1);
});

test("the case table: unique titles, several hundred cases, the fixture's subset in it", () => {
  assert.ok(CASES.length >= 300);
  const titles = new Set(CASES.map((c) => c.title));
  assert.equal(titles.size, CASES.length);
  for (const t of FIXTURE_TITLES) assert.ok(titles.has(t), t);
});
