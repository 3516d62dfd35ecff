/**
 * `custos vault setup` as an admin runs it (a process, the shared env's Vault root token, the
 * real API server): seed 000's JWT flow and a seed-002-style Kubernetes-auth store (ESO API) work
 * with no other Vault step; a second run changes nothing (Vault's state byte-identical); the
 * policy denies a path the manifests do not use; --dry-run prints exactly the vault commands and
 * changes nothing. Each test has its own KV mount, auth mount, namespace and isolated operator.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
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
  type VaultClient,
} from "./helpers.ts";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const seed000 = join(root, "..", "shared", "examples", "seed-000-eso-vault-jwt");
let env: SharedEnv;
let api: KubeApi;
let vault: VaultClient;

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  vault = vaultClient(env);
  await applyCrds(env);
});

async function custos(args: string[], token = env.vault.token): Promise<{ stdout: string; stderr: string }> {
  return exec(
    process.execPath,
    [
      "--import",
      "tsx",
      join(root, "src/cli/main.ts"),
      "vault",
      "setup",
      "--kubeconfig",
      env.kubeconfig,
      ...args,
    ],
    {
      cwd: root,
      // as an admin would: the address and token from the environment
      env: { ...process.env, VAULT_ADDR: env.vault.addr, VAULT_TOKEN: token },
    },
  );
}

/**
 * A token that may read what `vault setup` reads and write nothing: a run with it that tried any
 * write would fail with 403.
 */
async function readOnlyToken(mount: string, policy: string): Promise<string> {
  const name = `vs-readonly-${suffix()}`;
  await vault.call("PUT", `sys/policies/acl/${name}`, {
    policy: `path "sys/auth" { capabilities = ["read", "sudo"] }
path "auth/${mount}/config" { capabilities = ["read"] }
path "auth/${mount}/role/*" { capabilities = ["read"] }
path "sys/policies/acl/${policy}" { capabilities = ["read"] }
`,
  });
  const res = await vault.call("POST", "auth/token/create", {
    policies: [name],
    no_default_policy: true,
    ttl: "10m",
  });
  return (res.json.auth as { client_token: string }).client_token;
}

/** Vault's state of one binding, as read back (request ids dropped). */
async function snapshot(paths: string[]): Promise<string> {
  const out: unknown[] = [];
  for (const p of paths) out.push((await vault.call("GET", p)).json.data ?? null);
  const mounts = (await vault.call("GET", "sys/auth")).json.data as Record<string, unknown>;
  out.push(Object.entries(mounts).filter(([k]) => paths.some((p) => p.startsWith(`auth/${k}`))));
  return JSON.stringify(out);
}

async function saToken(ns: string, name: string): Promise<string> {
  const res = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`,
    { spec: { audiences: ["vault"], expirationSeconds: 600 } },
  );
  return res.status.token;
}

/** A token of the role, and what it may read: the synced path yes, another path of the mount no. */
async function assertPolicy(
  mount: string,
  role: string,
  jwt: string,
  kv: string,
  used: string,
): Promise<void> {
  const login = await eventually(`login at auth/${mount}`, async () => {
    const r = await vault.call("POST", `auth/${mount}/login`, { role, jwt }, "").catch(() => undefined);
    return (r?.json.auth as { client_token?: string } | undefined)?.client_token;
  });
  assert.equal((await vault.call("GET", `${kv}/data/${used}`, undefined, login)).status, 200);
  assert.equal((await vault.call("GET", `${kv}/data/other/secret`, undefined, login)).status, 403);
  assert.equal((await vault.call("GET", `${kv}/metadata/${used}`, undefined, login)).status, 403);
  assert.equal((await vault.call("GET", `sys/policies/acl/default`, undefined, login)).status, 403);
}

test("document 000 (JWT): dry run exact, setup, operator syncs with no other Vault step, second run no change, policy denies other paths", async () => {
  const id = suffix();
  const ns = await createNamespace(api, "vs-jwt");
  const kv = `kv-${id}`;
  const jwtMount = `jwt-${id}`;
  const cls = `vs-${id}`;
  await vault.call("POST", `sys/mounts/${kv}`, { type: "kv", options: { version: "2" } });
  await vault.call("POST", `${kv}/data/kubernetes/supersecret/test-secret`, {
    data: { username_on_vault: "alice", password: "s3cr3t" },
  });
  await vault.call("POST", `${kv}/data/other/secret`, { data: { x: "not-for-this-role" } });

  // the seed's manifests, pointed at this test's mounts and operator
  const dir = mkdtempSync(join(tmpdir(), "vs-jwt-"));
  writeFileSync(join(dir, "serviceaccount.yaml"), readFileSync(join(seed000, "serviceaccount.yaml")));
  writeFileSync(
    join(dir, "secretstore.yaml"),
    readFileSync(join(seed000, "secretstore.yaml"), "utf8")
      .replace("spec:\n", `spec:\n  controller: ${cls}\n`)
      .replace('"http://127.0.0.1:8200"', env.vault.addr)
      .replace('path: "kv-v2"', `path: "${kv}"`)
      .replace('path: "jwt-auth"', `path: "${jwtMount}"`),
  );
  writeFileSync(
    join(dir, "externalsecret.yaml"),
    readFileSync(join(seed000, "externalsecret.yaml"), "utf8").replace("key: kv-v2/", `key: ${kv}/`),
  );
  const policy = `custos-${jwtMount}-secret-accessor`;
  const policyText = `# custos vault setup: what SecretStore ${ns}/vault-backend read
path "${kv}/data/kubernetes/supersecret/test-secret" {
  capabilities = ["read"]
}
`;

  const dry = await custos(["-f", dir, "-n", ns, "--dry-run"]);
  assert.equal(
    dry.stdout,
    `vault auth enable -path=${jwtMount} jwt
vault write auth/${jwtMount}/config - <<'EOF'
${JSON.stringify({ bound_issuer: env.serviceAccountIssuer, jwt_validation_pubkeys: [env.serviceAccountPublicKeyPem.trim()] }, null, 2)}
EOF
vault policy write ${policy} - <<'EOF'
${policyText}EOF
vault write auth/${jwtMount}/role/secret-accessor - <<'EOF'
${JSON.stringify(
  {
    bound_audiences: ["vault"],
    bound_subject: `system:serviceaccount:${ns}:eso-tokens`,
    role_type: "jwt",
    token_policies: [policy],
    user_claim: "sub",
  },
  null,
  2,
)}
EOF
`,
  );
  assert.equal(dry.stderr, "");
  // nothing was done
  const mounts = (await vault.call("GET", "sys/auth")).json.data as Record<string, unknown>;
  assert.equal(mounts[`${jwtMount}/`], undefined);
  assert.equal((await vault.call("GET", `sys/policies/acl/${policy}`)).status, 404);

  const first = await custos(["-f", dir, "-n", ns]);
  assert.equal(
    first.stdout,
    `auth/${jwtMount}: enabled (jwt)
auth/${jwtMount}/config: written (bound_issuer, jwt_validation_pubkeys)
policy ${policy}: written
auth/${jwtMount}/role/secret-accessor: written (bound_audiences, bound_subject, role_type, token_policies, user_claim)
4 change(s)
`,
  );
  assert.equal(
    ((await vault.call("GET", `sys/policies/acl/${policy}`)).json.data as { policy: string }).policy,
    policyText,
  );
  const paths = [
    `auth/${jwtMount}/config`,
    `auth/${jwtMount}/role/secret-accessor`,
    `sys/policies/acl/${policy}`,
  ];
  const before = await snapshot(paths);
  const second = await custos(["-f", dir, "-n", ns], await readOnlyToken(jwtMount, policy));
  assert.equal(second.stdout, "no change\n");
  assert.equal(await snapshot(paths), before, "a second run leaves Vault byte-identical");
  assert.equal((await custos(["-f", dir, "-n", ns, "--dry-run"])).stdout, "no change\n");

  // OIDC discovery asked for: one config write; this API server refuses anonymous discovery, so
  // Vault refuses it and the error says what to do; the config stays as it was
  assert.equal(
    (await custos(["-f", dir, "-n", ns, "--dry-run", "--jwt-keys", "discovery"])).stdout,
    `# needs --replace: auth/${jwtMount}/config has other bound_issuer, jwt_validation_pubkeys
vault write auth/${jwtMount}/config - <<'EOF'
${JSON.stringify({ oidc_discovery_ca_pem: env.caPem, oidc_discovery_url: env.serviceAccountIssuer }, null, 2)}
EOF
`,
  );
  const unasked = await custos(["-f", dir, "-n", ns, "--jwt-keys", "discovery"]).then(
    () => undefined,
    (e: unknown) => e as { code: number; stdout: string; stderr: string },
  );
  assert.equal(
    unasked?.stderr,
    `custos: auth/${jwtMount}/config has other bound_issuer, jwt_validation_pubkeys: they may serve other clients; see them with --dry-run and pass --replace to overwrite\n`,
  );
  assert.equal(unasked.code, 2);
  const refused = await custos(["-f", dir, "-n", ns, "--jwt-keys", "discovery", "--replace"]).then(
    () => undefined,
    (e: unknown) => e as { code: number; stdout: string; stderr: string },
  );
  assert.equal(refused?.code, 2);
  assert.equal(refused.stdout, "");
  assert.ok(
    refused.stderr.startsWith(`custos: Vault POST auth/${jwtMount}/config: HTTP 400: `) &&
      refused.stderr.endsWith(
        "(Vault could not use the issuer's OIDC discovery; run with --jwt-keys jwks to give it the API server's keys)\n",
      ),
    refused.stderr,
  );
  assert.equal(await snapshot(paths), before);

  // the flow works with no other Vault step
  await kubectl(env, ["apply", "-n", ns, "-f", dir]);
  const op = await startOperator(env, [
    "--controllers",
    "externalsecret",
    "--controller-class",
    cls,
    "--namespace",
    ns,
  ]);
  try {
    await eventually(
      "Secret vault-secret-name",
      async () => (await secretData(api, ns, "vault-secret-name"))?.username === "alice",
      60_000,
    );
  } finally {
    await op.stop();
  }
  await assertPolicy(
    jwtMount,
    "secret-accessor",
    await saToken(ns, "eso-tokens"),
    kv,
    "kubernetes/supersecret/test-secret",
  );
});

test("Kubernetes auth (seed 002 flow, ESO API): reviewer created, operator syncs, second run no change, policy denies other paths", async () => {
  const id = suffix();
  const ns = await createNamespace(api, "vs-k8s");
  const kv = `kv-${id}`;
  const mount = `k8s-${id}`;
  const cls = `vs-${id}`;
  const role = "kubernetes-external-secrets";
  await vault.call("POST", `sys/mounts/${kv}`, { type: "kv", options: { version: "2" } });
  await vault.call("POST", `${kv}/data/cool/secrets`, { data: { test: "hello" } });
  await vault.call("POST", `${kv}/data/other/secret`, { data: { x: "not-for-this-role" } });
  const manifests = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: external-secrets
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: vault
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
          serviceAccountRef:
            name: external-secrets
            audiences: [vault]
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: cool-secret
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: vault
  data:
    - secretKey: test
      remoteRef:
        key: cool/secrets
        property: test
`;
  const dir = mkdtempSync(join(tmpdir(), "vs-k8s-"));
  const file = join(dir, "all.yaml");
  writeFileSync(file, manifests);
  const policy = `custos-${mount}-${role}`;
  const reviewer = `${ns}/reviewer`;
  const binding = `custos:vault-reviewer:${ns}:reviewer`;
  try {
    const dry = await custos(["-f", file, "-n", ns, "--reviewer", reviewer, "--dry-run"]);
    assert.equal(
      dry.stdout,
      `kubectl -n ${ns} create serviceaccount reviewer
kubectl create clusterrolebinding ${binding} --clusterrole=system:auth-delegator --serviceaccount=${ns}:reviewer
vault auth enable -path=${mount} kubernetes
# token_reviewer_jwt: kubectl -n ${ns} get secret reviewer-token -o jsonpath='{.data.token}' | base64 -d
vault write auth/${mount}/config - <<'EOF'
${JSON.stringify({ kubernetes_ca_cert: env.caPem.trim(), kubernetes_host: env.apiUrl, token_reviewer_jwt: `<token of ServiceAccount ${reviewer}>` }, null, 2).replace(JSON.stringify(env.caPem.trim()), JSON.stringify(env.caPem))}
EOF
vault policy write ${policy} - <<'EOF'
# custos vault setup: what SecretStore ${ns}/vault read
path "${kv}/data/cool/secrets" {
  capabilities = ["read"]
}
EOF
vault write auth/${mount}/role/${role} - <<'EOF'
${JSON.stringify(
  {
    audience: "vault",
    bound_service_account_names: ["external-secrets"],
    bound_service_account_namespaces: [ns],
    token_policies: [policy],
  },
  null,
  2,
)}
EOF
`,
    );
    assert.equal(await api.getOrUndefined(`/api/v1/namespaces/${ns}/serviceaccounts/reviewer`), undefined);

    const first = await custos(["-f", file, "-n", ns, "--reviewer", reviewer]);
    assert.equal(
      first.stdout,
      `serviceaccount ${ns}/reviewer: created
clusterrolebinding ${binding}: created
auth/${mount}: enabled (kubernetes)
auth/${mount}/config: written (kubernetes_ca_cert, kubernetes_host, token_reviewer_jwt)
policy ${policy}: written
auth/${mount}/role/${role}: written (audience, bound_service_account_names, bound_service_account_namespaces, token_policies)
4 change(s)
`,
    );
    const config = (await vault.call("GET", `auth/${mount}/config`)).json.data as Record<string, unknown>;
    assert.equal(config.token_reviewer_jwt_set, true);
    assert.equal(config.kubernetes_host, env.apiUrl);
    const paths = [`auth/${mount}/config`, `auth/${mount}/role/${role}`, `sys/policies/acl/${policy}`];
    const before = await snapshot(paths);
    const second = await custos(
      ["-f", file, "-n", ns, "--reviewer", reviewer],
      await readOnlyToken(mount, policy),
    );
    assert.equal(second.stdout, "no change\n");
    assert.equal(await snapshot(paths), before, "a second run leaves Vault byte-identical");

    await kubectl(env, ["apply", "-n", ns, "-f", file]);
    const op = await startOperator(env, [
      "--controllers",
      "externalsecret",
      "--controller-class",
      cls,
      "--namespace",
      ns,
    ]);
    try {
      // the reviewer's ClusterRoleBinding reaches the API server's RBAC cache within moments
      await eventually(
        "Secret cool-secret",
        async () => (await secretData(api, ns, "cool-secret"))?.test === "hello",
        90_000,
      );
    } finally {
      await op.stop();
    }
    await assertPolicy(mount, role, await saToken(ns, "external-secrets"), kv, "cool/secrets");
  } finally {
    await api.delete(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${encodeURIComponent(binding)}`);
  }
});

test("the --dry-run commands, run by the real vault CLI, leave exactly the state custos writes", async () => {
  const id = suffix();
  const kv = `kv-${id}`;
  const jwtMount = `jwt-${id}`;
  const dir = mkdtempSync(join(tmpdir(), "vs-cli-"));
  writeFileSync(
    join(dir, "secretstore.yaml"),
    readFileSync(join(seed000, "secretstore.yaml"), "utf8")
      .replace('path: "kv-v2"', `path: "${kv}"`)
      .replace('path: "jwt-auth"', `path: "${jwtMount}"`),
  );
  writeFileSync(
    join(dir, "externalsecret.yaml"),
    readFileSync(join(seed000, "externalsecret.yaml"), "utf8").replace("key: kv-v2/", `key: ${kv}/`),
  );
  const script = (await custos(["-f", dir, "-n", "vs-cli", "--dry-run"])).stdout;
  await exec("bash", ["-euo", "pipefail", "-c", script], {
    env: {
      ...process.env,
      VAULT_ADDR: env.vault.addr,
      VAULT_TOKEN: env.vault.token,
      PATH: `${join(env.bin.vault, "..")}:${process.env.PATH ?? ""}`,
    },
  });
  assert.equal((await custos(["-f", dir, "-n", "vs-cli"])).stdout, "no change\n");
});

test("a referent ClusterSecretStore (JWT): the role admits the service account of each using namespace, and no other", async () => {
  const id = suffix();
  const kv = `kv-${id}`;
  const jwtMount = `jwt-${id}`;
  await vault.call("POST", `sys/mounts/${kv}`, { type: "kv", options: { version: "2" } });
  await vault.call("POST", `${kv}/data/shared/db`, { data: { password: "p" } });
  await vault.call("POST", `${kv}/data/other/secret`, { data: { x: "not-for-this-role" } });
  const [a, b, c] = [
    await createNamespace(api, "vs-a"),
    await createNamespace(api, "vs-b"),
    await createNamespace(api, "vs-c"),
  ];
  const es = (ns: string) => `---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: db, namespace: ${ns} }
spec:
  secretStoreRef: { name: shared-${id}, kind: ClusterSecretStore }
  data: [{ secretKey: password, remoteRef: { key: shared/db, property: password } }]
`;
  const file = join(mkdtempSync(join(tmpdir(), "vs-css-")), "all.yaml");
  writeFileSync(
    file,
    `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: shared-${id} }
spec:
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${kv}
      auth:
        jwt:
          path: ${jwtMount}
          role: app
          kubernetesServiceAccountToken: { serviceAccountRef: { name: app }, audiences: [vault] }
${es(a)}${es(b)}`,
  );
  const first = await custos(["-f", file]);
  assert.match(first.stdout, /\n4 change\(s\)\n$/);
  const role = (await vault.call("GET", `auth/${jwtMount}/role/app`)).json.data as Record<string, unknown>;
  assert.deepEqual(role.bound_claims, {
    sub: [`system:serviceaccount:${a}:app`, `system:serviceaccount:${b}:app`],
  });
  for (const ns of [a, b, c])
    await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "app" } });
  await assertPolicy(jwtMount, "app", await saToken(a, "app"), kv, "shared/db");
  await assertPolicy(jwtMount, "app", await saToken(b, "app"), kv, "shared/db");
  // a namespace with no ExternalSecret on the store: its account of the same name is refused
  const other = await vault
    .call("POST", `auth/${jwtMount}/login`, { role: "app", jwt: await saToken(c, "app") }, "")
    .catch((e: unknown) => e as Error);
  assert.ok(other instanceof Error, "the login of another namespace's account is refused");
  assert.match(other.message, /: 400 .*claim \\"sub\\" does not match any associated bound claim values/);
  assert.equal((await custos(["-f", file])).stdout, "no change\n");
});

test("refusals name the problem: an AppRole store, a refused token, another cluster's auth mount, a key with a policy wildcard", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vs-bad-"));
  const store = (auth: string) => `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: s }
spec:
  provider:
    vault:
      server: ${env.vault.addr}
      path: kv
      auth: ${auth}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: e }
spec:
  secretStoreRef: { name: s }
  data: [{ secretKey: a, remoteRef: { key: "app/*" } }]
`;
  writeFileSync(
    join(dir, "approle.yaml"),
    store("{ appRole: { roleId: r, secretRef: { name: x, key: y } } }"),
  );
  writeFileSync(
    join(dir, "glob.yaml"),
    store("{ jwt: { role: r, kubernetesServiceAccountToken: { serviceAccountRef: { name: sa } } } }"),
  );
  const fail = async (file: string): Promise<{ code: number; stderr: string }> =>
    custos(["-f", join(dir, file), "-n", "x"]).then(
      () => ({ code: 0, stderr: "" }),
      (e: unknown) => ({ code: (e as { code: number }).code, stderr: (e as { stderr: string }).stderr }),
    );
  assert.deepEqual(await fail("approle.yaml"), {
    code: 2,
    stderr:
      "custos: SecretStore x/s: auth method appRole is not configured by custos vault setup (it configures jwt with kubernetesServiceAccountToken, and kubernetes); create its credentials with the vault CLI\n",
  });
  // a refused Vault token is named by what Vault said, never echoed
  const canary = `hvs.canary${suffix()}${suffix()}`;
  writeFileSync(
    join(dir, "ok.yaml"),
    store("{ jwt: { role: r, kubernetesServiceAccountToken: { serviceAccountRef: { name: sa } } } }").replace(
      '"app/*"',
      "app/db",
    ),
  );
  const denied = await custos(["-f", join(dir, "ok.yaml"), "-n", "x"], canary).then(
    () => undefined,
    (e: unknown) => e as { code: number; stdout: string; stderr: string },
  );
  assert.equal(
    denied?.stderr,
    "custos: Vault GET sys/auth: HTTP 403: permission denied; invalid token (the Vault token needs read and sudo on sys/auth, and write on sys/auth/<mount>, sys/policies/acl/<policy>, auth/<mount>/config and auth/<mount>/role/<role>)\n",
  );
  assert.ok(!denied.stdout.includes(canary) && !denied.stderr.includes(canary));
  // another cluster's Kubernetes auth on the mount the store names: not taken over unasked
  const mount = `k8s-${suffix()}`;
  await vault.call("POST", `sys/auth/${mount}`, { type: "kubernetes" });
  await vault.call("POST", `auth/${mount}/config`, {
    kubernetes_host: "https://other-cluster.example:6443",
    kubernetes_ca_cert: env.caPem,
  });
  const config = JSON.stringify((await vault.call("GET", `auth/${mount}/config`)).json.data);
  const flags = ["--auth", "kubernetes", "--auth-path", mount, "--role", "app", "--service-account", "a/app"];
  const taken = await custos([...flags, "--kv-path", "kv", "--key", "app/db", "--reviewer", "self"]).then(
    () => undefined,
    (e: unknown) => e as { code: number; stdout: string; stderr: string },
  );
  assert.equal(
    taken?.stderr,
    `custos: auth/${mount}/config has other kubernetes_host: they may serve other clients; see them with --dry-run and pass --replace to overwrite\n`,
  );
  assert.equal(taken.stdout, "");
  assert.equal(JSON.stringify((await vault.call("GET", `auth/${mount}/config`)).json.data), config);
  assert.equal((await vault.call("GET", `auth/${mount}/role/app`)).status, 404);
  assert.deepEqual(await fail("glob.yaml"), {
    code: 2,
    stderr:
      'custos: ExternalSecret x/e data[0] "kv/data/app/*": "*", "+", "\\"", "$", "{" and "}" have a meaning in Vault policies; custos vault setup will not write a broader policy\n',
  });
});
