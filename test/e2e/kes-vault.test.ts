/**
 * End to end: kubernetes-client.io/v1 (KES) ExternalSecrets served by `custos operator` as a
 * process, against the real API server and real Vault with Kubernetes auth.
 *
 * - Seed 002 (documents 001/002) unchanged: the manifest and policy are copied verbatim into
 *   test/fixtures/kes/seed-002; only addresses differ (Vault's address is a flag, and Vault runs
 *   outside the cluster, so its Kubernetes auth gets a reviewer token). Counted at Vault's audit log.
 * - Unsupported backends, adoption and ownership.
 * - Security: a tenant's KES object cannot read with another namespace's identity, even while
 *   that identity's value is in the operator's read cache.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import {
  applyCrds,
  createNamespace,
  eventually,
  kubectl,
  secretData,
  startOperator,
  suffix,
  vaultClient,
  KubeApi,
  type OperatorProcess,
  type SecretObj,
  type VaultClient,
} from "./helpers.ts";

const root = join(import.meta.dirname, "..", "..");
const seedDir = join(root, "test", "fixtures", "kes", "seed-002");
const KES_CRD = join(root, "deploy", "crds-kes", "kubernetes-client.io_externalsecrets.yaml");
const KES_NS = "external-secrets";
const KES_SA = "external-secrets-kubernetes-external-secrets";
const ROLE = "kubernetes-external-secrets";

let env: SharedEnv;
let api: KubeApi;
let vault: VaultClient;
const operators: OperatorProcess[] = [];
/** The namespace where seed 002 ran under the KES controller (for the migration's comparison). */
let seedNamespace = "";
const namespaces: string[] = [];

interface KesStatus {
  lastSync?: string;
  status?: string;
  observedGeneration?: number;
}

async function kesStatus(ns: string, name: string): Promise<KesStatus | undefined> {
  const o = await api.getOrUndefined<{ status?: KesStatus }>(
    `/apis/kubernetes-client.io/v1/namespaces/${ns}/externalsecrets/${name}`,
  );
  return o?.status;
}

async function secret(ns: string, name: string): Promise<SecretObj | undefined> {
  return api.getOrUndefined<SecretObj>(`/api/v1/namespaces/${ns}/secrets/${name}`);
}

async function ns(prefix: string, annotations: Record<string, string> = {}): Promise<string> {
  const name = await createNamespace(api, prefix);
  if (Object.keys(annotations).length)
    await api.mergePatch(`/api/v1/namespaces/${name}`, { metadata: { annotations } });
  namespaces.push(name);
  return name;
}

async function tolerate(p: Promise<unknown>): Promise<void> {
  await p.catch(() => undefined);
}

async function operator(args: string[]): Promise<OperatorProcess> {
  const op = await startOperator(env, [
    "--kes-service-account",
    `${KES_NS}/${KES_SA}`,
    "--kes-vault-addr",
    env.vault.addr,
    ...args,
  ]);
  operators.push(op);
  return op;
}

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  vault = vaultClient(env);
  await applyCrds(env);
  await kubectl(env, ["apply", "-f", KES_CRD]);
  await kubectl(env, ["wait", "--for=condition=Established", "crd/externalsecrets.kubernetes-client.io"]);

  // setup.md, steps 1-5 (mount `kubernetes` for both the KV engine and the auth method)
  const inUse = (e: unknown): void => {
    if (!/already in use/.test((e as Error).message)) throw e;
  };
  await vault.call("POST", "sys/mounts/kubernetes", { type: "kv", options: { version: "2" } }).catch(inUse);
  await vault.call("POST", "kubernetes/data/cool/secrets", { data: { test: "hello" } });
  await vault.call("PUT", "sys/policies/acl/reader", {
    policy: readFileSync(join(seedDir, "reader.hcl"), "utf8"),
  });
  await vault.call("POST", "sys/auth/kubernetes", { type: "kubernetes" }).catch(inUse);

  // Vault runs outside the cluster: its TokenReview calls need a reviewer token (in a cluster,
  // Vault's own service account)
  await tolerate(api.create("/api/v1/namespaces", { metadata: { name: KES_NS } }));
  await tolerate(api.create(`/api/v1/namespaces/${KES_NS}/serviceaccounts`, { metadata: { name: KES_SA } }));
  await tolerate(
    api.create(`/api/v1/namespaces/${KES_NS}/serviceaccounts`, { metadata: { name: "vault-reviewer" } }),
  );
  await tolerate(
    api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: "kes-e2e-vault-reviewer" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
      subjects: [{ kind: "ServiceAccount", name: "vault-reviewer", namespace: KES_NS }],
    }),
  );
  const reviewer = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${KES_NS}/serviceaccounts/vault-reviewer/token`,
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
  );
  await vault.call("POST", "auth/kubernetes/config", {
    kubernetes_host: env.apiUrl,
    kubernetes_ca_cert: env.caPem,
    token_reviewer_jwt: reviewer.status.token,
  });
  await vault.call("POST", `auth/kubernetes/role/${ROLE}`, {
    bound_service_account_names: [KES_SA],
    bound_service_account_namespaces: [KES_NS],
    token_policies: ["reader"],
    audience: "vault",
  });
});

after(async () => {
  for (const op of operators) await op.stop();
  for (const n of namespaces) await tolerate(api.delete(`/api/v1/namespaces/${n}`));
  // later test files' operators run every controller: leave no KES CRD for them to serve
  await tolerate(kubectl(env, ["delete", "-f", KES_CRD, "--wait=false"]));
});

/** Requests in a Vault audit log, as [path, operation] of each request entry. */
function auditRequests(file: string): { path: string; op: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; request?: { path?: string; operation?: string } })
    .filter((e) => e.type === "request")
    .map((e) => ({ path: e.request?.path ?? "", op: e.request?.operation ?? "" }));
}

test("seed 002 unchanged: Vault Kubernetes auth at mount kubernetes, cool-secret with the template's annotations; polling disabled, a change to the object brings the new value; one login, no lookup-self", async () => {
  const manifest = readFileSync(join(seedDir, "externalsecret-kes.yaml"), "utf8");
  const n = await ns("kes-seed");
  seedNamespace = n;
  const auditDir = mkdtempSync(join(tmpdir(), "custos-kes-audit-"));
  const device = `kes-${suffix()}`;
  const auditFile = join(auditDir, "audit.log");
  await vault.call("PUT", `sys/audit/${device}`, { type: "file", options: { file_path: auditFile } });
  try {
    const op = await operator([
      "--controllers",
      "kes",
      "--kes-disable-polling",
      "--kes-watched-namespaces",
      n,
    ]);
    await kubectl(env, ["apply", "-n", n, "-f", "-"], manifest);
    const s = await eventually("cool-secret", async () => {
      const got = await secret(n, "cool-secret");
      return got?.data?.test ? got : undefined;
    });
    assert.equal(Buffer.from(s.data!.test!, "base64").toString(), "hello");
    assert.deepEqual(Object.keys(s.data!), ["test"]);
    assert.equal(s.type, "Opaque");
    assert.equal(s.metadata.annotations?.ts, "2021-09-25T16:13:32.00Z");
    assert.equal(s.metadata.annotations?.["commit-hash"], "d4f0a2db0dde69771e65d66cad3d77227832bd76");
    assert.deepEqual(
      s.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.controller]),
      [["ExternalSecret", "cool-secret", true]],
    );
    const st = await eventually("status SUCCESS", async () => {
      const x = await kesStatus(n, "cool-secret");
      return x?.status === "SUCCESS" ? x : undefined;
    });
    assert.equal(st.observedGeneration, 1);
    assert.ok(!Number.isNaN(Date.parse(st.lastSync ?? "")));

    // a new value in Vault, then a change to the object (a new commit-hash, as the documents do)
    await vault.call("POST", "kubernetes/data/cool/secrets", { data: { test: "hello-again" } });
    await kubectl(
      env,
      ["apply", "-n", n, "-f", "-"],
      manifest.replace(
        "d4f0a2db0dde69771e65d66cad3d77227832bd76",
        "0123456789abcdef0123456789abcdef01234567",
      ),
    );
    const after = await eventually("the new value", async () => {
      const d = await secretData(api, n, "cool-secret");
      return d?.test === "hello-again" ? await secret(n, "cool-secret") : undefined;
    });
    assert.equal(after?.metadata.annotations?.["commit-hash"], "0123456789abcdef0123456789abcdef01234567");
    await eventually(
      "status of generation 2",
      async () => (await kesStatus(n, "cool-secret"))?.observedGeneration === 2,
    );

    const reqs = auditRequests(auditFile);
    const logins = reqs.filter((r) => r.path === "auth/kubernetes/login").length;
    const lookups = reqs.filter((r) => r.path === "auth/token/lookup-self").length;
    const reads = reqs.filter((r) => r.path === "kubernetes/data/cool/secrets" && r.op === "read").length;
    assert.equal(logins, 1, `one login (audit: ${JSON.stringify({ logins, lookups, reads })})`);
    assert.equal(lookups, 0, "no lookup-self before reads");
    assert.equal(reads, 2, "one read per sync: the first, and the one after the change");
    // KES's metric names
    const m = await op.metrics();
    assert.match(
      m,
      new RegExp(
        `kubernetes_external_secrets_sync_calls_count\\{name="cool-secret",namespace="${n}",backend="vault",status="success"\\} 2`,
      ),
    );
    assert.match(m, /kubernetes_external_secrets_last_sync_call_state\{name="cool-secret",[^}]*\} 1/);
  } finally {
    await vault.call("DELETE", `sys/audit/${device}`);
    rmSync(auditDir, { recursive: true, force: true });
  }
});

test("unsupported backends get KES's ERROR status and are left alone; a Secret another object controls is never taken over, one without a controller is adopted", async () => {
  const n = await ns("kes-misc");
  await operator(["--controllers", "kes", "--kes-watched-namespaces", n, "--kes-poller-interval-ms", "2000"]);
  await vault.call("POST", "kubernetes/data/misc/app", { data: { user: "u1", pass: "p-misc-1" } });
  await kubectl(
    env,
    ["apply", "-n", n, "-f", "-"],
    `apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: { name: azure }
spec:
  backendType: azureKeyVault
  keyVaultName: vault
  data: [{ key: a, name: b }]
---
apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: { name: gcp }
spec:
  backendType: gcpSecretsManager
  projectId: p
  data: [{ key: a, name: b }]
`,
  );
  for (const name of ["azure", "gcp"]) {
    const st = await eventually(`${name} status`, async () => (await kesStatus(n, name))?.status);
    const backend = name === "azure" ? "azureKeyVault" : "gcpSecretsManager";
    assert.match(st, new RegExp(`^ERROR, backend ${backend} is not supported by Custos`));
    assert.equal(await secret(n, name), undefined);
  }

  // a Secret controlled by another object (here a ConfigMap) keeps its data
  const cm = await api.create<{ metadata: { uid: string } }>(`/api/v1/namespaces/${n}/configmaps`, {
    metadata: { name: "owner" },
  });
  await api.create(`/api/v1/namespaces/${n}/secrets`, {
    metadata: {
      name: "taken",
      ownerReferences: [
        { apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: cm.metadata.uid, controller: true },
      ],
    },
    stringData: { mine: "keep-me" },
  });
  // a Secret nobody controls (a migration in place): adopted
  await api.create(`/api/v1/namespaces/${n}/secrets`, {
    metadata: { name: "adopt", labels: { team: "x" } },
    stringData: { old: "old-value" },
  });
  const kes = (name: string): string => `apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  backendType: vault
  vaultMountPoint: kubernetes
  vaultRole: ${ROLE}
  dataFrom: [kubernetes/data/misc/app]
  data: [{ name: whole, key: kubernetes/data/misc/app }]
`;
  await kubectl(env, ["apply", "-n", n, "-f", "-"], `${kes("taken")}---\n${kes("adopt")}`);
  const taken = await eventually("taken status", async () => (await kesStatus(n, "taken"))?.status);
  assert.match(taken, /^ERROR, target Secret "taken" is already controlled by ConfigMap "owner"/);
  assert.deepEqual(await secretData(api, n, "taken"), { mine: "keep-me" });

  const adopted = await eventually("adopted", async () => {
    const d = await secretData(api, n, "adopt");
    return d?.user ? d : undefined;
  });
  assert.deepEqual(adopted, { user: "u1", pass: "p-misc-1", whole: '{"pass":"p-misc-1","user":"u1"}' });
  const s = await secret(n, "adopt");
  assert.equal(s?.metadata.labels?.team, "x", "others' labels are kept");
  assert.deepEqual(
    s?.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.controller]),
    [["ExternalSecret", "adopt", true]],
  );
  // statuses never carry values
  for (const name of ["taken", "adopt"])
    assert.doesNotMatch(JSON.stringify(await kesStatus(n, name)), /p-misc-1/);
});

test("security: a tenant's KES object cannot read with another namespace's identity, even while that identity's value is cached", async () => {
  const id = suffix();
  const mount = `kes-sec-${id}`;
  const password = `team-b-password-${id}`;
  const roleB = `team-b-${id}`;
  await vault.call("POST", `sys/mounts/${mount}`, { type: "kv", options: { version: "2" } });
  await vault.call("POST", `${mount}/data/team-b/db`, { data: { password } });
  await vault.call("PUT", `sys/policies/acl/${roleB}`, {
    policy: `path "${mount}/data/team-b/*" { capabilities = ["read"] }`,
  });
  const b = await ns("kes-team-b");
  const tenant = await ns("kes-tenant");
  const guarded = await ns("kes-guarded", { "iam.amazonaws.com/permitted": `^${ROLE}$` });
  await api.create(`/api/v1/namespaces/${b}/serviceaccounts`, { metadata: { name: "app" } });
  await vault.call("POST", `auth/kubernetes/role/${roleB}`, {
    bound_service_account_names: ["app"],
    bound_service_account_namespaces: [b],
    token_policies: [roleB],
    audience: "vault",
  });
  const cls = `kes-${id}`;
  const op = await operator([
    "--controllers",
    "externalsecret,kes",
    "--controller-class",
    cls,
    "--kes-watched-namespaces",
    `${b},${tenant},${guarded}`,
    "--kes-poller-interval-ms",
    "2000",
  ]);

  // team B reads its secret with its own identity (an ESO store over its service account)
  await kubectl(
    env,
    ["apply", "-n", b, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: vault }
spec:
  controller: ${cls}
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${mount}
      version: v2
      auth:
        kubernetes:
          mountPath: kubernetes
          role: ${roleB}
          serviceAccountRef: { name: app, audiences: [vault] }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: db }
spec:
  refreshInterval: 2s
  secretStoreRef: { name: vault }
  target: { name: db }
  data: [{ secretKey: password, remoteRef: { key: team-b/db, property: password } }]
`,
  );
  await eventually("team B's Secret", async () => (await secretData(api, b, "db"))?.password === password);

  // a tenant names team B's role and key: the login is made with the KES identity, which the
  // role does not bind, so Vault refuses it; the value read by team B is never handed over
  const stolen = (name: string): string => `apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  backendType: vault
  vaultMountPoint: kubernetes
  vaultRole: ${roleB}
  data: [{ name: password, key: ${mount}/data/team-b/db, property: password }]
`;
  await kubectl(env, ["apply", "-n", tenant, "-f", "-"], stolen("steal"));
  const st = await eventually("tenant status", async () => (await kesStatus(tenant, "steal"))?.status);
  assert.match(st, /^ERROR, /);
  assert.match(st, /permission denied|403|denied/i);
  assert.equal(await secret(tenant, "steal"), undefined);

  // a namespace whose annotation permits only the KES role: refused before any Vault call
  await kubectl(env, ["apply", "-n", guarded, "-f", "-"], stolen("steal"));
  const g = await eventually("guarded status", async () => (await kesStatus(guarded, "steal"))?.status);
  assert.equal(
    g,
    `ERROR, not allowed to fetch secret: ${guarded}/steal: namespace does not allow to assume role ${roleB}`,
  );
  assert.equal(await secret(guarded, "steal"), undefined);

  // still no Secret after further polls, and the value appears in no status or log
  await eventually("a second poll of the tenant's object", async () => {
    const m = new RegExp(
      `kubernetes_external_secrets_sync_calls_count\\{name="steal",namespace="${tenant}",backend="vault",status="error"\\} (\\d+)`,
    ).exec(await op.metrics());
    return Number(m?.[1] ?? 0) >= 2;
  });
  assert.equal(await secret(tenant, "steal"), undefined);
  for (const n of [tenant, guarded])
    assert.doesNotMatch(JSON.stringify(await kesStatus(n, "steal")), new RegExp(password));
  assert.doesNotMatch(op.output(), new RegExp(password));
});

test("custos migrate kes on seed 002: the ESO manifests, served by Custos, produce the Secret the KES object did", async () => {
  assert.ok(seedNamespace, "runs after the seed test");
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      "--import",
      "tsx",
      join(root, "src/cli/main.ts"),
      "migrate",
      "kes",
      join(seedDir, "externalsecret-kes.yaml"),
      "--vault-addr",
      env.vault.addr,
      "--service-account",
      `${KES_NS}/${KES_SA}`,
    ],
    { cwd: root },
  );
  const kinds = parseAllDocuments(stdout).map((d) => (d.toJS() as { kind: string }).kind);
  assert.deepEqual(kinds, ["ClusterSecretStore", "ExternalSecret"]);
  const n = await ns("kes-migrated");
  await operator(["--controllers", "externalsecret", "--namespace", n]);
  await kubectl(env, ["apply", "-n", n, "-f", "-"], stdout);
  const storeName = /name: (kes-vault-[0-9a-f]+)/.exec(stdout)?.[1];
  try {
    const kesSecret = await secret(seedNamespace, "cool-secret");
    const migrated = await eventually("the migrated Secret", async () => {
      const got = await secret(n, "cool-secret");
      return got?.data?.test ? got : undefined;
    });
    assert.deepEqual(migrated.data, kesSecret?.data, "same data as the KES object's Secret");
    assert.equal(migrated.type, kesSecret?.type);
    assert.equal(migrated.metadata.annotations?.ts, "2021-09-25T16:13:32.00Z");
    assert.equal(migrated.metadata.annotations?.["commit-hash"], "d4f0a2db0dde69771e65d66cad3d77227832bd76");
  } finally {
    if (storeName)
      await tolerate(api.delete(`/apis/external-secrets.io/v1/clustersecretstores/${storeName}`));
  }
});

test("lodash templates render in the sandbox as KES rendered them; hostile templates get ERROR statuses and an innocent object still syncs", async () => {
  const n = await ns("kes-tpl");
  await operator(["--controllers", "kes", "--kes-watched-namespaces", n, "--kes-poller-interval-ms", "2000"]);
  await vault.call("POST", "kubernetes/data/tpl/app", {
    data: { user: "robot", password: "tpl-pass-1", config: "db:\n  host: db.local\n  password: x\n" },
  });
  const kes = (name: string, template: string): string => `apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  backendType: vault
  vaultMountPoint: kubernetes
  vaultRole: ${ROLE}
  dataFrom: [kubernetes/data/tpl/app]
  template:
${template}
`;
  await kubectl(
    env,
    ["apply", "-n", n, "-f", "-"],
    [
      kes(
        "templated",
        `    type: kubernetes.io/dockerconfigjson
    metadata:
      labels: { user: "\${data.user}" }
    stringData:
      .dockerconfigjson: '{"auths":{"r.local":{"auth":"<%= Buffer.from(data.user + ":" + data.password).toString("base64") %>"}}}'
      config.yml: "<% const c = yaml.safeLoad(data.config); c.db.password = data.password %><%= yaml.safeDump(c) %>"
      keys: "<% Object.keys(data).sort().forEach(k => { %><%- k %>;<% }) %>"`,
      ),
      kes("loop", `    stringData: { x: "<% while (true) {} %>" }`),
      kes(
        "escape",
        `    stringData: { x: "<%= this.constructor.constructor('return process')().env.HOME %>" }`,
      ),
      kes(
        "bomb",
        `    stringData: { x: "<% const a = []; for (;;) a.push({ n: a.length, s: 'x' + a.length }) %>" }`,
      ),
    ].join("---\n"),
  );
  const s = await eventually("the templated Secret", async () => {
    const got = await secret(n, "templated");
    return got?.data?.["config.yml"] ? got : undefined;
  });
  const text = (k: string): string => Buffer.from(s.data?.[k] ?? "", "base64").toString();
  assert.equal(s.type, "kubernetes.io/dockerconfigjson");
  assert.equal(s.metadata.labels?.user, "robot");
  assert.equal(
    text(".dockerconfigjson"),
    `{"auths":{"r.local":{"auth":"${Buffer.from("robot:tpl-pass-1").toString("base64")}"}}}`,
  );
  assert.equal(text("config.yml"), "db:\n  host: db.local\n  password: tpl-pass-1\n");
  assert.equal(text("keys"), "config;password;user;");
  assert.equal(text("password"), "tpl-pass-1", "the fetched values are there too, as KES merged them");
  // the status is written after the Secret: wait for it rather than race it
  await eventually("templated SUCCESS", async () =>
    (await kesStatus(n, "templated"))?.status === "SUCCESS" ? true : undefined,
  );

  const expected: Record<string, RegExp> = {
    loop: /^ERROR, template stopped: it ran longer than its time budget/,
    escape: /^ERROR, template\.stringData\.x: template failed \(ReferenceError: 'process' is not defined\)/,
    // a budget stops it: memory, or time when the machine is slow
    bomb: /^ERROR, (template\.stringData\.x: )?template stopped: it (used more than its memory|ran longer than its time) budget/,
  };
  for (const [name, re] of Object.entries(expected)) {
    const st = await eventually(`${name} status`, async () => (await kesStatus(n, name))?.status);
    assert.match(st, re);
    assert.ok(!st.includes("tpl-pass-1"));
    assert.equal(await secret(n, name), undefined, `${name}: no Secret`);
  }
  // the operator keeps serving: an object created after the hostile ones syncs
  await kubectl(
    env,
    ["apply", "-n", n, "-f", "-"],
    kes("after", `    stringData: { u: "<%= data.user %>!" }`),
  );
  const after = await eventually("the innocent Secret", async () => (await secretData(api, n, "after"))?.u);
  assert.equal(after, "robot!");
});
