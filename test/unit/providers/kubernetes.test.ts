import { test } from "node:test";
import assert from "node:assert/strict";
import { kubernetesProvider } from "../../../src/providers/kubernetes/index.ts";
import { parseKubeconfig } from "../../../src/providers/kubernetes/kubeconfig.ts";
import { labelSelector, secretToRemote } from "../../../src/providers/kubernetes/session.ts";
import { resolveConnection } from "../../../src/providers/kubernetes/auth.ts";
import { extractProperty } from "../../../src/controllers/externalsecret/data.ts";
import { isCustosError } from "../../../src/util/errors.ts";
import type { KubeAccess, StoreContext } from "../../../src/providers/types.ts";
import type { KubernetesProviderSpec } from "../../../src/providers/kubernetes/schema.ts";

const reads: string[] = [];
const kube: KubeAccess = {
  secretKey: (ns, name, key) => {
    reads.push(`${ns}/${name}/${key}`);
    return Promise.resolve(new TextEncoder().encode(`v:${ns}/${name}/${key}`));
  },
  configMapKey: (ns, name, key) => Promise.resolve(`cm:${ns}/${name}/${key}`),
  serviceAccountToken: () => Promise.resolve("t"),
  serviceAccountAnnotations: () => Promise.resolve({}),
  apiServer: () => ({ url: "https://10.0.0.1:6443", caPem: "OWN-CA" }),
};
const ctx = (storeKind: StoreContext["storeKind"], namespace = "tenant"): StoreContext => ({
  storeKind,
  storeName: "s",
  storeUid: "u",
  namespace,
  kube,
});

test("validate: exactly one auth method, https server, namespace name, keys on references", () => {
  const v = (s: unknown): string[] => kubernetesProvider.validate(s as KubernetesProviderSpec);
  assert.deepEqual(v({ auth: { token: { bearerToken: { name: "t", key: "token" } } } }), []);
  assert.match(v({}).join(), /no auth provider given/);
  assert.match(
    v({ auth: { token: { bearerToken: { name: "t", key: "k" } }, serviceAccount: { name: "a" } } }).join(),
    /multiple auth methods/,
  );
  assert.match(
    v({ authRef: { name: "k", key: "c" }, auth: { serviceAccount: { name: "a" } } }).join(),
    /authRef and inline auth/,
  );
  assert.match(
    v({ server: { url: "http://x" }, auth: { serviceAccount: { name: "a" } } }).join(),
    /must be https/,
  );
  assert.deepEqual(v({ server: { url: "kubernetes.default" }, auth: { serviceAccount: { name: "a" } } }), []);
  assert.match(
    v({ remoteNamespace: "Bad_NS", auth: { serviceAccount: { name: "a" } } }).join(),
    /remoteNamespace/,
  );
  assert.match(v({ auth: { token: { bearerToken: { name: "t" } } } }).join(), /needs a key/);
});

test("identity: references resolve in the store's namespace on a SecretStore, referent on a ClusterSecretStore", () => {
  const spec: KubernetesProviderSpec = {
    remoteNamespace: "apps",
    auth: { token: { bearerToken: { name: "t", key: "token", namespace: "kube-system" } } },
  };
  const a = kubernetesProvider.identity(spec, ctx("SecretStore", "team-a"));
  const b = kubernetesProvider.identity(spec, ctx("SecretStore", "team-b"));
  assert.notEqual(a, b);
  assert.match(a, /team-a\/t\/token/);
  assert.doesNotMatch(a, /kube-system/);
  assert.match(kubernetesProvider.identity(spec, ctx("ClusterSecretStore", "x")), /kube-system\/t\/token/);
  const referent = { auth: { serviceAccount: { name: "reader" } } };
  assert.notEqual(
    kubernetesProvider.identity(referent, ctx("ClusterSecretStore", "a")),
    kubernetesProvider.identity(referent, ctx("ClusterSecretStore", "b")),
  );
  // a different remote namespace or server is a different session
  assert.notEqual(
    kubernetesProvider.identity({ ...spec, remoteNamespace: "other" }, ctx("SecretStore")),
    kubernetesProvider.identity(spec, ctx("SecretStore")),
  );
});

test("connection: a SecretStore reads credentials and CA in its own namespace; default server is the operator's API server", async () => {
  reads.length = 0;
  const c = await resolveConnection(
    {
      auth: {
        cert: {
          clientCert: { name: "c", key: "tls.crt", namespace: "kube-system" },
          clientKey: { name: "c", key: "tls.key", namespace: "kube-system" },
        },
      },
    },
    ctx("SecretStore"),
  );
  assert.deepEqual(reads, ["tenant/c/tls.crt", "tenant/c/tls.key"]);
  assert.equal(c.url, "https://10.0.0.1:6443");
  assert.equal(c.caPem, "OWN-CA");
  assert.deepEqual(c.cert, { cert: "v:tenant/c/tls.crt", key: "v:tenant/c/tls.key" });
  const sa = await resolveConnection(
    {
      server: {
        url: "https://remote:6443",
        caProvider: { type: "ConfigMap", name: "kube-root-ca.crt", key: "ca.crt" },
      },
      auth: { serviceAccount: { name: "reader", namespace: "kube-system", audiences: ["x"] } },
    },
    ctx("SecretStore"),
  );
  assert.equal(sa.caPem, "cm:tenant/kube-root-ca.crt/ca.crt");
  assert.deepEqual(sa.token, { serviceAccount: { namespace: "tenant", name: "reader", audiences: ["x"] } });
  const withUrl = await resolveConnection(
    { server: { url: "https://remote:6443" }, auth: { token: { bearerToken: { name: "t", key: "k" } } } },
    ctx("SecretStore"),
  );
  assert.equal(
    withUrl.caPem,
    undefined,
    "a named server without a CA uses the system roots, not the operator's CA",
  );
});

const kubeconfig = (
  user: string,
  cluster = "server: https://remote:6443\n      certificate-authority-data: Q0E=",
): string => `apiVersion: v1
kind: Config
clusters:
  - name: c
    cluster:
      ${cluster}
users:
  - name: u
    user:
      ${user}
contexts:
  - name: x
    context: { cluster: c, user: u }
current-context: x
`;

test("authRef kubeconfig: inline token and client certificate only; files, exec and plugins refused", () => {
  const ok = parseKubeconfig(kubeconfig("token: abc"));
  assert.deepEqual(ok, { url: "https://remote:6443", caPem: "CA", token: "abc" });
  const cert = parseKubeconfig(kubeconfig("client-certificate-data: Q0VSVA==\n      client-key-data: S0VZ"));
  assert.deepEqual(cert.cert, { cert: "CERT", key: "KEY" });
  for (const bad of [
    "tokenFile: /var/run/secrets/token",
    "client-certificate: /etc/c.crt\n      client-key: /etc/c.key",
    "exec: { command: sh, apiVersion: client.authentication.k8s.io/v1 }",
    "auth-provider: { name: oidc }",
    "username: a\n      password: b",
  ]) {
    assert.throws(
      () => parseKubeconfig(kubeconfig(bad)),
      (e: unknown) => isCustosError(e, "CUSTOS_INVALID_SPEC") && /is not allowed/.test(e.message),
      bad,
    );
  }
  assert.throws(
    () => parseKubeconfig(kubeconfig("token: a", "server: https://x\n      insecure-skip-tls-verify: true")),
    /insecure-skip-tls-verify/,
  );
  assert.throws(
    () => parseKubeconfig(kubeconfig("token: a", "server: https://x\n      certificate-authority: /ca")),
    /certificate-authority/,
  );
  assert.throws(
    () => parseKubeconfig(kubeconfig("token: a", "server: https://x\n      proxy-url: http://p")),
    /proxy-url/,
  );
  assert.throws(() => parseKubeconfig("{"), /not valid YAML|not a kubeconfig/);
});

test("find.tags becomes a label selector of plain labels only", () => {
  assert.equal(labelSelector({ b: "2", "app.kubernetes.io/name": "x" }), "app.kubernetes.io/name=x,b=2");
  assert.equal(labelSelector({ a: "" }), "a=");
  for (const bad of [
    { "a,b": "1" },
    { a: "x,b!=y" },
    { a: "x y" },
    { "-a": "1" },
    { "Bad_Prefix/a": "1" },
  ] as Record<string, string>[])
    assert.throws(
      () => labelSelector(bad),
      (e: unknown) => isCustosError(e, "CUSTOS_INVALID_SPEC"),
    );
});

const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");

test("properties as ESO's kubernetes provider: exact key bytes, then key.path inside a JSON value, whole Secret without HTML escapes", () => {
  const binary = Buffer.from([0xff, 0x00, 0xfe]);
  const s = secretToRemote(
    {
      metadata: { name: "db" },
      data: {
        user: b64("admin"),
        "a.b": b64("dotted"),
        config: b64('{"host":"h","port":5432,"nested":{"x":[1,2]}}'),
        html: b64("<&>"),
        bin: binary.toString("base64"),
      },
    },
    "None",
  );
  const p = (property?: string): string =>
    Buffer.from(extractProperty(s, { key: "db", ...(property ? { property } : {}) })).toString("latin1");
  assert.equal(p("user"), "admin");
  assert.equal(p("a.b"), "dotted", "an exact key wins over a path");
  assert.equal(p("config.host"), "h");
  assert.equal(p("config.port"), "5432");
  assert.equal(p("config.nested"), '{"x":[1,2]}');
  assert.equal(p("bin"), binary.toString("latin1"), "binary values keep their bytes");
  assert.throws(
    () => p("config.none"),
    (e: unknown) => isCustosError(e, "CUSTOS_PROPERTY_NOT_FOUND"),
  );
  assert.throws(
    () => p("user.x"),
    (e: unknown) => isCustosError(e, "CUSTOS_PROPERTY_NOT_FOUND"),
  );
  const whole = Buffer.from(extractProperty(s, { key: "db" })).toString("utf8");
  assert.ok(whole.startsWith('{"a.b":"dotted","bin":"'), whole);
  assert.ok(whole.includes('"html":"<&>"'), "esutils.JSONMarshal does not escape HTML");
});

test("metadataPolicy Fetch: labels and annotations as ESO returns them", () => {
  const s = secretToRemote(
    {
      metadata: { name: "x", labels: { team: "a", "app.io/x": "1" }, annotations: { note: '{"k":"v"}' } },
      data: {},
    },
    "Fetch",
  );
  const p = (property?: string): string =>
    Buffer.from(
      extractProperty(s, { key: "x", ...(property ? { property } : {}), metadataPolicy: "Fetch" }),
    ).toString();
  assert.equal(p(), '{"annotations":{"note":"{\\"k\\":\\"v\\"}"},"labels":{"app.io/x":"1","team":"a"}}');
  assert.equal(p("labels.team"), "a");
  assert.equal(p("labels"), '{"app.io/x":"1","team":"a"}');
  const none = secretToRemote({ metadata: { name: "y" } }, "Fetch");
  assert.equal(
    Buffer.from(extractProperty(none, { key: "y", metadataPolicy: "Fetch" })).toString(),
    '{"annotations":null,"labels":null}',
  );
});
