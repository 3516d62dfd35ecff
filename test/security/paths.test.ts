/**
 * Attack class: path traversal in Vault keys. A tenant points ExternalSecrets at a cluster admin's
 * ClusterSecretStores (KV v1 and v2) with keys that climb out of the mount (`..`, `%2e%2e`, `%2f`,
 * backslashes) to reach `auth/token/lookup-self`, which answers with the store's own token. What
 * the tenant can observe: each ExternalSecret is Ready=False with the path error naming its key,
 * no Secret is written, no Secret in its namespace ever holds the token. The same stores serve an
 * innocent key, and the operator stays up.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import {
  applyCrds,
  createNamespace,
  esStatus,
  eventually,
  kubectl,
  readyCondition,
  secretData,
  sleep,
  startOperator,
  suffix,
  vaultClient,
  KubeApi,
  type OperatorProcess,
  type VaultClient,
} from "../e2e/helpers.ts";

const id = suffix();
const cls = `sec-paths-${id}`;
let env: SharedEnv;
let api: KubeApi;
let vault: VaultClient;
let op: OperatorProcess;
let tenant: string;
let storeToken: string;
const mounts = { v1: `kv1-${id}`, v2: `kv2-${id}` };

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  vault = vaultClient(env);
  await applyCrds(env);
  const admin = await createNamespace(api, "sec-paths-admin");
  tenant = await createNamespace(api, "sec-paths-tenant");
  for (const [v, mount] of Object.entries(mounts)) {
    await vault.call("POST", `sys/mounts/${mount}`, {
      type: "kv",
      options: { version: v === "v2" ? "2" : "1" },
    });
    await vault.call(
      "POST",
      v === "v2" ? `${mount}/data/app/db` : `${mount}/app/db`,
      v === "v2" ? { data: { password: `innocent-${v}` } } : { password: `innocent-${v}` },
    );
  }
  // The store's token: may read its mounts (and, as every token, look itself up).
  await vault.call("PUT", `sys/policies/acl/${cls}`, {
    policy: Object.values(mounts)
      .map((m) => `path "${m}/*" { capabilities = ["read", "list"] }`)
      .join("\n"),
  });
  const created = await vault.call("POST", "auth/token/create", { policies: [cls], ttl: "2h" });
  storeToken = (created.json.auth as { client_token: string }).client_token;
  await api.create(`/api/v1/namespaces/${admin}/secrets`, {
    metadata: { name: "vault-token" },
    stringData: { token: storeToken },
  });
  await kubectl(
    env,
    ["apply", "-f", "-"],
    Object.entries(mounts)
      .map(
        ([v, mount]) => `---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: ${cls}-${v} }
spec:
  controller: ${cls}
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${mount}
      version: ${v}
      auth: { tokenSecretRef: { name: vault-token, key: token, namespace: ${admin} } }
`,
      )
      .join(""),
  );
  op = await startOperator(env, [
    "--controllers",
    "externalsecret",
    "--controller-class",
    cls,
    "--namespace",
    tenant,
  ]);
});

after(async () => {
  await op.stop();
  await kubectl(env, ["delete", "clustersecretstore", `${cls}-v1`, `${cls}-v2`, "--ignore-not-found"]).catch(
    () => undefined,
  );
});

const ref = (v: "v1" | "v2") => `secretStoreRef: { name: ${cls}-${v}, kind: ClusterSecretStore }`;

test("keys that climb out of the mount fail with the path error; the store's token is never read", async () => {
  // [name, store, spec lines]; keys in single quotes: YAML keeps backslashes and % as written
  const hostile: [string, "v1" | "v2", string][] = [
    [
      "v1-dotdot",
      "v1",
      `data: [ { secretKey: t, remoteRef: { key: '../auth/token/lookup-self', property: id } } ]`,
    ],
    [
      "v1-encoded",
      "v1",
      `data: [ { secretKey: t, remoteRef: { key: '%2e%2e/auth/token/lookup-self', property: id } } ]`,
    ],
    [
      "v1-encoded-slash",
      "v1",
      `data: [ { secretKey: t, remoteRef: { key: '..%2fauth%2ftoken%2flookup-self', property: id } } ]`,
    ],
    [
      "v1-mixed",
      "v1",
      `data: [ { secretKey: t, remoteRef: { key: '.%2E/auth/token/lookup-self', property: id } } ]`,
    ],
    [
      "v1-backslash",
      "v1",
      `data: [ { secretKey: t, remoteRef: { key: '..\\auth\\token\\lookup-self', property: id } } ]`,
    ],
    [
      "v1-inner",
      "v1",
      `data: [ { secretKey: t, remoteRef: { key: 'app/../../auth/token/lookup-self', property: id } } ]`,
    ],
    ["v1-extract", "v1", `dataFrom: [ { extract: { key: '../auth/token/lookup-self' } } ]`],
    [
      "v2-dotdot",
      "v2",
      `data: [ { secretKey: t, remoteRef: { key: '../../auth/token/lookup-self', property: id } } ]`,
    ],
    [
      "v2-encoded",
      "v2",
      `data: [ { secretKey: t, remoteRef: { key: '%2e%2e/%2e%2e/auth/token/lookup-self', property: id } } ]`,
    ],
    [
      "v2-double-encoded",
      "v2",
      `data: [ { secretKey: t, remoteRef: { key: '%252e%252e/%252e%252e/sys/health' } } ]`,
    ],
    [
      "v2-metadata",
      "v2",
      `data: [ { secretKey: t, remoteRef: { key: '../../auth/token/lookup-self', metadataPolicy: Fetch } } ]`,
    ],
    ["v2-extract", "v2", `dataFrom: [ { extract: { key: '..%2f..%2fauth%2ftoken%2flookup-self' } } ]`],
    ["v2-find", "v2", `dataFrom: [ { find: { path: '../../auth/token' } } ]`],
  ];
  await kubectl(
    env,
    ["apply", "-n", tenant, "-f", "-"],
    [
      ...hostile.map(([name, v, lines]) => ({ name, v, lines })),
      ...(["v1", "v2"] as const).map((v) => ({
        name: `innocent-${v}`,
        v,
        lines: `data: [ { secretKey: password, remoteRef: { key: app/db, property: password } } ]`,
      })),
    ]
      .map(
        ({ name, v, lines }) => `---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1h
  ${ref(v)}
  target: { name: ${name} }
  ${lines}
`,
      )
      .join(""),
  );

  for (const v of ["v1", "v2"] as const)
    assert.deepEqual(await eventually(`innocent-${v}`, () => secretData(api, tenant, `innocent-${v}`)), {
      password: `innocent-${v}`,
    });
  for (const [name] of hostile) {
    const ready = await eventually(`${name} refused`, async () => {
      const r = readyCondition(await esStatus(api, tenant, name));
      return r?.status === "False" && /is not allowed/.test(r.message ?? "") ? r : undefined;
    });
    assert.match(ready.message ?? "", /(remote key|find\.path) ".*" is not allowed: it has/, name);
    assert.ok(!ready.message?.includes(storeToken), name);
  }
  await sleep(2000);
  for (const [name] of hostile) assert.equal(await secretData(api, tenant, name), undefined, name);
  const all = await api.list<{ data?: Record<string, string> }>(`/api/v1/namespaces/${tenant}/secrets`);
  for (const s of all.items)
    for (const value of Object.values(s.data ?? {}))
      assert.ok(
        !Buffer.from(value, "base64").toString().includes(storeToken),
        "no Secret holds the store's token",
      );
  assert.equal(op.child.exitCode, null, "the operator is still running");
});

test("a template source named with 20,000 characters gets a condition cut to 1 KiB; the operator stays up", async () => {
  const long = "x".repeat(20_000);
  await kubectl(
    env,
    ["apply", "-n", tenant, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: long-name }
spec:
  refreshInterval: 1h
  ${ref("v2")}
  target:
    name: long-name
    template: { templateFrom: [ { configMap: { name: ${long}, items: [ { key: a } ] } } ] }
  data: [ { secretKey: password, remoteRef: { key: app/db, property: password } } ]
`,
  );
  const ready = await eventually("long-name reported", async () => {
    const r = readyCondition(await esStatus(api, tenant, "long-name"));
    return r?.status === "False" ? r : undefined;
  });
  // the status write carrying a 20,000-character message used to fail, leaving no condition at all
  assert.ok((ready.message ?? "").length <= 1024, `${(ready.message ?? "").length} characters`);
  assert.match(ready.message ?? "", /^template ConfigMap "x+… \(\d+ characters cut\)$/);
  assert.equal(op.child.exitCode, null, "the operator is still running");
});
