/** The VSO front door's pure rules: references, allowedNamespaces, globals, provider spec, data, refresh. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  globalCandidates,
  mergeGlobal,
  namespaceRefusal,
  resolveRef,
} from "../../../src/controllers/vso/refs.ts";
import { providerSpec } from "../../../src/controllers/vso/provider.ts";
import {
  desiredSecret,
  mayWrite,
  nextRefreshMs,
  parseVsoDuration,
  secretData,
  type VssObject,
} from "../../../src/controllers/vso/static.ts";
import { operatorNamespace } from "../../../src/controllers/vso/namespace.ts";
import { planTarget } from "../../../src/engine/target.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const dec = (d: Record<string, Uint8Array>): Record<string, string> =>
  Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Buffer.from(v).toString("utf8")]));

test("resolveRef: empty → default in the operator namespace; name → referring namespace; ns/name", () => {
  assert.deepEqual(resolveRef(undefined, "app", "ops"), { namespace: "ops", name: "default" });
  assert.deepEqual(resolveRef("", "app", "ops"), { namespace: "ops", name: "default" });
  assert.deepEqual(resolveRef("auth", "app", "ops"), { namespace: "app", name: "auth" });
  assert.deepEqual(resolveRef("team/auth", "app", "ops"), { namespace: "team", name: "auth" });
  assert.throws(
    () => resolveRef("a/b/c", "app", "ops"),
    (e) => isCustosError(e, "CUSTOS_INVALID_SPEC"),
  );
  assert.throws(() => resolveRef("/b", "app", "ops"));
});

test("allowedNamespaces: own namespace, operator default, unset, *, listed", () => {
  const r = (ns: string, name: string, allowed?: string[]) =>
    namespaceRefusal("VaultAuth", { namespace: ns, name, allowedNamespaces: allowed }, "tenant", "ops");
  assert.equal(r("tenant", "a"), undefined, "same namespace");
  assert.equal(r("ops", "default"), undefined, "the operator's default VaultAuth serves every namespace");
  assert.match(r("ops", "other")!, /not allowed/, "another VaultAuth of the operator namespace is not");
  assert.match(r("team", "a")!, /target namespace "tenant" is not allowed for VaultAuth team\/a/);
  assert.match(r("team", "a", [])!, /not allowed/);
  assert.match(r("team", "a", ["other"])!, /not allowed/);
  assert.equal(r("team", "a", ["tenant"]), undefined);
  assert.equal(r("team", "a", ["*"]), undefined);
  // a VaultAuthGlobal named default in the operator namespace has no such exception
  assert.match(
    namespaceRefusal("VaultAuthGlobal", { namespace: "ops", name: "default" }, "tenant", "ops")!,
    /VaultAuthGlobal/,
  );
});

test("operator namespace: flag, then OPERATOR_NAMESPACE, then the pod's, then custos-system", () => {
  assert.equal(
    operatorNamespace("f", { OPERATOR_NAMESPACE: "e" }, () => "p"),
    "f",
  );
  assert.equal(
    operatorNamespace(undefined, { OPERATOR_NAMESPACE: "e" }, () => "p"),
    "e",
  );
  assert.equal(
    operatorNamespace(undefined, {}, () => "p"),
    "p",
  );
  assert.equal(
    operatorNamespace(undefined, {}, () => undefined),
    "custos-system",
  );
});

test("VaultAuthGlobal: own non-empty values win; headers/params by merge strategy", () => {
  const global = {
    defaultAuthMethod: "kubernetes" as const,
    defaultMount: "k8s-default",
    defaultVaultNamespace: "gns",
    vaultConnectionRef: "conn",
    headers: { g: "1", both: "global" },
    kubernetes: {
      role: "grole",
      serviceAccount: "gsa",
      audiences: ["vault"],
      mount: "k8s-method",
      headers: { m: "1" },
    },
  };
  const none = mergeGlobal(
    { kubernetes: { role: "own", serviceAccount: "" }, headers: { both: "own" } },
    global,
  );
  assert.equal(none.method, "kubernetes");
  assert.equal(none.mount, "k8s-method");
  assert.equal(none.namespace, "gns");
  assert.deepEqual(none.kubernetes, { role: "own", serviceAccount: "gsa", audiences: ["vault"] });
  assert.deepEqual(none.headers, { both: "own" }, "none: the VaultAuth's headers only");
  assert.equal(none.vaultConnectionRef, "conn");
  assert.equal(none.connectionFromGlobal, true);
  const union = mergeGlobal(
    { headers: { both: "own" }, vaultAuthGlobalRef: { mergeStrategy: { headers: "union" } } },
    global,
  );
  assert.deepEqual(union.headers, { g: "1", m: "1", both: "own" });
  const replace = mergeGlobal({ vaultAuthGlobalRef: { mergeStrategy: { headers: "replace" } } }, global);
  assert.deepEqual(replace.headers, { m: "1" }, "replace: the first non-empty set");
  assert.deepEqual(mergeGlobal({ method: "jwt" }, undefined), { method: "jwt" });
});

test("VaultAuthGlobal lookup: explicit name, else default in the VaultAuth's then the operator's namespace", () => {
  const auth = (ref: object) => ({ namespace: "app", name: "a", spec: { vaultAuthGlobalRef: ref } });
  assert.deepEqual(globalCandidates(auth({ name: "g" }), "ops"), {
    refs: [{ namespace: "app", name: "g" }],
    required: true,
  });
  assert.deepEqual(globalCandidates(auth({ allowDefault: true }), "ops").refs, [
    { namespace: "app", name: "default" },
    { namespace: "ops", name: "default" },
  ]);
  assert.deepEqual(globalCandidates(auth({ allowDefault: true }), "ops", false).refs, []);
  assert.deepEqual(globalCandidates({ namespace: "app", name: "a", spec: {} }, "ops").refs, []);
});

test("provider spec: one Vault provider spec per method; gcp and skipTLSVerify refused with the reason", () => {
  const connection = { address: "https://vault:8200", headers: { h: "c" } };
  const k8s = providerSpec({
    connection,
    caPem: "PEM",
    auth: {
      method: "kubernetes",
      mount: "kubernetes-auth",
      namespace: "vns",
      kubernetes: { role: "r", serviceAccount: "sa", audiences: ["vault"] },
    },
    kv: { mount: "kv-secrets", version: "v2" },
  });
  assert.deepEqual(k8s, {
    server: "https://vault:8200",
    path: "kv-secrets",
    version: "v2",
    namespace: "vns",
    headers: { h: "c" },
    caBundle: Buffer.from("PEM").toString("base64"),
    auth: {
      namespace: "vns",
      kubernetes: {
        mountPath: "kubernetes-auth",
        role: "r",
        serviceAccountRef: { name: "sa", audiences: ["vault"] },
      },
    },
  });
  const approle = providerSpec({
    connection,
    auth: { method: "appRole", mount: "approle", appRole: { roleId: "id", secretRef: "s" } },
  });
  assert.deepEqual(approle.auth?.appRole, {
    path: "approle",
    roleId: "id",
    secretRef: { name: "s", key: "id" },
  });
  const jwt = providerSpec({
    connection,
    auth: { method: "jwt", mount: "jwt", jwt: { role: "r", secretRef: "j" } },
  });
  assert.deepEqual(jwt.auth?.jwt, { path: "jwt", role: "r", secretRef: { name: "j", key: "jwt" } });
  const aws = providerSpec({
    connection,
    auth: { method: "aws", mount: "aws", aws: { role: "r", region: "eu-west-1", secretRef: "k" } },
  });
  assert.equal(aws.auth?.iam?.vaultRole, "r");
  assert.deepEqual(aws.auth?.iam?.secretRef?.accessKeyIDSecretRef, { name: "k", key: "access_key_id" });
  assert.throws(
    () =>
      providerSpec({
        connection,
        auth: { method: "gcp", mount: "gcp", gcp: { role: "r", workloadIdentityServiceAccount: "w" } },
      }),
    /gcp is not supported/,
  );
  assert.throws(
    () =>
      providerSpec({
        connection: { ...connection, skipTLSVerify: true },
        auth: { method: "jwt", mount: "j", jwt: { role: "r", secretRef: "s" } },
      }),
    /skipTLSVerify/,
  );
  // the secret's Vault namespace wins over the VaultAuth's
  assert.equal(
    providerSpec({
      connection,
      vaultNamespace: "team",
      auth: { method: "jwt", namespace: "a", mount: "j", jwt: { role: "r", secretRef: "s" } },
    }).namespace,
    "team",
  );
});

test("secret data: templates first, then fields not set; excludes then includes; _raw reserved", () => {
  const secret = { user: "u", port: 5432, obj: { b: 1, a: "<" }, dsn: "from-vault" };
  const d = dec(
    secretData({
      secret,
      raw: { data: secret, metadata: { version: 3 } },
      metadata: { version: 3 },
      templates: [
        {
          key: "dsn",
          text: "{{ .Secrets.user }}:{{ .Secrets.port }}@v{{ .Metadata.version }}/{{ .Labels.app }}",
        },
      ],
      labels: { app: "shop" },
    }),
  );
  assert.equal(d.dsn, "u:5432@v3/shop", "a template wins over the field of the same name");
  assert.equal(d.port, "5432");
  assert.equal(d.obj, '{"a":"\\u003c","b":1}');
  assert.equal(
    d._raw,
    '{"data":{"dsn":"from-vault","obj":{"a":"\\u003c","b":1},"port":5432,"user":"u"},"metadata":{"version":3}}',
  );
  const f = dec(
    secretData({ secret, raw: secret, includes: ["^(user|port)$"], excludes: ["^port$"], excludeRaw: true }),
  );
  assert.deepEqual(Object.keys(f), ["user"]);
  assert.throws(() => secretData({ secret: { _raw: "x" }, raw: {} }), /reserves/);
  assert.deepEqual(dec(secretData({ secret: { _raw: "x" }, raw: {}, excludeRaw: true })), { _raw: "x" });
});

const vss = (dest: Partial<VssObject["spec"]["destination"]>): VssObject => ({
  apiVersion: "secrets.hashicorp.com/v1beta1",
  kind: "VaultStaticSecret",
  metadata: { name: "s", namespace: "app", uid: "uid-1", generation: 1 },
  spec: { mount: "kv", path: "p", type: "kv-v2", destination: { name: "dest", ...dest } },
});

test("destination: VSO's labels and plain owner reference; create:false writes data only; foreign Secrets refused unless overwrite", () => {
  const obj = vss({
    create: true,
    labels: { "app.kubernetes.io/managed-by": "me", team: "a" },
    annotations: { n: "1" },
  });
  const data = { k: new TextEncoder().encode("v") };
  const desired = desiredSecret(obj, obj.spec.destination, data);
  assert.deepEqual(desired.labels, {
    team: "a",
    "app.kubernetes.io/managed-by": "hashicorp-vso",
    "app.kubernetes.io/name": "vault-secrets-operator",
    "app.kubernetes.io/component": "secret-sync",
    "secrets.hashicorp.com/vso-ownerRefUID": "uid-1",
  });
  assert.deepEqual(desired.owner, {
    apiVersion: "secrets.hashicorp.com/v1beta1",
    kind: "VaultStaticSecret",
    name: "s",
    uid: "uid-1",
  });
  const created = planTarget(desired, undefined, { mayWrite: mayWrite(obj, obj.spec.destination) });
  assert.equal(created.action, "create");
  // the Secret as written: nothing to do on the next pass (the owner reference has no controller flag)
  const again = planTarget(desired, created.secret, { mayWrite: mayWrite(obj, obj.spec.destination) });
  assert.equal(again.action, "none");
  const foreign = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "dest", namespace: "app" },
    data: {},
  };
  assert.throws(
    () => planTarget(desired, foreign, { mayWrite: mayWrite(obj, obj.spec.destination) }),
    (e) => isCustosError(e, "CUSTOS_OWNERSHIP_CONFLICT") && /not the owner/.test(e.message),
  );
  const over = vss({ create: true, overwrite: true });
  assert.equal(
    planTarget(desiredSecret(over, over.spec.destination, data), foreign, {
      mayWrite: mayWrite(over, over.spec.destination),
    }).action,
    "update",
  );
  const noCreate = vss({});
  const d2 = desiredSecret(noCreate, noCreate.spec.destination, data);
  assert.deepEqual([d2.labels, d2.annotations, d2.owner, d2.type], [{}, {}, undefined, undefined]);
  const existing = {
    ...foreign,
    type: "kubernetes.io/tls",
    metadata: { ...foreign.metadata, labels: { mine: "x" } },
  };
  const p = planTarget(d2, existing, { mayWrite: mayWrite(noCreate, noCreate.spec.destination) });
  assert.equal(p.action, "update");
  assert.deepEqual(p.secret?.metadata.labels, { mine: "x" });
  assert.equal(p.secret?.type, "kubernetes.io/tls", "create:false keeps the Secret's type");
});

test("refresh: 80-90% of refreshAfter; 60 s with HMAC and no refreshAfter; none without either", () => {
  const spec = vss({}).spec;
  assert.equal(
    nextRefreshMs({ ...spec, refreshAfter: "30s" }, () => 0),
    27_000,
  );
  assert.equal(
    nextRefreshMs({ ...spec, refreshAfter: "30s" }, () => 1),
    24_000,
  );
  assert.equal(
    nextRefreshMs({ ...spec, refreshAfter: "1.5h" }, () => 0),
    4_860_000,
  );
  assert.equal(
    nextRefreshMs(spec, () => 0),
    54_000,
  );
  assert.equal(nextRefreshMs({ ...spec, hmacSecretData: false }), undefined);
  assert.equal(parseVsoDuration("2m"), 120_000);
  assert.throws(
    () => parseVsoDuration("1d"),
    (e) => isCustosError(e, "CUSTOS_INVALID_DURATION"),
  );
  assert.throws(() => parseVsoDuration("300ms"));
});
