/**
 * The test environment is real: a real API server (kubectl, /version, GC by the controller
 * manager, TokenRequest/TokenReview), a real Vault that accepts service-account tokens through
 * JWT and Kubernetes auth, and a real moto.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { request } from "undici";
import {
  SecretsManagerClient,
  CreateSecretCommand,
  GetSecretValueCommand,
} from "@aws-sdk/client-secrets-manager";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import { readVersions } from "../env/index.ts";
import { KubeApi } from "../../src/kube/api.ts";

const run = promisify(execFile);
let env: SharedEnv;
let api: KubeApi;

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
});

const suffix = (): string => randomBytes(4).toString("hex");

async function kubectl(args: string[], input?: string): Promise<string> {
  const child = run(env.bin.kubectl, ["--kubeconfig", env.kubeconfig, ...args]);
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  return (await child).stdout;
}

async function vault(
  method: string,
  path: string,
  body?: unknown,
  token = env.vault.token,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${env.vault.addr}/v1/${path}`, {
    method: method as "GET",
    headers: { "x-vault-token": token, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("the built kubectl applies a manifest and reads it back; /version is the pinned release", async () => {
  const ns = `env-${suffix()}`;
  await kubectl(["create", "namespace", ns]);
  await kubectl(
    ["apply", "-f", "-", "-n", ns],
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  greeting: hi\n`,
  );
  const got = JSON.parse(await kubectl(["get", "configmap", "hello", "-n", ns, "-o", "json"])) as {
    data: Record<string, string>;
  };
  assert.equal(got.data.greeting, "hi");
  const version = await api.get<{ gitVersion: string }>("/version");
  assert.equal(version.gitVersion, readVersions().KUBERNETES_VERSION);
});

test("an object with an ownerReference is garbage-collected after its owner is deleted", async () => {
  const ns = `gc-${suffix()}`;
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  const owner = await api.create<{ metadata: { uid: string } }>(`/api/v1/namespaces/${ns}/configmaps`, {
    metadata: { name: "owner" },
  });
  await api.create(`/api/v1/namespaces/${ns}/configmaps`, {
    metadata: {
      name: "owned",
      ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata.uid }],
    },
  });
  await api.delete(`/api/v1/namespaces/${ns}/configmaps/owner`);
  await until("the owned ConfigMap to be collected", async () =>
    (await api.getOrUndefined(`/api/v1/namespaces/${ns}/configmaps/owned`)) === undefined ? true : undefined,
  );
});

async function serviceAccountToken(ns: string, name: string, audiences?: string[]): Promise<string> {
  await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name } }).catch(() => undefined);
  const res = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`,
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { ...(audiences ? { audiences } : {}), expirationSeconds: 600 },
    },
  );
  return res.status.token;
}

async function kvSetup(id: string): Promise<void> {
  await vault("POST", `sys/mounts/kv-${id}`, { type: "kv", options: { version: "2" } });
  await vault("POST", `kv-${id}/data/app/db`, { data: { password: "env-test-value" } });
  await vault("PUT", `sys/policies/acl/read-${id}`, {
    policy: `path "kv-${id}/data/app/*" { capabilities = ["read"] }`,
  });
}

test("a TokenRequest token (audience vault) logs in to Vault's JWT auth and reads a KV v2 secret", async () => {
  const id = suffix();
  const ns = `jwt-${id}`;
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  await kvSetup(id);
  await vault("POST", `sys/auth/jwt-${id}`, { type: "jwt" });
  assert.equal(
    (
      await vault("POST", `auth/jwt-${id}/config`, {
        jwt_validation_pubkeys: [env.serviceAccountPublicKeyPem],
        bound_issuer: env.serviceAccountIssuer,
      })
    ).status,
    204,
  );
  await vault("POST", `auth/jwt-${id}/role/app`, {
    role_type: "jwt",
    bound_audiences: ["vault"],
    user_claim: "sub",
    bound_subject: `system:serviceaccount:${ns}:app`,
    token_policies: [`read-${id}`],
    token_ttl: "1h",
  });
  const jwt = await serviceAccountToken(ns, "app", ["vault"]);
  const login = await vault("POST", `auth/jwt-${id}/login`, { role: "app", jwt }, "");
  assert.equal(login.status, 200, JSON.stringify(login.json.errors));
  const token = (login.json.auth as { client_token: string }).client_token;
  const read = await vault("GET", `kv-${id}/data/app/db`, undefined, token);
  assert.equal(read.status, 200);
  assert.equal((read.json.data as { data: Record<string, string> }).data.password, "env-test-value");
  // the policy is real: a path outside it is denied
  assert.equal((await vault("GET", `kv-${id}/data/other`, undefined, token)).status, 403);
});

test("Vault's Kubernetes auth calls TokenReview on the API server", async () => {
  const id = suffix();
  const ns = `k8s-${id}`;
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  await kvSetup(id);
  const jwt = await serviceAccountToken(ns, "reader");
  await api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    metadata: { name: `vault-auth-delegator-${id}` },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
    subjects: [{ kind: "ServiceAccount", name: "reader", namespace: ns }],
  });
  await vault("POST", `sys/auth/kubernetes-${id}`, { type: "kubernetes" });
  await vault("POST", `auth/kubernetes-${id}/config`, {
    kubernetes_host: env.apiUrl,
    kubernetes_ca_cert: env.caPem,
  });
  await vault("POST", `auth/kubernetes-${id}/role/reader`, {
    bound_service_account_names: ["reader"],
    bound_service_account_namespaces: [ns],
    token_policies: [`read-${id}`],
  });
  // the new ClusterRoleBinding reaches the API server's RBAC cache within moments: until then
  // TokenReview (made with the reader's own token) is refused, and Vault says "permission denied"
  let login = await vault("POST", `auth/kubernetes-${id}/login`, { role: "reader", jwt }, "");
  for (let i = 0; i < 50 && login.status === 403; i++) {
    await new Promise((r) => setTimeout(r, 200));
    login = await vault("POST", `auth/kubernetes-${id}/login`, { role: "reader", jwt }, "");
  }
  assert.equal(login.status, 200, JSON.stringify(login.json.errors));
  const token = (login.json.auth as { client_token: string }).client_token;
  const read = await vault("GET", `kv-${id}/data/app/db`, undefined, token);
  assert.equal((read.json.data as { data: Record<string, string> }).data.password, "env-test-value");
  // a token of a service account the role does not bind is refused
  const other = await serviceAccountToken(ns, "other");
  assert.notEqual(
    (await vault("POST", `auth/kubernetes-${id}/login`, { role: "reader", jwt: other }, "")).status,
    200,
  );
});

test("moto serves Secrets Manager GetSecretValue for a secret created through it", async () => {
  const sm = new SecretsManagerClient({
    endpoint: env.aws.endpoint,
    region: env.aws.region,
    credentials: { accessKeyId: env.aws.accessKeyId, secretAccessKey: env.aws.secretAccessKey },
  });
  const name = `env-test/${suffix()}`;
  await sm.send(new CreateSecretCommand({ Name: name, SecretString: '{"user":"admin"}' }));
  const got = await sm.send(new GetSecretValueCommand({ SecretId: name }));
  assert.equal(got.SecretString, '{"user":"admin"}');
  sm.destroy();
});
