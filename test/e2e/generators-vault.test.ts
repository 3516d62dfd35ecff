/**
 * End to end: the VaultDynamicSecret generator against the real Vault, through the operator
 * process: a Vault token created for the ExternalSecret really logs in; a read's data; the
 * operator's own identity is refused to a namespaced generator.
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
  suffix,
  vaultClient,
  KubeApi,
  type OperatorProcess,
  type VaultClient,
} from "./helpers.ts";

let env: SharedEnv;
let api: KubeApi;
let vault: VaultClient;
let op: OperatorProcess;
let ns: string;
const mount = `kv-${suffix()}`;

before(async () => {
  env = await sharedEnv(["kube", "controller-manager", "vault"]);
  api = KubeApi.fromDefault(env.kubeconfig);
  vault = vaultClient(env);
  await applyCrds(env);
  ns = await createNamespace(api, "gen-vault");
  await vault.call("POST", `sys/mounts/${mount}`, { type: "kv", options: { version: "2" } });
  await vault.call("POST", `${mount}/data/app`, { data: { user: "u1", n: 3 } });
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "vault-token" },
    stringData: { token: env.vault.token },
  });
  op = await startOperator(env, ["--controllers", "externalsecret", "--namespace", ns]);
});

after(async () => {
  await op.stop();
});

const provider = (server: string): string => `  provider:
    server: ${server}
    auth:
      tokenSecretRef: { name: vault-token, key: token }`;

async function ready(name: string): Promise<Record<string, string>> {
  await eventually(
    `${name} Ready`,
    async () => {
      const c = readyCondition(await esStatus(api, ns, name));
      if (c?.status === "False") throw new Error(c.message);
      return c?.status === "True";
    },
    60_000,
  );
  return (await secretData(api, ns, name))!;
}

test("a Vault token from auth/token/create (resultType Auth) really logs in; a GET's data", async () => {
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: generators.external-secrets.io/v1alpha1
kind: VaultDynamicSecret
metadata: { name: token }
spec:
  path: auth/token/create
  method: POST
  parameters: { policies: [default], ttl: 10m, meta: { purpose: e2e } }
  resultType: Auth
${provider(env.vault.addr)}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: VaultDynamicSecret
metadata: { name: read }
spec:
  path: ${mount}/data/app
${provider(env.vault.addr)}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: vault-token-gen }
spec:
  refreshInterval: "0"
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: VaultDynamicSecret, name: token } }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: vault-read-gen }
spec:
  refreshInterval: "0"
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: VaultDynamicSecret, name: read } }
`,
  );
  const d = await ready("vault-token-gen");
  assert.ok(d.client_token, Object.keys(d).join());
  assert.equal(d.renewable, "true");
  const self = await vault.call("GET", "auth/token/lookup-self", undefined, d.client_token);
  assert.equal(self.status, 200, "the generated token logs in to Vault");
  assert.deepEqual((self.json.data as { meta?: unknown }).meta, { purpose: "e2e" });
  const r = await ready("vault-read-gen");
  assert.deepEqual(JSON.parse(r.data!), { n: 3, user: "u1" });
});

test("a namespaced VaultDynamicSecret cannot log in as the operator", async () => {
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: generators.external-secrets.io/v1alpha1
kind: VaultDynamicSecret
metadata: { name: as-operator }
spec:
  path: auth/token/create
  method: POST
  resultType: Auth
  provider:
    server: ${env.vault.addr}
    auth:
      kubernetes: { role: anything }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: as-operator }
spec:
  refreshInterval: 1h
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: VaultDynamicSecret, name: as-operator } }
`,
  );
  const message = await eventually(
    "as-operator failing",
    async () => {
      const c = readyCondition(await esStatus(api, ns, "as-operator"));
      return c?.status === "False" ? (c.message ?? "") : undefined;
    },
    60_000,
  );
  assert.match(message, /operator's own service-account token/);
});
