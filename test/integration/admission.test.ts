/**
 * What ESO's validating webhook refuses, the real API server refuses through the CRDs' own
 * validation rules (no webhook), with ESO's messages; what ESO accepts still applies, a
 * 2,000-entry data list included (the rules' CEL cost stays within the API server's budget).
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { sharedEnv } from "../env/shared.ts";
import { applyCrds, createNamespace } from "../e2e/helpers.ts";
import { KubeApi, KubeApiError } from "../../src/kube/api.ts";

let api: KubeApi;
let ns: string;

before(async () => {
  const env = await sharedEnv(["kube"]);
  await applyCrds(env);
  api = KubeApi.fromDefault(env.kubeconfig);
  ns = await createNamespace(api, "admission");
});

type Spec = Record<string, unknown>;
const entry = (k: string) => ({ secretKey: k, remoteRef: { key: "app" } });
let n = 0;
async function apply(spec: Spec): Promise<string | undefined> {
  try {
    await api.create(`/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets`, {
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name: `es-${n++}` },
      spec: { secretStoreRef: { name: "s" }, ...spec },
    });
    return undefined;
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 422) return e.message;
    throw e;
  }
}

const refused: [string, Spec, string][] = [
  [
    "deletionPolicy Delete with creationPolicy Merge",
    { target: { creationPolicy: "Merge", deletionPolicy: "Delete" }, data: [entry("a")] },
    "deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner",
  ],
  [
    "deletionPolicy Delete with creationPolicy None",
    { target: { creationPolicy: "None", deletionPolicy: "Delete" }, data: [entry("a")] },
    "deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner",
  ],
  [
    "deletionPolicy Merge with creationPolicy None",
    { target: { creationPolicy: "None", deletionPolicy: "Merge" }, data: [entry("a")] },
    "deletionPolicy=Merge must not be used with creationPolicy=None. There is no Secret to merge with",
  ],
  ["neither data nor dataFrom", {}, "either data or dataFrom should be specified"],
  ["empty data and dataFrom", { data: [], dataFrom: [] }, "either data or dataFrom should be specified"],
  [
    "extract and find together",
    { dataFrom: [{ extract: { key: "a" }, find: { path: "p" } }] },
    "extract, find, or generatorRef cannot be set at the same time",
  ],
  [
    "find and a generator together",
    { dataFrom: [{ find: { path: "p" }, sourceRef: { generatorRef: { kind: "Password", name: "g" } } }] },
    "extract, find, or generatorRef cannot be set at the same time",
  ],
  [
    "an empty dataFrom entry",
    { dataFrom: [{}] },
    "either extract, find, or sourceRef must be set to dataFrom",
  ],
  [
    "a sourceRef naming neither store nor generator",
    { dataFrom: [{ sourceRef: {} }] },
    "generatorRef or storeRef must be set when using sourceRef in dataFrom",
  ],
];

for (const [name, spec, message] of refused) {
  test(`refused at apply: ${name}`, async () => {
    const err = await apply(spec);
    assert.ok(err, "the API server accepted it");
    assert.ok(err.includes(message), err);
  });
}

test("accepted: what ESO's webhook accepts", async () => {
  const ok: Spec[] = [
    { data: [entry("a")] },
    { target: { creationPolicy: "Orphan", deletionPolicy: "Delete" }, data: [entry("a")] },
    { target: { creationPolicy: "Merge", deletionPolicy: "Merge" }, data: [entry("a")] },
    { target: { creationPolicy: "Merge", deletionPolicy: "Retain" }, data: [entry("a")] },
    // duplicates are accepted with Delete or Merge: the last entry wins
    { target: { deletionPolicy: "Delete" }, data: [entry("a"), entry("a")] },
    { target: { deletionPolicy: "Merge" }, data: [entry("a"), entry("a")] },
    { dataFrom: [{ extract: { key: "a" } }, { find: { path: "p" } }] },
    { dataFrom: [{ extract: { key: "a" }, sourceRef: { storeRef: { name: "s2" } } }] },
  ];
  for (const spec of ok) assert.equal(await apply(spec), undefined, JSON.stringify(spec));
});

test("a 2,000-entry data list applies (the rules' cost stays within the budget)", async () => {
  const many = Array.from({ length: 2000 }, (_, i) => entry(`key-${i}`));
  assert.equal(await apply({ data: many }), undefined);
});

test("duplicate secretKeys under Retain are left to the status check (CRDs must load before Kubernetes 1.33)", async () => {
  assert.equal(await apply({ data: [entry("a"), entry("b"), entry("a")] }), undefined);
});
