/**
 * `custos vault setup`, pure parts: manifests to bindings, the least-privilege policy as the
 * provider reads (KV v1/v2, Fetch, extract, find), the desired Vault state, the diff against the
 * current state (idempotence: equal state, no operation) and the dry-run commands.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { isCustosError } from "../../../src/util/errors.ts";
import { collectManifests } from "../../../src/cli/vault/manifests.ts";
import { policyHcl, storeRules } from "../../../src/cli/vault/policy.ts";
import { jwksToPems } from "../../../src/cli/vault/jwks.ts";
import {
  bindingsOf,
  desiredState,
  diff,
  report,
  roleKey,
  vaultCommands,
  type ClusterFacts,
  type Current,
  type Desired,
} from "../../../src/cli/vault/plan.ts";

const seedStore = `apiVersion: external-secrets.io/v1beta1
kind: SecretStore
metadata:
  name: vault-backend
spec:
  provider:
    vault:
      server: "http://127.0.0.1:8200"
      path: "kv-v2"
      version: "v2"
      auth:
        jwt:
          path: "jwt-auth"
          role: "secret-accessor"
          kubernetesServiceAccountToken:
            serviceAccountRef:
              name: "eso-tokens"
            audiences:
              - vault
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: eso-tokens
`;
const seedEs = `apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata:
  name: external-secret-example
spec:
  secretStoreRef:
    name: vault-backend
    kind: SecretStore
  data:
  - secretKey: "username"
    remoteRef:
      key: kv-v2/kubernetes/supersecret/test-secret
      property: username_on_vault
`;

const manifests = (...texts: string[]) =>
  collectManifests(
    texts.map((text, i) => ({ source: `f${i}`, text })),
    "default",
  );

const emptyCurrent = (): Current => ({
  authTypes: new Map(),
  configs: new Map(),
  policies: new Map(),
  roles: new Map(),
});

const KEYS: ClusterFacts = { jwt: { mode: "keys", issuer: "https://api", pems: ["PEM-A"] } };

/** The state Vault would hold after the writes of `desired` (as Vault answers reads). */
function stateAfter(desired: Desired): Current {
  return {
    authTypes: new Map(desired.auths.map((a) => [a.mount, a.type])),
    configs: new Map(
      desired.auths.map((a) => {
        const { token_reviewer_jwt, ...rest } = a.config;
        return [a.mount, { ...rest, token_reviewer_jwt_set: Boolean(token_reviewer_jwt) }];
      }),
    ),
    policies: new Map(desired.policies.map((p) => [p.name, p.text])),
    roles: new Map(desired.roles.map((r) => [roleKey(r.mount, r.role), { ...r.fields, token_ttl: 0 }])),
  };
}

test("seed 000: a JWT binding with the store's audiences and the SecretStore's namespace", () => {
  const [b, ...rest] = bindingsOf(manifests(seedStore, seedEs));
  assert.equal(rest.length, 0);
  assert.deepEqual(b, {
    method: "jwt",
    mount: "jwt-auth",
    role: "secret-accessor",
    policy: "custos-jwt-auth-secret-accessor",
    subjects: [{ namespace: "default", name: "eso-tokens" }],
    audiences: ["vault"],
    rules: [{ path: "kv-v2/data/kubernetes/supersecret/test-secret", capabilities: ["read"] }],
    stores: ["SecretStore default/vault-backend"],
  });
});

test("JWT without audiences takes the provider's default audience (vault)", () => {
  const b = bindingsOf(
    manifests(seedStore.replace("            audiences:\n              - vault\n", ""), seedEs),
  );
  assert.deepEqual(b[0]!.audiences, ["vault"]);
});

test("policy: exactly the reads, as the provider computes them (v2 data, Fetch metadata, extract, find; v1)", () => {
  const m = manifests(
    seedStore.replace('path: "kv-v2"', 'path: "team/kv"'),
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: es }
spec:
  secretStoreRef: { name: vault-backend }
  data:
  - { secretKey: a, remoteRef: { key: app/db } }
  - { secretKey: b, remoteRef: { key: team/kv/data/app/api } }
  - { secretKey: c, remoteRef: { key: app/db, metadataPolicy: Fetch } }
  dataFrom:
  - extract: { key: app/all }
  - find: { path: shared, name: { regexp: ".*" } }
  - find: { path: tagged, tags: { env: prod } }
  - sourceRef: { generatorRef: { kind: Password, name: p } }
`,
  );
  const rules = storeRules(m.stores[0]!, m.externalSecrets);
  assert.equal(
    policyHcl(rules, "h"),
    `# h
path "team/kv/data/app/all" {
  capabilities = ["read"]
}
path "team/kv/data/app/api" {
  capabilities = ["read"]
}
path "team/kv/data/app/db" {
  capabilities = ["read"]
}
path "team/kv/data/shared/*" {
  capabilities = ["read"]
}
path "team/kv/data/tagged/*" {
  capabilities = ["read"]
}
path "team/kv/metadata/app/db" {
  capabilities = ["read"]
}
path "team/kv/metadata/shared/*" {
  capabilities = ["list"]
}
path "team/kv/metadata/tagged/*" {
  capabilities = ["read", "list"]
}
`,
  );
  // KV v1: the key under the mount; find lists and reads the folder
  const v1 = manifests(
    seedStore.replace('version: "v2"', 'version: "v1"'),
    seedEs.replace("kv-v2/kubernetes", "kubernetes"),
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: f }
spec:
  secretStoreRef: { name: vault-backend }
  dataFrom: [{ find: { path: x } }]
`,
  );
  assert.deepEqual(storeRules(v1.stores[0]!, v1.externalSecrets), [
    { path: "kv-v2/kubernetes/supersecret/test-secret", capabilities: ["read"] },
    { path: "kv-v2/x/*", capabilities: ["read", "list"] },
  ]);
});

test("policy: ExternalSecrets of another namespace or store grant nothing", () => {
  const m = manifests(
    seedStore,
    seedEs,
    seedEs
      .replace("external-secret-example", "other")
      .replace("metadata:", "metadata:\n  namespace: elsewhere"),
    seedEs.replace("name: vault-backend", "name: another").replace("test-secret", "other"),
  );
  assert.deepEqual(storeRules(m.stores[0]!, m.externalSecrets), [
    { path: "kv-v2/data/kubernetes/supersecret/test-secret", capabilities: ["read"] },
  ]);
});

test("policy: a key with a Vault glob or HCL syntax is refused, never widened", () => {
  for (const key of ["app/*", "app/+/db", 'app/"x', "app/${x}"]) {
    assert.throws(
      () => bindingsOf(manifests(seedStore, seedEs.replace("kv-v2/kubernetes/supersecret/test-secret", key))),
      (e: unknown) =>
        isCustosError(e, "CUSTOS_INVALID_SPEC") && /will not write a broader policy/.test(e.message),
      key,
    );
  }
  assert.throws(
    () =>
      bindingsOf(
        manifests(seedStore, seedEs.replace("kv-v2/kubernetes/supersecret/test-secret", "app/../sys")),
      ),
    (e: unknown) => isCustosError(e, "CUSTOS_INVALID_REMOTE_KEY"),
  );
});

test("refusals: unsupported auth methods, no ExternalSecret, JWT from a secret", () => {
  const approle = seedStore.replace(
    /auth:\n[\s\S]*?(?=---)/,
    "auth:\n        appRole: { path: approle, roleId: x, secretRef: { name: s, key: k } }\n",
  );
  assert.throws(
    () => bindingsOf(manifests(approle, seedEs)),
    /auth method appRole is not configured by custos vault setup \(it configures jwt with kubernetesServiceAccountToken, and kubernetes\)/,
  );
  assert.throws(() => bindingsOf(manifests(seedStore)), /no ExternalSecret in the input reads from it/);
  assert.throws(() => bindingsOf(manifests(seedEs)), /no Vault SecretStore or ClusterSecretStore/);
});

test("kubernetes auth: names and namespaces; a ClusterSecretStore binds each using namespace", () => {
  const store = `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: css }
spec:
  provider:
    vault:
      server: http://v
      path: kv
      auth:
        kubernetes:
          mountPath: k8s
          role: reader
          serviceAccountRef: { name: eso, audiences: [vault] }
`;
  const es = (ns: string) => `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: e, namespace: ${ns} }
spec:
  secretStoreRef: { name: css, kind: ClusterSecretStore }
  data: [{ secretKey: a, remoteRef: { key: ${ns}/db } }]
`;
  const bs = bindingsOf(manifests(store, es("b"), es("a")));
  const d = desiredState(bs, {
    kubernetes: { host: "https://api", caPem: "CA" },
    reviewer: { mode: "serviceAccount", namespace: "kube-system", name: "rev" },
  });
  assert.deepEqual(d.roles, [
    {
      mount: "k8s",
      role: "reader",
      fields: {
        bound_service_account_names: ["eso"],
        bound_service_account_namespaces: ["a", "b"],
        audience: "vault",
        token_policies: ["custos-k8s-reader"],
      },
    },
  ]);
  assert.deepEqual(d.auths[0]!.config, {
    kubernetes_host: "https://api",
    kubernetes_ca_cert: "CA",
    pem_keys: [],
    token_reviewer_jwt: "<token of ServiceAccount kube-system/rev>",
  });
  // two stores with different accounts in different namespaces cannot share one kubernetes role
  const other = store.replace("name: css", "name: css2").replace("name: eso,", "name: other, namespace: z,");
  assert.throws(
    () => bindingsOf(manifests(store, other, es("a"), es("a").replace("name: css,", "name: css2,"))),
    /cannot bind without binding more/,
  );
});

test("JWT referent ClusterSecretStore: several subjects become bound_claims.sub", () => {
  const store = `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: css }
spec:
  provider:
    vault:
      server: http://v
      path: kv
      auth:
        jwt:
          role: r
          kubernetesServiceAccountToken: { serviceAccountRef: { name: eso } }
`;
  const es = (ns: string) =>
    `{"apiVersion":"external-secrets.io/v1","kind":"ExternalSecret","metadata":{"name":"e","namespace":"${ns}"},"spec":{"secretStoreRef":{"name":"css","kind":"ClusterSecretStore"},"data":[{"secretKey":"a","remoteRef":{"key":"x"}}]}}`;
  const d = desiredState(bindingsOf(manifests(store, es("n1"), es("n2"))), KEYS);
  assert.deepEqual(d.roles[0]!.fields.bound_claims, {
    sub: ["system:serviceaccount:n1:eso", "system:serviceaccount:n2:eso"],
  });
  assert.equal(d.roles[0]!.fields.bound_subject, "");
});

test("diff: fresh Vault gets every write; the state after them gives no operation", () => {
  const d = desiredState(bindingsOf(manifests(seedStore, seedEs)), KEYS);
  const first = diff(d, emptyCurrent());
  assert.deepEqual(
    first.ops.map((o) => o.kind),
    ["enable-auth", "write-config", "write-policy", "write-role"],
  );
  assert.equal(
    report(first),
    `auth/jwt-auth: enabled (jwt)
auth/jwt-auth/config: written (bound_issuer, jwt_validation_pubkeys)
policy custos-jwt-auth-secret-accessor: written
auth/jwt-auth/role/secret-accessor: written (bound_audiences, bound_subject, role_type, token_policies, user_claim)
4 change(s)
`,
  );
  const second = diff(d, stateAfter(d));
  assert.deepEqual(second.ops, []);
  assert.equal(report(second), "no change\n");
});

test("diff: only what differs is written; a field set by hand elsewhere is cleared", () => {
  const d = desiredState(bindingsOf(manifests(seedStore, seedEs)), KEYS);
  const cur = stateAfter(d);
  const roles = new Map(cur.roles);
  roles.set(roleKey("jwt-auth", "secret-accessor"), {
    ...cur.roles.get(roleKey("jwt-auth", "secret-accessor")),
    token_policies: ["default", "admin"],
    bound_claims: { group: ["x"] },
  });
  const configs = new Map(cur.configs);
  configs.set("jwt-auth", { ...cur.configs.get("jwt-auth"), oidc_discovery_url: "https://elsewhere" });
  const plan = diff(d, { ...cur, roles, configs });
  assert.deepEqual(
    plan.ops.map((o) =>
      o.kind === "write-role" || o.kind === "write-config" ? [o.kind, o.changed, o.body] : o.kind,
    ),
    [
      [
        "write-config",
        ["oidc_discovery_url"],
        { bound_issuer: "https://api", jwt_validation_pubkeys: ["PEM-A"] },
      ],
      [
        "write-role",
        ["bound_claims", "token_policies"],
        {
          bound_audiences: ["vault"],
          bound_claims: {},
          bound_subject: "system:serviceaccount:default:eso-tokens",
          role_type: "jwt",
          token_policies: ["custos-jwt-auth-secret-accessor"],
          user_claim: "sub",
        },
      ],
    ],
  );
  // someone else's discovery URL and a role granting other policies: not overwritten unasked
  assert.deepEqual(plan.conflicts, [
    "auth/jwt-auth/config has other oidc_discovery_url",
    "auth/jwt-auth/role/secret-accessor exists with other token_policies",
  ]);
  // an auth mount of another type is never taken over
  assert.throws(
    () => diff(d, { ...cur, authTypes: new Map([["jwt-auth", "kubernetes"]]) }),
    /auth\/jwt-auth is a kubernetes auth method, not jwt/,
  );
});

test("diff: the reviewer token is compared by presence (Vault never returns it), rewritten when renewed", () => {
  const d = desiredState(
    bindingsOf(
      manifests(
        seedStore.replace(
          /jwt:[\s\S]*?(?=---)/,
          "kubernetes: { role: r, serviceAccountRef: { name: eso } }\n",
        ),
        seedEs,
      ),
    ),
    {
      kubernetes: { host: "https://api", caPem: "CA" },
      reviewer: { mode: "serviceAccount", namespace: "ns", name: "rev" },
    },
  );
  const cur = stateAfter(d);
  assert.deepEqual(diff(d, cur).ops, []);
  const renewed = diff(d, cur, { reviewerRenewed: true }).ops[0];
  assert.equal(renewed?.kind, "write-config");
  assert.deepEqual(renewed.kind === "write-config" && renewed.changed, ["token_reviewer_jwt"]);
  // self review: a token set earlier is removed
  const self = desiredState(
    bindingsOf(
      manifests(
        seedStore.replace(
          /jwt:[\s\S]*?(?=---)/,
          "kubernetes: { role: r, serviceAccountRef: { name: eso } }\n",
        ),
        seedEs,
      ),
    ),
    {
      kubernetes: { host: "https://api", caPem: "CA" },
      reviewer: { mode: "self" },
    },
  );
  const op = diff(self, cur).ops[0];
  assert.deepEqual(op?.kind === "write-config" && op.body, {
    kubernetes_ca_cert: "CA",
    kubernetes_host: "https://api",
  });
});

test("dry run: vault CLI commands with JSON on stdin, the reviewer token never in them", () => {
  const d = desiredState(
    bindingsOf(
      manifests(
        seedStore.replace(
          /jwt:[\s\S]*?(?=---)/,
          "kubernetes: { role: r, serviceAccountRef: { name: eso } }\n",
        ),
        seedEs,
      ),
    ),
    {
      kubernetes: { host: "https://api", caPem: "CA" },
      reviewer: { mode: "serviceAccount", namespace: "ns", name: "rev" },
    },
  );
  assert.equal(
    vaultCommands(diff(d, emptyCurrent()).ops),
    `vault auth enable -path=kubernetes kubernetes
# token_reviewer_jwt: kubectl -n ns get secret rev-token -o jsonpath='{.data.token}' | base64 -d
vault write auth/kubernetes/config - <<'EOF'
{
  "kubernetes_ca_cert": "CA",
  "kubernetes_host": "https://api",
  "token_reviewer_jwt": "<token of ServiceAccount ns/rev>"
}
EOF
vault policy write custos-kubernetes-r - <<'EOF'
# custos vault setup: what SecretStore default/vault-backend read
path "kv-v2/data/kubernetes/supersecret/test-secret" {
  capabilities = ["read"]
}
EOF
vault write auth/kubernetes/role/r - <<'EOF'
{
  "bound_service_account_names": [
    "eso"
  ],
  "bound_service_account_namespaces": [
    "default"
  ],
  "token_policies": [
    "custos-kubernetes-r"
  ]
}
EOF
`,
  );
});

test("JWKS to PEM: RSA and EC signing keys, encryption keys skipped", () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;
  const enc = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
  const pems = jwksToPems({
    keys: [
      { ...rsa.export({ format: "jwk" }), use: "sig", kid: "a" },
      { ...ec.export({ format: "jwk" }), kid: "b" },
      { ...enc.export({ format: "jwk" }), use: "enc" },
    ],
  });
  const want = [rsa, ec].map((k) => k.export({ type: "spki", format: "pem" }).toString().trim()).sort();
  assert.deepEqual(pems, want);
  assert.throws(() => jwksToPems({ keys: [] }), /has no keys/);
});

test("JWT with OIDC discovery: the discovery URL and CA; a switch from keys is one config write", () => {
  const b = bindingsOf(manifests(seedStore, seedEs));
  const keys = desiredState(b, KEYS);
  const disco = desiredState(b, { jwt: { mode: "discovery", url: "https://issuer", caPem: "CA" } });
  assert.deepEqual(
    diff(disco, emptyCurrent()).ops.find((o) => o.kind === "write-config"),
    {
      kind: "write-config",
      mount: "jwt-auth",
      body: { oidc_discovery_ca_pem: "CA", oidc_discovery_url: "https://issuer" },
      changed: ["oidc_discovery_ca_pem", "oidc_discovery_url"],
    },
  );
  // a config write replaces the whole config: the keys and bound issuer go with it
  const ops = diff(disco, stateAfter(keys)).ops;
  assert.deepEqual(
    ops.map((o) => o.kind === "write-config" && [o.changed, o.body]),
    [
      [
        ["bound_issuer", "jwt_validation_pubkeys", "oidc_discovery_ca_pem", "oidc_discovery_url"],
        { oidc_discovery_ca_pem: "CA", oidc_discovery_url: "https://issuer" },
      ],
    ],
  );
});

test("Vault's multi-error messages on one line; a refused token says which rights are needed", async () => {
  const { vaultError } = await import("../../../src/cli/vault/run.ts");
  const { CustosError } = await import("../../../src/util/errors.ts");
  const e = vaultError(
    new CustosError(
      "CUSTOS_ACCESS_DENIED",
      "Vault GET sys/auth: HTTP 403: 2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n",
    ),
  );
  assert.ok(isCustosError(e, "CUSTOS_ACCESS_DENIED"));
  assert.equal(
    e.message,
    "Vault GET sys/auth: HTTP 403: permission denied; invalid token (the Vault token needs read and sudo on sys/auth, and write on sys/auth/<mount>, sys/policies/acl/<policy>, auth/<mount>/config and auth/<mount>/role/<role>)",
  );
  assert.equal(e.retryable, false);
});

test("flags without manifests: the same binding as the equivalent store and ExternalSecret", async () => {
  const { flagsManifests, FLAGS_STORE } = await import("../../../src/cli/vault/flags.ts");
  const fromFlags = bindingsOf(
    flagsManifests({
      auth: "jwt",
      authPath: "jwt-auth",
      role: "secret-accessor",
      serviceAccount: "default/eso-tokens",
      audience: ["vault"],
      kvPath: "kv-v2",
      key: ["kv-v2/kubernetes/supersecret/test-secret"],
    }),
  );
  const fromFiles = bindingsOf(manifests(seedStore, seedEs));
  assert.deepEqual(fromFlags, [{ ...fromFiles[0]!, stores: [`SecretStore default/${FLAGS_STORE}`] }]);
  const k8s = bindingsOf(
    flagsManifests({
      auth: "kubernetes",
      role: "r",
      serviceAccount: "ns/app",
      kvPath: "kv",
      kvVersion: "v1",
      key: ["a/b"],
    }),
  );
  assert.deepEqual(
    [k8s[0]!.method, k8s[0]!.mount, k8s[0]!.subjects, k8s[0]!.audiences, k8s[0]!.rules],
    [
      "kubernetes",
      "kubernetes",
      [{ namespace: "ns", name: "app" }],
      [],
      [{ path: "kv/a/b", capabilities: ["read"] }],
    ],
  );
  assert.throws(
    () => flagsManifests({ auth: "jwt", role: "r" }),
    /without -f, --service-account, --kv-path, --key are needed/,
  );
  assert.throws(
    () => flagsManifests({ auth: "approle", role: "r", serviceAccount: "a/b", kvPath: "kv", key: ["x"] }),
    /--auth "approle": custos vault setup configures jwt and kubernetes auth/,
  );
});

test("conflicts: another cluster on the same kubernetes mount, a policy custos did not write; its own objects follow the manifests", () => {
  const store = seedStore.replace(
    /jwt:[\s\S]*?(?=---)/,
    "kubernetes: { role: r, serviceAccountRef: { name: eso } }\n",
  );
  const facts: ClusterFacts = {
    kubernetes: { host: "https://api", caPem: "CA" },
    reviewer: { mode: "self" },
  };
  const d = desiredState(bindingsOf(manifests(store, seedEs)), facts);
  const mine = stateAfter(d);
  const configs = new Map([
    ["kubernetes", { kubernetes_host: "https://other-cluster", kubernetes_ca_cert: "CA" }],
  ]);
  const policies = new Map([["custos-kubernetes-r", 'path "x" { capabilities = ["read"] }\n']]);
  assert.deepEqual(diff(d, { ...mine, configs, policies }).conflicts, [
    "auth/kubernetes/config has other kubernetes_host",
    "policy custos-kubernetes-r exists and was not written by custos vault setup",
  ]);
  // a new ExternalSecret and a new namespace: the policy and role custos wrote change freely
  const more = desiredState(
    bindingsOf(
      manifests(
        store,
        seedEs,
        seedEs.replace("external-secret-example", "b").replace("test-secret", "other"),
      ),
    ),
    facts,
  );
  const plan = diff(more, mine);
  assert.deepEqual(plan.conflicts, []);
  assert.deepEqual(
    plan.ops.map((o) => o.kind),
    ["write-policy"],
  );
});
