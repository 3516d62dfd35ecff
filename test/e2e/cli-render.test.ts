/**
 * `custos render` as a process against the real API server and Vault, next to a real operator
 * (its own controller class and namespace): a healthy ExternalSecret renders to exactly the Secret
 * the operator writes; a wrong property, a ClusterSecretStore whose conditions deny the namespace
 * a namespaced store that would act as the operator and a template error exit 1 with exactly the
 * message the operator puts in the Ready condition.
 * No value is printed without --show-values (canary), in any format, healthy or failing.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
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
  startOperator,
  suffix,
  vaultClient,
  KubeApi,
  type OperatorProcess,
  type VaultClient,
} from "./helpers.ts";
import { ownerLabelValue } from "../../src/controllers/externalsecret/plan.ts";

const root = join(import.meta.dirname, "..", "..");
const CANARY = `canary-${suffix()}-value`;
// not a word: the operator redacts every value it has read wherever it appears, so a username like
// "admin" would be blanked in unrelated messages ("a platform admin may ...") and they would differ
const USERNAME = `user-${suffix()}`;
let env: SharedEnv;
let api: KubeApi;
let vault: VaultClient;
let op: OperatorProcess;
let dir: string;
let ns: string;
let otherNs: string;
let deniedStore: string;
const klass = `render-${suffix()}`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `custos render` from the sources, with the environment's kubeconfig. */
function render(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        "--import",
        "tsx",
        join(root, "src/cli/main.ts"),
        "render",
        "--kubeconfig",
        env.kubeconfig,
        "--controller-class",
        klass,
        ...args,
      ],
      { cwd: root },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

function assertNoValue(r: Run): void {
  for (const out of [r.stdout, r.stderr]) {
    assert.ok(!out.includes(CANARY), "the value is not printed");
    assert.ok(!out.includes(Buffer.from(CANARY).toString("base64")), "nor its base64");
  }
}

function manifest(name: string, spec: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  refreshInterval: 1h
${spec}`,
  );
  return file;
}

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  vault = vaultClient(env);
  dir = mkdtempSync(join(tmpdir(), "custos-render-"));
  await applyCrds(env);
  ns = await createNamespace(api, "render");
  otherNs = await createNamespace(api, "render-other");
  const mount = `kv-render-${suffix()}`;
  await vault.call("POST", `sys/mounts/${mount}`, { type: "kv", options: { version: "2" } });
  await vault.call("POST", `${mount}/data/app/db`, { data: { username: USERNAME, password: CANARY } });
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "vault-token" },
    stringData: { token: env.vault.token },
  });
  const provider = `  controller: ${klass}
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${mount}
      version: v2
      auth:
        tokenSecretRef:
          name: vault-token
          key: token
          namespace: ${ns}
`;
  // a namespaced store that would log in with the operator's own service-account token
  await kubectl(
    env,
    ["apply", "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: as-operator
  namespace: ${ns}
spec:
  controller: ${klass}
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${mount}
      version: v2
      auth:
        kubernetes:
          mountPath: kubernetes
          role: anything
`,
  );
  deniedStore = `denied-${suffix()}`;
  await kubectl(
    env,
    ["apply", "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: vault
  namespace: ${ns}
spec:
${provider}---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: ${deniedStore}
spec:
  conditions:
    - namespaces: [${otherNs}]
${provider}`,
  );
  op = await startOperator(env, [
    "--controllers",
    "externalsecret",
    "--controller-class",
    klass,
    "--namespace",
    ns,
  ]);
});

after(async () => {
  await op.stop();
  await api.delete(`/apis/external-secrets.io/v1/clustersecretstores/${deniedStore}`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const healthySpec = `  secretStoreRef: {name: vault, kind: SecretStore}
  target: {name: db-credentials}
  data:
    - secretKey: password
      remoteRef: {key: app/db, property: password}
    - secretKey: username
      remoteRef: {key: app/db, property: username}
`;

test("a healthy ExternalSecret: keys and sizes, exactly; with --show-values the Secret the operator writes", async () => {
  const file = manifest("db", healthySpec);
  const r = await render(["-f", file]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  const owner = ownerLabelValue({ metadata: { name: "db", namespace: ns } });
  assert.equal(
    r.stdout,
    `Secret ${ns}/db-credentials (type Opaque) from ExternalSecret ${ns}/db
  labels:
    reconcile.external-secrets.io/created-by  ${owner}
    reconcile.external-secrets.io/managed     true
  annotations:
    reconcile.external-secrets.io/data-hash  <hidden: 56 bytes>
  data: 2 keys
    password  ${CANARY.length} bytes
    username  ${USERNAME.length} bytes
`,
  );
  for (const format of ["yaml", "json"]) {
    const m = await render(["-f", file, "-o", format]);
    assert.equal(m.code, 0);
    assertNoValue(m);
    assert.match(m.stdout, new RegExp(`<hidden: ${CANARY.length} bytes>`));
  }
  assertNoValue(r);

  // what the operator writes for the same manifest is what render --show-values shows
  await kubectl(env, ["apply", "-f", file]);
  const written = await eventually("the operator's Secret", async () =>
    api.getOrUndefined<{ data?: Record<string, string>; metadata: { annotations?: Record<string, string> } }>(
      `/api/v1/namespaces/${ns}/secrets/db-credentials`,
    ),
  );
  const shown = await render(["-f", file, "-o", "json", "--show-values"]);
  assert.equal(shown.code, 0);
  const secret = JSON.parse(shown.stdout) as {
    data: Record<string, string>;
    metadata: { annotations: Record<string, string> };
  };
  assert.deepEqual(secret.data, written?.data);
  assert.equal(
    secret.metadata.annotations["reconcile.external-secrets.io/data-hash"],
    written?.metadata.annotations?.["reconcile.external-secrets.io/data-hash"],
  );
  assert.equal(Buffer.from(secret.data.password!, "base64").toString(), CANARY);
});

/** Renders, applies, and compares render's failure with the operator's Ready condition. */
async function failsAsTheOperator(name: string, spec: string, expected: RegExp | string): Promise<void> {
  const file = manifest(name, spec);
  const r = await render(["-f", file]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assertNoValue(r);
  const prefix = `custos: ExternalSecret ${ns}/${name}: `;
  assert.ok(r.stderr.startsWith(prefix) && r.stderr.endsWith("\n"), r.stderr);
  const message = r.stderr.slice(prefix.length, -1);
  if (typeof expected === "string") assert.equal(message, expected);
  else assert.match(message, expected);
  await kubectl(env, ["apply", "-f", file]);
  const condition = await eventually(`Ready=False for ${name}`, async () => {
    const c = readyCondition(await esStatus(api, ns, name));
    return c?.status === "False" ? c : undefined;
  });
  assert.equal(message, condition.message, "the message the Ready condition carries");
}

test("a wrong property: exit 1 with the condition's message", async () => {
  await failsAsTheOperator(
    "wrong-property",
    `  secretStoreRef: {name: vault, kind: SecretStore}
  data:
    - secretKey: password
      remoteRef: {key: app/db, property: passwd}
`,
    `secret "app/db" has no property "passwd"`,
  );
});

test("a ClusterSecretStore whose conditions deny the namespace: exit 1 with the condition's message", async () => {
  await failsAsTheOperator(
    "denied",
    `  secretStoreRef: {name: ${deniedStore}, kind: ClusterSecretStore}
  data:
    - secretKey: password
      remoteRef: {key: app/db, property: password}
`,
    `using cluster store "${deniedStore}" is not allowed from namespace "${ns}": denied by spec.condition`,
  );
});

test("a namespaced store that would act as the operator: refused by the same rule, with the same message", async () => {
  await failsAsTheOperator(
    "as-operator",
    `  secretStoreRef: {name: as-operator, kind: SecretStore}
  data:
    - secretKey: password
      remoteRef: {key: app/db, property: password}
`,
    "auth.kubernetes has no serviceAccountRef or secretRef, so it would use the operator's own service-account token, which a namespaced SecretStore may not use: set auth.kubernetes.serviceAccountRef or auth.kubernetes.secretRef, or a platform admin may start Custos with --allow-operator-identity-for-namespaced-stores",
  );
});

test("a template error: exit 1 with the condition's message, no value in it", async () => {
  await failsAsTheOperator(
    "template-error",
    `  secretStoreRef: {name: vault, kind: SecretStore}
  target:
    template:
      data:
        dsn: "postgres://{{ .username }}:{{ .password }}@{{ .host }}/db"
  data:
    - secretKey: password
      remoteRef: {key: app/db, property: password}
    - secretKey: username
      remoteRef: {key: app/db, property: username}
`,
    `template template: dsn:1:47: executing "dsn" at <.host>: map has no entry for key "host"`,
  );
});

test("--values renders offline, without cluster or store, to the same Secret", async () => {
  const file = manifest("offline", healthySpec);
  const values = join(dir, "values.yaml");
  writeFileSync(values, `app/db:\n  username: ${USERNAME}\n  password: ${CANARY}\n`);
  const offline = await render(["-f", file, "--values", values, "--kubeconfig", join(dir, "missing")]);
  assert.equal(offline.code, 0, offline.stderr);
  assertNoValue(offline);
  const live = await render(["-f", file]);
  assert.equal(offline.stdout.replace(/offline/g, "x"), live.stdout.replace(/offline/g, "x"));
});
