/**
 * End to end: the `webhook` provider against HTTP(S) servers this test starts, with the operator
 * as a process and the real API server. ESO's documented store shape (URL template, jsonPath,
 * headers from a labelled Secret), POST bodies, TLS with a private CA, failing endpoints, and the
 * tenant rule: a namespaced store cannot reach the operator's loopback; a ClusterSecretStore can.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { networkInterfaces, tmpdir } from "node:os";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
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
let http: Server;
let https: Server;
let pki: string;
let caPem: string;
const TOKEN = `tok-${suffix()}`;
const requests: { method: string; url: string; auth: string | undefined; body: string }[] = [];
// a non-loopback address of this machine (a namespaced store may not reach loopback)
const hostIp = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === "IPv4" && !i.internal)?.address;

const SECRETS: Record<string, unknown> = {
  "db-password": { value: "pw-1", meta: { owner: "team-a" } },
  "api/key with space": { value: "spaced" },
  config: {
    value: { host: "h", port: 5432 },
    items: [
      { n: "a", v: 1 },
      { n: "b", v: 2.5 },
    ],
  },
};

function handler(req: IncomingMessage, res: ServerResponse): void {
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString()));
  req.on("end", () => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", auth: req.headers.authorization, body });
    const u = new URL(req.url ?? "/", "http://x");
    const send = (status: number, payload?: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(payload === undefined ? "" : JSON.stringify(payload));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { error: "no" });
    if (u.pathname === "/fail") return send(500, { error: "boom" });
    if (u.pathname === "/lookup" && req.method === "POST") {
      const { name } = JSON.parse(body) as { name: string };
      return SECRETS[name] ? send(200, { result: SECRETS[name] }) : send(404);
    }
    const m = /^\/secrets\/(.+)$/.exec(u.pathname);
    if (m) {
      const key = decodeURIComponent(m[1]!.replace(/\+/g, " ")); // QueryEscape in the path, as ESO
      const s = SECRETS[key];
      if (!s) return send(404);
      return send(200, { ...(s as object), version: u.searchParams.get("version") ?? "" });
    }
    send(404);
  });
}

async function listen(s: Server): Promise<number> {
  await new Promise<void>((r) => s.listen(0, "0.0.0.0", r));
  return (s.address() as AddressInfo).port;
}

let httpPort: number;
let httpsPort: number;

before(async () => {
  env = await sharedEnv(["kube", "controller-manager"]);
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  pki = mkdtempSync(join(tmpdir(), "custos-webhook-"));
  const san = `subjectAltName=IP:127.0.0.1${hostIp ? `,IP:${hostIp}` : ""}`;
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=webhook-test",
      "-addext",
      san,
      "-keyout",
      join(pki, "k.pem"),
      "-out",
      join(pki, "c.pem"),
    ],
    { stdio: "ignore" },
  );
  caPem = readFileSync(join(pki, "c.pem"), "utf8");
  http = createServer(handler);
  https = createHttpsServer({ key: readFileSync(join(pki, "k.pem")), cert: caPem }, handler);
  httpPort = await listen(http);
  httpsPort = await listen(https);
  ns = await createNamespace(api, "webhook");
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: v1
kind: Secret
metadata:
  name: webhook-credentials
  labels: { external-secrets.io/type: webhook }
stringData: { token: ${TOKEN} }
---
apiVersion: v1
kind: Secret
metadata: { name: unlabelled }
stringData: { token: ${TOKEN} }
`,
  );
  op = await startOperator(env, ["--controllers", "externalsecret", "--namespace", ns]);
});

after(async () => {
  await op.stop();
  await new Promise<void>((r) => http.close(() => r()));
  await new Promise<void>((r) => https.close(() => r()));
  rmSync(pki, { recursive: true, force: true });
});

function apply(yaml: string): Promise<string> {
  return kubectl(env, ["apply", "-n", ns, "-f", "-"], yaml);
}

function store(name: string, webhook: string, kind = "SecretStore"): Promise<string> {
  return apply(`apiVersion: external-secrets.io/v1
kind: ${kind}
metadata: { name: ${name} }
spec:
  provider:
    webhook:
${webhook
  .trim()
  .split("\n")
  .map((l) => `      ${l}`)
  .join("\n")}
`);
}

function es(name: string, storeName: string, spec: string, kind = "SecretStore"): Promise<string> {
  return apply(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: ${storeName}, kind: ${kind} }
  target: { name: ${name} }
${spec
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`);
}

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

async function failed(name: string): Promise<string> {
  return eventually(
    `${name} failing`,
    async () => {
      const c = readyCondition(await esStatus(api, ns, name));
      return c?.status === "False" ? (c.message ?? "") : undefined;
    },
    60_000,
  );
}

const creds = `secrets:
  - name: creds
    secretRef: { name: webhook-credentials, key: token }`;

test(
  "ESO's documented store: URL template with escaped key and version, jsonPath, a header from a labelled Secret",
  { skip: !hostIp && "no non-loopback address" },
  async () => {
    await store(
      "docs",
      `url: "http://${hostIp}:${httpPort}/secrets/{{ .remoteRef.key }}?version={{ .remoteRef.version }}"
result: { jsonPath: "$.value" }
headers:
  Authorization: "Bearer {{ .creds.token }}"
  Content-Type: application/json
${creds}`,
    );
    await es(
      "docs",
      "docs",
      `data:
  - { secretKey: password, remoteRef: { key: db-password } }
  - { secretKey: spaced, remoteRef: { key: "api/key with space", version: "v 2&x" } }
  - { secretKey: config, remoteRef: { key: config } }
  - { secretKey: host, remoteRef: { key: config, property: host } }`,
    );
    const d = await ready("docs");
    assert.deepEqual(d, {
      password: "pw-1",
      spaced: "spaced",
      config: '{"host":"h","port":5432}',
      host: "h",
    });
    const spaced = requests.find((r) => r.url.startsWith("/secrets/api"));
    assert.equal(
      spaced?.url,
      "/secrets/api%2Fkey+with+space?version=v+2%26x",
      "Go's QueryEscape of key and version",
    );
    assert.ok(requests.every((r) => r.auth === `Bearer ${TOKEN}`));
    const configReads = requests.filter((r) => r.url.startsWith("/secrets/config")).length;
    assert.equal(configReads, 1, "one request for the key, whatever the number of properties read from it");
  },
);

test(
  "POST body template, a filter in jsonPath, dataFrom.extract of a JSON object",
  { skip: !hostIp && "no non-loopback address" },
  async () => {
    await store(
      "post",
      `url: "http://${hostIp}:${httpPort}/lookup"
method: POST
body: '{"name": "{{ .remoteRef.key }}"}'
result: { jsonPath: "$.result.items[?(@.n == 'b')].v" }
headers: { Authorization: "Bearer {{ .creds.token }}" }
${creds}`,
    );
    await store(
      "post-map",
      `url: "http://${hostIp}:${httpPort}/lookup"
method: POST
body: '{"name": "{{ .remoteRef.key }}"}'
result: { jsonPath: "$.result.value" }
headers: { Authorization: "Bearer {{ .creds.token }}" }
${creds}`,
    );
    await es("post", "post", "data:\n  - { secretKey: b, remoteRef: { key: config } }");
    assert.deepEqual(await ready("post"), { b: "2" }, "2.5 as ESO's FormatFloat(v, 'f', 0): 2");
    await es("post-map", "post-map", "dataFrom:\n  - extract: { key: config }");
    assert.deepEqual(await ready("post-map"), { host: "h", port: "5432" });
    assert.ok(requests.some((r) => r.method === "POST" && r.body === '{"name": "config"}'));
  },
);

test("TLS with a private CA: caBundle verifies the server; without it the certificate is refused", async () => {
  await apply(`apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: tls-${ns} }
spec:
  provider:
    webhook:
      url: "https://127.0.0.1:${httpsPort}/secrets/{{ .remoteRef.key }}"
      caBundle: ${Buffer.from(caPem).toString("base64")}
      result: { jsonPath: "$.value" }
      headers: { Authorization: "Bearer {{ .creds.token }}" }
      secrets:
        - name: creds
          secretRef: { name: webhook-credentials, key: token, namespace: ${ns} }
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: notls-${ns} }
spec:
  provider:
    webhook:
      url: "https://127.0.0.1:${httpsPort}/secrets/{{ .remoteRef.key }}"
      result: { jsonPath: "$.value" }
`);
  await es(
    "tls",
    `tls-${ns}`,
    "data:\n  - { secretKey: p, remoteRef: { key: db-password } }",
    "ClusterSecretStore",
  );
  assert.deepEqual(await ready("tls"), { p: "pw-1" }, "a ClusterSecretStore may reach loopback");
  await es(
    "notls",
    `notls-${ns}`,
    "data:\n  - { secretKey: p, remoteRef: { key: db-password } }",
    "ClusterSecretStore",
  );
  assert.match(await failed("notls"), /cannot reach webhook .*(certificate|CERT)/i);
});

test(
  "failing endpoints and refused credentials give clear conditions and never empty the Secret",
  { skip: !hostIp && "no non-loopback address" },
  async () => {
    await store(
      "failing",
      `url: "http://${hostIp}:${httpPort}/{{ .remoteRef.key }}"
headers: { Authorization: "Bearer {{ .creds.token }}" }
${creds}`,
    );
    await es("failing", "failing", "data:\n  - { secretKey: x, remoteRef: { key: fail } }");
    const m = await failed("failing");
    assert.match(m, /webhook GET http:\/\/.*\/fail: endpoint gave error HTTP 500/);
    assert.doesNotMatch(m, new RegExp(TOKEN));
    assert.equal(await secretData(api, ns, "failing"), undefined);

    await es("missing", "docs", "data:\n  - { secretKey: x, remoteRef: { key: no-such-secret } }");
    assert.match(await failed("missing"), /"no-such-secret" not found/);

    await store(
      "unlabelled",
      `url: "http://${hostIp}:${httpPort}/secrets/{{ .remoteRef.key }}"
headers: { Authorization: "Bearer {{ .creds.token }}" }
secrets:
  - name: creds
    secretRef: { name: unlabelled, key: token }`,
    );
    await es("unlabelled", "unlabelled", "data:\n  - { secretKey: x, remoteRef: { key: db-password } }");
    assert.match(await failed("unlabelled"), /needed label 'external-secrets.io\/type: webhook'/);
  },
);

test("a namespaced store cannot reach the operator's loopback or instance metadata; the store's spec says why", async () => {
  await store(
    "loopback",
    `url: "http://127.0.0.1:${httpPort}/secrets/{{ .remoteRef.key }}"
headers: { Authorization: "Bearer {{ .creds.token }}" }
${creds}`,
  );
  await es("loopback", "loopback", "data:\n  - { secretKey: x, remoteRef: { key: db-password } }");
  assert.match(await failed("loopback"), /loopback address .*only a ClusterSecretStore may reach/);
  await store("localhost", `url: "http://localhost:${httpPort}/secrets/{{ .remoteRef.key }}"`);
  await es("localhost", "localhost", "data:\n  - { secretKey: x, remoteRef: { key: db-password } }");
  assert.match(await failed("localhost"), /"localhost" is resolved to a loopback address/);
  await store(
    "imds",
    `url: "http://169.254.169.254/latest/meta-data/iam/security-credentials/{{ .remoteRef.key }}"`,
  );
  await es("imds", "imds", "data:\n  - { secretKey: x, remoteRef: { key: role } }");
  assert.match(await failed("imds"), /link-local address \(cloud instance metadata\)/);
  assert.ok(!requests.some((r) => r.url.includes("latest/meta-data")));
});
