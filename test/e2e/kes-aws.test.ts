/**
 * End to end: KES `secretsManager` and `systemManager` backends served by `custos operator` (the
 * existing aws provider, built from the KES backend + AWS_REGION), against moto through a
 * counting proxy. KES used its own pod's AWS credentials; here the operator's environment holds
 * moto's keys, and AWS_ENDPOINT_URL points the SDK at the proxy.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  SecretsManagerClient,
  CreateSecretCommand,
  PutSecretValueCommand,
  DescribeSecretCommand,
} from "@aws-sdk/client-secrets-manager";
import { SSMClient, PutParameterCommand } from "@aws-sdk/client-ssm";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import {
  applyCrds,
  createNamespace,
  eventually,
  kubectl,
  secretData,
  startCountingProxy,
  startOperator,
  suffix,
  KubeApi,
  type CountingProxy,
  type OperatorProcess,
} from "./helpers.ts";

const root = join(import.meta.dirname, "..", "..");
const KES_CRD = join(root, "deploy", "crds-kes", "kubernetes-client.io_externalsecrets.yaml");

let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let proxy: CountingProxy;
let ns: string;
const id = suffix();

const clients = (region: string): { sm: SecretsManagerClient; ssm: SSMClient } => {
  const cfg = {
    region,
    endpoint: env.aws.endpoint,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  };
  return { sm: new SecretsManagerClient(cfg), ssm: new SSMClient(cfg) };
};

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  await kubectl(env, ["apply", "-f", KES_CRD]);
  await kubectl(env, ["wait", "--for=condition=Established", "crd/externalsecrets.kubernetes-client.io"]);
  ns = await createNamespace(api, "kes-aws");
  proxy = await startCountingProxy(env.aws.endpoint);
  op = await startOperator(
    env,
    ["--controllers", "kes", "--kes-watched-namespaces", ns, "--kes-poller-interval-ms", "3000"],
    {
      AWS_ENDPOINT_URL: proxy.url,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_REGION: "us-east-1",
    },
  );
});

after(async () => {
  await op.stop();
  await proxy.stop();
  await api.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
  await kubectl(env, ["delete", "-f", KES_CRD, "--wait=false"]).catch(() => undefined);
});

async function apply(yaml: string): Promise<void> {
  await kubectl(env, ["apply", "-n", ns, "-f", "-"], yaml);
}

async function waitFor(
  name: string,
  check: (d: Record<string, string>) => boolean,
): Promise<Record<string, string>> {
  try {
    return await eventually(`Secret ${name}`, async () => {
      const d = await secretData(api, ns, name);
      return d && check(d) ? d : undefined;
    });
  } catch (e) {
    const o = await api.getOrUndefined<{ status?: unknown }>(
      `/apis/kubernetes-client.io/v1/namespaces/${ns}/externalsecrets/${name}`,
    );
    throw new Error(`${(e as Error).message}; status ${JSON.stringify(o?.status)}`, { cause: e });
  }
}

test("secretsManager: property, whole value, dataFrom, versionStage and versionId, isBinary, region from the object and AWS_REGION, roleArn", async () => {
  const { sm } = clients("us-east-1");
  const name = `kes/${id}/db`;
  const created = await sm.send(
    new CreateSecretCommand({
      Name: name,
      SecretString: JSON.stringify({ user: "admin", pass: "first-pass" }),
    }),
  );
  await sm.send(
    new PutSecretValueCommand({
      SecretId: name,
      SecretString: JSON.stringify({ user: "admin", pass: "second-pass" }),
    }),
  );
  const firstVersion = created.VersionId!;
  const bin = `kes/${id}/bin`;
  await sm.send(
    new CreateSecretCommand({ Name: bin, SecretString: Buffer.from([0, 1, 2, 250]).toString("base64") }),
  );
  const eu = clients("eu-west-1").sm;
  const euName = `kes/${id}/eu`;
  await eu.send(new CreateSecretCommand({ Name: euName, SecretString: JSON.stringify({ where: "eu" }) }));

  await apply(`apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: { name: sm }
spec:
  backendType: secretsManager
  dataFrom: [${name}]
  dataFromWithOptions: [{ key: ${name}, versionStage: AWSPREVIOUS }]
  data:
    - { key: ${name}, name: password, property: pass }
    - { key: ${name}, name: whole }
    - { key: ${name}, name: previous, property: pass, versionStage: AWSPREVIOUS }
    - { key: ${name}, name: byId, property: pass, versionId: ${firstVersion} }
    - { key: ${bin}, name: bin, isBinary: true }
---
apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: { name: sm-eu }
spec:
  backendType: secretsManager
  region: eu-west-1
  roleArn: arn:aws:iam::123456789012:role/kes-${id}
  data: [{ key: ${euName}, name: where, property: where }]
`);
  const d = await waitFor("sm", (x) => x.password !== undefined);
  // dataFrom (current), then dataFromWithOptions (previous) override, then data
  assert.equal(d.user, "admin");
  assert.equal(d.pass, "first-pass", "dataFromWithOptions comes after dataFrom");
  assert.equal(d.password, "second-pass");
  assert.equal(d.whole, JSON.stringify({ user: "admin", pass: "second-pass" }));
  assert.equal(d.previous, "first-pass");
  assert.equal(d.byId, "first-pass");
  const raw = await api.get<{ data: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/sm`);
  assert.deepEqual([...Buffer.from(raw.data.bin!, "base64")], [0, 1, 2, 250], "isBinary: decoded once");

  assert.deepEqual(await waitFor("sm-eu", (x) => x.where !== undefined), { where: "eu" });
  assert.ok(proxy.count("AssumeRole", `kes-${id}`) >= 1, "roleArn is assumed");
  const desc = await sm.send(new DescribeSecretCommand({ SecretId: name }));
  assert.ok(desc.Name);
});

test("systemManager: parameters, key:N versions, path (one level) and recursive, SecureString", async () => {
  const { ssm } = clients("us-east-1");
  const base = `/kes-${id}/app`;
  await ssm.send(new PutParameterCommand({ Name: `${base}/a`, Value: "value-a", Type: "String" }));
  await ssm.send(new PutParameterCommand({ Name: `${base}/b`, Value: "value-b", Type: "SecureString" }));
  await ssm.send(new PutParameterCommand({ Name: `${base}/deep/c`, Value: "value-c", Type: "String" }));
  await ssm.send(new PutParameterCommand({ Name: `/kes-${id}/v`, Value: "v1", Type: "String" }));
  await ssm.send(
    new PutParameterCommand({ Name: `/kes-${id}/v`, Value: "v2", Type: "String", Overwrite: true }),
  );
  await ssm.send(
    new PutParameterCommand({
      Name: `/kes-${id}/json`,
      Value: JSON.stringify({ k: "from-json" }),
      Type: "String",
    }),
  );

  await apply(`apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: { name: ssm }
spec:
  backendType: systemManager
  dataFrom: [/kes-${id}/json]
  data:
    - { path: ${base} }
    - { key: /kes-${id}/v, name: latest }
    - { key: "/kes-${id}/v:1", name: first }
    - { key: /kes-${id}/json, name: prop, property: k }
---
apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: { name: ssm-recursive }
spec:
  backendType: systemManager
  data: [{ path: ${base}, recursive: true }]
`);
  const d = await waitFor("ssm", (x) => x.latest !== undefined);
  assert.deepEqual(d, {
    k: "from-json",
    a: "value-a",
    b: "value-b",
    latest: "v2",
    first: "v1",
    prop: "from-json",
  });
  const r = await waitFor("ssm-recursive", (x) => x.a !== undefined);
  assert.deepEqual(r, { a: "value-a", b: "value-b", c: "value-c" });
});

test("a backend error keeps the Secret's last good data and says why in KES's words", async () => {
  const { sm } = clients("us-east-1");
  const name = `kes/${id}/flaky`;
  await sm.send(new CreateSecretCommand({ Name: name, SecretString: "good-value" }));
  await apply(`apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: { name: flaky }
spec:
  backendType: secretsManager
  data: [{ key: ${name}, name: v }]
`);
  await waitFor("flaky", (x) => x.v === "good-value");
  const heal = proxy.fail(name, "InternalServiceError", "the service is down");
  try {
    const st = await eventually("ERROR status", async () => {
      const o = await api.get<{ status?: { status?: string } }>(
        `/apis/kubernetes-client.io/v1/namespaces/${ns}/externalsecrets/flaky`,
      );
      return o.status?.status?.startsWith("ERROR, ") ? o.status.status : undefined;
    });
    assert.match(st, /the service is down/);
    assert.deepEqual(await secretData(api, ns, "flaky"), { v: "good-value" });
  } finally {
    heal();
  }
  await eventually("SUCCESS again", async () => {
    const o = await api.get<{ status?: { status?: string } }>(
      `/apis/kubernetes-client.io/v1/namespaces/${ns}/externalsecrets/flaky`,
    );
    return o.status?.status === "SUCCESS";
  });
});
