/**
 * End to end against moto: documents 003 (with Reloader) and 004 unchanged apart from the
 * endpoint (the operator's AWS_ENDPOINT_URL), the AWS provider's behaviours, and the cost of a
 * refresh cycle counted at a proxy in front of moto.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  SecretsManagerClient,
  CreateSecretCommand,
  PutSecretValueCommand,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { SSMClient, PutParameterCommand } from "@aws-sdk/client-ssm";
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
} from "./helpers.ts";

const examples = join(import.meta.dirname, "..", "..", "..", "shared", "examples");
let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let proxy: CountingProxy;
const clients = (region: string) => {
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
  proxy = await startCountingProxy(env.aws.endpoint);
  op = await startOperator(env, ["--controllers", "externalsecret,rollout"], { AWS_ENDPOINT_URL: proxy.url });
});

after(async () => {
  await op.stop();
  await proxy.stop();
});

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
    const list = await api.list<{ metadata: { name: string }; status?: { conditions?: unknown[] } }>(
      `/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets`,
    );
    throw new Error(
      `${(e as Error).message}\n${list.items.map((i) => `${i.metadata.name}: ${JSON.stringify(i.status?.conditions ?? [])}`).join("\n")}`,
      { cause: e },
    );
  }
}

/** moto's test keys in a Secret named "aws", for the stores below. */
async function motoKeys(ns: string): Promise<void> {
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "aws" },
    stringData: { id: "test", key: "test" },
  });
}

/** A SecretStore for AWS in us-east-1 using the "aws" keys; `extra` lines go into spec.provider.aws. */
function awsStore(name: string, service: string, extra: string[] = []): string {
  return `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: ${name} }
spec:
  provider:
    aws:
      service: ${service}
      region: us-east-1
${extra.map((l) => `      ${l}\n`).join("")}      auth: { secretRef: { accessKeyIDSecretRef: { name: aws, key: id }, secretAccessKeySecretRef: { name: aws, key: key } } }
`;
}

test("document 003: ESO SecretStore with static keys, JSON properties, rotation, and Reloader restarting the Deployment", async () => {
  const dir = join(examples, "seed-003-eso-aws");
  const { sm } = clients("eu-central-1");
  await sm.send(
    new CreateSecretCommand({
      Name: "demo/aws-sm/ext-postgres-secret",
      SecretString: '{"username":"admin","password":"S3cr3tPassw0rd"}',
    }),
  );
  await api.create("/api/v1/namespaces", { metadata: { name: "secrets-demo" } }).catch(() => undefined);
  for (const f of ["aws-access-secret.yaml", "secret-store.yaml", "external-secret.yaml"])
    await kubectl(env, ["apply", "-f", join(dir, f)]);
  await kubectl(env, ["apply", "-f", join(examples, "seed-003-reloader", "deployment.yaml")]);
  const d = await waitForData("secrets-demo", "ext-postgres-secret", (x) => x.password === "S3cr3tPassw0rd");
  assert.equal(d.username, "admin");
  const owner = (
    await api.get<{ metadata: { ownerReferences?: { kind: string; name: string }[] } }>(
      "/api/v1/namespaces/secrets-demo/secrets/ext-postgres-secret",
    )
  ).metadata.ownerReferences;
  assert.equal(owner?.[0]?.name, "external-secrets-demo");
  const dep = "/apis/apps/v1/namespaces/secrets-demo/deployments/reloader-demo";
  const g0 = (await api.get<{ metadata: { generation: number } }>(dep)).metadata.generation;

  await sm.send(
    new PutSecretValueCommand({
      SecretId: "demo/aws-sm/ext-postgres-secret",
      SecretString: '{"username":"admin","password":"S3cr3tPassw0rd1234"}',
    }),
  );
  // refreshInterval is 1m; a force-sync makes the test quick (the periodic path is covered below)
  await kubectl(env, [
    "annotate",
    "externalsecret",
    "external-secrets-demo",
    "-n",
    "secrets-demo",
    `force-sync=${Date.now()}`,
    "--overwrite",
  ]);
  await waitForData("secrets-demo", "ext-postgres-secret", (x) => x.password === "S3cr3tPassw0rd1234");
  const restarted = await eventually("the Deployment restarted", async () => {
    const x = await api.get<{
      metadata: { generation: number };
      spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
    }>(dep);
    return x.spec.template.spec.containers[0]?.env?.find(
      (e) => e.name === "STAKATER_EXT_POSTGRES_SECRET_SECRET",
    )
      ? x
      : undefined;
  });
  assert.equal(restarted.metadata.generation, g0 + 1);
  await sleep(2000);
  assert.equal(
    (await api.get<{ metadata: { generation: number } }>(dep)).metadata.generation,
    g0 + 1,
    "no further restarts without a change",
  );
});

test("document 004: ClusterSecretStore with credentials in external-secrets, plain string secret", async () => {
  const dir = join(examples, "seed-004-eso-aws-cluster-store");
  const { sm } = clients("eu-central-1");
  await sm.send(new CreateSecretCommand({ Name: "prod/db/password", SecretString: "hunter2" }));
  await api.create("/api/v1/namespaces", { metadata: { name: "external-secrets" } }).catch(() => undefined);
  await api.create("/api/v1/namespaces/external-secrets/secrets", {
    metadata: { name: "aws-secret" },
    stringData: { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "example" },
  });
  await kubectl(env, ["apply", "-f", join(dir, "clustersecretstore.yaml")]);
  const ns = await createNamespace(api, "seed004");
  await kubectl(env, ["apply", "-n", ns, "-f", join(dir, "externalsecret.yaml")]);
  assert.deepEqual(await waitForData(ns, "db-credentials", (x) => x.password !== undefined), {
    password: "hunter2",
  });
});

test("properties, versions (stage and uuid), binary secrets, tags, find, Parameter Store", async () => {
  const ns = await createNamespace(api, "aws");
  const id = suffix();
  const { sm, ssm } = clients("us-east-1");
  const created = await sm.send(
    new CreateSecretCommand({
      Name: `t/${id}/json`,
      SecretString: '{"a.b":"dotted","n":{"x":"deep"},"list":["p","q"]}',
      Tags: [{ Key: "team", Value: "blue" }],
    }),
  );
  const v1 = created.VersionId!;
  await sm.send(
    new PutSecretValueCommand({
      SecretId: `t/${id}/json`,
      SecretString: '{"a.b":"new","n":{"x":"deeper"},"list":[]}',
    }),
  );
  await sm.send(
    new UpdateSecretVersionStageCommand({
      SecretId: `t/${id}/json`,
      VersionStage: "OLD",
      MoveToVersionId: v1,
    }),
  );
  await sm.send(new CreateSecretCommand({ Name: `t/${id}/bin`, SecretBinary: Buffer.from([0, 1, 2, 255]) }));
  await sm.send(
    new CreateSecretCommand({
      Name: `t/${id}/found-1`,
      SecretString: "f1",
      Tags: [{ Key: "find", Value: id }],
    }),
  );
  await sm.send(
    new CreateSecretCommand({
      Name: `t/${id}/found-2`,
      SecretString: "f2",
      Tags: [{ Key: "find", Value: id }],
    }),
  );
  await sm.send(
    new TagResourceCommand({ SecretId: `t/${id}/bin`, Tags: [{ Key: "kind", Value: "binary" }] }),
  );
  await ssm.send(
    new PutParameterCommand({ Name: `/p/${id}/db`, Value: "param-secret", Type: "SecureString" }),
  );
  await ssm.send(
    new PutParameterCommand({
      Name: `/p/${id}/db`,
      Value: "param-secret-2",
      Type: "SecureString",
      Overwrite: true,
    }),
  );
  await motoKeys(ns);
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `${awsStore("sm", "SecretsManager")}---\n${awsStore("ps", "ParameterStore")}`,
  );
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: all }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: sm }
  dataFrom:
  - find: { tags: { find: "${id}" } }
    rewrite: [ { regexp: { source: ".*/(found-[0-9])", target: "$1" } } ]
  data:
  - { secretKey: exact, remoteRef: { key: t/${id}/json, property: a.b } }
  - { secretKey: path, remoteRef: { key: t/${id}/json, property: n.x } }
  - { secretKey: old, remoteRef: { key: t/${id}/json, property: n.x, version: OLD } }
  - { secretKey: uuid, remoteRef: { key: t/${id}/json, property: n.x, version: "uuid/${v1}" } }
  - { secretKey: bin, remoteRef: { key: t/${id}/bin } }
  - { secretKey: tags, remoteRef: { key: t/${id}/bin, metadataPolicy: Fetch, property: kind } }
  - { secretKey: param, remoteRef: { key: /p/${id}/db }, sourceRef: { storeRef: { name: ps } } }
  - { secretKey: paramv1, remoteRef: { key: /p/${id}/db, version: "1" }, sourceRef: { storeRef: { name: ps } } }
`,
  );
  const got = await eventually("the Secret", async () =>
    api.getOrUndefined<{ data: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/all`),
  );
  const s = (k: string): string => Buffer.from(got.data[k] ?? "", "base64").toString("utf8");
  assert.equal(s("exact"), "new");
  assert.equal(s("path"), "deeper");
  assert.equal(s("old"), "deep");
  assert.equal(s("uuid"), "deep");
  assert.deepEqual([...Buffer.from(got.data.bin!, "base64")], [0, 1, 2, 255]);
  assert.equal(s("tags"), "binary");
  assert.equal(s("param"), "param-secret-2");
  assert.equal(s("paramv1"), "param-secret");
  assert.equal(s("found-1"), "f1");
  assert.equal(s("found-2"), "f2");
});

test("a remote secret that does not exist gives a condition naming it", async () => {
  const ns = await createNamespace(api, "awserr");
  await motoKeys(ns);
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `${awsStore("sm", "SecretsManager")}---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: missing }
spec:
  secretStoreRef: { name: sm }
  data: [ { secretKey: x, remoteRef: { key: does/not/exist-${suffix()} } } ]
`,
  );
  const c = await eventually("condition", async () => {
    const r = readyCondition(await esStatus(api, ns, "missing"));
    return r?.status === "False" && /does\/not\/exist/.test(r.message ?? "") ? r : undefined;
  });
  assert.match(c.message ?? "", /does\/not\/exist/);
});

test("counting at a proxy: 100 ExternalSecrets reading 40 distinct secrets cost at most one batch call per 20 secrets per cycle, and no STS call after the first", async () => {
  const ns = await createNamespace(api, "awscount");
  const id = suffix();
  const { sm } = clients("us-east-1");
  for (let i = 0; i < 40; i++)
    await sm.send(
      new CreateSecretCommand({ Name: `c/${id}/s${i}`, SecretString: JSON.stringify({ v: `value-${i}` }) }),
    );
  await motoKeys(ns);
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    awsStore("sm", "SecretsManager", [`role: arn:aws:iam::123456789012:role/custos-reader`]),
  );
  const docs: string[] = [];
  for (let i = 0; i < 100; i++) {
    docs.push(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: es-${i} }
spec:
  refreshInterval: 10s
  secretStoreRef: { name: sm }
  data: [ { secretKey: v, remoteRef: { key: c/${id}/s${i % 40}, property: v } } ]
`);
  }
  const counts = () => ({
    batch: proxy.count("BatchGetSecretValue", id),
    get: proxy.count("GetSecretValue", id),
    sts: proxy.count("AssumeRole", "custos-reader"),
  });
  const before = counts();
  await kubectl(env, ["apply", "-n", ns, "-f", "-"], docs.join("---\n"));
  for (let i = 0; i < 100; i++) await waitForData(ns, `es-${i}`, (d) => d.v === `value-${i % 40}`, 60_000);
  assert.equal(counts().sts - before.sts, 1, "one AssumeRole for the store");
  // exactly three refresh cycles: refreshes follow a 10 s wall-clock grid (plus up to 0.5 s
  // spread), so measure from 2 s after one boundary to 2 s after the third next one
  await sleep(10_000 - (Date.now() % 10_000) + 2000);
  const synced = counts();
  await sleep(30_000);
  const afterCycles = counts();
  const perCycle = (afterCycles.batch - synced.batch) / 3;
  assert.ok(
    perCycle <= 2 + 0.34,
    `batch calls per cycle: ${perCycle} (${JSON.stringify({ before, synced, afterCycles })})`,
  );
  assert.equal(afterCycles.get - synced.get, 0, "no single GetSecretValue during refreshes");
  assert.equal(afterCycles.sts, synced.sts, "no STS call after the first");
});

test("access denied and throttling (injected at the proxy in front of moto): clear conditions, throttling backs off and recovers, the Secret is kept", async () => {
  const ns = await createNamespace(api, "awsfault");
  const id = suffix();
  const { sm } = clients("us-east-1");
  for (const name of ["denied", "throttled"])
    await sm.send(
      new CreateSecretCommand({ Name: `f/${id}/${name}`, SecretString: JSON.stringify({ v: name }) }),
    );
  await motoKeys(ns);
  const es = (name: string): string => `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: sm }
  data: [ { secretKey: v, remoteRef: { key: f/${id}/${name}, property: v } } ]
`;
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `${awsStore("sm", "SecretsManager")}---
${es("throttled")}`,
  );
  await waitForData(ns, "throttled", (d) => d.v === "throttled");
  const heal = proxy.fail(`f/${id}/throttled`, "ThrottlingException", "Rate exceeded");
  const denied = proxy.fail(
    `f/${id}/denied`,
    "AccessDeniedException",
    "User is not authorized to perform secretsmanager:GetSecretValue",
  );
  try {
    await kubectl(env, ["apply", "-n", ns, "-f", "-"], es("denied"));
    const d = await eventually("access denied condition", async () => {
      const r = readyCondition(await esStatus(api, ns, "denied"));
      return r?.status === "False" ? r : undefined;
    });
    assert.match(d.message ?? "", /AccessDenied/);
    assert.match(d.message ?? "", new RegExp(`f/${id}/denied`));
    const deniedCalls = proxy.count("GetSecretValue", `f/${id}/denied`);
    await sleep(5000);
    assert.ok(
      proxy.count("GetSecretValue", `f/${id}/denied`) - deniedCalls <= 3,
      "a permission error is not retried in a loop",
    );

    // throttling while refreshing: force a sync, watch the backoff, keep the Secret
    await kubectl(env, ["annotate", "-n", ns, "es/throttled", `force-sync=${Date.now()}`, "--overwrite"]);
    const t = await eventually("throttled condition", async () => {
      const r = readyCondition(await esStatus(api, ns, "throttled"));
      return r?.status === "False" ? r : undefined;
    });
    assert.match(t.message ?? "", /Throttl/);
    const c0 = proxy.count("GetSecretValue", `f/${id}/throttled`);
    await sleep(8000);
    const attempts = proxy.count("GetSecretValue", `f/${id}/throttled`) - c0;
    assert.ok(attempts <= 20, `throttling backs off (${attempts} calls in 8 s, SDK retries included)`);
    assert.deepEqual(await secretData(api, ns, "throttled"), { v: "throttled" }, "the Secret is kept");
  } finally {
    heal();
    denied();
  }
  await eventually(
    "recovered",
    async () => {
      const r = readyCondition(await esStatus(api, ns, "throttled"));
      return r?.status === "True" ? r : undefined;
    },
    60_000,
  );
});

test("prefix, and ESO's role chain: additionalRoles assumed first, then role with the external ID and session tags", async () => {
  const ns = await createNamespace(api, "awschain");
  const id = suffix();
  const { sm } = clients("us-east-1");
  await sm.send(
    new CreateSecretCommand({ Name: `pre/${id}/db`, SecretString: JSON.stringify({ v: "chained" }) }),
  );
  await motoKeys(ns);
  const role = (name: string): string => `arn:aws:iam::123456789012:role/${name}-${id}`;
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `${awsStore("chain", "SecretsManager", [`prefix: pre/${id}/`, `role: ${role("main")}`, `additionalRoles: [ ${role("hop1")}, ${role("hop2")} ]`, `externalID: ext-${id}`, `sessionTags: [ { key: team, value: payments } ]`])}---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: db }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: chain }
  data: [ { secretKey: v, remoteRef: { key: db, property: v } } ]
`,
  );
  await waitForData(ns, "db", (d) => d.v === "chained");
  const assumed = proxy.bodies("AssumeRole", id).map((b) => new URLSearchParams(b));
  assert.deepEqual(
    assumed.map((p) => p.get("RoleArn")),
    [role("hop1"), role("hop2"), role("main")],
    "the chain in ESO's order, each role once",
  );
  assert.equal(assumed[2]!.get("ExternalId"), `ext-${id}`);
  assert.equal(assumed[2]!.get("Tags.member.1.Key"), "team");
  assert.equal(assumed[2]!.get("Tags.member.1.Value"), "payments");
  assert.equal(assumed[0]!.get("ExternalId"), null, "the external ID belongs to the main role only");
  assert.equal(proxy.count("GetSecretValue", `pre/${id}/db`), 1, "the key is read under the prefix");
});
