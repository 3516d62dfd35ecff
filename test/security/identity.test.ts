/**
 * Attack class: the operator's own identity handed to a tenant. A tenant writes namespaced
 * SecretStores that would make Custos authenticate as itself (Vault `kubernetes` auth without a
 * ServiceAccount, Vault `iam` auth and AWS stores without credentials, a `role` assumed with the
 * operator's chain) against a server the tenant chose. What the tenant can observe: its stores and
 * ExternalSecrets are Ready=False naming the operator flag; its "server" (a listener in this test)
 * receives nothing; moto (behind a counting proxy) is never called for its secrets; no Secret is
 * written. A ClusterSecretStore keeps the operator's identity; the operator stays up and serves an
 * innocent ExternalSecret.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import {
  applyCrds,
  createNamespace,
  esStatus,
  eventually,
  kubectl,
  readyCondition,
  secretData,
  sleep,
  startCountingProxy,
  startOperator,
  suffix,
  KubeApi,
  type CountingProxy,
  type OperatorProcess,
} from "../e2e/helpers.ts";

const FLAG = "--allow-operator-identity-for-namespaced-stores";
const id = suffix();
const cls = `sec-identity-${id}`;
// The operator's own AWS credentials (moto accepts any): recognisable if they ever leave.
const OPERATOR_KEY = `AKIAOPERATOR${id.toUpperCase()}`;
let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let proxy: CountingProxy;
let ns: string;
let tenantServer: { url: string; requests: { method: string; path: string; body: string }[]; server: Server };

/** A tenant's "Vault": records every request and refuses it. */
async function recordingServer(): Promise<typeof tenantServer> {
  const requests: { method: string; path: string; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({
        method: req.method ?? "",
        path: req.url ?? "",
        body: Buffer.concat(chunks).toString(),
      });
      res.writeHead(400, { "content-type": "application/json" });
      res.end('{"errors":["recorded"]}');
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, requests, server };
}

const sm = (): SecretsManagerClient =>
  new SecretsManagerClient({
    region: "us-east-1",
    endpoint: env.aws.endpoint,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  proxy = await startCountingProxy(env.aws.endpoint);
  tenantServer = await recordingServer();
  ns = await createNamespace(api, "sec-identity");
  // Only this operator serves these stores (own controller class), and it watches only this
  // namespace: other operators running in the shared environment leave them alone.
  op = await startOperator(
    env,
    ["--controllers", "externalsecret", "--controller-class", cls, "--namespace", ns],
    {
      AWS_ENDPOINT_URL: proxy.url,
      AWS_ACCESS_KEY_ID: OPERATOR_KEY,
      AWS_SECRET_ACCESS_KEY: `operator-secret-${id}`,
      AWS_REGION: "us-east-1",
    },
  );
});

after(async () => {
  await op.stop();
  await proxy.stop();
  await new Promise((r) => tenantServer.server.close(r));
  await kubectl(env, ["delete", "clustersecretstore", `${cls}-cluster`, "--ignore-not-found"]).catch(
    () => undefined,
  );
});

async function storeReady(kind: "secretstores" | "clustersecretstores", name: string) {
  const path =
    kind === "secretstores"
      ? `/apis/external-secrets.io/v1/namespaces/${ns}/secretstores/${name}`
      : `/apis/external-secrets.io/v1/clustersecretstores/${name}`;
  const s = await api.get<{ status?: { conditions?: { type: string; status: string; message?: string }[] } }>(
    path,
  );
  return s.status?.conditions?.find((c) => c.type === "Ready");
}

const es = (name: string, store: string, key: string, kind = "SecretStore"): string => `---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: ${store}, kind: ${kind} }
  target: { name: ${name} }
  data: [ { secretKey: v, remoteRef: { key: ${key} } } ]
`;

test("a namespaced store cannot make Custos act as itself; a ClusterSecretStore still can", async () => {
  const tenantSecret = `idn-${id}/db`;
  const clusterSecret = `idn-${id}/cluster`;
  const innocentSecret = `idn-${id}/innocent`;
  const role = `arn:aws:iam::123456789012:role/admin-${id}`;
  for (const [name, value] of [
    [tenantSecret, "tenant-must-not-read-this"],
    [clusterSecret, "read-with-the-operator-identity"],
    [innocentSecret, "innocent-value"],
  ] as const)
    await sm().send(new CreateSecretCommand({ Name: name, SecretString: value }));
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "aws" },
    stringData: { id: "test", key: "test" },
  });
  await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "app" } });

  const vaultStore = (name: string, auth: string): string => `---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: ${name} }
spec:
  controller: ${cls}
  provider:
    vault:
      server: ${tenantServer.url}
      path: secret
      version: v2
      auth: ${auth}
`;
  const awsStore = (name: string, extra: string): string => `---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: ${name} }
spec:
  controller: ${cls}
  provider:
    aws: { service: SecretsManager, region: us-east-1${extra} }
`;
  // a cluster admin's store: may use the operator identity (ESO-compatible)
  await kubectl(
    env,
    ["apply", "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: ${cls}-cluster }
spec:
  controller: ${cls}
  provider:
    aws: { service: SecretsManager, region: us-east-1 }
`,
  );
  // hostile: each would use the operator's identity
  const hostile = [
    [
      "vault-k8s",
      vaultStore("vault-k8s", "{ kubernetes: { mountPath: k8s-hostile, role: r } }"),
      /serviceAccountRef/,
    ],
    [
      "vault-iam",
      vaultStore("vault-iam", "{ iam: { path: aws-hostile, vaultRole: r, region: us-east-1 } }"),
      /auth\.iam\.secretRef/,
    ],
    ["aws-chain", awsStore("aws-chain", ""), /auth\.secretRef/],
    ["aws-role", awsStore("aws-role", `, role: "${role}"`), /auth\.secretRef/],
  ] as const;
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    hostile
      .map(([name, yaml]) => yaml + es(`via-${name}`, name, name.startsWith("aws") ? tenantSecret : "app"))
      .join(""),
  );
  // controls: credentials the tenant names go out (the listener works); the operator identity on
  // a ClusterSecretStore still works; an innocent store syncs
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    vaultStore(
      "vault-sa",
      "{ kubernetes: { mountPath: k8s-control, role: r, serviceAccountRef: { name: app } } }",
    ) +
      es("via-vault-sa", "vault-sa", "app") +
      awsStore(
        "innocent",
        ", auth: { secretRef: { accessKeyIDSecretRef: { name: aws, key: id }, secretAccessKeySecretRef: { name: aws, key: key } } }",
      ) +
      es("innocent", "innocent", innocentSecret) +
      es("via-cluster", `${cls}-cluster`, clusterSecret, "ClusterSecretStore"),
  );

  // every hostile store: Ready=False, naming the flag and what the tenant can set instead
  for (const [name, , instead] of hostile) {
    const c = await eventually(`SecretStore ${name} refused`, async () => {
      const r = await storeReady("secretstores", name);
      return r?.status === "False" && r.message?.includes(FLAG) ? r : undefined;
    });
    assert.match(c.message ?? "", instead, name);
    assert.match(c.message ?? "", /namespaced SecretStore/);
    const e = await eventually(`ExternalSecret via-${name} refused`, async () => {
      const r = readyCondition(await esStatus(api, ns, `via-${name}`));
      return r?.status === "False" && r.message?.includes(FLAG) ? r : undefined;
    });
    assert.ok(!e.message?.includes(OPERATOR_KEY));
  }

  // the controls
  assert.deepEqual(await eventually("innocent synced", () => secretData(api, ns, "innocent")), {
    v: "innocent-value",
  });
  assert.deepEqual(await eventually("ClusterSecretStore synced", () => secretData(api, ns, "via-cluster")), {
    v: "read-with-the-operator-identity",
  });
  const login = await eventually("the tenant-named ServiceAccount's login reached the listener", () =>
    Promise.resolve(tenantServer.requests.find((r) => r.path === "/v1/auth/k8s-control/login")),
  );
  const jwt = (JSON.parse(login.body) as { jwt: string }).jwt;
  const claims = JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()) as { sub: string };
  assert.equal(
    claims.sub,
    `system:serviceaccount:${ns}:app`,
    "the tenant's own ServiceAccount, not the operator",
  );

  // a little longer for anything late (store requeues, retries)
  await sleep(3000);
  const leaked = tenantServer.requests.filter((r) => r.path !== "/v1/auth/k8s-control/login");
  assert.deepEqual(leaked, [], "the tenant's server received nothing else");
  for (const opName of ["GetSecretValue", "BatchGetSecretValue", "DescribeSecret"])
    assert.equal(proxy.count(opName, tenantSecret), 0, `${opName} of the tenant's target never sent`);
  assert.equal(proxy.count("AssumeRole", `admin-${id}`), 0, "the role was never assumed");
  assert.ok(
    proxy.count("GetSecretValue", clusterSecret) + proxy.count("BatchGetSecretValue", clusterSecret) > 0,
  );
  for (const [name] of hostile) assert.equal(await secretData(api, ns, `via-${name}`), undefined);
  assert.ok(!op.output().includes(`operator-secret-${id}`), "the operator's secret key is in no log line");
  assert.equal(op.child.exitCode, null, "the operator is still running");
});
