/**
 * End to end: the `kubernetes` provider against the real API server. A tenant's SecretStore reads
 * Secrets of another namespace with a least-privilege ServiceAccount (a Role limited by
 * resourceNames), a static token and a kubeconfig; RBAC denials and a namespaced store's attempt to
 * name another namespace's ServiceAccount are refused.
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
  startOperator,
  serviceAccountKubeconfig,
  KubeApi,
  type OperatorProcess,
} from "./helpers.ts";

let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let remote: string;
let tenant: string;

before(async () => {
  env = await sharedEnv(["kube", "controller-manager"]);
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  remote = await createNamespace(api, "kprov-remote");
  tenant = await createNamespace(api, "kprov-tenant");
  const secret = (name: string, data: Record<string, string>, labels: Record<string, string> = {}) =>
    api.create(`/api/v1/namespaces/${remote}/secrets`, { metadata: { name, labels }, stringData: data });
  await secret(
    "db",
    { user: "admin", password: "pw-1", config: '{"host":"db.local","port":5432}' },
    { app: "shop" },
  );
  await secret("cache", { token: "c-1" }, { app: "shop" });
  await secret("unrelated", { x: "y" }, { app: "other" });
  // the tenant's reader: get on two named Secrets and list in the remote namespace, nothing else
  await kubectl(
    env,
    ["apply", "-f", "-"],
    `apiVersion: v1
kind: ServiceAccount
metadata: { name: reader, namespace: ${tenant} }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: nobody, namespace: ${tenant} }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: read-shop, namespace: ${remote} }
rules:
  - { apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [db, cache] }
  - { apiGroups: [""], resources: [secrets], verbs: [list] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: read-shop, namespace: ${remote} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-shop }
subjects: [{ kind: ServiceAccount, name: reader, namespace: ${tenant} }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: cluster-ca, namespace: ${tenant} }
data:
  ca.crt: |
${env.caPem
  .trim()
  .split("\n")
  .map((l) => `    ${l}`)
  .join("\n")}
`,
  );
  op = await startOperator(env, ["--controllers", "externalsecret", "--namespace", tenant]);
});

after(async () => {
  await op.stop();
});

function store(name: string, provider: string): Promise<string> {
  return kubectl(
    env,
    ["apply", "-n", tenant, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: ${name} }
spec:
  provider:
    kubernetes:
${provider
  .trim()
  .split("\n")
  .map((l) => `      ${l}`)
  .join("\n")}
`,
  );
}

function externalSecret(name: string, storeName: string, spec: string): Promise<string> {
  return kubectl(
    env,
    ["apply", "-n", tenant, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: ${storeName}, kind: SecretStore }
  target: { name: ${name} }
${spec
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`,
  );
}

async function ready(name: string): Promise<Record<string, string>> {
  await eventually(
    `${name} Ready`,
    async () => readyCondition(await esStatus(api, tenant, name))?.status === "True",
    60_000,
  );
  return (await secretData(api, tenant, name))!;
}

async function failed(name: string): Promise<string> {
  return eventually(
    `${name} failing`,
    async () => {
      const c = readyCondition(await esStatus(api, tenant, name));
      return c?.status === "False" ? (c.message ?? "") : undefined;
    },
    60_000,
  );
}

test("ESO's documented store (serviceAccount auth, caProvider ConfigMap, remoteNamespace): properties, whole Secret and find by labels", async () => {
  await store(
    "sa",
    `remoteNamespace: ${remote}
server:
  url: ${env.apiUrl}
  caProvider: { type: ConfigMap, name: cluster-ca, key: ca.crt }
auth:
  serviceAccount: { name: reader }`,
  );
  await externalSecret(
    "from-sa",
    "sa",
    `data:
  - { secretKey: user, remoteRef: { key: db, property: user } }
  - { secretKey: host, remoteRef: { key: db, property: config.host } }
  - { secretKey: whole, remoteRef: { key: cache } }
dataFrom:
  - find: { tags: { app: shop } }
    rewrite: [{ regexp: { source: "(.*)", target: "found-$1" } }]`,
  );
  const d = await ready("from-sa");
  assert.equal(d.user, "admin");
  assert.equal(d.host, "db.local");
  assert.equal(d.whole, '{"token":"c-1"}');
  assert.deepEqual(JSON.parse(d["found-db"]!), {
    config: '{"host":"db.local","port":5432}',
    password: "pw-1",
    user: "admin",
  });
  assert.equal(d["found-cache"], '{"token":"c-1"}');
  assert.equal(d["found-unrelated"], undefined, "the label selector chose");
});

test("dataFrom.extract, and no server.url: the operator's own API server with its CA", async () => {
  await store(
    "default-server",
    `remoteNamespace: ${remote}
auth:
  serviceAccount: { name: reader }`,
  );
  await externalSecret("extract", "default-server", "dataFrom:\n  - extract: { key: db }");
  const d = await ready("extract");
  assert.deepEqual({ user: d.user, password: d.password }, { user: "admin", password: "pw-1" });
});

test("token auth and a data-only kubeconfig (authRef)", async () => {
  const tr = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${tenant}/serviceaccounts/reader/token`,
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
  );
  await api.create(`/api/v1/namespaces/${tenant}/secrets`, {
    metadata: { name: "reader-token" },
    stringData: { token: tr.status.token, config: serviceAccountKubeconfig(env, tr.status.token) },
  });
  await store(
    "token",
    `remoteNamespace: ${remote}
server:
  url: ${env.apiUrl}
  caBundle: ${Buffer.from(env.caPem).toString("base64")}
auth:
  token:
    bearerToken: { name: reader-token, key: token }`,
  );
  await store(
    "kubeconfig",
    `remoteNamespace: ${remote}
authRef: { name: reader-token, key: config }`,
  );
  await externalSecret(
    "from-token",
    "token",
    "data:\n  - { secretKey: p, remoteRef: { key: db, property: password } }",
  );
  await externalSecret(
    "from-kubeconfig",
    "kubeconfig",
    "data:\n  - { secretKey: t, remoteRef: { key: cache, property: token } }",
  );
  assert.equal((await ready("from-token")).p, "pw-1");
  assert.equal((await ready("from-kubeconfig")).t, "c-1");
});

test("RBAC decides: a Secret outside the Role's resourceNames, a namespace without a binding, an identity without rights", async () => {
  await externalSecret(
    "not-named",
    "sa",
    "data:\n  - { secretKey: x, remoteRef: { key: unrelated, property: x } }",
  );
  assert.match(await failed("not-named"), /forbidden|403/);
  assert.equal(await secretData(api, tenant, "not-named"), undefined);

  await store(
    "kube-system",
    `remoteNamespace: kube-system
auth:
  serviceAccount: { name: reader }`,
  );
  await externalSecret(
    "other-ns",
    "kube-system",
    "data:\n  - { secretKey: x, remoteRef: { key: anything } }",
  );
  assert.match(await failed("other-ns"), /not allowed to get secrets in namespace "kube-system"/);

  await store(
    "nobody",
    `remoteNamespace: ${remote}
auth:
  serviceAccount: { name: nobody }`,
  );
  await externalSecret("as-nobody", "nobody", "data:\n  - { secretKey: x, remoteRef: { key: db } }");
  assert.match(await failed("as-nobody"), /not allowed to get secrets/);
});

test("a namespaced store cannot borrow another namespace's ServiceAccount (or the operator's identity)", async () => {
  // the reader of the tenant namespace exists; naming it in another namespace is ignored on a
  // SecretStore: the token is requested in the store's own namespace, where "reader" is tenant's.
  // A ServiceAccount that exists only elsewhere is therefore "not found".
  await kubectl(
    env,
    ["apply", "-f", "-"],
    `apiVersion: v1
kind: ServiceAccount
metadata: { name: elsewhere-only, namespace: ${remote} }`,
  );
  await store(
    "borrow",
    `remoteNamespace: ${remote}
auth:
  serviceAccount: { name: elsewhere-only, namespace: ${remote} }`,
  );
  await externalSecret("borrowed", "borrow", "data:\n  - { secretKey: x, remoteRef: { key: db } }");
  assert.match(await failed("borrowed"), new RegExp(`ServiceAccount ${tenant}/elsewhere-only not found`));
  // no auth at all: refused, never the operator's token
  await store("no-auth", `remoteNamespace: ${remote}\nserver: { url: ${env.apiUrl} }`);
  await externalSecret("no-auth", "no-auth", "data:\n  - { secretKey: x, remoteRef: { key: db } }");
  assert.match(await failed("no-auth"), /no auth provider given/);
});
