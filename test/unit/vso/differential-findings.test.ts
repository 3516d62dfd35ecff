/**
 * What the differential run against the real VSO v1.4.1 found and Custos now does as VSO
 * (scripts/differential-vso.ts; recorded in test/fixtures/differential/vso-v1.4.1.json).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  desiredSecret,
  goDuration,
  mayWrite,
  secretData,
  vsoTargetRules,
  type VssObject,
} from "../../../src/controllers/vso/static.ts";
import { planTarget } from "../../../src/engine/target.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const vss = (dest: Partial<VssObject["spec"]["destination"]>, uid = "uid-1"): VssObject => ({
  apiVersion: "secrets.hashicorp.com/v1beta1",
  kind: "VaultStaticSecret",
  metadata: { name: "s", namespace: "app", uid, generation: 1 },
  spec: { mount: "kv", path: "p", type: "kv-v2", destination: { name: "dest", ...dest } },
});
const dec = (d: Record<string, Uint8Array>): Record<string, string> =>
  Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Buffer.from(v).toString("utf8")]));
const data = { k: new TextEncoder().encode("v") };
const VSO_LABELS = {
  "app.kubernetes.io/managed-by": "hashicorp-vso",
  "app.kubernetes.io/name": "vault-secrets-operator",
  "app.kubernetes.io/component": "secret-sync",
};

test("overwrite: a foreign Secret is taken over with exactly VSO's labels (its own are dropped)", () => {
  const obj = vss({ create: true, overwrite: true, labels: { l: "v" } });
  const foreign = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "dest", namespace: "app", labels: { keep: "me" } },
    data: { old: "eA==" },
  };
  const plan = planTarget(
    desiredSecret(obj, obj.spec.destination, data),
    foreign,
    vsoTargetRules(obj, obj.spec.destination),
  );
  assert.equal(plan.action, "update");
  assert.deepEqual(plan.secret?.metadata.labels, {
    l: "v",
    ...VSO_LABELS,
    "secrets.hashicorp.com/vso-ownerRefUID": "uid-1",
  });
  // create: false keeps the Secret's labels
  const nc = vss({ create: false });
  const p2 = planTarget(
    desiredSecret(nc, nc.spec.destination, data),
    foreign,
    vsoTargetRules(nc, nc.spec.destination),
  );
  assert.deepEqual(p2.secret?.metadata.labels, { keep: "me" });
});

test("overwrite never takes a Secret carrying VSO's owner labels from another owner", () => {
  const other = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: "dest",
      namespace: "app",
      labels: { ...VSO_LABELS, "secrets.hashicorp.com/vso-ownerRefUID": "uid-2" },
      ownerReferences: [
        { apiVersion: "secrets.hashicorp.com/v1beta1", kind: "VaultStaticSecret", name: "x", uid: "uid-2" },
      ],
    },
    data: {},
  };
  const obj = vss({ create: true, overwrite: true });
  assert.match(mayWrite(obj, obj.spec.destination)(other) ?? "", /not the owner/);
  assert.throws(
    () =>
      planTarget(
        desiredSecret(obj, obj.spec.destination, data),
        other,
        vsoTargetRules(obj, obj.spec.destination),
      ),
    (e) => isCustosError(e, "CUSTOS_OWNERSHIP_CONFLICT"),
  );
  // VSO's labels without any owner reference: refused too (VSO checks labels, then references)
  const labelsOnly = { ...other, metadata: { ...other.metadata, ownerReferences: undefined } };
  assert.match(mayWrite(obj, obj.spec.destination)(labelsOnly) ?? "", /not the owner/);
});

test("templates see Vault numbers as json.Number: printed as their literal, JSON unchanged", () => {
  const secret = { big: 12345678901, num: 1.5, int: 42, list: ["a", { n: 1 }], nul: null };
  const d = dec(
    secretData({
      secret,
      raw: secret,
      excludeRaw: true,
      excludes: [".*"],
      templates: [
        { key: "big", text: "{{ .Secrets.big }}" },
        { key: "num", text: "{{ .Secrets.num }}" },
        { key: "printf", text: '{{ printf "%v/%s" .Secrets.big .Secrets.int }}' },
        { key: "list", text: "{{ .Secrets.list | toJson }}" },
        { key: "sum", text: "{{ add .Secrets.int 1 }}" },
        { key: "nul", text: "{{ .Secrets.nul }}" },
      ],
    }),
  );
  assert.deepEqual(d, {
    big: "12345678901",
    num: "1.5",
    printf: "12345678901/42",
    list: '["a",{"n":1}]',
    sum: "43",
    nul: "<no value>",
  });
});

test("goDuration: Go's time.Duration String() as VSO's horizon messages print it", () => {
  assert.equal(goDuration(0), "0s");
  assert.equal(goDuration(500), "500ms");
  assert.equal(goDuration(50_696), "50.696s");
  assert.equal(goDuration(52_200), "52.2s");
  assert.equal(goDuration(90_000), "1m30s");
  assert.equal(goDuration(3_107_839), "51m47.839s");
  assert.equal(goDuration(3_600_000), "1h0m0s");
});
