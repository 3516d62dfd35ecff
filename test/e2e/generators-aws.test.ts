/**
 * End to end: the STSSessionToken generator against moto through the operator process: the
 * generated credentials really call moto; without keys the operator's own chain is refused.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
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
  KubeApi,
  type OperatorProcess,
} from "./helpers.ts";

let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let ns: string;

before(async () => {
  env = await sharedEnv(["kube", "controller-manager", "moto"]);
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  ns = await createNamespace(api, "gen-aws");
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "aws" },
    stringData: { id: env.aws.accessKeyId, secret: env.aws.secretAccessKey },
  });
  op = await startOperator(env, ["--controllers", "externalsecret", "--namespace", ns], {
    AWS_ENDPOINT_URL: env.aws.endpoint,
  });
});

after(async () => {
  await op.stop();
});

const status = async (name: string): Promise<{ status?: string; message?: string } | undefined> =>
  readyCondition(await esStatus(api, ns, name));

test("STSSessionToken (ESO's manifest): session credentials that really call moto", async () => {
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: generators.external-secrets.io/v1alpha1
kind: STSSessionToken
metadata: { name: session }
spec:
  region: ${env.aws.region}
  requestParameters: { sessionDuration: 900 }
  auth:
    secretRef:
      accessKeyIDSecretRef: { name: aws, key: id }
      secretAccessKeySecretRef: { name: aws, key: secret }
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: STSSessionToken
metadata: { name: as-operator }
spec:
  region: ${env.aws.region}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: session }
spec:
  refreshInterval: "0"
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: STSSessionToken, name: session } }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: as-operator }
spec:
  refreshInterval: 1h
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: STSSessionToken, name: as-operator } }
`,
  );
  await eventually(
    "session Ready",
    async () => {
      const c = await status("session");
      if (c?.status === "False") throw new Error(c.message);
      return c?.status === "True";
    },
    60_000,
  );
  const d = (await secretData(api, ns, "session"))!;
  assert.deepEqual(Object.keys(d).sort(), [
    "access_key_id",
    "expiration",
    "secret_access_key",
    "session_token",
  ]);
  assert.ok(Number(d.expiration) > Date.now() / 1000);
  const sts = new STSClient({
    region: env.aws.region,
    endpoint: env.aws.endpoint,
    credentials: {
      accessKeyId: d.access_key_id!,
      secretAccessKey: d.secret_access_key!,
      sessionToken: d.session_token!,
    },
  });
  const me = await sts.send(new GetCallerIdentityCommand({}));
  assert.ok(me.Account, "moto answered the generated credentials");
  sts.destroy();
  const refused = await eventually(
    "as-operator failing",
    async () => {
      const c = await status("as-operator");
      return c?.status === "False" ? (c.message ?? "") : undefined;
    },
    60_000,
  );
  assert.match(refused, /operator's own AWS credentials/);
});

test("ECRAuthorizationToken (ESO's manifest): a registry login from moto, generated again on each refresh", async () => {
  const generator = (region: string): string => `apiVersion: generators.external-secrets.io/v1alpha1
kind: ECRAuthorizationToken
metadata: { name: ecr }
spec:
  region: ${region}
  auth:
    secretRef:
      accessKeyIDSecretRef: { name: aws, key: id }
      secretAccessKeySecretRef: { name: aws, key: secret }
`;
  const es = (name: string, policy: string): string => `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1s
  refreshPolicy: ${policy}
  dataFrom:
    - sourceRef: { generatorRef: { apiVersion: generators.external-secrets.io/v1alpha1, kind: ECRAuthorizationToken, name: ecr } }
`;
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `${generator(env.aws.region)}---\n${es("ecr", "Periodic")}---\n${es("ecr-once", "CreatedOnce")}`,
  );
  for (const name of ["ecr", "ecr-once"])
    await eventually(
      `${name} Ready`,
      async () => {
        const c = await status(name);
        if (c?.status === "False") throw new Error(c.message);
        return c?.status === "True";
      },
      60_000,
    );
  const d = (await secretData(api, ns, "ecr"))!;
  assert.deepEqual(Object.keys(d).sort(), ["expires_at", "password", "proxy_endpoint", "username"]);
  assert.equal(d.username, "AWS");
  assert.match(d.proxy_endpoint!, new RegExp(`\\.dkr\\.ecr\\.${env.aws.region}\\.amazonaws\\.com$`));
  // the same token as ECR gives these keys: base64 of AWS:<password>
  const ecr = new ECRClient({
    region: env.aws.region,
    endpoint: env.aws.endpoint,
    credentials: { accessKeyId: env.aws.accessKeyId, secretAccessKey: env.aws.secretAccessKey },
  });
  const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]
    ?.authorizationToken;
  ecr.destroy();
  assert.equal(Buffer.from(token!, "base64").toString(), `AWS:${d.password}`);
  assert.ok(Number(d.expires_at) > 0);
  // moto's token is the same on every call; the registry endpoint follows the region: the
  // generator runs again on each due refresh (Periodic), and not for CreatedOnce
  await kubectl(env, ["apply", "-n", ns, "-f", "-"], generator("eu-west-1"));
  await eventually(
    "ecr regenerated",
    async () => (await secretData(api, ns, "ecr"))?.proxy_endpoint?.includes(".eu-west-1.") === true,
    60_000,
  );
  assert.match(
    (await secretData(api, ns, "ecr-once"))!.proxy_endpoint!,
    new RegExp(`\\.${env.aws.region}\\.`),
  );
});
