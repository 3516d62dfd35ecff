/**
 * End to end: `custos operator` as a process, the real API server, real Vault. ESO manifests as
 * users write them (v1beta1 and v1), the seed document's JWT flow unchanged, and the behaviours of
 * ExternalSecret against KV v1 and v2. Counting is done at the server (Vault's audit log).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { execFileSync, spawn } from "node:child_process";
import { Agent, request } from "undici";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { join } from "node:path";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import { freePort } from "../env/index.ts";
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
  type SecretObj,
  type VaultClient,
} from "./helpers.ts";

const examples = join(import.meta.dirname, "..", "..", "..", "shared", "examples");
const root = join(import.meta.dirname, "..", "..");
let env: SharedEnv;
let api: KubeApi;
let vault: VaultClient;
let op: OperatorProcess;
let auditDir: string;
const CANARY = `canary-${suffix()}-value`;

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  vault = vaultClient(env);
  await applyCrds(env);
  auditDir = mkdtempSync(join(tmpdir(), "custos-audit-"));
  await vault.call("PUT", `sys/audit/file-${suffix()}`, {
    type: "file",
    options: { file_path: join(auditDir, "audit.log"), log_raw: "false" },
  });
  op = await startOperator(env, ["--controllers", "externalsecret"]);
});

after(async () => {
  await op.stop();
  rmSync(auditDir, { recursive: true, force: true });
});

/** A KV mount of its own, a token store in the namespace, and a SecretStore over it. */
async function kvStore(
  ns: string,
  opts: { version?: "v1" | "v2"; storeName?: string; server?: string } = {},
): Promise<{ mount: string; put: (path: string, data: Record<string, unknown>) => Promise<void> }> {
  const version = opts.version ?? "v2";
  const mount = `kv-${suffix()}`;
  await vault.call("POST", `sys/mounts/${mount}`, {
    type: "kv",
    options: { version: version === "v2" ? "2" : "1" },
  });
  await api
    .create(`/api/v1/namespaces/${ns}/secrets`, {
      metadata: { name: "vault-token" },
      stringData: { token: env.vault.token },
    })
    .catch(() => undefined);
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: ${opts.storeName ?? "vault"}
spec:
  provider:
    vault:
      server: ${opts.server ?? env.vault.addr}
      path: ${mount}
      version: ${version}
      auth:
        tokenSecretRef:
          name: vault-token
          key: token
`,
  );
  return {
    mount,
    put: async (path, data) => {
      await vault.call(
        "POST",
        version === "v2" ? `${mount}/data/${path}` : `${mount}/${path}`,
        version === "v2" ? { data } : data,
      );
    },
  };
}

/** A self-signed certificate and its key, made by the real openssl in `dir`. */
function selfSigned(dir: string, cn: string, extra: string[] = []): { key: string; crt: string } {
  const key = join(dir, `${cn}.key`);
  const crt = join(dir, `${cn}.crt`);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      crt,
      "-subj",
      `/CN=${cn}`,
      "-days",
      "2",
      ...extra,
    ],
    { stdio: "ignore" },
  );
  return { key, crt };
}

/** An AppRole mount and role used by one test only (so its logins are countable); the secret id is stored in `ns`. */
async function appRole(
  mount: string,
  ns: string,
  role: Record<string, unknown>,
): Promise<{ approle: string; roleId: string }> {
  const approle = `approle-${suffix()}`;
  await vault.call("POST", `sys/auth/${approle}`, { type: "approle" });
  await vault.call("PUT", `sys/policies/acl/${approle}`, {
    policy: `path "${mount}/*" { capabilities = ["read", "list"] }`,
  });
  await vault.call("POST", `auth/${approle}/role/custos`, { token_policies: [approle], ...role });
  const roleId = (
    (await vault.call("GET", `auth/${approle}/role/custos/role-id`)).json.data as { role_id: string }
  ).role_id;
  const secretId = (
    (await vault.call("POST", `auth/${approle}/role/custos/secret-id`)).json.data as { secret_id: string }
  ).secret_id;
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "approle" },
    stringData: { secretId },
  });
  return { approle, roleId };
}

/** Requests in Vault's audit log matching each predicate (path, operation). */
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

async function applyEs(ns: string, yaml: string): Promise<void> {
  await kubectl(env, ["apply", "-n", ns, "-f", "-"], yaml);
}

async function waitForData(
  ns: string,
  name: string,
  check: (d: Record<string, string>) => boolean,
  timeoutMs = 30_000,
): Promise<Record<string, string>> {
  try {
    return await eventually(
      `Secret ${ns}/${name}`,
      async () => {
        const d = await secretData(api, ns, name);
        return d && check(d) ? d : undefined;
      },
      timeoutMs,
    );
  } catch (e) {
    // say why: the ExternalSecrets' conditions in that namespace
    const list = await api.list<{ metadata: { name: string }; status?: { conditions?: unknown[] } }>(
      `/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets`,
    );
    const why = list.items
      .map((i) => `${i.metadata.name}: ${JSON.stringify(i.status?.conditions ?? [])}`)
      .join("\n");
    throw new Error(`${(e as Error).message}\n${why}`, { cause: e });
  }
}

test("document 000: JWT auth with a service-account token, v1beta1 manifests unchanged; rotation and force-sync", async () => {
  const dir = join(examples, "seed-000-eso-vault-jwt");
  const ns = await createNamespace(api, "seed000");
  await vault
    .call("POST", "sys/mounts/kv-v2", { type: "kv", options: { version: "2" } })
    .catch(() => undefined);
  await vault.call("POST", "kv-v2/data/kubernetes/supersecret/test-secret", {
    data: { username_on_vault: "alice", password: "s3cr3t" },
  });
  await vault.call("PUT", "sys/policies/acl/k8s-policy", {
    policy: readFileSync(join(dir, "k8s-jwt-policy.hcl"), "utf8"),
  });
  await vault.call("POST", "sys/auth/jwt-auth", { type: "jwt" }).catch(() => undefined);
  await vault.call("POST", "auth/jwt-auth/config", {
    jwt_validation_pubkeys: [env.serviceAccountPublicKeyPem],
  });
  await vault.call("POST", "auth/jwt-auth/role/secret-accessor", {
    role_type: "jwt",
    user_claim: "sub",
    bound_audiences: ["vault"],
    token_policies: ["k8s-policy"],
  });
  await kubectl(env, ["apply", "-n", ns, "-f", join(dir, "serviceaccount.yaml")]);
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    readFileSync(join(dir, "secretstore.yaml"), "utf8").replace("http://127.0.0.1:8200", env.vault.addr),
  );
  await kubectl(env, ["apply", "-n", ns, "-f", join(dir, "externalsecret.yaml")]);

  const data = await waitForData(ns, "vault-secret-name", (d) => d.username === "alice");
  assert.deepEqual(Object.keys(data), ["username"], "exactly one key");
  const cond = await eventually("Ready", async () => {
    const c = readyCondition(await esStatus(api, ns, "external-secret-example"));
    return c?.status === "True" ? c : undefined;
  });
  assert.equal(cond.reason, "SecretSynced");
  const secret = await api.get<SecretObj>(`/api/v1/namespaces/${ns}/secrets/vault-secret-name`);
  assert.equal(secret.metadata.labels?.["reconcile.external-secrets.io/managed"], "true");
  assert.ok(secret.metadata.annotations?.["reconcile.external-secrets.io/data-hash"]);
  assert.equal(secret.metadata.ownerReferences?.[0]?.kind, "ExternalSecret");

  await vault.call("POST", "kv-v2/data/kubernetes/supersecret/test-secret", {
    data: { username_on_vault: "bob", password: "s3cr3t" },
  });
  await kubectl(env, [
    "annotate",
    "externalsecret",
    "external-secret-example",
    "-n",
    ns,
    `force-sync=${Date.now()}`,
    "--overwrite",
  ]);
  await waitForData(ns, "vault-secret-name", (d) => d.username === "bob", 15_000);
});

test("rotation reaches the Secret within the refresh interval; an unchanged refresh writes nothing", async () => {
  const ns = await createNamespace(api, "rotate");
  const kv = await kvStore(ns);
  await kv.put("app/db", { password: "one" });
  await applyEs(
    ns,
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: db
spec:
  refreshInterval: 2s
  secretStoreRef: { name: vault }
  data:
  - secretKey: password
    remoteRef: { key: app/db, property: password }
`,
  );
  await waitForData(ns, "db", (d) => d.password === "one");
  const rv1 = (await api.get<SecretObj>(`/api/v1/namespaces/${ns}/secrets/db`)).metadata.resourceVersion;
  await sleep(5000); // two or more refreshes with no change
  const rv2 = (await api.get<SecretObj>(`/api/v1/namespaces/${ns}/secrets/db`)).metadata.resourceVersion;
  assert.equal(rv2, rv1, "an unchanged refresh writes no Secret");
  await kv.put("app/db", { password: "two" });
  await waitForData(ns, "db", (d) => d.password === "two", 10_000);
});

test("KV v1 and v2: property (exact key, gjson path), whole secret as JSON, version, dataFrom extract and find", async () => {
  const ns = await createNamespace(api, "kv");
  const v2 = await kvStore(ns, { storeName: "v2" });
  const v1 = await kvStore(ns, { version: "v1", storeName: "v1" });
  await v2.put("app/config", { "a.b": "dotted", nested: { inner: "deep" }, list: ["x", "y"], n: 3 });
  await v2.put("app/config", { "a.b": "dotted2", nested: { inner: "deep2" }, list: ["x", "y"], n: 4 }); // version 2
  await v1.put("legacy/creds", { user: "root", pass: "pw" });
  await v2.put("found/one", { k: "1" });
  await v2.put("found/two", { k: "2" });
  await applyEs(
    ns,
    `apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata:
  name: mixed
spec:
  refreshInterval: 1h
  secretStoreRef: { name: v2, kind: SecretStore }
  target: { name: mixed-out }
  dataFrom:
  - extract: { key: app/config }
  - find:
      path: found
      name: { regexp: ".*" }
  data:
  - secretKey: exact
    remoteRef: { key: app/config, property: a.b }
  - secretKey: path
    remoteRef: { key: app/config, property: nested.inner }
  - secretKey: index
    remoteRef: { key: app/config, property: list.1 }
  - secretKey: old
    remoteRef: { key: app/config, property: nested.inner, version: "1" }
  - secretKey: whole
    remoteRef: { key: legacy/creds }
    sourceRef: { storeRef: { name: v1, kind: SecretStore } }
`,
  );
  const d = await waitForData(ns, "mixed-out", (x) => x.exact !== undefined);
  assert.equal(d.exact, "dotted2");
  assert.equal(d.path, "deep2");
  assert.equal(d.index, "y");
  assert.equal(d.old, "deep");
  assert.deepEqual(JSON.parse(d.whole!), { user: "root", pass: "pw" });
  assert.equal(d.n, "4", "extract: non-string values JSON-encoded");
  assert.equal(d["a.b"], "dotted2");
  assert.deepEqual(JSON.parse(d.nested!), { inner: "deep2" });
  assert.ok(
    d.found_one !== undefined || d["found/one"] !== undefined || d.one !== undefined,
    `find results present: ${Object.keys(d).join(",")}`,
  );
});

test("a target Secret that exists without the managed label (creationPolicy Owner) is read after the create conflicts and taken over, its other metadata kept", async () => {
  const ns = await createNamespace(api, "adopt");
  const kv = await kvStore(ns);
  await kv.put("adopt/db", { password: "pw" });
  // not labelled as managed: not in the operator's cache of managed Secrets
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "db", annotations: { "team.example/owner": "ops" } },
    stringData: { password: "old" },
  });
  await applyEs(
    ns,
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: db
spec:
  refreshInterval: 1h
  secretStoreRef: { name: vault }
  data:
  - secretKey: password
    remoteRef: { key: adopt/db, property: password }
`,
  );
  await waitForData(ns, "db", (d) => d.password === "pw");
  const s = await api.get<SecretObj>(`/api/v1/namespaces/${ns}/secrets/db`);
  assert.equal(s.metadata.labels?.["reconcile.external-secrets.io/managed"], "true");
  assert.equal(s.metadata.annotations?.["team.example/owner"], "ops");
  assert.ok(
    s.metadata.ownerReferences?.some((r) => r.kind === "ExternalSecret" && r.name === "db" && r.controller),
  );
});

test("creationPolicy Orphan/Merge/None and deletionPolicy Delete/Retain", async () => {
  const ns = await createNamespace(api, "policy");
  const kv = await kvStore(ns);
  await kv.put("p/a", { v: "A" });
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "existing" },
    stringData: { keep: "me" },
  });
  const es = (
    name: string,
    target: string,
    extra: string,
    key = "p/a",
  ): string => `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1s
  secretStoreRef: { name: vault }
  target: { name: ${target}, ${extra} }
  data:
  - secretKey: v
    remoteRef: { key: ${key}, property: v }
`;
  await applyEs(ns, es("orphan", "orphan-out", "creationPolicy: Orphan"));
  await applyEs(ns, es("merge", "existing", "creationPolicy: Merge"));
  await applyEs(ns, es("none", "none-out", "creationPolicy: None"));
  await kv.put("p/gone", { v: "G" });
  await applyEs(ns, es("deleter", "deleter-out", "creationPolicy: Owner, deletionPolicy: Delete", "p/gone"));
  await applyEs(
    ns,
    es("retainer", "retainer-out", "creationPolicy: Owner, deletionPolicy: Retain", "p/gone"),
  );

  await waitForData(ns, "orphan-out", (d) => d.v === "A");
  const orphan = await api.get<SecretObj>(`/api/v1/namespaces/${ns}/secrets/orphan-out`);
  assert.equal(orphan.metadata.ownerReferences?.length ?? 0, 0, "Orphan sets no owner");
  const merged = await waitForData(ns, "existing", (d) => d.v === "A");
  assert.equal(merged.keep, "me", "Merge keeps existing keys");
  await waitForData(ns, "deleter-out", (d) => d.v === "G");
  await waitForData(ns, "retainer-out", (d) => d.v === "G");
  await sleep(1500);
  assert.equal(await secretData(api, ns, "none-out"), undefined, "None creates nothing");

  await vault.call("DELETE", `${kv.mount}/metadata/p/gone`);
  await eventually(
    "Delete policy removes the Secret",
    async () => (await secretData(api, ns, "deleter-out")) === undefined,
  );
  await sleep(2000);
  assert.deepEqual(await secretData(api, ns, "retainer-out"), { v: "G" }, "Retain keeps it");
  // as ESO: with Retain a missing remote secret is an error (naming it); Delete reports SecretDeleted
  const retained = readyCondition(await esStatus(api, ns, "retainer"));
  assert.equal(retained?.status, "False");
  assert.match(retained?.message ?? "", /p\/gone/);
  const deleted = readyCondition(await esStatus(api, ns, "deleter"));
  assert.deepEqual(
    [deleted?.reason, deleted?.message],
    ["SecretDeleted", "secret deleted due to DeletionPolicy=Delete"],
  );

  await kubectl(env, ["delete", "externalsecret", "orphan", "-n", ns]);
  await sleep(1000);
  assert.ok(await secretData(api, ns, "orphan-out"), "orphaned Secret outlives its ExternalSecret");
});

test("a missing property or key gives a clear condition naming it, and never deletes the Secret", async () => {
  const ns = await createNamespace(api, "missing");
  const kv = await kvStore(ns);
  await kv.put("m/a", { v: "1" });
  await applyEs(
    ns,
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: m }
spec:
  refreshInterval: 1s
  secretStoreRef: { name: vault }
  data:
  - secretKey: v
    remoteRef: { key: m/a, property: v }
`,
  );
  await waitForData(ns, "m", (d) => d.v === "1");
  await applyEs(
    ns,
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: m }
spec:
  refreshInterval: 1s
  secretStoreRef: { name: vault }
  data:
  - secretKey: v
    remoteRef: { key: m/a, property: nope }
`,
  );
  const c = await eventually("error condition", async () => {
    const r = readyCondition(await esStatus(api, ns, "m"));
    return r?.status === "False" ? r : undefined;
  });
  assert.match(c.message ?? "", /nope/);
  assert.deepEqual(await secretData(api, ns, "m"), { v: "1" });
});

test("store unreachable: no Secret changed or deleted, Ready=False with the cause, recovery without restart", async () => {
  const ns = await createNamespace(api, "outage");
  const kv = await kvStore(ns);
  await kv.put("o/a", { v: "before" });
  await applyEs(
    ns,
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: o }
spec:
  refreshInterval: 1s
  secretStoreRef: { name: vault }
  data:
  - secretKey: v
    remoteRef: { key: o/a, property: v }
`,
  );
  await waitForData(ns, "o", (d) => d.v === "before");
  // point the store at a closed port
  await kubectl(env, [
    "patch",
    "secretstore",
    "vault",
    "-n",
    ns,
    "--type=merge",
    "-p",
    JSON.stringify({ spec: { provider: { vault: { server: "http://127.0.0.1:1" } } } }),
  ]);
  const c = await eventually("outage condition", async () => {
    const r = readyCondition(await esStatus(api, ns, "o"));
    return r?.status === "False" ? r : undefined;
  });
  assert.match(c.message ?? "", /127\.0\.0\.1:1|unreachable|ECONNREFUSED|connect/i);
  assert.deepEqual(await secretData(api, ns, "o"), { v: "before" });
  await kv.put("o/a", { v: "after" });
  await kubectl(env, [
    "patch",
    "secretstore",
    "vault",
    "-n",
    ns,
    "--type=merge",
    "-p",
    JSON.stringify({ spec: { provider: { vault: { server: env.vault.addr } } } }),
  ]);
  await waitForData(ns, "o", (d) => d.v === "after", 30_000);
  await eventually(
    "Ready again",
    async () => readyCondition(await esStatus(api, ns, "o"))?.status === "True",
  );
});

test("namespace isolation: a SecretStore is never usable from another namespace; ClusterSecretStore conditions", async () => {
  const a = await createNamespace(api, "iso-a");
  const b = await createNamespace(api, "iso-b", { team: "blue" });
  const c = await createNamespace(api, "iso-c");
  const kv = await kvStore(a);
  await kv.put("i/x", { v: "x" });
  await applyEs(
    b,
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: steal }
spec:
  secretStoreRef: { name: vault }
  data:
  - secretKey: v
    remoteRef: { key: i/x, property: v }
`,
  );
  const denied = await eventually("not found condition", async () => {
    const r = readyCondition(await esStatus(api, b, "steal"));
    return r?.status === "False" ? r : undefined;
  });
  assert.match(denied.message ?? "", /SecretStore "vault" not found in namespace/);
  assert.equal(await secretData(api, b, "steal"), undefined);

  const css = `css-${suffix()}`;
  await kubectl(
    env,
    ["apply", "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: ${css} }
spec:
  conditions:
  - namespaceSelector: { matchLabels: { team: blue } }
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${kv.mount}
      version: v2
      auth:
        tokenSecretRef: { name: vault-token, key: token, namespace: ${a} }
`,
  );
  const esYaml = `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: via-css }
spec:
  secretStoreRef: { name: ${css}, kind: ClusterSecretStore }
  data:
  - secretKey: v
    remoteRef: { key: i/x, property: v }
`;
  await applyEs(b, esYaml);
  await applyEs(c, esYaml);
  await waitForData(b, "via-css", (d) => d.v === "x");
  const deniedC = await eventually("denied condition", async () => {
    const r = readyCondition(await esStatus(api, c, "via-css"));
    return r?.status === "False" ? r : undefined;
  });
  assert.match(deniedC.message ?? "", /is not allowed from namespace "[^"]+": denied by spec\.condition/);
  assert.equal(await secretData(api, c, "via-css"), undefined);
});

test("counting at the server: 50 ExternalSecrets in 5 namespaces, 5 distinct secrets, one store: one login, at most 5 reads per cycle", async () => {
  const nss = await Promise.all([1, 2, 3, 4, 5].map(() => createNamespace(api, "count")));
  const home = nss[0]!;
  const mount = `kv-${suffix()}`;
  await vault.call("POST", `sys/mounts/${mount}`, { type: "kv", options: { version: "2" } });
  for (let i = 0; i < 5; i++)
    await vault.call("POST", `${mount}/data/shared/s${i}`, { data: { v: `${CANARY}-${i}` } });
  // an AppRole identity used only by this store, so its logins are countable
  const { approle, roleId } = await appRole(mount, home, { token_ttl: "1h" });
  const css = `count-${suffix()}`;
  await kubectl(
    env,
    ["apply", "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: ${css} }
spec:
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${mount}
      version: v2
      auth:
        appRole:
          path: ${approle}
          roleId: ${roleId}
          secretRef: { name: approle, key: secretId, namespace: ${home} }
`,
  );
  const docs: string[] = [];
  for (const ns of nss) {
    for (let j = 0; j < 10; j++) {
      docs.push(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: es-${j}, namespace: ${ns} }
spec:
  refreshInterval: 8s
  secretStoreRef: { name: ${css}, kind: ClusterSecretStore }
  data:
  - secretKey: v
    remoteRef: { key: shared/s${j % 5}, property: v }
`);
    }
  }
  await kubectl(env, ["apply", "-f", "-"], docs.join("---\n"));
  for (const ns of nss)
    for (let j = 0; j < 10; j++)
      await waitForData(ns, `es-${j}`, (d) => d.v === `${CANARY}-${j % 5}`, 60_000);
  const audit = (): { logins: number; reads: number } => {
    const a = auditCounts(
      (p) => p === `auth/${approle}/login`,
      (p, op) => p.startsWith(`${mount}/data/shared/`) && op === "read",
    );
    return { logins: a[0]!, reads: a[1]! };
  };
  const first = audit();
  assert.equal(first.logins, 1, `one login for the store identity (audit: ${JSON.stringify(first)})`);
  assert.ok(first.reads <= 5 * 2, `initial sync reads: ${first.reads}`);
  // three refresh cycles
  const rvs = async (): Promise<string[]> =>
    Promise.all(
      nss.flatMap((ns) =>
        Array.from(
          { length: 10 },
          async (_, j) =>
            (await api.get<SecretObj>(`/api/v1/namespaces/${ns}/secrets/es-${j}`)).metadata.resourceVersion,
        ),
      ),
    );
  const before = await rvs();
  await sleep(3 * 8000 + 2000);
  const after1 = audit();
  const cycles = 3;
  assert.equal(after1.logins, 1, "no login per reconcile");
  assert.ok(
    after1.reads - first.reads <= 5 * (cycles + 1),
    `reads over ${cycles} cycles: ${after1.reads - first.reads}`,
  );
  assert.deepEqual(await rvs(), before, "an unchanged refresh writes no Secret");
});

test("a canary value synced through every path never appears in logs, events, statuses or metrics", async () => {
  // runs after the counting test has synced CANARY-* values through 50 ExternalSecrets
  const logs = op.output();
  assert.ok(logs.length > 0);
  assert.ok(!logs.includes(CANARY), "operator logs leak a value");
  const metrics = await op.metrics();
  assert.ok(!metrics.includes(CANARY), "metrics leak a value");
  const events = await kubectl(env, ["get", "events", "-A", "-o", "json"]);
  assert.ok(!events.includes(CANARY), "events leak a value");
  const statuses = await kubectl(env, ["get", "externalsecrets", "-A", "-o", "json"]);
  assert.ok(!statuses.includes(CANARY), "statuses leak a value");
  assert.match(metrics, /externalsecret_sync_calls_total/);
  assert.match(metrics, /externalsecret_provider_api_calls_count/);
});

test("templates end to end: dockerconfigjson, templateFrom ConfigMap (KeysAndValues), metadata; a syntax error names the template and position", async () => {
  const ns = await createNamespace(api, "tpl");
  const kv = await kvStore(ns);
  await kv.put("registry", { user: "robot", pass: "p4ss", host: "registry.example.com" });
  await api.create(`/api/v1/namespaces/${ns}/configmaps`, {
    metadata: { name: "tpl" },
    data: { "config.yaml": "app.yaml: |\n  host: {{ .host }}\n  user: {{ .user }}\n" },
  });
  await applyEs(
    ns,
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: docker }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: vault }
  target:
    name: docker
    template:
      type: kubernetes.io/dockerconfigjson
      metadata: { labels: { app: "{{ .user }}-pull" } }
      data:
        .dockerconfigjson: '{"auths":{"{{ .host }}":{"username":"{{ .user }}","password":"{{ .pass }}","auth":"{{ printf "%s:%s" .user .pass | b64enc }}"}}}'
      templateFrom:
      - configMap: { name: tpl, items: [ { key: config.yaml, templateAs: KeysAndValues } ] }
  dataFrom:
  - extract: { key: registry }
`,
  );
  const d = await waitForData(ns, "docker", (x) => x[".dockerconfigjson"] !== undefined);
  const cfg = JSON.parse(d[".dockerconfigjson"]!) as {
    auths: Record<string, { auth: string; username: string }>;
  };
  assert.equal(cfg.auths["registry.example.com"]?.username, "robot");
  assert.equal(Buffer.from(cfg.auths["registry.example.com"]!.auth, "base64").toString(), "robot:p4ss");
  assert.equal(d["app.yaml"], "host: registry.example.com\nuser: robot\n");
  assert.equal(d.pass, undefined, "with data templates, fetched keys are not copied (mergePolicy Replace)");
  const s = await api.get<SecretObj>(`/api/v1/namespaces/${ns}/secrets/docker`);
  assert.equal(s.type, "kubernetes.io/dockerconfigjson");
  assert.equal(s.metadata.labels?.app, "robot-pull");

  await applyEs(
    ns,
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: broken }
spec:
  secretStoreRef: { name: vault }
  target:
    template:
      data:
        conf: "ok\\n{{ .user | nosuchfn }}"
  dataFrom:
  - extract: { key: registry }
`,
  );
  const c = await eventually("template error condition", async () => {
    const r = readyCondition(await esStatus(api, ns, "broken"));
    return r?.status === "False" ? r : undefined;
  });
  assert.match(c.message ?? "", /template: conf:2:\d+: .*nosuchfn/);
  assert.equal(op.child.exitCode, null);
});

test("ESO's TLS-from-PKCS#12 template: an archive made by openssl (its defaults, with and without password) becomes a kubernetes.io/tls Secret", async () => {
  const ns = await createNamespace(api, "p12");
  const kv = await kvStore(ns);
  const dir = mkdtempSync(join(tmpdir(), "custos-p12-"));
  try {
    const { key, crt } = selfSigned(dir, "app.example.com");
    const archive = (pass: string): string => {
      const out = join(dir, `a${pass.length}.p12`);
      execFileSync(
        "openssl",
        ["pkcs12", "-export", "-inkey", key, "-in", crt, "-out", out, "-passout", `pass:${pass}`],
        { stdio: "ignore" },
      );
      return readFileSync(out).toString("base64");
    };
    // a binary archive kept base64-encoded in Vault, decoded by decodingStrategy, as ESO documents
    const p12 = archive("");
    await kv.put("tls", { p12, locked: archive("s3cret") });
    await applyEs(
      ns,
      `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: tls }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: vault }
  target:
    template:
      type: kubernetes.io/tls
      engineVersion: v2
      data:
        tls.crt: "{{ .mysecret | pkcs12cert }}"
        tls.key: "{{ .mysecret | pkcs12key }}"
        locked.crt: '{{ .locked | pkcs12certPass "s3cret" }}'
        keystore.p12: "{{ .mysecret }}"
  data:
  - secretKey: mysecret
    remoteRef: { key: tls, property: p12, decodingStrategy: Base64 }
  - secretKey: locked
    remoteRef: { key: tls, property: locked, decodingStrategy: Base64 }
`,
    );
    const d = await waitForData(ns, "tls", (x) => x["tls.crt"] !== undefined);
    const want = new X509Certificate(readFileSync(crt));
    assert.equal(new X509Certificate(d["tls.crt"]!).fingerprint256, want.fingerprint256);
    assert.equal(new X509Certificate(d["locked.crt"]!).fingerprint256, want.fingerprint256);
    assert.match(d["tls.key"]!, /^-----BEGIN PRIVATE KEY-----/);
    assert.ok(want.checkPrivateKey(createPrivateKey(d["tls.key"]!)), "the key belongs to the certificate");
    const s = await api.get<SecretObj & { data: Record<string, string> }>(
      `/api/v1/namespaces/${ns}/secrets/tls`,
    );
    assert.equal(s.type, "kubernetes.io/tls");
    assert.equal(s.data["keystore.p12"], p12, "a binary value copied by a template keeps its exact bytes");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("renaming the target (creationPolicy Owner): the new Secret is written, the one created under the old name deleted, as ESO does", async () => {
  const ns = await createNamespace(api, "rename");
  const kv = await kvStore(ns);
  await kv.put("app", { password: "p" });
  const es = (target: string): string => `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: app }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: vault }
  target: { name: ${target} }
  data: [ { secretKey: password, remoteRef: { key: app, property: password } } ]
`;
  await applyEs(ns, es("first"));
  await waitForData(ns, "first", (d) => d.password === "p");
  // a Secret of the same namespace that this ExternalSecret did not create is left alone
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "bystander", labels: { "reconcile.external-secrets.io/managed": "true" } },
    stringData: { x: "y" },
  });
  await applyEs(ns, es("second"));
  await waitForData(ns, "second", (d) => d.password === "p");
  await eventually("old Secret deleted", async () =>
    (await secretData(api, ns, "first")) === undefined ? true : undefined,
  );
  assert.deepEqual(await secretData(api, ns, "bystander"), { x: "y" });
});

test("Vault over TLS with the cert auth method: caBundle verifies the server, the client certificate logs in; a wrong CA is a clear condition", async () => {
  const ns = await createNamespace(api, "vcert");
  const dir = mkdtempSync(join(tmpdir(), "custos-vault-tls-"));
  const port = await freePort();
  // a second, TLS-only Vault (dev mode makes its own CA), ended with the test
  const server = spawn(
    join(root, "test/env/guard.sh"),
    [
      env.bin.vault,
      "server",
      "-dev",
      "-dev-tls",
      `-dev-tls-cert-dir=${dir}`,
      "-dev-root-token-id=root",
      `-dev-listen-address=127.0.0.1:${port}`,
      "-dev-no-store-token",
    ],
    { stdio: ["pipe", "ignore", "ignore"], env: { ...process.env, HOME: dir, VAULT_DISABLE_MLOCK: "true" } },
  );
  try {
    const addr = `https://127.0.0.1:${port}`;
    const ca = await eventually("Vault's dev CA", async () => {
      const file = join(dir, "vault-ca.pem");
      return existsSync(file) ? readFileSync(file, "utf8") : undefined;
    });
    const agent = new Agent({ connect: { ca } });
    const call = async (method: string, path: string, body?: unknown): Promise<void> => {
      const res = await request(`${addr}/v1/${path}`, {
        method: method as "POST",
        dispatcher: agent,
        headers: { "x-vault-token": "root" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.body.text();
      if (res.statusCode >= 400) throw new Error(`${method} ${path}: ${res.statusCode} ${text}`);
    };
    await eventually("TLS Vault up", async () => {
      try {
        await call("GET", "sys/health");
        return true;
      } catch {
        return undefined;
      }
    });
    // a client certificate made by openssl, trusted by Vault's cert auth method
    const { key, crt } = selfSigned(dir, "custos", ["-addext", "extendedKeyUsage=clientAuth"]);
    await call("POST", "secret/data/tls-app", { data: { password: "over-tls" } });
    await call("PUT", "sys/policies/acl/tls-read", {
      policy: 'path "secret/data/*" { capabilities = ["read"] }',
    });
    await call("POST", "sys/auth/cert", { type: "cert" });
    await call("POST", "auth/cert/certs/custos", {
      certificate: readFileSync(crt, "utf8"),
      token_policies: ["tls-read"],
    });
    await api.create(`/api/v1/namespaces/${ns}/secrets`, {
      metadata: { name: "client-tls" },
      type: "kubernetes.io/tls",
      stringData: { "tls.crt": readFileSync(crt, "utf8"), "tls.key": readFileSync(key, "utf8") },
    });
    const store = (name: string, caPem: string): string => `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: ${name} }
spec:
  provider:
    vault:
      server: ${addr}
      path: secret
      version: v2
      caBundle: ${Buffer.from(caPem).toString("base64")}
      auth:
        cert:
          clientCert: { name: client-tls, key: tls.crt }
          secretRef: { name: client-tls, key: tls.key }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: ${name} }
  data: [ { secretKey: password, remoteRef: { key: tls-app, property: password } } ]
`;
    await applyEs(ns, store("tls", ca));
    await waitForData(ns, "tls", (d) => d.password === "over-tls");
    // the client's own certificate is not the server's CA: verification fails, and says so
    await applyEs(ns, store("wrong-ca", readFileSync(crt, "utf8")));
    const c = await eventually("wrong-CA condition", async () => {
      const r = readyCondition(await esStatus(api, ns, "wrong-ca"));
      return r?.status === "False" ? r : undefined;
    });
    assert.match(c.message ?? "", /certificate|self.signed|verify/i);
    await agent.close();
  } finally {
    server.stdin.end();
    await new Promise((r) => server.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sessions: the token is renewed before it expires, a fresh login follows the max TTL, and a revoked token (403) leads to one re-login; the ExternalSecret stays Ready", async () => {
  const ns = await createNamespace(api, "renew");
  const mount = `kv-${suffix()}`;
  await vault.call("POST", `sys/mounts/${mount}`, { type: "kv", options: { version: "2" } });
  await vault.call("POST", `${mount}/data/app`, { data: { v: "1" } });
  const { approle, roleId } = await appRole(mount, ns, { token_ttl: "6s", token_max_ttl: "14s" });
  await applyEs(
    ns,
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: short }
spec:
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${mount}
      version: v2
      auth: { appRole: { path: ${approle}, roleId: ${roleId}, secretRef: { name: approle, key: secretId } } }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: app }
spec:
  refreshInterval: 2s
  secretStoreRef: { name: short }
  data: [ { secretKey: v, remoteRef: { key: app, property: v } } ]
`,
  );
  await waitForData(ns, "app", (d) => d.v === "1");
  const counts = (): { logins: number; renewals: number } => {
    const [logins, renewals] = auditCounts(
      (p) => p === `auth/${approle}/login`,
      (p) => p === "auth/token/renew-self",
    );
    return { logins: logins!, renewals: renewals! };
  };
  const start = counts();
  // 6 s tokens, 14 s max: renewals at two thirds of the lease, then a fresh login when capped
  await sleep(16_000);
  const later = counts();
  assert.ok(
    later.renewals - start.renewals >= 1,
    `renewed before expiry (${JSON.stringify({ start, later })})`,
  );
  assert.ok(
    later.logins - start.logins >= 1,
    `a fresh login after the max TTL (${JSON.stringify({ start, later })})`,
  );
  assert.ok(later.logins <= 4, `no login per reconcile (${later.logins} logins over 8 refreshes)`);

  // revoke every token of this AppRole: the next read gets 403, logs in once more, and succeeds
  await vault.call("PUT", `sys/leases/revoke-prefix/auth/${approle}/login`, {});
  const beforeRevoke = counts();
  await vault.call("POST", `${mount}/data/app`, { data: { v: "2" } });
  await waitForData(ns, "app", (d) => d.v === "2");
  const afterRevoke = counts();
  assert.ok(afterRevoke.logins - beforeRevoke.logins >= 1, "a fresh login after the token was refused");
  assert.ok(afterRevoke.logins - beforeRevoke.logins <= 2, "one re-login, not a storm");
  const ready = readyCondition(await esStatus(api, ns, "app"));
  assert.equal(ready?.status, "True");
});

test("Vault's aws auth method (IAM): a signed sts:GetCallerIdentity that Vault verifies against STS (moto) logs in", async () => {
  const ns = await createNamespace(api, "viam");
  const kv = await kvStore(ns);
  await kv.put("iam-app", { password: "via-iam" });
  const path = `aws-${suffix()}`;
  await vault.call("POST", `sys/auth/${path}`, { type: "aws" });
  // Vault replays the signed request to this STS endpoint: moto's, which answers with its identity
  await vault.call("POST", `auth/${path}/config/client`, {
    sts_endpoint: env.aws.endpoint,
    iam_endpoint: env.aws.endpoint,
    sts_region: "us-east-1",
  });
  await vault.call("POST", `auth/${path}/role/custos`, {
    auth_type: "iam",
    bound_iam_principal_arn: "arn:aws:iam::123456789012:user/moto",
    resolve_aws_unique_ids: false,
    token_policies: ["root-read"],
  });
  await vault.call("PUT", "sys/policies/acl/root-read", {
    policy: 'path "*" { capabilities = ["read", "list"] }',
  });
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "aws-keys" },
    stringData: { id: "AKIAIOSFODNN7EXAMPLE", key: "not-a-real-secret-key" },
  });
  await applyEs(
    ns,
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: iam }
spec:
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${kv.mount}
      version: v2
      auth:
        iam:
          path: ${path}
          region: us-east-1
          vaultRole: custos
          secretRef:
            accessKeyIDSecretRef: { name: aws-keys, key: id }
            secretAccessKeySecretRef: { name: aws-keys, key: key }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: iam }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: iam }
  data: [ { secretKey: password, remoteRef: { key: iam-app, property: password } } ]
`,
  );
  await waitForData(ns, "iam", (d) => d.password === "via-iam");
  const [logins] = auditCounts((p) => p === `auth/${path}/login`);
  assert.equal(logins, 1, "one login for the store");
});

test("ClusterExternalSecret: an ExternalSecret in each selected namespace, conflicts reported, deselected namespaces cleaned, all gone with it", async () => {
  const team = `t-${suffix()}`;
  const [a, b, c] = await Promise.all(["cesa", "cesb", "cesc"].map((p) => createNamespace(api, p)));
  const home = await createNamespace(api, "ceshome");
  const kv = await kvStore(home);
  await kv.put("shared/db", { password: "for-every-team" });
  for (const ns of [a!, b!, c!])
    await api.mergePatch(`/api/v1/namespaces/${ns}`, { metadata: { labels: { team } } });
  // c already has an ExternalSecret of that name that is not the ClusterExternalSecret's
  await applyEs(
    c!,
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: db }
spec:
  secretStoreRef: { name: nowhere }
  data: [ { secretKey: x, remoteRef: { key: x } } ]
`,
  );
  const css = `ces-${suffix()}`;
  const ces = `ces-${suffix()}`;
  await kubectl(
    env,
    ["apply", "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: ${css} }
spec:
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${kv.mount}
      version: v2
      auth: { tokenSecretRef: { name: vault-token, key: token, namespace: ${home} } }
---
apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata: { name: ${ces} }
spec:
  externalSecretName: db
  externalSecretMetadata: { labels: { from: ces } }
  namespaceSelectors: [ { matchLabels: { team: ${team} } } ]
  refreshTime: 2s
  externalSecretSpec:
    refreshInterval: 1h
    secretStoreRef: { name: ${css}, kind: ClusterSecretStore }
    data: [ { secretKey: password, remoteRef: { key: shared/db, property: password } } ]
`,
  );
  for (const ns of [a!, b!]) await waitForData(ns, "db", (d) => d.password === "for-every-team");
  const cesStatus = async (): Promise<{
    provisionedNamespaces?: string[];
    failedNamespaces?: { namespace: string; reason?: string }[];
    conditions?: { type: string; status: string; message?: string }[];
  }> =>
    (await api.get<{ status?: object }>(`/apis/external-secrets.io/v1/clusterexternalsecrets/${ces}`))
      .status ?? {};
  const s = await eventually("ClusterExternalSecret status", async () => {
    const st = await cesStatus();
    return st.provisionedNamespaces?.length === 2 ? st : undefined;
  });
  assert.deepEqual(s.provisionedNamespaces, [a!, b!].sort());
  assert.deepEqual(s.failedNamespaces, [
    { namespace: c!, reason: "external secret already exists in namespace" },
  ]);
  assert.deepEqual(
    s.conditions?.map((x) => [x.type, x.status, x.message]),
    [["Ready", "False", "one or more namespaces failed"]],
  );
  const made = await api.get<{
    metadata: { labels?: Record<string, string>; ownerReferences?: { kind: string }[] };
  }>(`/apis/external-secrets.io/v1/namespaces/${a!}/externalsecrets/db`);
  assert.equal(made.metadata.labels?.from, "ces");
  assert.equal(made.metadata.ownerReferences?.[0]?.kind, "ClusterExternalSecret");
  // c's own ExternalSecret is untouched
  const theirs = await api.get<{ spec: { secretStoreRef: { name: string } } }>(
    `/apis/external-secrets.io/v1/namespaces/${c!}/externalsecrets/db`,
  );
  assert.equal(theirs.spec.secretStoreRef.name, "nowhere");

  // a namespace that stops matching loses its ExternalSecret
  await api.mergePatch(`/api/v1/namespaces/${b!}`, { metadata: { labels: { team: null } } });
  await eventually("deselected namespace cleaned", async () =>
    (await api.getOrUndefined(`/apis/external-secrets.io/v1/namespaces/${b!}/externalsecrets/db`)) ===
    undefined
      ? true
      : undefined,
  );
  // deleting the ClusterExternalSecret deletes what it made (garbage collection), nothing else
  await api.delete(`/apis/external-secrets.io/v1/clusterexternalsecrets/${ces}`);
  await eventually("owned ExternalSecret collected", async () =>
    (await api.getOrUndefined(`/apis/external-secrets.io/v1/namespaces/${a!}/externalsecrets/db`)) ===
    undefined
      ? true
      : undefined,
  );
  assert.ok(await api.getOrUndefined(`/apis/external-secrets.io/v1/namespaces/${c!}/externalsecrets/db`));
});

test("refreshInterval 0 syncs once and never polls, but a force-sync annotation still syncs (ESO ignores it: #4568)", async () => {
  const ns = await createNamespace(api, "once");
  const kv = await kvStore(ns);
  await kv.put("once", { v: "1" });
  await applyEs(
    ns,
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: once }
spec:
  refreshInterval: "0"
  secretStoreRef: { name: vault }
  data: [ { secretKey: v, remoteRef: { key: once, property: v } } ]
`,
  );
  await waitForData(ns, "once", (d) => d.v === "1");
  await kv.put("once", { v: "2" });
  await sleep(2000);
  assert.deepEqual(await secretData(api, ns, "once"), { v: "1" }, "no polling with refreshInterval 0");
  await kubectl(env, ["annotate", "-n", ns, "es/once", `force-sync=${Date.now()}`, "--overwrite"]);
  await waitForData(ns, "once", (d) => d.v === "2");
});
