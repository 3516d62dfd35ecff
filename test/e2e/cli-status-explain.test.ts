/**
 * `custos status`, `custos explain` and `custos diff` as a user runs them (separate processes, the
 * user's kubeconfig) against the real API server and Vault, with an isolated operator (its own
 * controller class and namespace) so the objects carry real conditions. One healthy setup and the
 * broken ones a platform engineer meets: wrong Vault role, a role without the policy (403 on
 * read), a wrong property, a ClusterSecretStore that denies the namespace, a template error. The
 * exact output is asserted, and that the first ✗ of explain names the real problem. A canary
 * value in Vault never appears in any output unless --show-values is given.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import {
  applyCrds,
  createNamespace,
  esStatus,
  eventually,
  kubectl,
  readyCondition,
  sleep,
  startOperator,
  suffix,
  vaultClient,
  KubeApi,
  type OperatorProcess,
  type VaultClient,
} from "./helpers.ts";

const root = join(import.meta.dirname, "..", "..");
const CANARY = `canary-${suffix()}-value`;
const sfx = suffix();
const CLASS = `cli-${sfx}`;
const MOUNT = `kv-cli-${sfx}`;
const JWT = `jwt-cli-${sfx}`;
const CSS = `cli-denied-${sfx}`;
const CSS_OP = `cli-operator-${sfx}`;
let env: SharedEnv;
let api: KubeApi;
let vault: VaultClient;
let op: OperatorProcess;
let ns: string;
let dir: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
/** Everything the commands printed, except runs with --show-values (for the canary test). */
const outputs: string[] = [];

function custos(args: string[], kubeconfig = env.kubeconfig): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(root, "src/cli/main.ts"), ...args, "--kubeconfig", kubeconfig],
      { cwd: root, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (!args.includes("--show-values")) outputs.push(stdout, stderr);
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const store = (name: string, role: string): string => `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: ${name}
spec:
  controller: ${CLASS}
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${MOUNT}
      version: v2
      auth:
        jwt:
          path: ${JWT}
          role: ${role}
          kubernetesServiceAccountToken:
            serviceAccountRef: { name: app }
            audiences: [vault]
`;

const externalSecret = (
  name: string,
  storeRef: string,
  opts: { property?: string; template?: string; kind?: string } = {},
): string => `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: ${name}
spec:
  refreshInterval: 1h
  secretStoreRef: { name: ${storeRef}, kind: ${opts.kind ?? "SecretStore"} }
  target:
    name: ${name}
${opts.template ? `    template:\n      data:\n        dsn: "${opts.template}"\n` : ""}  data:
  - secretKey: password
    remoteRef: { key: app/db, property: ${opts.property ?? "password"} }
  - secretKey: user
    remoteRef: { key: app/db, property: user }
`;

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  vault = vaultClient(env);
  await applyCrds(env);
  dir = mkdtempSync(join(tmpdir(), "custos-cli-"));
  ns = await createNamespace(api, "cli");
  await vault.call("POST", `sys/mounts/${MOUNT}`, { type: "kv", options: { version: "2" } });
  await vault.call("POST", `${MOUNT}/data/app/db`, { data: { user: "db-user", password: CANARY } });
  await vault.call("PUT", `sys/policies/acl/${JWT}-read`, {
    policy: `path "${MOUNT}/data/app/*" { capabilities = ["read"] }`,
  });
  await vault.call("POST", `sys/auth/${JWT}`, { type: "jwt" });
  await vault.call("POST", `auth/${JWT}/config`, {
    jwt_validation_pubkeys: [env.serviceAccountPublicKeyPem],
  });
  const role = { role_type: "jwt", user_claim: "sub", bound_audiences: ["vault"], token_ttl: 600 };
  await vault.call("POST", `auth/${JWT}/role/reader`, { ...role, token_policies: [`${JWT}-read`] });
  await vault.call("POST", `auth/${JWT}/role/nopolicy`, { ...role, token_policies: [] });
  await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "app" } });
  await kubectl(
    env,
    ["apply", "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: ${CSS}
spec:
  controller: ${CLASS}
  conditions:
  - namespaces: [somewhere-else]
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${MOUNT}
      version: v2
      auth:
        jwt:
          path: ${JWT}
          role: reader
          kubernetesServiceAccountToken:
            serviceAccountRef: { name: app, namespace: ${ns} }
            audiences: [vault]
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: ${CSS_OP}
spec:
  controller: ${CLASS}
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${MOUNT}
      version: v2
      auth:
        kubernetes: { mountPath: kubernetes, role: reader }
`,
  );
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    [
      store("vault", "reader"),
      store("wrong-role", "no-such-role"),
      store("no-policy", "nopolicy"),
      // a tenant's store that would log in with the operator's own token
      `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: operator-id
spec:
  controller: ${CLASS}
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${MOUNT}
      version: v2
      auth:
        kubernetes: { mountPath: kubernetes, role: reader }
`,
      externalSecret("operator-id", "operator-id"),
      externalSecret("cluster-operator-id", CSS_OP, { kind: "ClusterSecretStore" }),
      externalSecret("healthy", "vault"),
      externalSecret("wrong-role", "wrong-role"),
      externalSecret("no-policy", "no-policy"),
      externalSecret("wrong-property", "vault", { property: "passwd" }),
      externalSecret("denied", CSS, { kind: "ClusterSecretStore" }),
      externalSecret("bad-template", "vault", { template: "{{ .password | nosuchfn }}" }),
    ].join("---\n"),
  );
  op = await startOperator(env, [
    "--controllers",
    "externalsecret,secretstore",
    "--controller-class",
    CLASS,
    "--namespace",
    ns,
  ]);
  for (const name of [
    "healthy",
    "wrong-role",
    "no-policy",
    "wrong-property",
    "denied",
    "bad-template",
    "operator-id",
    "cluster-operator-id",
  ])
    await eventually(
      `${name} has a Ready condition`,
      async () => readyCondition(await esStatus(api, ns, name)),
      60_000,
    );
});

after(async () => {
  await op.stop();
  await kubectl(env, ["delete", "clustersecretstore", CSS, CSS_OP, "--ignore-not-found"]).catch(
    () => undefined,
  );
  await api.delete(`/api/v1/namespaces/${ns}`);
  for (const path of [`sys/mounts/${MOUNT}`, `sys/auth/${JWT}`, `sys/policies/acl/${JWT}-read`])
    await vault.call("DELETE", path).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const HASH = "reconcile.external-secrets.io/data-hash";
const OPERATOR_ID_PROBLEM =
  "auth.kubernetes has no serviceAccountRef or secretRef, so it would use the operator's own service-account token, which a namespaced SecretStore may not use: set auth.kubernetes.serviceAccountRef or auth.kubernetes.secretRef, or a platform admin may start Custos with --allow-operator-identity-for-namespaced-stores";

/** The steps every SecretStore-backed ExternalSecret here passes up to the login. */
const storeSteps = (s: string): string[] => [
  "✓ ExternalSecret spec is valid",
  `✓ SecretStore "${s}" in namespace "${ns}" found`,
  `✓ SecretStore "${s}" is served by controller class "${CLASS}"`,
  `✓ SecretStore "${s}" serves its own namespace "${ns}"`,
  `✓ SecretStore "${s}" is a valid vault store`,
  `✓ SecretStore "${s}" uses credentials it names, not the operator's identity`,
  `✓ credentials present: token of ServiceAccount ${ns}/app`,
];
const readSteps = (s: string): string[] => [
  ...storeSteps(s),
  `✓ login to vault through SecretStore "${s}" works`,
  '✓ remote secret "app/db" is readable',
];
const explain = (name: string): Promise<Run> =>
  custos(["explain", `es/${name}`, "-n", ns, "--controller-class", CLASS]);
const lines = (...l: string[]): string => l.join("\n") + "\n";

test("explain: a healthy ExternalSecret passes every step, exit 0", async () => {
  const r = await explain("healthy");
  assert.equal(r.stderr, "");
  assert.equal(
    r.stdout,
    lines(
      `ExternalSecret ${ns}/healthy: Ready=True SecretSynced: secret synced`,
      ...readSteps("vault"),
      '✓ property "password" of "app/db" present (for key "password")',
      '✓ property "user" of "app/db" present (for key "user")',
      "✓ Secret data builds (no template)",
      '✓ Secret "healthy" is in sync with the store (data hash matches)',
      "✓ the operator reports Ready",
    ),
  );
  assert.equal(r.code, 0);
});

test("explain: wrong Vault role - the first ✗ is the login, naming the role", async () => {
  const r = await explain("wrong-role");
  const login = `Vault POST auth/${JWT}/login: HTTP 400: role "no-such-role" could not be found`;
  assert.equal(
    r.stdout,
    lines(
      `ExternalSecret ${ns}/wrong-role: Ready=False SecretSyncedError: ${login}`,
      ...storeSteps("wrong-role"),
      `✗ login to vault through SecretStore "wrong-role" failed: ${login}`,
      "  fix: vault refused the login: check the auth mount path, the role name, and what the role is bound to (service account, namespace, audience); custos vault setup -f <store> configures them",
    ),
  );
  assert.equal(r.code, 1);
});

test("explain: a role without the policy - login works, the read is refused (403)", async () => {
  const r = await explain("no-policy");
  const denied = `Vault GET ${MOUNT}/data/app/db: HTTP 403: 1 error occurred: * permission denied`;
  assert.equal(
    r.stdout,
    lines(
      `ExternalSecret ${ns}/no-policy: Ready=False SecretSyncedError: ${denied}`,
      ...storeSteps("no-policy"),
      '✓ login to vault through SecretStore "no-policy" works',
      `✗ remote secret "app/db" is not readable: ${denied}`,
      "  fix: the store's identity lacks read permission on this path: grant it in the policy of that identity (custos vault setup -f <store> -f <externalsecret> writes a policy for exactly these paths)",
    ),
  );
  assert.equal(r.code, 1);
});

test("explain: a wrong property - the fix names the properties there are (names only)", async () => {
  const r = await explain("wrong-property");
  assert.equal(
    r.stdout,
    lines(
      `ExternalSecret ${ns}/wrong-property: Ready=False SecretSyncedError: secret "app/db" has no property "passwd"`,
      ...readSteps("vault"),
      '✗ property "passwd" of "app/db" for key "password": secret "app/db" has no property "passwd"',
      '  fix: correct remoteRef.property of data "password" (it has: password, user)',
    ),
  );
  assert.equal(r.code, 1);
});

test("explain: a ClusterSecretStore that denies the namespace", async () => {
  const r = await explain("denied");
  const denial = `using cluster store "${CSS}" is not allowed from namespace "${ns}": denied by spec.condition`;
  assert.equal(
    r.stdout,
    lines(
      `ExternalSecret ${ns}/denied: Ready=False SecretSyncedError: ${denial}`,
      "✓ ExternalSecret spec is valid",
      `✓ ClusterSecretStore "${CSS}" found`,
      `✓ ClusterSecretStore "${CSS}" is served by controller class "${CLASS}"`,
      `✗ ${denial}`,
      `  fix: a cluster admin adds "${ns}" to spec.conditions of ClusterSecretStore "${CSS}" (namespaces, namespaceRegexes or namespaceSelector), or the ExternalSecret uses a store that allows it`,
    ),
  );
  assert.equal(r.code, 1);
});

test("explain: a template error - every read works, the template step fails with its position", async () => {
  const r = await explain("bad-template");
  const error = 'template template: dsn:1:16: function "nosuchfn" not defined';
  assert.equal(
    r.stdout,
    lines(
      `ExternalSecret ${ns}/bad-template: Ready=False SecretSyncedError: ${error}`,
      ...readSteps("vault"),
      '✓ property "password" of "app/db" present (for key "password")',
      '✓ property "user" of "app/db" present (for key "user")',
      `✗ template does not render: ${error}`,
      "  fix: correct spec.target.template at the place the message names",
    ),
  );
  assert.equal(r.code, 1);
});

test("explain: a missing object and a wrong KIND/NAME are errors (exit 2)", async () => {
  const missing = await explain("no-such-es");
  assert.equal(missing.stderr, `custos: ExternalSecret "no-such-es" not found in namespace "${ns}"\n`);
  assert.equal(missing.code, 2);
  const wrong = await custos(["explain", "secret/x", "-n", ns]);
  assert.match(wrong.stderr, /expected externalsecret\/NAME or es\/NAME, got "secret\/x"/);
  assert.equal(wrong.code, 2);
});

/** A table's rows as cells (columns are separated by at least three spaces). */
const cells = (table: string): string[][] =>
  table
    .trimEnd()
    .split("\n")
    .map((l) => l.split(/ {3,}/));

test("status: one table across kinds, the cause of each failure, exit 1 while anything fails", async () => {
  const r = await custos(["status", "-n", ns]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 1);
  const rows = cells(r.stdout);
  assert.deepEqual(rows[0], [
    "KIND",
    "NAMESPACE",
    "NAME",
    "READY",
    "REASON",
    "LAST SYNC",
    "NEXT REFRESH",
    "MESSAGE",
  ]);
  const es = (name: string, message: string): string[] => [
    "ExternalSecret",
    ns,
    name,
    "False",
    "SecretSyncedError",
    "-",
    "<next>",
    message,
  ];
  // ages move with the clock: the healthy row's last sync is seconds old, every next refresh is
  // on the 1h grid (checked exactly through -o json below)
  const normal = rows.slice(1).map((c) => c.map((v, i) => (i === 6 && /^in \d+m$/.test(v) ? "<next>" : v)));
  const healthyRow = normal.find((c) => c[2] === "healthy")!;
  assert.match(healthyRow[5]!, /^\d+s$/);
  healthyRow[5] = "<age>";
  const clusterOp = readyCondition(await esStatus(api, ns, "cluster-operator-id"))?.message ?? "";
  assert.deepEqual(normal, [
    es("bad-template", 'template template: dsn:1:16: function "nosuchfn" not defined'),
    es("cluster-operator-id", clusterOp),
    es(
      "denied",
      `using cluster store "${CSS}" is not allowed from namespace "${ns}": denied by spec.condition`,
    ),
    ["ExternalSecret", ns, "healthy", "True", "SecretSynced", "<age>", "<next>", "secret synced"],
    es("no-policy", `Vault GET ${MOUNT}/data/app/db: HTTP 403: 1 error occurred: * permission denied`),
    es("operator-id", OPERATOR_ID_PROBLEM),
    es("wrong-property", 'secret "app/db" has no property "passwd"'),
    es("wrong-role", `Vault POST auth/${JWT}/login: HTTP 400: role "no-such-role" could not be found`),
    ["SecretStore", ns, "no-policy", "True", "Valid", "-", "-", "store validated"],
    [
      "SecretStore",
      ns,
      "operator-id",
      "False",
      "ValidationFailed",
      "-",
      "-",
      `unable to validate store: ${OPERATOR_ID_PROBLEM}`,
    ],
    ["SecretStore", ns, "vault", "True", "Valid", "-", "-", "store validated"],
    [
      "SecretStore",
      ns,
      "wrong-role",
      "False",
      "ValidationFailed",
      "-",
      "-",
      `unable to validate store: Vault POST auth/${JWT}/login: HTTP 400: role "no-such-role" could not be found`,
    ],
  ]);

  const json = await custos(["status", "-n", ns, "-o", "json"]);
  assert.equal(json.code, 1);
  const items = (
    JSON.parse(json.stdout) as {
      items: { kind: string; name: string; nextRefresh?: string; lastSync?: string }[];
    }
  ).items;
  const hour = 3_600_000;
  const grid = new Date(Math.floor(Date.now() / hour) * hour + hour).toISOString().replace(/\.\d{3}Z$/, "Z");
  const healthy = items.find((i) => i.kind === "ExternalSecret" && i.name === "healthy")!;
  assert.equal(healthy.nextRefresh, grid, "the next refresh is the next cycle of the 1h grid");
  assert.ok(Date.now() - Date.parse(healthy.lastSync ?? "") < 5 * 60_000);

  // cluster-scoped kinds with -A
  const all = await custos(["status", "-A", "-o", "yaml"]);
  assert.match(all.stdout, new RegExp(`kind: ClusterSecretStore\\n {4}namespace: ""\\n {4}name: ${CSS}\\n`));
});

test("diff: no change, a change with the rollout it would cause, values only with --show-values", async () => {
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: { reloader.stakater.com/auto: "true" }
spec:
  replicas: 0
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: c, image: example.invalid/x, envFrom: [{ secretRef: { name: healthy } }] }]
`,
  );
  const same = join(dir, "same.yaml");
  writeFileSync(same, externalSecret("healthy", "vault"));
  const r0 = await custos(["diff", "-f", same, "-n", ns, "--controller-class", CLASS]);
  assert.equal(r0.stderr, "");
  assert.equal(r0.stdout, `Secret ${ns}/healthy: no changes\n`);
  assert.equal(r0.code, 0);

  const changed = join(dir, "changed.yaml");
  writeFileSync(changed, externalSecret("healthy", "vault").replace("secretKey: password", "secretKey: pw"));
  const r1 = await custos(["diff", "-f", changed, "-n", ns, "--controller-class", CLASS]);
  assert.equal(
    r1.stdout,
    lines(
      `Secret ${ns}/healthy: would be updated`,
      "  data:",
      "    + pw",
      "    - password",
      "  annotations:",
      `    ~ ${HASH}`,
      "  rollout: would restart Deployment/web",
    ),
  );
  assert.equal(r1.code, 1);
  const shown = await custos(["diff", "-f", changed, "-n", ns, "--show-values", "--controller-class", CLASS]);
  assert.match(shown.stdout, new RegExp(`\\+ pw: "${CANARY}"\\n {4}- password: "${CANARY}"\\n`));

  // a manifest whose chain is broken: the failed step on stderr, exit 2
  const broken = join(dir, "broken.yaml");
  writeFileSync(broken, externalSecret("healthy", "vault", { property: "passwd" }));
  const r2 = await custos(["diff", "-f", broken, "-n", ns, "--controller-class", CLASS]);
  assert.match(
    r2.stderr,
    /✗ property "passwd" of "app\/db" for key "password": secret "app\/db" has no property "passwd"/,
  );
  assert.match(r2.stderr, /custos: cannot compute the Secret of ExternalSecret .*\/healthy/);
  assert.equal(r2.code, 2);
});

test("explain: a namespaced store that would act as the operator is refused, with both fixes", async () => {
  const r = await explain("operator-id");
  const problem = OPERATOR_ID_PROBLEM;
  assert.equal(
    r.stdout.split("\n").slice(1).join("\n"),
    lines(
      "✓ ExternalSecret spec is valid",
      `✓ SecretStore "operator-id" in namespace "${ns}" found`,
      `✓ SecretStore "operator-id" is served by controller class "${CLASS}"`,
      `✓ SecretStore "operator-id" serves its own namespace "${ns}"`,
      '✓ SecretStore "operator-id" is a valid vault store',
      `✗ SecretStore "operator-id" would need the operator's own identity: ${problem}`,
      "  fix: name the credentials in the store (the message says which field), or, if the platform admin started Custos with --allow-operator-identity-for-namespaced-stores, pass that flag to explain",
    ),
  );
  assert.match(r.stdout.split("\n")[0]!, new RegExp(`^ExternalSecret ${ns}/operator-id: Ready=False `));
  assert.equal(r.code, 1);
});

test("explain: a ClusterSecretStore logging in as the operator - not checkable, the Ready condition decides", async () => {
  const r = await explain("cluster-operator-id");
  assert.equal(
    r.stdout.split("\n").slice(1).join("\n"),
    lines(
      "✓ ExternalSecret spec is valid",
      `✓ ClusterSecretStore "${CSS_OP}" found`,
      `✓ ClusterSecretStore "${CSS_OP}" is served by controller class "${CLASS}"`,
      `✓ ClusterSecretStore "${CSS_OP}" allows every namespace`,
      `✓ ClusterSecretStore "${CSS_OP}" is a valid vault store`,
      `✓ ClusterSecretStore "${CSS_OP}" logs in with the operator's own identity (allowed for it)`,
      `– login as the operator itself through ClusterSecretStore "${CSS_OP}" cannot be checked from the CLI, nor the reads through it`,
      "✗ the operator reports the failure above for the links the CLI cannot check",
      "  fix: the Ready message names the cause; the operator's own identity (its service account or cloud role) is what logs in",
    ),
  );
  // this operator runs outside a cluster, with no token of its own: its condition says why
  const ready = readyCondition(await esStatus(api, ns, "cluster-operator-id"));
  assert.equal(
    r.stdout.split("\n")[0],
    `ExternalSecret ${ns}/cluster-operator-id: Ready=False SecretSyncedError: ${ready?.message ?? ""}`,
  );
  assert.equal(r.code, 1);
});

test("explain: a user who may not read the store's credentials is told so, not misled", async () => {
  // a viewer of ExternalSecrets and stores, without Secrets or service-account tokens
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: v1
kind: ServiceAccount
metadata: { name: viewer }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: es-viewer }
rules:
- apiGroups: [external-secrets.io]
  resources: [externalsecrets, secretstores]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: es-viewer }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: es-viewer }
subjects: [{ kind: ServiceAccount, name: viewer, namespace: ${ns} }]
`,
  );
  const { status } = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns}/serviceaccounts/viewer/token`,
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600 } },
  );
  const kubeconfig = join(dir, "viewer.kubeconfig");
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "${env.apiUrl}", certificate-authority-data: ${Buffer.from(env.caPem).toString("base64")} } }]
users: [{ name: viewer, user: { token: ${status.token} } }]
contexts: [{ name: c, context: { cluster: c, user: viewer, namespace: ${ns} } }]
current-context: c
`,
  );
  // the namespace comes from the kubeconfig's context
  const r = await custos(["explain", "es/healthy", "--controller-class", CLASS], kubeconfig);
  assert.equal(
    r.stdout,
    lines(
      `ExternalSecret ${ns}/healthy: Ready=True SecretSynced: secret synced`,
      ...storeSteps("vault").slice(0, -1),
      `✗ cannot check token of ServiceAccount ${ns}/app: the Kubernetes API refused this kubeconfig's user`,
      "  fix: explain logs in with the credentials the operator would use, so it must read them: run it as a user who may create serviceaccounts/token in that namespace (kubectl auth can-i), e.g. a cluster admin",
    ),
  );
  assert.equal(r.code, 1);
});

test("status --watch prints again when something changes", async () => {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(root, "src/cli/main.ts"),
      "status",
      "-n",
      ns,
      "--watch",
      "--interval",
      "0.5",
      "--kubeconfig",
      env.kubeconfig,
    ],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  try {
    await eventually("the first table", async () => out.includes("bad-template"), 60_000);
    await sleep(1500);
    assert.equal(out.split("\n\n").length, 1, "nothing changed: printed once");
    await kubectl(env, ["delete", "-n", ns, "externalsecret/bad-template"]);
    const second = await eventually(
      "a second table",
      async () => out.split("\n\n")[1]?.includes("KIND") && out.split("\n\n")[1],
      30_000,
    );
    assert.ok(!second.includes("bad-template"));
    assert.match(second, /ExternalSecret +cli-[0-9a-f]+ +healthy +True/);
  } finally {
    child.kill("SIGTERM");
  }
  outputs.push(out);
});

test("status: exit 0 once nothing fails", async () => {
  await kubectl(env, [
    "delete",
    "-n",
    ns,
    "externalsecret/wrong-role",
    "externalsecret/no-policy",
    "externalsecret/wrong-property",
    "externalsecret/denied",
    "externalsecret/operator-id",
    "externalsecret/cluster-operator-id",
    "secretstore/wrong-role",
    "secretstore/operator-id",
  ]);
  const r = await custos(["status", "-n", ns]);
  assert.deepEqual(
    cells(r.stdout).map((c) => c.slice(0, 5)),
    [
      ["KIND", "NAMESPACE", "NAME", "READY", "REASON"],
      ["ExternalSecret", ns, "healthy", "True", "SecretSynced"],
      ["SecretStore", ns, "no-policy", "True", "Valid"],
      ["SecretStore", ns, "vault", "True", "Valid"],
    ],
  );
  assert.equal(r.code, 0);
});

test("canary: no command printed the secret value without --show-values", () => {
  assert.ok(outputs.length >= 20, `${outputs.length} outputs collected`);
  for (const o of outputs) assert.ok(!o.includes(CANARY), `a value leaked:\n${o.slice(0, 400)}`);
  assert.ok(!op.output().includes(CANARY), "nor did the operator");
});
