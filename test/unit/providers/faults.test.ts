import { test } from "node:test";
import assert from "node:assert/strict";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { MockAgent, setGlobalDispatcher } from "undici";
import { AwsSession } from "../../../src/providers/aws/session.ts";
import { isRequested } from "../../../src/providers/aws/names.ts";
import { VaultClient } from "../../../src/providers/vault/client.ts";
import { VaultSession } from "../../../src/providers/vault/session.ts";
import { isCustosError, type CustosErrorCode } from "../../../src/util/errors.ts";
import type { RemoteSecret } from "../../../src/providers/types.ts";
import type { AwsProviderSpec } from "../../../src/providers/aws/schema.ts";

const deps = { recordCall: () => undefined, redact: () => undefined };
const text = (r: RemoteSecret | Error | undefined): string =>
  r && !(r instanceof Error) && r.kind === "bytes"
    ? new TextDecoder().decode(r.value)
    : `<${r instanceof Error ? r.message : "no result"}>`;
const awsError = (name: string, status = 400): Error =>
  Object.assign(new Error(`${name} from the fake`), { name, $metadata: { httpStatusCode: status } });

const ACCOUNT = "arn:aws:secretsmanager:us-east-1:123456789012:secret:";
interface FakeSecret {
  name: string;
  arn: string;
  value: string;
}
const secret = (name: string): FakeSecret => ({
  name,
  arn: `${ACCOUNT}${name}-AbCdEf`,
  value: `value-of-${name}`,
});

/**
 * A Secrets Manager client answering from `secrets`, with faults: `batch` decides each batch's
 * answer per requested id ("value", "omit", or an error code for the Errors list), `fail` throws
 * for a whole command.
 */
function fakeSm(
  secrets: FakeSecret[],
  opts: {
    /** "value", "omit", or an AWS error code */
    batch?: (id: string) => string;
    fail?: (command: string, input: Record<string, unknown>) => Error | undefined;
    pageSize?: number;
  } = {},
): { client: SecretsManagerClient; calls: string[] } {
  const calls: string[] = [];
  const find = (id: string): FakeSecret | undefined =>
    secrets.find((s) => isRequested(id, { ARN: s.arn, Name: s.name }));
  const client = {
    send(cmd: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = cmd.constructor.name;
      calls.push(name);
      const failure = opts.fail?.(name, cmd.input);
      if (failure) return Promise.reject(failure);
      if (name === "ListSecretsCommand") {
        const size = opts.pageSize ?? 100;
        const start = Number(cmd.input.NextToken ?? 0);
        const page = secrets.slice(start, start + size);
        return Promise.resolve({
          SecretList: page.map((s) => ({ Name: s.name, ARN: s.arn })),
          ...(start + size < secrets.length ? { NextToken: String(start + size) } : {}),
        });
      }
      if (name === "BatchGetSecretValueCommand") {
        const SecretValues: unknown[] = [];
        const Errors: unknown[] = [];
        for (const id of cmd.input.SecretIdList as string[]) {
          const s = find(id);
          const how = s ? (opts.batch?.(id) ?? "value") : "ResourceNotFoundException";
          if (how === "value" && s) SecretValues.push({ Name: s.name, ARN: s.arn, SecretString: s.value });
          else if (how !== "omit") Errors.push({ SecretId: id, ErrorCode: how, Message: "m" });
        }
        return Promise.resolve({ SecretValues, Errors });
      }
      if (name === "GetSecretValueCommand") {
        const s = find(cmd.input.SecretId as string);
        if (!s) return Promise.reject(awsError("ResourceNotFoundException"));
        return Promise.resolve({ Name: s.name, ARN: s.arn, SecretString: s.value });
      }
      return Promise.reject(new Error(`unexpected ${name}`));
    },
    destroy() {},
  };
  return { client: client as unknown as SecretsManagerClient, calls };
}

const smSpec: AwsProviderSpec = { service: "SecretsManager", region: "us-east-1" };
const creds = () => Promise.resolve({ accessKeyId: "a", secretAccessKey: "b" });
const sm = (client: SecretsManagerClient, spec: Partial<AwsProviderSpec> = {}): AwsSession =>
  new AwsSession({ ...smSpec, ...spec }, "us-east-1", creds, deps, { sm: client });

const many = Array.from({ length: 45 }, (_, i) => secret(`app/s${String(i).padStart(2, "0")}`));

const faults: [string, CustosErrorCode, Parameters<typeof fakeSm>[1]][] = [
  [
    "throttling on one id in a batch",
    "CUSTOS_THROTTLED",
    { batch: (id) => (id === "app/s21" ? "ThrottlingException" : "value") },
  ],
  [
    "an internal error on one id",
    "CUSTOS_STORE_ERROR",
    { batch: (id) => (id === "app/s03" ? "InternalServiceError" : "value") },
  ],
  [
    "access denied on one id",
    "CUSTOS_ACCESS_DENIED",
    { batch: (id) => (id === "app/s40" ? "AccessDeniedException" : "value") },
  ],
  [
    "a whole batch failing with a 5xx",
    "CUSTOS_STORE_ERROR",
    {
      fail: (c, i) =>
        c === "BatchGetSecretValueCommand" && (i.SecretIdList as string[]).includes("app/s30")
          ? awsError("InternalServiceError", 500)
          : undefined,
    },
  ],
  [
    "a whole batch throttled",
    "CUSTOS_THROTTLED",
    { fail: (c) => (c === "BatchGetSecretValueCommand" ? awsError("ThrottlingException") : undefined) },
  ],
  [
    "the network failing on a batch",
    "CUSTOS_STORE_UNREACHABLE",
    {
      fail: (c) =>
        c === "BatchGetSecretValueCommand"
          ? Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })
          : undefined,
    },
  ],
  [
    "the second ListSecrets page failing",
    "CUSTOS_THROTTLED",
    {
      pageSize: 20,
      fail: (c, i) =>
        c === "ListSecretsCommand" && i.NextToken ? awsError("ThrottlingException") : undefined,
    },
  ],
  [
    "a single read (after an unanswered batch id) failing",
    "CUSTOS_STORE_ERROR",
    {
      batch: (id) => (id === "app/s10" ? "omit" : "value"),
      fail: (c) => (c === "GetSecretValueCommand" ? awsError("InternalServiceError", 500) : undefined),
    },
  ],
];
for (const [what, code, opts] of faults) {
  test(`AWS find fails as a whole, never returns fewer secrets: ${what}`, async () => {
    const { client } = fakeSm(many, opts);
    await assert.rejects(sm(client).find({ path: "app/" }), (e: unknown) => isCustosError(e, code));
  });
}

test("AWS find: all secrets when nothing fails; a secret deleted between list and read is gone, not an error", async () => {
  const { client } = fakeSm(many);
  assert.equal((await sm(client).find({ path: "app/" })).size, 45);
  const gone = fakeSm(many, { batch: (id) => (id === "app/s07" ? "ResourceNotFoundException" : "value") });
  const found = await sm(gone.client).find({ path: "app/" });
  assert.equal(found.size, 44);
  assert.ok(!found.has("app/s07"));
});

test("AWS find reads listed names exactly (a store prefix is not added twice)", async () => {
  const { client } = fakeSm([secret("team/a"), secret("team/b")]);
  const found = await sm(client, { prefix: "team/" }).find({ path: "team/" });
  assert.deepEqual([...found.keys()].sort(), ["team/a", "team/b"]);
});

test("AWS find beyond the limit fails instead of truncating", async () => {
  const lots = Array.from({ length: 5_050 }, (_, i) => secret(`x/${i}`));
  const { client } = fakeSm(lots);
  await assert.rejects(sm(client).find({ path: "x/" }), /matched more than/);
});

test("batched reads match by what was requested: name, full ARN, partial ARN", async () => {
  const s = secret("db/password");
  const other = secret("db/user");
  const { client, calls } = fakeSm([s, other]);
  const got = await sm(client).readMany([
    { key: s.arn },
    { key: s.arn.slice(0, -7) }, // partial ARN
    { key: other.name },
    { key: "db/missing" },
  ]);
  assert.equal(text(got.get(s.arn)), s.value);
  assert.equal(text(got.get(s.arn.slice(0, -7))), s.value);
  assert.equal(text(got.get(other.name)), other.value);
  assert.ok(isCustosError(got.get("db/missing"), "CUSTOS_SECRET_NOT_FOUND"));
  assert.deepEqual(calls, ["BatchGetSecretValueCommand"], "one batch, no fallback needed");
});

test("a batch error for an id is that error, not 'not found'; an unanswered id is read alone", async () => {
  const a = secret("a");
  const b = secret("b");
  const c = secret("c");
  const { client, calls } = fakeSm([a, b, c], {
    batch: (id) => (id === "a" ? "ThrottlingException" : id === "b" ? "omit" : "value"),
  });
  const got = await sm(client).readMany([{ key: "a" }, { key: "b" }, { key: "c" }]);
  assert.ok(isCustosError(got.get("a"), "CUSTOS_THROTTLED"));
  assert.equal(text(got.get("b")), b.value);
  assert.equal(text(got.get("c")), c.value);
  assert.deepEqual(calls, ["BatchGetSecretValueCommand", "GetSecretValueCommand"]);
});

test("an invalid key is never sent; the others are read", async () => {
  const asked: string[] = [];
  const { client } = fakeSm([secret("team/../admin"), secret("team/ok")], {
    batch: (id) => {
      asked.push(id);
      return "value";
    },
  });
  const got = await sm(client, { prefix: "team/" }).readMany([{ key: "../admin" }, { key: "ok" }]);
  assert.ok(isCustosError(got.get("../admin"), "CUSTOS_INVALID_REMOTE_KEY"));
  assert.equal(text(got.get("ok")), "value-of-team/ok");
  assert.deepEqual(asked, ["team/ok"]);
});

function fakeSsm(
  params: { Name: string; ARN: string; Value: string }[],
  fail?: (command: string, input: Record<string, unknown>) => Error | undefined,
): SSMClient {
  return {
    send(cmd: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = cmd.constructor.name;
      const failure = fail?.(name, cmd.input);
      if (failure) return Promise.reject(failure);
      if (name === "GetParametersCommand") {
        const names = cmd.input.Names as string[];
        const hit = params.filter((p) => names.includes(p.Name) || names.includes(p.ARN));
        return Promise.resolve({
          Parameters: hit,
          InvalidParameters: names.filter((n) => !hit.some((p) => p.Name === n || p.ARN === n)),
        });
      }
      if (name === "GetParametersByPathCommand") {
        const start = Number(cmd.input.NextToken ?? 0);
        return Promise.resolve({
          Parameters: params.slice(start, start + 10),
          ...(start + 10 < params.length ? { NextToken: String(start + 10) } : {}),
        });
      }
      return Promise.reject(new Error(`unexpected ${name}`));
    },
    destroy() {},
  } as unknown as SSMClient;
}

test("SSM: batch matched by name or ARN, missing ones not found; a failing page fails the find", async () => {
  const params = Array.from({ length: 25 }, (_, i) => ({
    Name: `/app/p${i}`,
    ARN: `arn:aws:ssm:us-east-1:1:parameter/app/p${i}`,
    Value: `v${i}`,
  }));
  const ssm = (f?: Parameters<typeof fakeSsm>[1]): AwsSession =>
    new AwsSession({ service: "ParameterStore", region: "us-east-1" }, "us-east-1", creds, deps, {
      ssm: fakeSsm(params, f),
    });
  const got = await ssm().readMany([{ key: params[3]!.ARN }, { key: "/app/p4" }, { key: "/app/none" }]);
  assert.equal(text(got.get(params[3]!.ARN)), "v3");
  assert.equal(text(got.get("/app/p4")), "v4");
  assert.ok(isCustosError(got.get("/app/none"), "CUSTOS_SECRET_NOT_FOUND"));
  assert.equal((await ssm().find({ path: "/app" })).size, 25);
  await assert.rejects(
    ssm((c, i) =>
      c === "GetParametersByPathCommand" && i.NextToken === "20"
        ? awsError("ThrottlingException")
        : undefined,
    ).find({
      path: "/app",
    }),
    (e: unknown) => isCustosError(e, "CUSTOS_THROTTLED"),
  );
});

// Vault: a LIST then reads; a failed read fails the find.
test("Vault find: a failed read (5xx, 403, throttled) fails the whole find; a deleted one is skipped", async () => {
  const agent = new MockAgent();
  agent.disableNetConnect();
  setGlobalDispatcher(agent);
  let failing: number | undefined = 500;
  agent
    .get("http://vault.test")
    .intercept({ path: () => true, method: () => true })
    .reply((o) => {
      if (o.method === "LIST")
        return { statusCode: 200, data: JSON.stringify({ data: { keys: ["a", "b", "c"] } }) };
      if (o.path.endsWith("/b") && failing !== undefined) return { statusCode: failing, data: "{}" };
      return { statusCode: 200, data: JSON.stringify({ data: { data: { v: o.path } } }) };
    })
    .persist();
  const spec = { server: "http://vault.test", path: "kv", auth: { tokenSecretRef: { name: "t", key: "k" } } };
  const s = new VaultSession(
    new VaultClient({ server: spec.server, recordCall: () => undefined }),
    spec,
    { storeKind: "ClusterSecretStore", storeName: "s", storeUid: "u", namespace: "n", kube: {} as never },
    deps,
  );
  (s as unknown as { login(): Promise<unknown> }).login = () =>
    Promise.resolve({ client_token: "t", lease_duration: 0, renewable: false });
  for (const [status, code] of [
    [500, "CUSTOS_STORE_ERROR"],
    [503, "CUSTOS_STORE_ERROR"],
    [429, "CUSTOS_THROTTLED"],
  ] as const) {
    failing = status;
    await assert.rejects(s.find({}), (e: unknown) => isCustosError(e, code), `HTTP ${status}`);
  }
  failing = 404;
  assert.deepEqual([...(await s.find({})).keys()], ["a", "c"]);
  failing = undefined;
  assert.deepEqual([...(await s.find({})).keys()], ["a", "b", "c"]);
});
