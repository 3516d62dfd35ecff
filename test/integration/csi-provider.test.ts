/**
 * `custos csi-provider` against the real environment (real API server + Vault), driven over its
 * real unix socket by a gRPC client built from the same vendored proto, dialled and called as the
 * Secrets Store CSI driver does (csi/driver.ts). Pods are real Pod objects (Pending: there is no
 * kubelet) and their tokens real TokenRequests bound to them, for the audience the CSIDriver's
 * tokenRequests would ask (`vault`). Vault's Kubernetes auth reviews every login with the API server.
 *
 * Covered: files, bytes and modes of `provider: custos` objects (remoteRef and extract); object
 * versions per file and rotation changing only the changed file's version; one login and one read
 * for many pods of one identity in a read window; and the security rules — a pod reads through a
 * SecretStore of its own namespace only, a ClusterSecretStore only where its conditions allow, as
 * itself only (a token of another identity, a service account without the role, a store with its
 * own credentials: all refused, with no file).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { parseAllDocuments, stringify } from "yaml";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import {
  applyCrds,
  kubectl,
  serviceAccountKubeconfig,
  suffix,
  vaultClient,
  KubeApi,
  type VaultClient,
} from "../e2e/helpers.ts";
import { ensureTool } from "../env/index.ts";
import { runCsiProvider, type RunningCsiProvider } from "../../src/csi/run.ts";
import { createLogger } from "../../src/util/log.ts";
import { DriverClient, filesOf, versionsOf, type PodRef } from "./csi/driver.ts";

const id = suffix();
const kv = `csi-kv-${id}`;
const mount = `csi-k8s-${id}`;
const cls = `csi-${id}`;
let env: SharedEnv;
let api: KubeApi;
let vault: VaultClient;
let provider: RunningCsiProvider;
let driver: DriverClient;
let vaultDriver: DriverClient;
let awsDriver: DriverClient;
let dir: string;
const nsA = `csi-a-${id}`;
const nsB = `csi-b-${id}`;
const nsSys = `csi-sys-${id}`;
const release = `csi${id}`;
let providerToken: string;

async function serviceAccount(ns: string, name: string): Promise<void> {
  await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name } }).catch(() => undefined);
}

/** A real Pod (Pending: no kubelet) and a token bound to it, as the kubelet would request. */
async function pod(ns: string, sa: string, audiences = ["vault"]): Promise<PodRef> {
  await serviceAccount(ns, sa);
  const name = `p-${suffix()}`;
  const p = await api.create<{ metadata: { uid: string } }>(`/api/v1/namespaces/${ns}/pods`, {
    metadata: { name },
    spec: { serviceAccountName: sa, containers: [{ name: "c", image: "example.invalid/app" }] },
  });
  const tokens: Record<string, string> = {};
  for (const aud of audiences) {
    const t = await api.create<{ status: { token: string } }>(
      `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`,
      {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: {
          audiences: [aud],
          expirationSeconds: 600,
          boundObjectRef: { apiVersion: "v1", kind: "Pod", name, uid: p.metadata.uid },
        },
      },
    );
    tokens[aud] = t.status.token;
  }
  return { name, namespace: ns, uid: p.metadata.uid, serviceAccountName: sa, tokens };
}

const store = (ns: string, name: string, role: string, extra = ""): string => `---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: ${name}, namespace: ${ns} }
spec:
  controller: ${cls}
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${kv}
      version: v2
      auth:
        kubernetes:
          mountPath: ${mount}
          role: ${role}
${extra}`;

before(async () => {
  env = await sharedEnv(["kube", "vault", "moto"]);
  api = KubeApi.fromDefault(env.kubeconfig);
  vault = vaultClient(env);
  await applyCrds(env);
  for (const ns of [nsA, nsB]) await api.create("/api/v1/namespaces", { metadata: { name: ns } });

  // Vault: KV v2, a policy per namespace, Kubernetes auth reviewing tokens with a reviewer account
  await vault.call("POST", `sys/mounts/${kv}`, { type: "kv", options: { version: "2" } });
  await vault.call("POST", `${kv}/data/a/db`, { data: { user: "alice", password: "a-pass-1" } });
  await vault.call("POST", `${kv}/data/a/config`, {
    data: { url: "https://a.example", "log level": "debug" },
  });
  await vault.call("POST", `${kv}/data/b/db`, { data: { user: "bob", password: "b-pass-secret" } });
  for (const n of ["a", "b"])
    await vault.call("PUT", `sys/policies/acl/${id}-${n}`, {
      policy: `path "${kv}/data/${n}/*" { capabilities = ["read"] }`,
    });
  await serviceAccount(nsA, "reviewer");
  await api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    metadata: { name: `csi-reviewer-${id}` },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
    subjects: [{ kind: "ServiceAccount", name: "reviewer", namespace: nsA }],
  });
  const reviewer = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${nsA}/serviceaccounts/reviewer/token`,
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
  );
  await vault.call("POST", `sys/auth/${mount}`, { type: "kubernetes" });
  await vault.call("POST", `auth/${mount}/config`, {
    kubernetes_host: env.apiUrl,
    kubernetes_ca_cert: env.caPem,
    token_reviewer_jwt: reviewer.status.token,
  });
  for (const [n, ns] of [
    ["a", nsA],
    ["b", nsB],
  ] as const)
    await vault.call("POST", `auth/${mount}/role/role-${n}`, {
      bound_service_account_names: ["app", "many"],
      bound_service_account_namespaces: [ns],
      audience: "vault",
      token_policies: [`${id}-${n}`],
      token_ttl: "1h",
    });

  await kubectl(
    env,
    ["apply", "-f", "-"],
    store(nsA, "vault", "role-a") +
      store(nsB, "vault", "role-b") +
      store(nsB, "only-in-b", "role-b") +
      `---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: ${cls}-for-b }
spec:
  controller: ${cls}
  conditions: [ { namespaces: [${nsB}] } ]
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${kv}
      auth: { kubernetes: { mountPath: ${mount}, role: role-a } }
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: approle, namespace: ${nsA} }
spec:
  controller: ${cls}
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${kv}
      auth: { appRole: { roleId: x, secretRef: { name: approle, key: secret-id } } }
`,
  );

  dir = mkdtempSync(join(tmpdir(), "custos-csi-"));
  // The provider runs with the chart's own ServiceAccount and RBAC (helm template, applied): what
  // the DaemonSet gets is enough, and the tests below run with nothing more.
  await api.create("/api/v1/namespaces", { metadata: { name: nsSys } });
  const helm = join(await ensureTool("helm"), "bin", "helm");
  const chart = join(import.meta.dirname, "..", "..", "deploy", "helm", "custos");
  const { stdout } = await promisify(execFile)(helm, [
    "template",
    release,
    chart,
    "-n",
    nsSys,
    "--set",
    "csiProvider.enabled=true",
  ]);
  const rbac = parseAllDocuments(stdout)
    .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } } | null)
    .filter(
      (d) =>
        d?.metadata?.name === `${release}-custos-csi-provider` &&
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"].includes(d.kind ?? ""),
    );
  assert.equal(rbac.length, 3);
  await kubectl(env, ["apply", "-f", "-"], rbac.map((d) => `---\n${stringify(d)}`).join(""));
  providerToken = (
    await api.create<{ status: { token: string } }>(
      `/api/v1/namespaces/${nsSys}/serviceaccounts/${release}-custos-csi-provider/token`,
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
    )
  ).status.token;
  writeFileSync(join(dir, "kubeconfig"), serviceAccountKubeconfig(env, providerToken));
  // the aws drop-in reaches moto (STS for the pod's web identity, Secrets Manager, SSM)
  process.env.AWS_ENDPOINT_URL = env.aws.endpoint;
  provider = await runCsiProvider({
    kubeconfig: join(dir, "kubeconfig"),
    socketDir: dir,
    controllerClass: cls,
    dropIns: ["vault", "aws"],
    readWindowMs: 60 * 60_000,
    storeCacheMs: 0,
    metricsPort: 0,
    logger: createLogger({ level: "error" }),
  });
  driver = new DriverClient(join(dir, "custos.sock"));
  vaultDriver = new DriverClient(join(dir, "vault.sock"));
  awsDriver = new DriverClient(join(dir, "aws.sock"));
});

after(async () => {
  driver.close();
  vaultDriver.close();
  awsDriver.close();
  await provider.stop();
  rmSync(dir, { recursive: true, force: true });
  await kubectl(env, ["delete", "clustersecretstore", `${cls}-for-b`, "--ignore-not-found"]).catch(
    () => undefined,
  );
  await api
    .delete(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/csi-reviewer-${id}`)
    .catch(() => undefined);
});

const params = (storeName: string, objects: string, kind = "SecretStore"): Record<string, string> => ({
  secretStoreRef: `{name: ${storeName}, kind: ${kind}}`,
  objects,
});

const OBJECTS = `
- fileName: db/password
  mode: "0400"
  remoteRef: { key: a/db, property: password }
- fileName: config
  extract: { key: a/config }
`;

async function mountFails(p: Promise<unknown>, code: grpcStatus, pattern: RegExp): Promise<ServiceError> {
  const err = await p.then(
    () => assert.fail("the mount succeeded"),
    (e: unknown) => e as ServiceError,
  );
  assert.equal(err.code, code, err.details);
  assert.match(err.details, pattern);
  return err;
}

test("the provider's own identity (the chart's RBAC) reads no Secret and mints no token", async () => {
  const own = new KubeApi(KubeApi.fromDefault(join(dir, "kubeconfig")).kubeConfig);
  await assert.rejects(own.get(`/api/v1/namespaces/${nsA}/secrets`), /403/);
  await assert.rejects(own.get(`/api/v1/namespaces/${nsA}/secrets/anything`), /403/);
  await assert.rejects(
    own.create(`/api/v1/namespaces/${nsA}/serviceaccounts/app/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: {},
    }),
    /403/,
  );
  await own.get(`/apis/external-secrets.io/v1/namespaces/${nsA}/secretstores/vault`);
});

test("Version answers as the driver's health check expects", async () => {
  const v = await driver.version();
  assert.equal(v.version, "v1alpha1");
  assert.equal(v.runtimeName, "custos");
  assert.match(v.runtimeVersion, /^\d+\.\d+\.\d+/);
});

test("a pod mounts its namespace's secrets as files with their modes, one version per file", async () => {
  const p = await pod(nsA, "app");
  const res = await driver.mount(params("vault", OBJECTS), p);
  assert.deepEqual(filesOf(res), {
    "db/password": { mode: 0o400, text: "a-pass-1" },
    "config/url": { mode: 0o644, text: "https://a.example" },
    // ESO's key conversion: characters outside [-._a-zA-Z0-9] become "_"
    "config/log_level": { mode: 0o644, text: "debug" },
  });
  const versions = versionsOf(res);
  assert.deepEqual(Object.keys(versions).sort(), ["config/log_level", "config/url", "db/password"]);
  for (const v of Object.values(versions)) assert.match(v, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(!res.error?.code, "no error code");
});

test("a template file renders remote values with ESO's engine", async () => {
  const p = await pod(nsA, "app");
  const res = await driver.mount(
    params(
      "vault",
      `
- fileName: app.env
  mode: "0440"
  template: |
    DB_USER={{ .user }}
    URL={{ .url | upper }}
  data: [ { secretKey: user, remoteRef: { key: a/db, property: user } } ]
  dataFrom: [ { extract: { key: a/config } } ]
`,
    ),
    p,
  );
  assert.deepEqual(filesOf(res), {
    "app.env": { mode: 0o440, text: "DB_USER=alice\nURL=HTTPS://A.EXAMPLE\n" },
  });
});

test("rotation: a changed remote secret changes only its file's version", async () => {
  const p = await pod(nsA, "app");
  provider.engine.readWindowMs = 0;
  try {
    const before = versionsOf(await driver.mount(params("vault", OBJECTS), p));
    const same = versionsOf(await driver.mount(params("vault", OBJECTS), p));
    assert.deepEqual(same, before, "nothing changed: same versions");
    await vault.call("POST", `${kv}/data/a/db`, { data: { user: "alice", password: "a-pass-2" } });
    const res = await driver.mount(params("vault", OBJECTS), p);
    const after = versionsOf(res);
    assert.equal(filesOf(res)["db/password"]?.text, "a-pass-2");
    assert.notEqual(after["db/password"], before["db/password"]);
    assert.equal(after["config/url"], before["config/url"]);
    assert.equal(after["config/log_level"], before["config/log_level"]);
  } finally {
    provider.engine.readWindowMs = 60 * 60_000;
  }
});

test("many pods of one identity: one login and one read in a read window", async () => {
  await vault.call("POST", `${kv}/data/a/shared`, { data: { token: "shared-value" } });
  const pods = await Promise.all(Array.from({ length: 20 }, () => pod(nsA, "many")));
  const logins = provider.engine.sessions.logins;
  const reads = provider.engine.reads.reads;
  const objects = `[ { fileName: t, remoteRef: { key: a/shared, property: token } } ]`;
  const replies = await Promise.all(pods.map((p) => driver.mount(params("vault", objects), p)));
  for (const r of replies) assert.equal(filesOf(r).t?.text, "shared-value");
  assert.equal(provider.engine.sessions.logins - logins, 1, "one login for the identity");
  assert.equal(provider.engine.reads.reads - reads, 1, "one read for the secret");
  // a pod of another identity (another namespace) has its own session: values never cross
  const other = await pod(nsB, "many");
  await mountFails(
    driver.mount(params("vault", objects), other),
    grpcStatus.PERMISSION_DENIED,
    /^CUSTOS_ACCESS_DENIED: /,
  );
  assert.equal(provider.engine.sessions.logins - logins, 2);
});

test("security: a pod of namespace A cannot read through a store of namespace B", async () => {
  const p = await pod(nsA, "app");
  // the store exists only in B: a SecretStore is looked up in the pod's namespace
  await mountFails(
    driver.mount(params("only-in-b", OBJECTS), p),
    grpcStatus.NOT_FOUND,
    new RegExp(`^CUSTOS_STORE_NOT_FOUND: SecretStore "only-in-b" not found in namespace "${nsA}"`),
  );
  // a ClusterSecretStore whose conditions allow only B
  await mountFails(
    driver.mount(params(`${cls}-for-b`, OBJECTS, "ClusterSecretStore"), p),
    grpcStatus.PERMISSION_DENIED,
    new RegExp(
      `^CUSTOS_STORE_DENIED: using cluster store "${cls}-for-b" is not allowed from namespace "${nsA}"`,
    ),
  );
  // attributes claiming namespace B with A's token: the token's own claims refuse it
  await mountFails(
    driver.mount(params("vault", OBJECTS), { ...p, namespace: nsB }),
    grpcStatus.PERMISSION_DENIED,
    /^CUSTOS_STORE_DENIED: the service-account token for audience "vault" is refused: its namespace is not the pod's/,
  );
  // B's pod through B's own store cannot read A's paths: Vault's policy for role-b decides
  const b = await pod(nsB, "app");
  const denied = await mountFails(
    driver.mount(params("vault", `[ { fileName: x, remoteRef: { key: a/db, property: password } } ]`), b),
    grpcStatus.PERMISSION_DENIED,
    /^CUSTOS_ACCESS_DENIED: /,
  );
  assert.doesNotMatch(denied.details, /a-pass/);
  // and reads its own
  const ok = await driver.mount(
    params("vault", `[ { fileName: x, remoteRef: { key: b/db, property: user } } ]`),
    b,
  );
  assert.equal(filesOf(ok).x?.text, "bob");
});

test("security: the pod's identity decides, never the store's credentials or the provider's", async () => {
  // a service account the Vault role does not bind: the login fails, no file
  const stranger = await pod(nsA, "stranger");
  await mountFails(
    driver.mount(params("vault", OBJECTS), stranger),
    grpcStatus.PERMISSION_DENIED,
    /^CUSTOS_ACCESS_DENIED: Vault POST auth\/csi-k8s-[0-9a-f]+\/login: HTTP 403: service account name not authorized/,
  );
  // a store with credentials of its own (AppRole) is refused before any request
  const p = await pod(nsA, "app");
  await mountFails(
    driver.mount(params("approle", OBJECTS), p),
    grpcStatus.PERMISSION_DENIED,
    /^CUSTOS_OPERATOR_IDENTITY_DENIED: the CSI provider logs in with the pod's own service-account token/,
  );
  // no token for the audience the store logs in with: the CSIDriver's tokenRequests are named
  const noToken = await pod(nsA, "app", ["other-audience"]);
  await mountFails(
    driver.mount(params("vault", OBJECTS), noToken),
    grpcStatus.UNAUTHENTICATED,
    /^CUSTOS_MISSING_CREDENTIALS: no service-account token of the pod for audience "vault" .*tokenRequests/,
  );
});

test("bad parameters fail the mount with the reason, naming the object", async () => {
  const p = await pod(nsA, "app");
  await mountFails(
    driver.mount(params("vault", `[ { fileName: ../etc/passwd, remoteRef: { key: a/db } } ]`), p),
    grpcStatus.INVALID_ARGUMENT,
    /^CUSTOS_INVALID_SPEC: objects\[0\]: file path "\.\.\/etc\/passwd" has a "\.\." segment/,
  );
  await mountFails(
    driver.mount(params("vault", `[ { fileName: x, mode: 0400, remoteRef: { key: a/db } } ]`), p),
    grpcStatus.INVALID_ARGUMENT,
    /mode must be an octal string/,
  );
  await mountFails(
    driver.mount(params("vault", `[ { fileName: x, remoteRef: { key: a/missing } } ]`), p),
    grpcStatus.NOT_FOUND,
    /^CUSTOS_SECRET_NOT_FOUND: /,
  );
});

test("vault drop-in: a vault-csi-provider SecretProviderClass works unchanged on vault.sock, as the pod", async () => {
  const spc = (role: string): Record<string, string> => ({
    roleName: role,
    vaultAddress: env.vault.addr,
    vaultKubernetesMountPath: mount,
    objects: `
- objectName: db-user
  secretPath: ${kv}/data/a/db
  secretKey: user
  filePermission: 0600
- objectName: config.json
  secretPath: /v1/${kv}/data/a/config
`,
  });
  const p = await pod(nsA, "app");
  const res = await vaultDriver.mount(spc("role-a"), p);
  assert.deepEqual(filesOf(res), {
    "db-user": { mode: 0o600, text: "alice" },
    "config.json": { mode: 0o644, text: '{"log level":"debug","url":"https://a.example"}' },
  });
  assert.deepEqual(Object.keys(versionsOf(res)).sort(), ["config.json", "db-user"]);
  // Vault's role binds namespace A only: a pod of B naming role-a cannot log in
  const b = await pod(nsB, "app");
  await mountFails(
    vaultDriver.mount(spc("role-a"), b),
    grpcStatus.PERMISSION_DENIED,
    /^CUSTOS_ACCESS_DENIED: .*login/,
  );
  // role-b's policy does not cover a/*: the read is denied by Vault
  await mountFails(
    vaultDriver.mount(spc("role-b"), b),
    grpcStatus.PERMISSION_DENIED,
    /^CUSTOS_ACCESS_DENIED: /,
  );
  // the default socket does not speak the vault dialect
  await mountFails(
    driver.mount(spc("role-a"), p),
    grpcStatus.INVALID_ARGUMENT,
    /secretStoreRef must name a store/,
  );
});

test("aws drop-in: an AWS provider SecretProviderClass works unchanged on aws.sock, with the pod's IRSA role", async () => {
  const creds = { accessKeyId: "test", secretAccessKey: "test" };
  const region = env.aws.region;
  await new SecretsManagerClient({ region, endpoint: env.aws.endpoint, credentials: creds }).send(
    new CreateSecretCommand({
      Name: `csi-${id}/db`,
      SecretString: '{"username":"carol","password":"aws-pass"}',
    }),
  );
  await new SSMClient({ region, endpoint: env.aws.endpoint, credentials: creds }).send(
    new PutParameterCommand({ Name: `/csi-${id}/flag`, Value: "on", Type: "String" }),
  );
  await api.create(`/api/v1/namespaces/${nsA}/serviceaccounts`, {
    metadata: {
      name: "irsa",
      annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/app" },
    },
  });
  const spc = {
    region,
    objects: `
- objectName: csi-${id}/db
  objectType: secretsmanager
  filePermission: "0400"
  jmesPath:
    - path: username
      objectAlias: user
- objectName: /csi-${id}/flag
  objectType: ssmparameter
  objectAlias: flag
`,
  };
  const p = await pod(nsA, "irsa", ["sts.amazonaws.com"]);
  const res = await awsDriver.mount(spc, p);
  assert.deepEqual(filesOf(res), {
    [`csi-${id}_db`]: { mode: 0o400, text: '{"username":"carol","password":"aws-pass"}' },
    user: { mode: 0o644, text: "carol" },
    flag: { mode: 0o644, text: "on" },
  });
  assert.deepEqual(Object.keys(versionsOf(res)).sort(), [`csi-${id}_db`, "flag", "user"]);
  // a service account without a role annotation has no AWS identity: refused, nothing read
  const plain = await pod(nsA, "app", ["sts.amazonaws.com"]);
  await mountFails(
    awsDriver.mount(spc, plain),
    grpcStatus.UNAUTHENTICATED,
    /^CUSTOS_MISSING_CREDENTIALS: ServiceAccount .*\/app has no eks.amazonaws.com\/role-arn annotation/,
  );
  // no token for sts.amazonaws.com: the CSIDriver's tokenRequests are named
  await mountFails(awsDriver.mount(spc, await pod(nsA, "irsa")), grpcStatus.UNAUTHENTICATED, /tokenRequests/);
});
