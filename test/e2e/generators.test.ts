/**
 * End to end: ESO's generators (Password, UUID, Fake, ClusterGenerator) used from ExternalSecrets
 * through the operator process and the real API server, with ESO's documented manifests.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
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
  KubeApi,
  type OperatorProcess,
} from "./helpers.ts";

let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let ns: string;
const clusterGen = `cg-${suffix()}`;

before(async () => {
  env = await sharedEnv(["kube", "controller-manager"]);
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  ns = await createNamespace(api, "generators");
  op = await startOperator(env, ["--controllers", "externalsecret", "--namespace", ns]);
});

after(async () => {
  await op.stop();
  await kubectl(env, ["delete", "clustergenerator", clusterGen, "--ignore-not-found"]);
});

const apply = (yaml: string): Promise<string> => kubectl(env, ["apply", "-n", ns, "-f", "-"], yaml);

async function ready(name: string): Promise<Record<string, string>> {
  await eventually(
    `${name} Ready`,
    async () => {
      const c = readyCondition(await esStatus(api, ns, name));
      if (c?.status === "False") throw new Error(c.message);
      return c?.status === "True";
    },
    60_000,
  );
  return (await secretData(api, ns, name))!;
}

test("ESO's documented Password, UUID and ClusterGenerator(Fake) manifests, without a store", async () => {
  await apply(`apiVersion: generators.external-secrets.io/v1alpha1
kind: Password
metadata:
  name: my-password
spec:
  length: 42
  digits: 5
  symbols: 5
  symbolCharacters: "-_$@"
  noUpper: false
  allowRepeat: true
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: UUID
metadata:
  name: my-uuid
spec: {}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata:
  name: ${clusterGen}
spec:
  kind: Fake
  generator:
    fakeSpec:
      data:
        foo: bar
        baz: bang
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: generated
spec:
  refreshInterval: "0"
  target:
    name: generated
  dataFrom:
    - sourceRef:
        generatorRef:
          apiVersion: generators.external-secrets.io/v1alpha1
          kind: Password
          name: my-password
    - sourceRef:
        generatorRef:
          apiVersion: generators.external-secrets.io/v1alpha1
          kind: UUID
          name: my-uuid
    - sourceRef:
        generatorRef:
          apiVersion: generators.external-secrets.io/v1alpha1
          kind: ClusterGenerator
          name: ${clusterGen}
      rewrite:
        - regexp: { source: "(.*)", target: "fake-$1" }
`);
  const d = await ready("generated");
  assert.equal(d.password?.length, 42);
  assert.equal(Array.from(d.password!).filter((c) => "-_$@".includes(c)).length, 5);
  assert.match(d.uuid ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(d["fake-foo"], "bar");
  assert.equal(d["fake-baz"], "bang");
  assert.ok(!op.output().includes(d.password!), "the generated password is never logged");
});

test("refreshInterval rotates a generated password: each due sync generates a new one", async () => {
  await apply(`apiVersion: generators.external-secrets.io/v1alpha1
kind: Password
metadata: { name: rotating }
spec: { length: 16 }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: rotating }
spec:
  refreshInterval: 1s
  target: { name: rotating }
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: Password, name: rotating } }
`);
  const first = (await ready("rotating")).password!;
  assert.equal(first.length, 16);
  await eventually(
    "a new password",
    async () => {
      const now = (await secretData(api, ns, "rotating"))?.password;
      return now !== undefined && now !== first;
    },
    60_000,
  );
});

test("a missing generator and an unsupported kind give clear conditions", async () => {
  await apply(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: missing-gen }
spec:
  refreshInterval: 1h
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: Password, name: nope } }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: unsupported-gen }
spec:
  refreshInterval: 1h
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: GithubAccessToken, name: gh } }
`);
  const failed = (name: string): Promise<string> =>
    eventually(
      `${name} failing`,
      async () => {
        const c = readyCondition(await esStatus(api, ns, name));
        return c?.status === "False" ? (c.message ?? "") : undefined;
      },
      60_000,
    );
  assert.match(await failed("missing-gen"), new RegExp(`Password ${ns}/nope not found`));
  assert.match(await failed("unsupported-gen"), /generator kind "GithubAccessToken" is not supported yet/);
});

test("Webhook generator: the JSON object at jsonPath becomes the keys; a labelled Secret feeds the headers; loopback refused", async (t) => {
  const { createServer } = await import("node:http");
  const { networkInterfaces } = await import("node:os");
  const hostIp = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === "IPv4" && !i.internal)?.address;
  if (!hostIp) return t.skip("no non-loopback address");
  const server = createServer((req, res) => {
    res.writeHead(req.headers["x-api-key"] === "k-123" ? 200 : 401, { "content-type": "application/json" });
    res.end(JSON.stringify({ data: { token: `gen-${suffix()}`, ttl: 5, nested: { a: 1 } } }));
  });
  await new Promise<void>((r) => server.listen(0, "0.0.0.0", r));
  const port = (server.address() as { port: number }).port;
  try {
    await apply(`apiVersion: v1
kind: Secret
metadata:
  name: gen-api-key
  labels: { external-secrets.io/type: webhook }
stringData: { key: k-123 }
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: Webhook
metadata: { name: token }
spec:
  url: "http://${hostIp}:${port}/token"
  method: POST
  headers: { X-Api-Key: "{{ .auth.key }}" }
  result: { jsonPath: "$.data" }
  secrets:
    - name: auth
      secretRef: { name: gen-api-key, key: key }
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: Webhook
metadata: { name: local }
spec:
  url: "http://127.0.0.1:${port}/token"
  result: { jsonPath: "$.data" }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: from-webhook }
spec:
  refreshInterval: 1h
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: Webhook, name: token } }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: from-local }
spec:
  refreshInterval: 1h
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: Webhook, name: local } }
`);
    const d = await ready("from-webhook");
    assert.match(d.token ?? "", /^gen-/);
    assert.equal(d.ttl, "5");
    assert.equal(d.nested, '{"a":1}');
    const message = await eventually(
      "from-local failing",
      async () => {
        const c = readyCondition(await esStatus(api, ns, "from-local"));
        return c?.status === "False" ? (c.message ?? "") : undefined;
      },
      60_000,
    );
    assert.match(message, /loopback address/);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("SSHKey generator (ESO's manifest): an OpenSSH key pair in the Secret", async () => {
  await apply(`apiVersion: generators.external-secrets.io/v1alpha1
kind: SSHKey
metadata: { name: ssh-key }
spec:
  keyType: ed25519
  comment: deploy@example
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ssh }
spec:
  refreshInterval: "0"
  target: { name: ssh, template: { type: kubernetes.io/ssh-auth, data: { ssh-privatekey: "{{ .privateKey }}", ssh-publickey: "{{ .publicKey }}" } } }
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: SSHKey, name: ssh-key } }
`);
  const d = await ready("ssh");
  assert.match(d["ssh-privatekey"] ?? "", /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
  assert.match(d["ssh-publickey"] ?? "", /^ssh-ed25519 [A-Za-z0-9+/=]+ deploy@example\n$/);
});
