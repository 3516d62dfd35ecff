/**
 * End to end: Vault's database secrets engine against the environment's real PostgreSQL, served
 * by `custos operator` (`--controllers externalsecret,vso`, isolated by --namespace):
 * - a VaultDynamicSecret whose synced username/password really log in with psql, renewed (same
 *   lease, same credentials), re-issued at max TTL (a new user; the old one stops working once
 *   Vault revokes it) with a rollout restart, revoked on deletion (login refused, lease gone);
 * - no re-issue when the operator restarts mid-lease (VSO #285);
 * - allowStaticCreds with a static role: the rotated password is synced and logs in;
 * - ESO's VaultDynamicSecret generator: the generated database credentials log in;
 * - a VaultStaticSecret and an ESO ExternalSecret of the same identity and path: one login and
 *   one read at Vault's audit log.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
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

const execFileP = promisify(execFile);
const API = "/apis/secrets.hashicorp.com/v1beta1";
let env: SharedEnv;
let pg: NonNullable<SharedEnv["postgres"]>;
let api: KubeApi;
let vault: VaultClient;
let op: OperatorProcess;
let ns: string;
let auditDir: string;
let k8sMount: string;
let db: string;
const OPERATOR_ARGS = (): string[] => [
  "--controllers",
  "externalsecret,vso",
  "--namespace",
  ns,
  "--operator-namespace",
  ns,
];

interface Lease {
  id: string;
  duration: number;
  renewable: boolean;
}
interface VdsStatus {
  secretLease?: Lease;
  lastRenewalTime?: number;
  conditions?: { type: string; status: string; message?: string }[];
}

/** Logs in to PostgreSQL as `user` with `password` over TCP (scram-sha-256); whether it worked. */
async function login(user: string, password: string): Promise<boolean> {
  try {
    const { stdout } = await execFileP(
      join(pg.bin, "psql"),
      [
        "-h",
        pg.host,
        "-p",
        String(pg.port),
        "-U",
        user,
        "-w",
        "-At",
        "-c",
        "select current_user",
        "postgres",
      ],
      { env: { ...process.env, ...pg.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "5" } },
    );
    return stdout.trim() === user;
  } catch {
    return false;
  }
}

/** Runs SQL as the superuser. */
async function sql(statement: string): Promise<string> {
  const { stdout } = await execFileP(
    join(pg.bin, "psql"),
    [
      "-h",
      pg.host,
      "-p",
      String(pg.port),
      "-U",
      pg.user,
      "-w",
      "-At",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      statement,
      "postgres",
    ],
    { env: { ...process.env, ...pg.env, PGPASSWORD: pg.password } },
  );
  return stdout.trim();
}

function auditCounts(...matchers: ((path: string, operation: string) => boolean)[]): number[] {
  const file = join(auditDir, "audit.log");
  const lines = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
  const counts = matchers.map(() => 0);
  for (const l of lines) {
    if (!l) continue;
    const e = JSON.parse(l) as { type: string; request?: { path?: string; operation?: string } };
    if (e.type !== "request") continue;
    matchers.forEach((m, i) => {
      if (m(e.request?.path ?? "", e.request?.operation ?? "")) counts[i]!++;
    });
  }
  return counts;
}

/** Vault's Kubernetes auth at `mount`, reviewing tokens with a reviewer of its own. */
async function kubernetesAuth(mount: string): Promise<void> {
  await vault.call("POST", `sys/auth/${mount}`, { type: "kubernetes" });
  const rns = await createNamespace(api, "vault-reviewer");
  await api.create(`/api/v1/namespaces/${rns}/serviceaccounts`, { metadata: { name: "reviewer" } });
  await api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    metadata: { name: `vault-reviewer-${rns}` },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
    subjects: [{ kind: "ServiceAccount", name: "reviewer", namespace: rns }],
  });
  const tr = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${rns}/serviceaccounts/reviewer/token`,
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 7200 } },
  );
  await vault.call("POST", `auth/${mount}/config`, {
    kubernetes_host: env.apiUrl,
    kubernetes_ca_cert: env.caPem,
    token_reviewer_jwt: tr.status.token,
  });
}

/** A Vault role on `mount` for ServiceAccount `sa` of this file's namespace, with `policy`. */
async function vaultRole(mount: string, sa: string, policy: string): Promise<string> {
  const role = `r-${suffix()}`;
  await vault.call("PUT", `sys/policies/acl/${role}`, { policy });
  await vault.call("POST", `auth/${mount}/role/${role}`, {
    bound_service_account_names: [sa],
    bound_service_account_namespaces: [ns],
    token_policies: [role],
    audience: "vault",
  });
  return role;
}

async function apply(yaml: string): Promise<void> {
  await kubectl(env, ["apply", "-n", ns, "-f", "-"], yaml);
}

const authYaml = (
  name: string,
  mount: string,
  role: string,
  sa: string,
): string => `apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultAuth
metadata: { name: ${name} }
spec:
  vaultConnectionRef: vault
  method: kubernetes
  mount: ${mount}
  kubernetes: { role: ${role}, serviceAccount: ${sa}, audiences: [vault] }
`;

async function vdsStatus(name: string): Promise<VdsStatus> {
  return (
    (await api.getOrUndefined<{ status?: VdsStatus }>(`${API}/namespaces/${ns}/vaultdynamicsecrets/${name}`))
      ?.status ?? {}
  );
}

async function creds(name: string, differentFrom?: string): Promise<{ username: string; password: string }> {
  const d = await eventually(
    `Secret ${name} with database credentials`,
    async () => {
      const x = await secretData(api, ns, name);
      return x?.username && x.password && x.username !== differentFrom ? x : undefined;
    },
    60_000,
  ).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\n${op.output().slice(-3000)}`, { cause: e });
  });
  return { username: d.username!, password: d.password! };
}

async function leaseGone(id: string): Promise<boolean> {
  const r = await vault.call("PUT", "sys/leases/lookup", { lease_id: id }).catch((e: unknown) => e);
  return r instanceof Error && /400|invalid lease/.test(r.message);
}

before(async () => {
  env = await sharedEnv(["kube", "controller-manager", "vault", "postgres"]);
  assert.ok(env.postgres, "the environment has a PostgreSQL server");
  pg = env.postgres;
  api = KubeApi.fromDefault(env.kubeconfig);
  vault = vaultClient(env);
  await applyCrds(env);
  ns = await createNamespace(api, "vso-db");
  await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "db-sa" } });
  auditDir = mkdtempSync(join(tmpdir(), "custos-vso-db-audit-"));
  await vault.call("PUT", `sys/audit/vso-db-${suffix()}`, {
    type: "file",
    options: { file_path: join(auditDir, "audit.log"), log_raw: "false" },
  });
  k8sMount = `vso-db-k8s-${suffix()}`;
  await kubernetesAuth(k8sMount);
  // Vault's database engine against the environment's PostgreSQL
  db = `db-${suffix()}`;
  await vault.call("POST", `sys/mounts/${db}`, { type: "database" });
  await vault.call("POST", `${db}/config/pg`, {
    plugin_name: "postgresql-database-plugin",
    connection_url: `postgresql://{{username}}:{{password}}@${pg.host}:${pg.port}/postgres?sslmode=disable`,
    username: pg.user,
    password: pg.password,
    allowed_roles: "*",
  });
  const creation = [
    `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
  ];
  // short leases: renewed at 67% of 6 s, cut short by the 16 s max TTL
  await vault.call("POST", `${db}/roles/short`, {
    db_name: "pg",
    creation_statements: creation,
    default_ttl: "6s",
    max_ttl: "16s",
  });
  // a lease that outlives an operator restart
  await vault.call("POST", `${db}/roles/long`, {
    db_name: "pg",
    creation_statements: creation,
    default_ttl: "40s",
    max_ttl: "10m",
  });
  await apply(`apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultConnection
metadata: { name: vault }
spec: { address: "${env.vault.addr}" }
`);
  op = await startOperator(env, OPERATOR_ARGS());
});

after(async () => {
  await op.stop();
  rmSync(auditDir, { recursive: true, force: true });
});

test("VaultDynamicSecret (database engine, PostgreSQL): credentials log in, renewed, re-issued at max TTL with a rollout restart, revoked on deletion", async () => {
  const role = await vaultRole(
    k8sMount,
    "db-sa",
    `path "${db}/creds/short" { capabilities = ["read"] }\npath "sys/leases/revoke" { capabilities = ["update"] }`,
  );
  await api.create(`/apis/apps/v1/namespaces/${ns}/deployments`, {
    metadata: { name: "app" },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: "app" } },
      template: {
        metadata: { labels: { app: "app" } },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      },
    },
  });
  await apply(`${authYaml("db", k8sMount, role, "db-sa")}---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultDynamicSecret
metadata: { name: pg-short }
spec:
  vaultAuthRef: db
  mount: ${db}
  path: creds/short
  renewalPercent: 67
  revoke: true
  rolloutRestartTargets: [{ kind: Deployment, name: app }]
  destination: { name: pg-short, create: true }
`);
  const first = await creds("pg-short");
  assert.match(first.username, /^v-/, "a user made by Vault's database engine");
  assert.equal(await login(first.username, first.password), true, "the synced credentials log in");
  assert.equal(await login(first.username, `${first.password}x`), false, "a wrong password does not");
  const s1 = await eventually("lease in status", async () => {
    const s = await vdsStatus("pg-short");
    return s.secretLease?.id ? s : undefined;
  });
  assert.match(s1.secretLease!.id, new RegExp(`^${db}/creds/short/`));
  assert.equal(s1.secretLease!.renewable, true);
  assert.equal(s1.secretLease!.duration, 6);

  // renewed: the same lease (and credentials), a later renewal time, the lease extended in Vault
  const renewed = await eventually(
    "a renewal",
    async () => {
      const s = await vdsStatus("pg-short");
      return s.secretLease?.id === s1.secretLease!.id && s.lastRenewalTime! > s1.lastRenewalTime!
        ? s
        : undefined;
    },
    30_000,
  );
  assert.ok(renewed);
  assert.equal(
    (await secretData(api, ns, "pg-short"))?.username,
    first.username,
    "renewal keeps the credentials",
  );
  assert.equal(await login(first.username, first.password), true, "still logs in after renewal");

  // re-issued when renewal is cut short by the max TTL: a new user that logs in, a rollout restart
  const second = await creds("pg-short", first.username);
  const s2 = await vdsStatus("pg-short");
  assert.notEqual(s2.secretLease?.id, s1.secretLease!.id, "a new lease");
  assert.equal(await login(second.username, second.password), true, "the re-issued credentials log in");
  await eventually(
    "rollout restart on re-issue",
    async () =>
      (
        await api.get<{ spec: { template: { metadata?: { annotations?: Record<string, string> } } } }>(
          `/apis/apps/v1/namespaces/${ns}/deployments/app`,
        )
      ).spec.template.metadata?.annotations?.["vso.secrets.hashicorp.com/restartedAt"],
  );
  // the old lease reaches its max TTL: Vault revokes it (drops the role) and the old user is refused
  await eventually("the old lease revoked by Vault", () => leaseGone(s1.secretLease!.id), 30_000);
  await eventually(
    "the old user refused",
    async () => !(await login(first.username, first.password)),
    30_000,
  );

  // deleted with revoke: true: the current lease is revoked, its user can no longer log in
  const current = await vdsStatus("pg-short");
  const now = (await secretData(api, ns, "pg-short"))!;
  await kubectl(env, [
    "delete",
    "vaultdynamicsecrets.secrets.hashicorp.com",
    "pg-short",
    "-n",
    ns,
    "--wait=true",
    "--timeout=30s",
  ]);
  assert.equal(await leaseGone(current.secretLease!.id), true, "the lease is gone from Vault");
  assert.equal(await login(now.username!, now.password!), false, "the revoked credentials no longer log in");
  assert.equal(await sql(`select count(*) from pg_roles where rolname = '${now.username!}'`), "0");
  assert.doesNotMatch(op.output(), new RegExp(first.password), "no password in the operator's logs");
});

test("VaultDynamicSecret: an operator restart mid-lease keeps the lease and the credentials (VSO #285)", async () => {
  const role = await vaultRole(k8sMount, "db-sa", `path "${db}/creds/long" { capabilities = ["read"] }`);
  await apply(`${authYaml("long", k8sMount, role, "db-sa")}---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultDynamicSecret
metadata: { name: pg-long }
spec:
  vaultAuthRef: long
  mount: ${db}
  path: creds/long
  destination: { name: pg-long, create: true }
`);
  const before = await creds("pg-long");
  const s1 = await eventually("lease in status", async () => {
    const s = await vdsStatus("pg-long");
    return s.secretLease?.id ? s : undefined;
  });
  const issued = (): number => auditCounts((p) => p === `${db}/creds/long`)[0]!;
  assert.equal(issued(), 1);
  await op.stop();
  op = await startOperator(env, OPERATOR_ARGS());
  // the new process takes the lease over: it renews it when due (67% of 40 s after the last
  // renewal), and never reads new credentials
  const renewed = await eventually(
    "the lease renewed by the restarted operator",
    async () => {
      const s = await vdsStatus("pg-long");
      return s.lastRenewalTime! > s1.lastRenewalTime! ? s : undefined;
    },
    90_000,
  );
  assert.equal(renewed.secretLease?.id, s1.secretLease!.id, "the same lease");
  const after = (await secretData(api, ns, "pg-long"))!;
  assert.equal(after.username, before.username, "the same credentials");
  assert.equal(after.password, before.password);
  assert.equal(issued(), 1, "no credentials were issued again");
  assert.equal(await login(before.username, before.password), true);
  await kubectl(env, [
    "delete",
    "vaultdynamicsecrets.secrets.hashicorp.com",
    "pg-long",
    "-n",
    ns,
    "--wait=true",
    "--timeout=30s",
  ]);
});

test("VaultDynamicSecret allowStaticCreds: a database static role's password, synced after each rotation, logs in", async () => {
  const user = `static_${suffix()}`;
  await sql(`CREATE ROLE "${user}" WITH LOGIN PASSWORD 'initial-${suffix()}'`);
  await vault.call("POST", `${db}/static-roles/${user}`, {
    db_name: "pg",
    username: user,
    rotation_period: "10s",
  });
  const role = await vaultRole(
    k8sMount,
    "db-sa",
    `path "${db}/static-creds/${user}" { capabilities = ["read"] }`,
  );
  await apply(`${authYaml("static", k8sMount, role, "db-sa")}---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultDynamicSecret
metadata: { name: pg-static }
spec:
  vaultAuthRef: static
  mount: ${db}
  path: static-creds/${user}
  allowStaticCreds: true
  destination: { name: pg-static, create: true }
`);
  const first = await creds("pg-static");
  assert.equal(first.username, user);
  // Vault rotates the password every 10 s: each try logs in with the Secret as it is then
  const logsIn = async (): Promise<Record<string, string> | undefined> => {
    const d = await secretData(api, ns, "pg-static");
    return d && (await login(d.username!, d.password!)) ? d : undefined;
  };
  await eventually("the synced static credentials log in", logsIn, 30_000);
  const status = (await vdsStatus("pg-static")) as VdsStatus & {
    staticCredsMetaData?: { lastVaultRotation?: number; rotationPeriod?: number; ttl?: number };
  };
  assert.equal(status.staticCredsMetaData?.rotationPeriod, 10);
  assert.ok((status.staticCredsMetaData?.lastVaultRotation ?? 0) > 0);
  assert.equal(status.secretLease?.id ?? "", "", "static creds have no lease");
  // a rotation is synced: a new password that logs in; the old one is refused
  const rotated = await eventually(
    "a rotated password synced",
    async () => {
      const d = await secretData(api, ns, "pg-static");
      return d?.password && d.password !== first.password ? d : undefined;
    },
    40_000,
  );
  assert.equal(rotated.username, user);
  await eventually("the rotated credentials log in", logsIn, 30_000);
  assert.equal(await login(user, first.password), false, "the password before the rotation is refused");
  await kubectl(env, [
    "delete",
    "vaultdynamicsecrets.secrets.hashicorp.com",
    "pg-static",
    "-n",
    ns,
    "--wait=true",
    "--timeout=30s",
  ]);
});

test("ESO's VaultDynamicSecret generator: generated database credentials log in", async () => {
  const role = await vaultRole(k8sMount, "db-sa", `path "${db}/creds/long" { capabilities = ["read"] }`);
  await apply(`apiVersion: generators.external-secrets.io/v1alpha1
kind: VaultDynamicSecret
metadata: { name: pg-gen }
spec:
  path: ${db}/creds/long
  method: GET
  provider:
    server: ${env.vault.addr}
    auth:
      kubernetes:
        mountPath: ${k8sMount}
        role: ${role}
        serviceAccountRef: { name: db-sa, audiences: [vault] }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: pg-gen }
spec:
  refreshInterval: "0"
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: VaultDynamicSecret, name: pg-gen } }
`);
  await eventually(
    "ExternalSecret pg-gen Ready",
    async () => {
      const c = readyCondition(await esStatus(api, ns, "pg-gen"));
      if (c?.status === "False") throw new Error(c.message);
      return c?.status === "True";
    },
    60_000,
  );
  const d = (await secretData(api, ns, "pg-gen"))!;
  assert.match(d.username ?? "", /^v-/);
  assert.equal(await login(d.username!, d.password!), true, "the generated credentials log in");
});

test("a VaultStaticSecret and an ESO ExternalSecret of one identity and path: one login, one read", async () => {
  const mount = `share-k8s-${suffix()}`;
  await kubernetesAuth(mount);
  const kv = `share-kv-${suffix()}`;
  await vault.call("POST", `sys/mounts/${kv}`, { type: "kv", options: { version: "2" } });
  await vault.call("POST", `${kv}/data/app`, { data: { username: "app", password: "pw-1" } });
  await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "share-sa" } });
  const role = await vaultRole(mount, "share-sa", `path "${kv}/*" { capabilities = ["read"] }`);
  const [logins0, reads0] = auditCounts(
    (p) => p === `auth/${mount}/login`,
    (p, o) => p === `${kv}/data/app` && o === "read",
  );
  assert.deepEqual([logins0, reads0], [0, 0]);
  await apply(`${authYaml("share", mount, role, "share-sa")}---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultStaticSecret
metadata: { name: shared-vss }
spec:
  vaultAuthRef: share
  type: kv-v2
  mount: ${kv}
  path: app
  refreshAfter: 1h
  destination: { name: shared-vss, create: true }
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: share }
spec:
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${kv}
      version: v2
      auth:
        kubernetes:
          mountPath: ${mount}
          role: ${role}
          serviceAccountRef: { name: share-sa, audiences: [vault] }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: shared-es }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: share, kind: SecretStore }
  target: { name: shared-es }
  data:
    - { secretKey: password, remoteRef: { key: app, property: password } }
`);
  await eventually("both Secrets synced", async () => {
    const a = await secretData(api, ns, "shared-vss");
    const b = await secretData(api, ns, "shared-es");
    return a?.password === "pw-1" && b?.password === "pw-1";
  });
  const [logins, reads] = auditCounts(
    (p) => p === `auth/${mount}/login`,
    (p, o) => p === `${kv}/data/app` && o === "read",
  );
  assert.equal(logins, 1, "one login for the identity (VaultAuth and SecretStore together)");
  assert.equal(reads, 1, "one read of the path for both objects");
});
