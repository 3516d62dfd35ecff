/**
 * End to end: VSO objects (`secrets.hashicorp.com/v1beta1`) served by `custos operator` against
 * the real API server and real Vault, with Kubernetes auth whose credentials are minted by
 * TokenRequest in the secret's namespace. Document 003's manifests apply unchanged (only the Vault
 * address is adapted); logins and reads are counted at Vault's audit log.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import {
  applyCrds,
  createNamespace,
  eventually,
  kubectl,
  secretData,
  sleep,
  startOperator,
  suffix,
  vaultClient,
  KubeApi,
  type OperatorProcess,
  type VaultClient,
} from "./helpers.ts";

// shared/ sits beside the repository (CI, main); a worktree is one level deeper
const examples = [
  join(import.meta.dirname, "..", "..", "..", "shared", "examples"),
  join(import.meta.dirname, "..", "..", "..", "..", "shared", "examples"),
].find((d) => existsSync(d))!;
const OP_NS = "custos-system";
const API = "/apis/secrets.hashicorp.com/v1beta1";
let env: SharedEnv;
let api: KubeApi;
let vault: VaultClient;
let op: OperatorProcess;
let auditDir: string;
/** A Kubernetes auth mount of this file's own, whose role binds `vso-sa` in any namespace. */
let k8sMount: string;
let kvMount: string;

interface Secret {
  metadata: {
    name: string;
    uid: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    resourceVersion: string;
  };
  type?: string;
  data?: Record<string, string>;
}
interface VssStatus {
  lastGeneration?: number;
  secretMAC?: string;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

function auditCounts(...matchers: ((path: string, operation: string) => boolean)[]): number[] {
  const file = join(auditDir, "audit.log");
  const lines = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
  const counts = matchers.map(() => 0);
  for (const l of lines) {
    const e = JSON.parse(l) as { type: string; request?: { path?: string; operation?: string } };
    if (e.type !== "request") continue;
    matchers.forEach((m, i) => {
      if (m(e.request?.path ?? "", e.request?.operation ?? "")) counts[i]!++;
    });
  }
  return counts;
}

/** Vault's Kubernetes auth at `mount`, reviewing tokens with a reviewer of its own (system:auth-delegator). */
async function kubernetesAuth(mount: string): Promise<void> {
  await vault.call("POST", `sys/auth/${mount}`, { type: "kubernetes" }).catch(() => undefined);
  const ns = await createNamespace(api, "vault-reviewer");
  await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "reviewer" } });
  await api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    metadata: { name: `vault-reviewer-${ns}` },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
    subjects: [{ kind: "ServiceAccount", name: "reviewer", namespace: ns }],
  });
  const tr = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns}/serviceaccounts/reviewer/token`,
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 7200 } },
  );
  await vault.call("POST", `auth/${mount}/config`, {
    kubernetes_host: env.apiUrl,
    kubernetes_ca_cert: env.caPem,
    token_reviewer_jwt: tr.status.token,
  });
}

async function vssStatus(ns: string, name: string): Promise<VssStatus | undefined> {
  const o = await api.getOrUndefined<{ status?: VssStatus }>(
    `${API}/namespaces/${ns}/vaultstaticsecrets/${name}`,
  );
  return o?.status;
}

async function synced(ns: string, name: string, want: "True" | "False" = "True"): Promise<VssStatus> {
  return eventually(
    `VaultStaticSecret ${ns}/${name} SecretSynced=${want}`,
    async () => {
      const s = await vssStatus(ns, name);
      const c = s?.conditions?.find((x) => x.type === "SecretSynced");
      return c?.status === want ? s : undefined;
    },
    45_000,
  );
}

async function waitForData(
  ns: string,
  name: string,
  check: (d: Record<string, string>) => boolean,
  timeoutMs = 45_000,
): Promise<Record<string, string>> {
  return eventually(
    `Secret ${ns}/${name}`,
    async () => {
      const d = await secretData(api, ns, name);
      return d && check(d) ? d : undefined;
    },
    timeoutMs,
  ).catch(async (e: unknown) => {
    const list = await api.list<{ metadata: { name: string }; status?: VssStatus }>(
      `${API}/namespaces/${ns}/vaultstaticsecrets`,
    );
    const why = list.items.map((i) => `${i.metadata.name}: ${JSON.stringify(i.status ?? {})}`).join("\n");
    throw new Error(`${(e as Error).message}\n${why}\n${op.output().slice(-3000)}`, { cause: e });
  });
}

async function hmacKey(): Promise<Buffer> {
  const s = await api.get<Secret>(`/api/v1/namespaces/${OP_NS}/secrets/vso-cc-storage-hmac-key`);
  return Buffer.from(s.data!.key!, "base64");
}

/** VSO's MAC of Secret data as the API returns it (base64 values): HMAC-SHA256 of Go's JSON, sorted keys. */
function macOf(key: Buffer, data: Record<string, string>): string {
  const sorted = Object.keys(data)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(data[k])}`)
    .join(",");
  return createHmac("sha256", key).update(`{${sorted}}`).digest("base64");
}

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  vault = vaultClient(env);
  await applyCrds(env);
  await api.create("/api/v1/namespaces", { metadata: { name: OP_NS } }).catch(() => undefined);
  auditDir = mkdtempSync(join(tmpdir(), "custos-vso-audit-"));
  await vault.call("PUT", `sys/audit/vso-${suffix()}`, {
    type: "file",
    options: { file_path: join(auditDir, "audit.log"), log_raw: "false" },
  });
  // the behaviour tests' own Vault side: a KV v2 and a KV v1 mount, a Kubernetes auth mount whose
  // role binds ServiceAccount vso-sa in every namespace
  kvMount = `vso-kv-${suffix()}`;
  await vault.call("POST", `sys/mounts/${kvMount}`, { type: "kv", options: { version: "2" } });
  await vault.call("POST", `sys/mounts/${kvMount}-v1`, { type: "kv", options: { version: "1" } });
  k8sMount = `vso-k8s-${suffix()}`;
  await kubernetesAuth(k8sMount);
  await vault.call("PUT", `sys/policies/acl/${k8sMount}`, {
    policy: `path "${kvMount}/*" { capabilities = ["read"] }\npath "${kvMount}-v1/*" { capabilities = ["read"] }`,
  });
  await vault.call("POST", `auth/${k8sMount}/role/app`, {
    bound_service_account_names: ["vso-sa"],
    bound_service_account_namespaces: ["*"],
    token_policies: [k8sMount],
    audience: "vault",
  });
  // the operator's default VaultConnection, as document 003 has it (its test applies it again)
  await kubectl(
    env,
    ["apply", "-f", "-"],
    readFileSync(join(examples, "seed-003-vso-vault", "vault-connection.yaml"), "utf8").replace(
      "http://127.0.0.1:8200",
      env.vault.addr,
    ),
  );
  op = await startOperator(env, ["--controllers", "vso", "--operator-namespace", OP_NS]);
});

after(async () => {
  await op.stop();
  rmSync(auditDir, { recursive: true, force: true });
});

test("document 003: VaultConnection + VaultAuth (kubernetes) + VaultStaticSecret unchanged; _raw, labels, MAC, rotation within refreshAfter, one login", async () => {
  const dir = join(examples, "seed-003-vso-vault");
  const ns = "secrets-demo";
  await api.create("/api/v1/namespaces", { metadata: { name: ns } }).catch(() => undefined);
  await vault
    .call("POST", "sys/mounts/kv-secrets", { type: "kv", options: { version: "2" } })
    .catch(() => undefined);
  await vault.call("POST", "kv-secrets/data/postgres/config", {
    data: { username: "admin", password: "S3cr3tPassw0rd" },
  });
  await kubernetesAuth("kubernetes-auth");
  await vault.call("PUT", "sys/policies/acl/kv-secrets-policy", {
    policy: readFileSync(join(dir, "kv-secrets-policy.hcl"), "utf8"),
  });
  await vault.call("POST", "auth/kubernetes-auth/role/vault-k8s-role", {
    bound_service_account_names: ["vault-sa"],
    bound_service_account_namespaces: ["secrets-demo"],
    policies: ["kv-secrets-policy"],
    audience: "vault",
    ttl: "24h",
  });
  await kubectl(
    env,
    ["apply", "-f", "-"],
    readFileSync(join(dir, "vault-connection.yaml"), "utf8").replace("http://127.0.0.1:8200", env.vault.addr),
  );
  await kubectl(env, ["apply", "-f", join(dir, "vault-auth.yaml")]);
  await kubectl(env, ["apply", "-f", join(dir, "vault-postgres-secret.yaml")]);

  const data = await waitForData(ns, "vault-postgres-secret", (d) => d.password === "S3cr3tPassw0rd");
  assert.equal(data.username, "admin");
  assert.deepEqual(Object.keys(data).sort(), ["_raw", "password", "username"]);
  const raw = JSON.parse(data._raw!) as { data: Record<string, string>; metadata: Record<string, unknown> };
  assert.deepEqual(raw.data, { username: "admin", password: "S3cr3tPassw0rd" });
  assert.deepEqual(Object.keys(raw.metadata).sort(), [
    "created_time",
    "custom_metadata",
    "deletion_time",
    "destroyed",
    "version",
  ]);
  assert.match(
    data._raw!,
    /^\{"data":\{"password":"S3cr3tPassw0rd","username":"admin"\},"metadata":\{"created_time":/,
  );

  const vss = await api.get<{ metadata: { uid: string } }>(
    `${API}/namespaces/${ns}/vaultstaticsecrets/vault-postgres-secret`,
  );
  const secret = await api.get<Secret>(`/api/v1/namespaces/${ns}/secrets/vault-postgres-secret`);
  assert.equal(secret.type, "Opaque");
  assert.deepEqual(secret.metadata.labels, {
    "app.kubernetes.io/component": "secret-sync",
    "app.kubernetes.io/managed-by": "hashicorp-vso",
    "app.kubernetes.io/name": "vault-secrets-operator",
    "secrets.hashicorp.com/vso-ownerRefUID": vss.metadata.uid,
  });
  assert.deepEqual(secret.metadata.ownerReferences, [
    {
      apiVersion: "secrets.hashicorp.com/v1beta1",
      kind: "VaultStaticSecret",
      name: "vault-postgres-secret",
      uid: vss.metadata.uid,
    },
  ]);
  const status = await synced(ns, "vault-postgres-secret");
  assert.equal(
    status.secretMAC,
    macOf(await hmacKey(), secret.data!),
    "status.secretMAC is VSO's MAC of the data",
  );
  for (const t of ["Healthy", "Ready"])
    assert.equal(status.conditions?.find((c) => c.type === t)?.status, "True", t);
  // VaultConnection and VaultAuth statuses as VSO reports them
  for (const [plural, ns2, name] of [
    ["vaultconnections", OP_NS, "default"],
    ["vaultauths", ns, "vault-auth"],
  ] as const)
    await eventually(`${plural} ${name} valid`, async () => {
      const o = await api.get<{ status?: { valid?: boolean } }>(`${API}/namespaces/${ns2}/${plural}/${name}`);
      return o.status?.valid === true;
    });

  // the document's rotation: visible within refreshAfter (30 s; a margin for this loaded machine)
  await vault.call("POST", "kv-secrets/data/postgres/config", {
    data: { username: "admin", password: "S3cr3tPassw0rd1234" },
  });
  await waitForData(ns, "vault-postgres-secret", (d) => d.password === "S3cr3tPassw0rd1234", 60_000);
  const [logins, reads] = auditCounts(
    (p) => p === "auth/kubernetes-auth/login",
    (p, o) => p === "kv-secrets/data/postgres/config" && o === "read",
  );
  assert.equal(logins, 1, "one login for the VaultAuth's identity");
  assert.ok(reads! >= 2, `read at least twice (first sync and refresh): ${reads}`);
});

/** A namespace with ServiceAccount vso-sa and a VaultAuth `auth` on this file's Kubernetes auth mount. */
async function tenant(prefix: string, authExtra = ""): Promise<string> {
  const ns = await createNamespace(api, prefix);
  await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "vso-sa" } });
  await apply(
    ns,
    `apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultAuth
metadata: { name: auth }
spec:
  method: kubernetes
  mount: ${k8sMount}
  kubernetes: { role: app, serviceAccount: vso-sa, audiences: [vault] }
${authExtra}`,
  );
  return ns;
}

async function apply(ns: string, yaml: string): Promise<void> {
  await kubectl(env, ["apply", "-n", ns, "-f", "-"], yaml);
}

function vssYaml(
  name: string,
  o: { path: string; dest: string; extra?: string; destExtra?: string; auth?: string },
): string {
  return `apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultStaticSecret
metadata: { name: ${name} }
spec:
  vaultAuthRef: ${o.auth ?? "auth"}
  type: kv-v2
  mount: ${kvMount}
  path: ${o.path}
  refreshAfter: 2s
  destination:
    name: ${o.dest}
    create: true
${o.destExtra ?? ""}
${o.extra ?? ""}`;
}

test("VSO behaviours: drift repair, re-creation, create:false, overwrite, includes/excludes/excludeRaw, templates, kv-v1", async () => {
  const ns = await tenant("vso-behave");
  const path = `app-${suffix()}`;
  await vault.call("POST", `${kvMount}/data/${path}`, {
    data: { user: "u1", pass: "p<1>&", port: 5432, nested: { a: [1, "x"] } },
  });

  // plain: strings as bytes, others as Go's JSON, _raw with Go's escaping
  await apply(ns, vssYaml("plain", { path, dest: "plain" }));
  let d = await waitForData(ns, "plain", (x) => x.user === "u1");
  assert.equal(d.pass, "p<1>&");
  assert.equal(d.port, "5432");
  assert.equal(d.nested, '{"a":[1,"x"]}');
  assert.match(d._raw!, /"pass":"p\\u003c1\\u003e\\u0026"/);

  // drift repair: an edit of the data is reverted on the next refresh
  const s = await api.get<Secret>(`/api/v1/namespaces/${ns}/secrets/plain`);
  await api.replace(`/api/v1/namespaces/${ns}/secrets/plain`, {
    ...s,
    data: { ...s.data, user: Buffer.from("edited").toString("base64") },
  });
  await waitForData(ns, "plain", (x) => x.user === "u1");
  // re-creation after deletion
  await api.delete(`/api/v1/namespaces/${ns}/secrets/plain`);
  await waitForData(ns, "plain", (x) => x.user === "u1");

  // an unchanged refresh writes nothing
  const rv1 = (await api.get<Secret>(`/api/v1/namespaces/${ns}/secrets/plain`)).metadata.resourceVersion;
  await sleep(5_000);
  const rv2 = (await api.get<Secret>(`/api/v1/namespaces/${ns}/secrets/plain`)).metadata.resourceVersion;
  assert.equal(rv2, rv1, "no write when nothing changed");

  // includes / excludes / excludeRaw / templates
  await apply(
    ns,
    vssYaml("shaped", {
      path,
      dest: "shaped",
      destExtra: `    labels: { team: a }
    annotations: { note: x }
    transformation:
      excludeRaw: true
      excludes: ["^nested$"]
      includes: ["^(user|nested|port)$"]
      templates:
        dsn: { text: "postgres://{{ .Secrets.user }}@db:{{ .Secrets.port }}/{{ .Labels.app }}" }`,
    }).replace("metadata: { name: shaped }", "metadata: { name: shaped, labels: { app: shop } }"),
  );
  d = await waitForData(ns, "shaped", (x) => x.user === "u1");
  assert.deepEqual(Object.keys(d).sort(), ["dsn", "port", "user"]);
  assert.equal(d.dsn, "postgres://u1@db:5432/shop");
  const shaped = await api.get<Secret>(`/api/v1/namespaces/${ns}/secrets/shaped`);
  assert.equal(shaped.metadata.labels?.team, "a");
  assert.equal(shaped.metadata.annotations?.note, "x");

  // create: false and no Secret: nothing written, no status
  await apply(ns, vssYaml("nocreate", { path, dest: "existing" }).replace("create: true", "create: false"));
  await sleep(4_000);
  assert.equal(await secretData(api, ns, "existing"), undefined);
  assert.equal(
    (await vssStatus(ns, "nocreate"))?.conditions,
    undefined,
    "no status while the Secret is missing",
  );
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "existing", labels: { mine: "yes" } },
    stringData: { other: "kept?" },
  });
  d = await waitForData(ns, "existing", (x) => x.user === "u1", 20_000);
  assert.equal(d.other, undefined, "data is replaced as a whole");
  const existing = await api.get<Secret>(`/api/v1/namespaces/${ns}/secrets/existing`);
  assert.deepEqual(existing.metadata.labels, { mine: "yes" }, "no VSO labels with create: false");
  assert.equal(existing.metadata.ownerReferences, undefined);

  // a foreign Secret is refused unless overwrite
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "foreign" },
    stringData: { a: "b" },
  });
  await apply(ns, vssYaml("taker", { path, dest: "foreign" }));
  // as VSO (found by the differential run): a Warning event SecretSyncError, no status
  const refusal = await eventually(
    "event SecretSyncError for taker",
    async () =>
      (
        await api.list<{ reason?: string; message?: string; involvedObject: { name?: string } }>(
          `/api/v1/namespaces/${ns}/events`,
        )
      ).items.find((e) => e.involvedObject.name === "taker" && e.reason === "SecretSyncError"),
    45_000,
  );
  assert.match(refusal.message ?? "", /^Failed to update k8s secret: .*not the owner/);
  assert.equal((await vssStatus(ns, "taker"))?.conditions, undefined, "no status for a refused write");
  assert.deepEqual(await secretData(api, ns, "foreign"), { a: "b" });
  await apply(ns, vssYaml("taker", { path, dest: "foreign", destExtra: "    overwrite: true" }));
  await waitForData(ns, "foreign", (x) => x.user === "u1");

  // kv-v1: _raw is the map itself
  const p1 = `v1-${suffix()}`;
  await vault.call("POST", `${kvMount}-v1/${p1}`, { k: "v" });
  await apply(
    ns,
    vssYaml("kv1", { path: p1, dest: "kv1" })
      .replace("type: kv-v2", "type: kv-v1")
      .replace(`mount: ${kvMount}`, `mount: ${kvMount}-v1`),
  );
  d = await waitForData(ns, "kv1", (x) => x.k === "v");
  assert.equal(d._raw, '{"k":"v"}');
  assert.doesNotMatch(op.output(), /p<1>&|p\\u003c1/, "no secret value in the operator's logs");
  // deleting the VaultStaticSecret garbage-collects its Secret (owner reference)
  await kubectl(env, ["delete", "vaultstaticsecret", "plain", "-n", ns]);
  await eventually(
    "Secret plain collected",
    async () => (await secretData(api, ns, "plain")) === undefined,
    60_000,
  );
});

test("rolloutRestartTargets: no restart on the first sync, a restart when the data changes", async () => {
  const ns = await tenant("vso-rollout");
  const path = `roll-${suffix()}`;
  await vault.call("POST", `${kvMount}/data/${path}`, { data: { v: "1" } });
  await api.create(`/apis/apps/v1/namespaces/${ns}/deployments`, {
    metadata: { name: "web" },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      },
    },
  });
  await apply(
    ns,
    vssYaml("r", {
      path,
      dest: "r",
      extra: `  rolloutRestartTargets:
  - { kind: Deployment, name: web }`,
    }),
  );
  await waitForData(ns, "r", (x) => x.v === "1");
  await synced(ns, "r");
  const annotation = async (): Promise<string | undefined> =>
    (
      await api.get<{ spec: { template: { metadata?: { annotations?: Record<string, string> } } } }>(
        `/apis/apps/v1/namespaces/${ns}/deployments/web`,
      )
    ).spec.template.metadata?.annotations?.["vso.secrets.hashicorp.com/restartedAt"];
  await sleep(3_000); // a refresh or more
  assert.equal(await annotation(), undefined, "no restart on the first sync");
  await vault.call("POST", `${kvMount}/data/${path}`, { data: { v: "2" } });
  await waitForData(ns, "r", (x) => x.v === "2");
  const at = await eventually("restartedAt", annotation);
  assert.match(at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test("security: a VaultAuth of another namespace is refused unless its allowedNamespaces admits the secret's namespace", async () => {
  const owner = await tenant("vso-owner");
  const other = await tenant("vso-other");
  const path = `sec-${suffix()}`;
  await vault.call("POST", `${kvMount}/data/${path}`, { data: { v: "owned" } });
  await apply(other, vssYaml("steal", { path, dest: "steal", auth: `${owner}/auth` }));
  const s = await synced(other, "steal", "False");
  assert.match(
    s.conditions!.find((c) => c.type === "SecretSynced")!.message!,
    /is not allowed for VaultAuth/,
  );
  assert.equal(await secretData(api, other, "steal"), undefined);
  // `allowedNamespaces` listing another namespace still refuses this one
  await apply(
    owner,
    `apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultAuth
metadata: { name: auth }
spec:
  method: kubernetes
  mount: ${k8sMount}
  allowedNamespaces: [somewhere-else]
  kubernetes: { role: app, serviceAccount: vso-sa, audiences: [vault] }
`,
  );
  await sleep(3_000);
  assert.equal(await secretData(api, other, "steal"), undefined);
  // the owner admits it: the secret syncs, with credentials minted in the secret's own namespace
  await apply(
    owner,
    `apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultAuth
metadata: { name: auth }
spec:
  method: kubernetes
  mount: ${k8sMount}
  allowedNamespaces: [${other}]
  kubernetes: { role: app, serviceAccount: vso-sa, audiences: [vault] }
`,
  );
  await waitForData(other, "steal", (x) => x.v === "owned");
});

/** A policy of its own for the dynamic/PKI tests, on the shared Kubernetes auth role `app`'s mount. */
async function engineRole(policy: string): Promise<string> {
  const role = `eng-${suffix()}`;
  await vault.call("PUT", `sys/policies/acl/${role}`, { policy });
  await vault.call("POST", `auth/${k8sMount}/role/${role}`, {
    bound_service_account_names: ["vso-sa"],
    bound_service_account_namespaces: ["*"],
    token_policies: [role],
    audience: "vault",
  });
  return role;
}

test("VaultDynamicSecret: AWS credentials from Vault's aws engine (against moto), renewed, re-issued at max TTL, revoked on deletion", async () => {
  const mount = `aws-${suffix()}`;
  await vault.call("POST", `sys/mounts/${mount}`, { type: "aws" });
  await vault.call("POST", `${mount}/config/root`, {
    access_key: env.aws.accessKeyId,
    secret_key: env.aws.secretAccessKey,
    region: env.aws.region,
    iam_endpoint: env.aws.endpoint,
    sts_endpoint: env.aws.endpoint,
  });
  await vault.call("POST", `${mount}/config/lease`, { lease: "6s", lease_max: "16s" });
  await vault.call("POST", `${mount}/roles/app`, {
    credential_type: "iam_user",
    policy_document: JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "s3:ListBucket", Resource: "*" }],
    }),
  });
  const role = await engineRole(
    `path "${mount}/creds/app" { capabilities = ["read"] }\npath "sys/leases/revoke" { capabilities = ["update"] }`,
  );
  const ns = await tenant("vso-dyn");
  await apply(
    ns,
    `apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultAuth
metadata: { name: dyn }
spec:
  method: kubernetes
  mount: ${k8sMount}
  kubernetes: { role: ${role}, serviceAccount: vso-sa, audiences: [vault] }
---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultDynamicSecret
metadata: { name: creds }
spec:
  vaultAuthRef: dyn
  mount: ${mount}
  path: creds/app
  revoke: true
  destination: { name: aws-creds, create: true }
`,
  );
  const d = await waitForData(ns, "aws-creds", (x) => !!x.access_key && !!x.secret_key);
  const status = async (): Promise<{
    secretLease?: { id: string; duration: number; renewable: boolean };
    lastRenewalTime?: number;
  }> =>
    (await api.get<{ status?: object }>(`${API}/namespaces/${ns}/vaultdynamicsecrets/creds`)).status ?? {};
  const first = await eventually("lease in status", async () =>
    (await status()).secretLease?.id ? status() : undefined,
  );
  assert.match(first.secretLease!.id, new RegExp(`^${mount}/creds/app/`));
  assert.equal(first.secretLease!.renewable, true);
  // renewed: same lease (same credentials), a later renewal time
  const renewed = await eventually(
    "a renewal",
    async () => {
      const s = await status();
      return s.secretLease?.id === first.secretLease!.id && s.lastRenewalTime! > first.lastRenewalTime!
        ? s
        : undefined;
    },
    20_000,
  );
  assert.equal(
    (await secretData(api, ns, "aws-creds"))?.access_key,
    d.access_key,
    "renewal keeps the credentials",
  );
  // re-issued when renewal no longer gives a whole lease (max TTL 16 s)
  const reissued = await eventually(
    "a new lease",
    async () => {
      const s = await status();
      return s.secretLease?.id && s.secretLease.id !== renewed.secretLease!.id ? s : undefined;
    },
    30_000,
  );
  await waitForData(ns, "aws-creds", (x) => x.access_key !== d.access_key);
  // deleted with revoke: true → the lease is revoked in Vault
  await kubectl(env, [
    "delete",
    "vaultdynamicsecrets.secrets.hashicorp.com",
    "creds",
    "-n",
    ns,
    "--wait=true",
    "--timeout=30s",
  ]);
  const lookup = await vault
    .call("PUT", "sys/leases/lookup", { lease_id: reissued.secretLease!.id })
    .catch((e: unknown) => e);
  assert.ok(lookup instanceof Error && /400|invalid lease/.test(lookup.message), "the lease is revoked");
});

test("VaultPKISecret: a kubernetes.io/tls certificate that verifies against the issuing CA, renewed before expiryOffset, with a rollout restart; revoked on deletion", async () => {
  const mount = `pki-${suffix()}`;
  await vault.call("POST", `sys/mounts/${mount}`, { type: "pki", config: { max_lease_ttl: "24h" } });
  const root = await vault.call("POST", `${mount}/root/generate/internal`, {
    common_name: "Custos Test CA",
    ttl: "24h",
  });
  const caPem = (root.json.data as { certificate: string }).certificate;
  await vault.call("POST", `${mount}/roles/web`, {
    allowed_domains: ["example.com"],
    allow_subdomains: true,
    max_ttl: "1h",
  });
  const role = await engineRole(
    `path "${mount}/issue/web" { capabilities = ["update"] }\npath "${mount}/revoke" { capabilities = ["update"] }`,
  );
  const ns = await tenant("vso-pki");
  await api.create(`/apis/apps/v1/namespaces/${ns}/deployments`, {
    metadata: { name: "web" },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      },
    },
  });
  await apply(
    ns,
    `apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultAuth
metadata: { name: pki }
spec:
  method: kubernetes
  mount: ${k8sMount}
  kubernetes: { role: ${role}, serviceAccount: vso-sa, audiences: [vault] }
---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultPKISecret
metadata: { name: cert }
spec:
  vaultAuthRef: pki
  mount: ${mount}
  role: web
  commonName: app.example.com
  altNames: [www.example.com]
  ipSans: [127.0.0.1]
  ttl: 30s
  expiryOffset: 22s
  revoke: true
  rolloutRestartTargets: [{ kind: Deployment, name: web }]
  destination: { name: tls, create: true, type: kubernetes.io/tls }
`,
  );
  const d = await waitForData(ns, "tls", (x) => !!x["tls.crt"]);
  for (const k of ["certificate", "private_key", "issuing_ca", "serial_number", "tls.crt", "tls.key"])
    assert.ok(d[k], k);
  const secret = await api.get<Secret>(`/api/v1/namespaces/${ns}/secrets/tls`);
  assert.equal(secret.type, "kubernetes.io/tls");
  const dir = mkdtempSync(join(tmpdir(), "vso-pki-"));
  try {
    const { writeFileSync } = await import("node:fs");
    const { execFileSync } = await import("node:child_process");
    writeFileSync(join(dir, "ca.pem"), caPem);
    writeFileSync(join(dir, "cert.pem"), d["tls.crt"]!);
    const out = execFileSync("openssl", [
      "verify",
      "-CAfile",
      join(dir, "ca.pem"),
      join(dir, "cert.pem"),
    ]).toString();
    assert.match(out, /OK/);
    const text = execFileSync("openssl", [
      "x509",
      "-in",
      join(dir, "cert.pem"),
      "-noout",
      "-text",
    ]).toString();
    assert.match(text, /DNS:www\.example\.com/);
    assert.match(text, /IP Address:127\.0\.0\.1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // renewed 8 s after issue (30 s TTL, 22 s offset): a new serial, and the Deployment restarted
  const renewed = await waitForData(ns, "tls", (x) => x.serial_number !== d.serial_number, 30_000);
  const restarted = await eventually(
    "restartedAt",
    async () =>
      (
        await api.get<{ spec: { template: { metadata?: { annotations?: Record<string, string> } } } }>(
          `/apis/apps/v1/namespaces/${ns}/deployments/web`,
        )
      ).spec.template.metadata?.annotations?.["vso.secrets.hashicorp.com/restartedAt"],
  );
  assert.ok(restarted);
  // the previous certificate was revoked on renewal; the current one on deletion
  const revoked = async (serial: string): Promise<number> =>
    ((await vault.call("GET", `${mount}/cert/${serial}`)).json.data as { revocation_time?: number })
      .revocation_time ?? 0;
  await eventually("old certificate revoked", async () => (await revoked(d.serial_number!)) > 0);
  await kubectl(env, ["delete", "vaultpkisecret", "cert", "-n", ns, "--wait=true", "--timeout=30s"]);
  const current = (await secretData(api, ns, "tls"))?.serial_number ?? renewed.serial_number!;
  assert.ok((await revoked(current)) > 0, "the current certificate is revoked on deletion");
});
