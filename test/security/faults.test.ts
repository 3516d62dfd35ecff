/**
 * Attack class: transient faults read as deletions. ExternalSecrets find 25 secrets in moto (two
 * BatchGetSecretValue calls per refresh); a proxy in front of moto then throttles the batch holding
 * one of them (a fault mid-find), then every batch. What a tenant can observe: the ExternalSecrets
 * are Ready=False with the throttling error, and their Secrets — under the default Retain policy
 * and under deletionPolicy Delete — keep every key, untouched (same resourceVersion), instead of
 * shrinking or disappearing. When the faults end they sync again; meanwhile the operator stays up
 * and serves an innocent ExternalSecret.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
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
  type SecretObj,
} from "../e2e/helpers.ts";

const id = suffix();
const cls = `sec-faults-${id}`;
const prefix = `flt-${id}/`;
const names = Array.from({ length: 25 }, (_, i) => `${prefix}k${String(i).padStart(2, "0")}`);
let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let proxy: CountingProxy;
let ns: string;

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
  ns = await createNamespace(api, "sec-faults");
  op = await startOperator(
    env,
    ["--controllers", "externalsecret", "--controller-class", cls, "--namespace", ns],
    {
      AWS_ENDPOINT_URL: proxy.url,
    },
  );
});

after(async () => {
  await op.stop();
  await proxy.stop();
});

const getSecret = (name: string): Promise<SecretObj | undefined> =>
  api.getOrUndefined<SecretObj>(`/api/v1/namespaces/${ns}/secrets/${name}`);

async function untouched(name: string, before: SecretObj): Promise<void> {
  const now = await getSecret(name);
  assert.ok(now, `${name} still exists`);
  assert.equal(Object.keys(now.data ?? {}).length, 25, `${name} keeps every key`);
  assert.deepEqual(now.data, before.data, `${name} data unchanged`);
  assert.equal(now.metadata.resourceVersion, before.metadata.resourceVersion, `${name} not written`);
}

const throttledReady = (name: string) =>
  eventually(
    `${name} Ready=False with the throttling error`,
    async () => {
      const r = readyCondition(await esStatus(api, ns, name));
      return r?.status === "False" && /Throttl/.test(r.message ?? "") ? r : undefined;
    },
    60_000,
  );

test("a read fault during find fails the sync and leaves the Secret untouched; it recovers after", async () => {
  for (const n of names) await sm().send(new CreateSecretCommand({ Name: n, SecretString: `v-${n}` }));
  await sm().send(new CreateSecretCommand({ Name: `flt-${id}-innocent`, SecretString: "innocent-value" }));
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "aws" },
    stringData: { id: "test", key: "test" },
  });
  const es = (name: string, extra: string): string => `---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 2s
  secretStoreRef: { name: sm }
  target: { name: ${name}${extra} }
  dataFrom: [ { find: { path: ${prefix} } } ]
`;
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: sm }
spec:
  controller: ${cls}
  provider:
    aws:
      service: SecretsManager
      region: us-east-1
      auth: { secretRef: { accessKeyIDSecretRef: { name: aws, key: id }, secretAccessKeySecretRef: { name: aws, key: key } } }
${es("retain", "")}${es("delete", ", deletionPolicy: Delete")}`,
  );
  const synced = async (name: string, check: (d: Record<string, string>) => boolean): Promise<SecretObj> => {
    await eventually(
      `${name} synced`,
      async () => {
        const d = await secretData(api, ns, name);
        return d && Object.keys(d).length === 25 && check(d) ? d : undefined;
      },
      60_000,
    );
    return (await getSecret(name))!;
  };
  const before = {
    retain: await synced("retain", () => true),
    delete: await synced("delete", () => true),
  };

  // a fault mid-find: the batch that holds k07 is throttled (after the SDK's retries)
  const clearOne = proxy.fail(`"${names[7]}"`, "ThrottlingException", "Rate exceeded");
  await throttledReady("retain");
  await throttledReady("delete");
  await sleep(5000); // two more refresh cycles under the fault
  await untouched("retain", before.retain);
  await untouched("delete", before.delete);

  // every read failing (the listing still works): under deletionPolicy Delete an empty result
  // would delete the Secret
  const clearAll = names.map((n) => proxy.fail(`"${n}"`, "ThrottlingException", "Rate exceeded"));
  await sleep(5000);
  await untouched("retain", before.retain);
  await untouched("delete", before.delete);

  // the operator still serves an innocent ExternalSecret, within normal time, during the faults
  const t0 = Date.now();
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: innocent }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: sm }
  data: [ { secretKey: v, remoteRef: { key: flt-${id}-innocent } } ]
`,
  );
  assert.deepEqual(await eventually("innocent synced", () => secretData(api, ns, "innocent")), {
    v: "innocent-value",
  });
  assert.ok(Date.now() - t0 < 30_000);

  // faults over: both sync again and pick up a change made meanwhile
  await sm().send(new PutSecretValueCommand({ SecretId: names[0], SecretString: "changed" }));
  clearOne();
  for (const c of clearAll) c();
  for (const name of ["retain", "delete"]) {
    await synced(name, (d) => Object.values(d).includes("changed"));
    await eventually(`${name} Ready=True`, async () => {
      const r = readyCondition(await esStatus(api, ns, name));
      return r?.status === "True" ? r : undefined;
    });
  }
  assert.equal(op.child.exitCode, null, "the operator is still running");
});
