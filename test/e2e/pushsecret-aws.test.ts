/**
 * End to end against moto: a Kubernetes Secret pushed by PushSecrets to Secrets Manager and to
 * Parameter Store, read back through ExternalSecrets in another namespace; updatePolicy
 * IfNotExists vs Replace; deletionPolicy Delete removes the remote secret, None keeps it; a
 * foreign remote secret (no `managed-by: external-secrets` tag) is not overwritten.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  SecretsManagerClient,
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
} from "@aws-sdk/client-secrets-manager";
import { SSMClient, GetParameterCommand } from "@aws-sdk/client-ssm";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import {
  applyCrds,
  createNamespace,
  eventually,
  kubectl,
  secretData,
  startOperator,
  suffix,
  KubeApi,
  type OperatorProcess,
} from "./helpers.ts";

let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let sm: SecretsManagerClient;
let ssm: SSMClient;
let src: string;
let reader: string;
const cls = `push-aws-${suffix()}`;
const base = `e2e-push/${suffix()}`;

interface Cond {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

before(async () => {
  env = await sharedEnv(["kube", "controller-manager", "moto"]);
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  const cfg = {
    region: env.aws.region,
    endpoint: env.aws.endpoint,
    credentials: { accessKeyId: env.aws.accessKeyId, secretAccessKey: env.aws.secretAccessKey },
  };
  sm = new SecretsManagerClient(cfg);
  ssm = new SSMClient(cfg);
  src = await createNamespace(api, "push-src");
  reader = await createNamespace(api, "push-read");
  for (const ns of [src, reader]) {
    await api.create(`/api/v1/namespaces/${ns}/secrets`, {
      metadata: { name: "aws" },
      stringData: { id: env.aws.accessKeyId, key: env.aws.secretAccessKey },
    });
    await kubectl(env, ["apply", "-n", ns, "-f", "-"], stores());
  }
  await api.create(`/api/v1/namespaces/${src}/secrets`, {
    metadata: { name: "app" },
    stringData: { user: "admin", pass: "s3cret-pushed" },
  });
  op = await startOperator(env, ["--controllers", "externalsecret,pushsecret", "--controller-class", cls], {
    AWS_ENDPOINT_URL: env.aws.endpoint,
  });
});

after(async () => {
  await op.stop();
  sm.destroy();
  ssm.destroy();
});

function stores(): string {
  const auth = `auth: { secretRef: { accessKeyIDSecretRef: { name: aws, key: id }, secretAccessKeySecretRef: { name: aws, key: key } } }`;
  return `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: sm }
spec:
  controller: ${cls}
  provider:
    aws:
      service: SecretsManager
      region: ${env.aws.region}
      secretsManager: { forceDeleteWithoutRecovery: true }
      ${auth}
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: ps }
spec:
  controller: ${cls}
  provider:
    aws:
      service: ParameterStore
      region: ${env.aws.region}
      ${auth}
`;
}

async function pushStatus(name: string): Promise<Cond | undefined> {
  const o = await api.get<{ status?: { conditions?: Cond[] } }>(
    `/apis/external-secrets.io/v1alpha1/namespaces/${src}/pushsecrets/${name}`,
  );
  return o.status?.conditions?.find((c) => c.type === "Ready");
}

async function pushedReady(name: string): Promise<void> {
  try {
    await eventually(
      `PushSecret ${name} Ready`,
      async () => (await pushStatus(name))?.status === "True",
      60_000,
    );
  } catch (e) {
    const log = op
      .output()
      .split("\n")
      .filter((l) => /push/i.test(l))
      .slice(-10)
      .join("\n");
    throw new Error(`${(e as Error).message}: ${JSON.stringify(await pushStatus(name))}\n${log}`, {
      cause: e,
    });
  }
}

async function smValue(id: string): Promise<string | undefined> {
  try {
    const out = await sm.send(new GetSecretValueCommand({ SecretId: id }));
    return out.SecretString ?? new TextDecoder().decode(out.SecretBinary);
  } catch {
    return undefined;
  }
}

async function psValue(name: string): Promise<string | undefined> {
  try {
    return (await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }))).Parameter?.Value;
  } catch {
    return undefined;
  }
}

const pushSecret = (
  name: string,
  store: string,
  data: string,
  extra = "",
): string => `apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1s
  secretStoreRefs: [{ name: ${store}, kind: SecretStore }]
  selector: { secret: { name: app } }
${extra}  data:
${data}`;

test("a Secret pushed to Secrets Manager and Parameter Store reads back in another namespace; deletionPolicy Delete vs None", async () => {
  await kubectl(
    env,
    ["apply", "-n", src, "-f", "-"],
    `${pushSecret(
      "to-sm",
      "sm",
      `    - match: { secretKey: pass, remoteRef: { remoteKey: ${base}/pass } }
      metadata: { apiVersion: kubernetes.external-secrets.io/v1alpha1, kind: PushSecretMetadata, spec: { secretPushFormat: string, tags: { team: e2e } } }
    - match: { remoteRef: { remoteKey: ${base}/whole } }
      metadata: { kind: PushSecretMetadata, spec: { secretPushFormat: string } }
`,
      "  deletionPolicy: Delete\n",
    )}---
${pushSecret(
  "to-ps",
  "ps",
  `    - match: { secretKey: user, remoteRef: { remoteKey: /${base}/user } }
      metadata: { kind: PushSecretMetadata, spec: { secretType: SecureString } }
`,
  "  deletionPolicy: None\n",
)}`,
  );
  await pushedReady("to-sm");
  await pushedReady("to-ps");
  assert.equal(await smValue(`${base}/pass`), "s3cret-pushed");
  assert.deepEqual(JSON.parse((await smValue(`${base}/whole`))!), { pass: "s3cret-pushed", user: "admin" });
  const tags = (await sm.send(new DescribeSecretCommand({ SecretId: `${base}/pass` }))).Tags ?? [];
  assert.deepEqual(Object.fromEntries(tags.map((t) => [t.Key ?? "", t.Value ?? ""])), {
    "managed-by": "external-secrets",
    team: "e2e",
  });
  assert.equal(await psValue(`/${base}/user`), "admin");

  // read back through ExternalSecrets in another namespace
  await kubectl(
    env,
    ["apply", "-n", reader, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: back }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: sm, kind: SecretStore }
  data:
    - secretKey: pass
      remoteRef: { key: ${base}/pass }
    - secretKey: user
      remoteRef: { key: ${base}/whole, property: user }
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: back-ps }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: ps, kind: SecretStore }
  data:
    - secretKey: user
      remoteRef: { key: /${base}/user }
`,
  );
  const back = await eventually("ExternalSecret back", async () => secretData(api, reader, "back"), 60_000);
  assert.deepEqual(back, { pass: "s3cret-pushed", user: "admin" });
  const backPs = await eventually(
    "ExternalSecret back-ps",
    async () => secretData(api, reader, "back-ps"),
    60_000,
  );
  assert.deepEqual(backPs, { user: "admin" });

  // deletionPolicy Delete removes what was pushed; None keeps it
  await kubectl(env, ["delete", "-n", src, "pushsecret", "to-sm", "to-ps", "--wait=true", "--timeout=60s"]);
  await eventually("Secrets Manager secrets removed", async () => {
    const gone = await Promise.all(
      [`${base}/pass`, `${base}/whole`].map((id) =>
        sm.send(new DescribeSecretCommand({ SecretId: id })).then(
          () => false,
          (e: unknown) => (e as Error).name === "ResourceNotFoundException",
        ),
      ),
    );
    return gone.every(Boolean);
  });
  assert.equal(await psValue(`/${base}/user`), "admin");
});

test("updatePolicy IfNotExists leaves an existing remote value, Replace overwrites it; a foreign secret is never overwritten", async () => {
  const managed = `${base}/managed`;
  const foreign = `${base}/foreign`;
  await sm.send(
    new CreateSecretCommand({
      Name: managed,
      SecretString: "old",
      Tags: [{ Key: "managed-by", Value: "external-secrets" }],
    }),
  );
  await sm.send(new CreateSecretCommand({ Name: foreign, SecretString: "theirs" }));
  const entries = `    - match: { secretKey: pass, remoteRef: { remoteKey: ${managed} } }
      metadata: { kind: PushSecretMetadata, spec: { secretPushFormat: string } }
`;
  await kubectl(
    env,
    ["apply", "-n", src, "-f", "-"],
    `${pushSecret("keep", "sm", entries, "  updatePolicy: IfNotExists\n")}---
${pushSecret(
  "foreign",
  "sm",
  `    - match: { secretKey: pass, remoteRef: { remoteKey: ${foreign} } }
`,
  "  updatePolicy: Replace\n",
)}`,
  );
  await pushedReady("keep");
  assert.equal(await smValue(managed), "old");
  const refused = await eventually(
    "foreign PushSecret failing",
    async () => {
      const c = await pushStatus("foreign");
      return c?.status === "False" ? (c.message ?? "") : undefined;
    },
    60_000,
  );
  assert.match(refused, /not managed by external-secrets/);
  assert.ok(!refused.includes("s3cret-pushed"));
  assert.equal(await smValue(foreign), "theirs");

  await kubectl(
    env,
    ["apply", "-n", src, "-f", "-"],
    pushSecret("keep", "sm", entries, "  updatePolicy: Replace\n"),
  );
  await eventually("Replace overwrote", async () => (await smValue(managed)) === "s3cret-pushed", 60_000);
  assert.equal(await smValue(foreign), "theirs");
  // the writes are counted under ESO's metric name
  assert.match(
    await op.metrics(),
    /externalsecret_provider_api_calls_count\{[^}]*call="PutSecretValue"[^}]*status="success"[^}]*\} [1-9]/,
  );
});
