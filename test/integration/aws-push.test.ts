/**
 * PushSecret's AWS side against a real moto, calling the provider's sessions directly: create,
 * update, unchanged (no write: no call, no new version), IfNotExists, a foreign secret refused,
 * property merge, a concurrent change detected and kept, whole-Secret JSON, binary values, delete.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  SecretsManagerClient,
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
} from "@aws-sdk/client-secrets-manager";
import {
  SSMClient,
  GetParameterCommand,
  ListTagsForResourceCommand,
  PutParameterCommand,
} from "@aws-sdk/client-ssm";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import { AwsSession } from "../../src/providers/aws/session.ts";
import type { AwsProviderSpec } from "../../src/providers/aws/schema.ts";
import type { PushEntry } from "../../src/providers/types.ts";
import { isCustosError } from "../../src/util/errors.ts";

let env: SharedEnv;
let sm: SecretsManagerClient;
let ssm: SSMClient;
const enc = new TextEncoder();
const dec = new TextDecoder();
const suffix = (): string => randomBytes(4).toString("hex");
const clients: { destroy(): void }[] = [];

before(async () => {
  env = await sharedEnv(["moto"]);
  const common = {
    endpoint: env.aws.endpoint,
    region: env.aws.region,
    credentials: { accessKeyId: env.aws.accessKeyId, secretAccessKey: env.aws.secretAccessKey },
  };
  sm = new SecretsManagerClient(common);
  ssm = new SSMClient(common);
  clients.push(sm, ssm);
});

after(() => {
  for (const c of clients) c.destroy();
});

/** A session on moto and the AWS calls it made. */
function session(
  service: AwsProviderSpec["service"],
  extra: Partial<AwsProviderSpec> = {},
): { s: AwsSession; calls: string[]; sm: SecretsManagerClient; ssm: SSMClient } {
  const common = {
    endpoint: env.aws.endpoint,
    region: env.aws.region,
    credentials: { accessKeyId: env.aws.accessKeyId, secretAccessKey: env.aws.secretAccessKey },
  };
  const own = { sm: new SecretsManagerClient(common), ssm: new SSMClient(common) };
  clients.push(own.sm, own.ssm);
  const calls: string[] = [];
  const s = new AwsSession(
    { service, region: env.aws.region, ...extra },
    env.aws.region,
    async () => common.credentials,
    { recordCall: (c) => calls.push(c), redact: () => undefined },
    own,
  );
  return { s, calls, ...own };
}

const bytes = (remoteKey: string, v: string, more: Partial<PushEntry> = {}): PushEntry => ({
  remoteKey,
  value: { kind: "bytes", value: enc.encode(v) },
  updatePolicy: "Replace",
  ...more,
});

const asString = { kind: "PushSecretMetadata", spec: { secretPushFormat: "string" } };

async function smValue(id: string): Promise<string> {
  const out = await sm.send(new GetSecretValueCommand({ SecretId: id }));
  return out.SecretString ?? dec.decode(out.SecretBinary);
}

async function smVersions(id: string): Promise<number> {
  const out = await sm.send(new ListSecretVersionIdsCommand({ SecretId: id }));
  return (out.Versions ?? []).length;
}

const code = (c: string) => (e: unknown) => isCustosError(e) && e.code === c;

test("Secrets Manager: create with ESO's tag and defaults, unchanged without a write, update", async () => {
  const { s, calls } = session("SecretsManager");
  const id = `push/sm-${suffix()}`;
  assert.equal(
    await s.push(
      bytes(id, "v1", {
        metadata: { ...asString, spec: { ...asString.spec, tags: { team: "a" }, description: "d" } },
      }),
    ),
    "created",
  );
  const d = await sm.send(new DescribeSecretCommand({ SecretId: id }));
  const tags = Object.fromEntries((d.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
  assert.deepEqual(tags, { "managed-by": "external-secrets", team: "a" });
  assert.equal(d.Description, "d");
  const got = await sm.send(new GetSecretValueCommand({ SecretId: id }));
  assert.equal(got.SecretString, "v1");
  assert.equal(got.VersionId, "00000000-0000-0000-0000-000000000001");

  calls.length = 0;
  assert.equal(await s.push(bytes(id, "v1", { metadata: asString })), "unchanged");
  assert.ok(!calls.includes("PutSecretValue"), calls.join(","));
  assert.equal(await smVersions(id), 1);

  assert.equal(await s.push(bytes(id, "v2", { metadata: asString })), "updated");
  assert.equal(await smValue(id), "v2");
  assert.equal(await smVersions(id), 2);
  assert.equal(await s.exists({ remoteKey: id }), true);

  // IfNotExists leaves an existing secret alone
  assert.equal(await s.push(bytes(id, "v3", { updatePolicy: "IfNotExists", metadata: asString })), "skipped");
  assert.equal(await smValue(id), "v2");
});

test("Secrets Manager: binary by default (ESO), and the whole Secret as a JSON object", async () => {
  const { s } = session("SecretsManager");
  const id = `push/bin-${suffix()}`;
  const raw = new Uint8Array([0, 1, 2, 255, 254]);
  assert.equal(
    await s.push({ remoteKey: id, value: { kind: "bytes", value: raw }, updatePolicy: "Replace" }),
    "created",
  );
  const got = await sm.send(new GetSecretValueCommand({ SecretId: id }));
  assert.equal(got.SecretString, undefined);
  assert.deepEqual([...(got.SecretBinary ?? [])], [...raw]);

  const whole = `push/map-${suffix()}`;
  await s.push({
    remoteKey: whole,
    value: { kind: "map", value: { user: enc.encode("admin"), pass: enc.encode('p"w') } },
    updatePolicy: "Replace",
    metadata: asString,
  });
  assert.equal(await smValue(whole), '{"pass":"p\\"w","user":"admin"}');
});

test("Secrets Manager: a secret without the managed-by tag is never overwritten or deleted", async () => {
  const { s } = session("SecretsManager");
  const id = `push/foreign-${suffix()}`;
  await sm.send(new CreateSecretCommand({ Name: id, SecretString: "theirs" }));
  await assert.rejects(s.push(bytes(id, "mine")), code("CUSTOS_PUSH_NOT_OURS"));
  await assert.rejects(s.push(bytes(id, "mine", { property: "k" })), code("CUSTOS_PUSH_NOT_OURS"));
  await s.deletePushed({ remoteKey: id });
  assert.equal(await smValue(id), "theirs");
  assert.equal(await smVersions(id), 1);
});

test("Secrets Manager: property merge keeps other keys; IfNotExists per property; property delete", async () => {
  const { s } = session("SecretsManager", { secretsManager: { forceDeleteWithoutRecovery: true } });
  const id = `push/prop-${suffix()}`;
  assert.equal(await s.push(bytes(id, "u", { property: "user", metadata: asString })), "created");
  assert.equal(await s.push(bytes(id, "p", { property: "pass", metadata: asString })), "updated");
  assert.deepEqual(JSON.parse(await smValue(id)), { user: "u", pass: "p" });
  assert.equal(
    await s.push(bytes(id, "x", { property: "user", updatePolicy: "IfNotExists", metadata: asString })),
    "skipped",
  );
  assert.equal(await s.push(bytes(id, "n", { property: "db.name", metadata: asString })), "updated");
  assert.deepEqual(JSON.parse(await smValue(id)), { user: "u", pass: "p", db: { name: "n" } });
  assert.equal(await s.exists({ remoteKey: id, property: "db.name" }), true);
  assert.equal(await s.exists({ remoteKey: id, property: "nope" }), false);

  await s.deletePushed({ remoteKey: id, property: "user" });
  assert.deepEqual(JSON.parse(await smValue(id)), { pass: "p", db: { name: "n" } });
  await s.deletePushed({ remoteKey: id, property: "db.name" });
  await s.deletePushed({ remoteKey: id, property: "pass" }); // the last one: the secret goes
  assert.equal(await s.exists({ remoteKey: id }), false);
  await assert.rejects(sm.send(new DescribeSecretCommand({ SecretId: id })), /ResourceNotFound/);
});

test("Secrets Manager: a concurrent change between read and write is detected and kept", async () => {
  const { s, sm: own } = session("SecretsManager");
  const id = `push/race-${suffix()}`;
  await s.push(bytes(id, "mine", { property: "a", metadata: asString }));
  let injected = false;
  own.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "PutSecretValueCommand" && !injected) {
        injected = true;
        await sm.send(new PutSecretValueCommand({ SecretId: id, SecretString: '{"a":"mine","b":"theirs"}' }));
      }
      return next(args);
    },
    { step: "initialize", name: "concurrent-writer" },
  );
  await assert.rejects(
    s.push(bytes(id, "c", { property: "c", metadata: asString })),
    code("CUSTOS_PUSH_CONFLICT"),
  );
  assert.ok(injected);
  // the other writer's value is current again, not lost
  assert.deepEqual(JSON.parse(await smValue(id)), { a: "mine", b: "theirs" });
  // the retry merges on top of it
  assert.equal(await s.push(bytes(id, "c", { property: "c", metadata: asString })), "updated");
  assert.deepEqual(JSON.parse(await smValue(id)), { a: "mine", b: "theirs", c: "c" });
});

test("Secrets Manager: delete with a recovery window, and a later push restores it", async () => {
  const { s } = session("SecretsManager");
  const id = `push/del-${suffix()}`;
  await s.push(bytes(id, "v", { metadata: asString }));
  await s.deletePushed({ remoteKey: id });
  const d = await sm.send(new DescribeSecretCommand({ SecretId: id }));
  assert.ok(d.DeletedDate, "scheduled for deletion (AWS's default 30-day recovery window, as ESO)");
  assert.equal(await s.exists({ remoteKey: id }), false);
  await s.deletePushed({ remoteKey: id }); // already gone: no error
  assert.equal(await s.push(bytes(id, "v2", { metadata: asString })), "updated");
  assert.equal(await smValue(id), "v2");
  await s.deletePushed({ remoteKey: `push/never-${suffix()}` });
});

async function param(name: string): Promise<{ value: string; version: number; type: string }> {
  const out = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
  return {
    value: out.Parameter?.Value ?? "",
    version: out.Parameter?.Version ?? 0,
    type: out.Parameter?.Type ?? "",
  };
}

test("Parameter Store: create with tags and type, unchanged without a write, update, IfNotExists", async () => {
  const { s, calls } = session("ParameterStore");
  const id = `/push/ps-${suffix()}`;
  const metadata = {
    apiVersion: "kubernetes.external-secrets.io/v1alpha1",
    kind: "PushSecretMetadata",
    spec: { secretType: "SecureString", tags: { team: "b" } },
  };
  assert.equal(await s.push(bytes(id, "v1", { metadata })), "created");
  assert.deepEqual(await param(id), { value: "v1", version: 1, type: "SecureString" });
  const tags = await ssm.send(new ListTagsForResourceCommand({ ResourceType: "Parameter", ResourceId: id }));
  assert.deepEqual(Object.fromEntries((tags.TagList ?? []).map((t) => [t.Key, t.Value])), {
    "managed-by": "external-secrets",
    team: "b",
  });
  calls.length = 0;
  assert.equal(await s.push(bytes(id, "v1", { metadata })), "unchanged");
  assert.ok(!calls.includes("PutParameter"), calls.join(","));
  assert.equal((await param(id)).version, 1);
  assert.equal(await s.push(bytes(id, "v2", { metadata })), "updated");
  assert.deepEqual(await param(id), { value: "v2", version: 2, type: "SecureString" });
  assert.equal(await s.push(bytes(id, "v3", { updatePolicy: "IfNotExists" })), "skipped");
  assert.equal((await param(id)).value, "v2");
});

test("Parameter Store: whole Secret as JSON (base64 values by default, as ESO), property merge", async () => {
  const { s } = session("ParameterStore");
  const id = `/push/map-${suffix()}`;
  await s.push({
    remoteKey: id,
    value: { kind: "map", value: { a: enc.encode("x") } },
    updatePolicy: "Replace",
  });
  assert.equal((await param(id)).value, '{"a":"eA=="}');
  const decoded = `/push/dec-${suffix()}`;
  await s.push({
    remoteKey: decoded,
    value: { kind: "map", value: { a: enc.encode("x") } },
    updatePolicy: "Replace",
    metadata: { kind: "PushSecretMetadata", spec: { encodeAsDecoded: true } },
  });
  assert.equal((await param(decoded)).value, '{"a":"x"}');
  await s.push(bytes(decoded, "y", { property: "b" }));
  assert.deepEqual(JSON.parse((await param(decoded)).value), { a: "x", b: "y" });
});

test("Parameter Store: a foreign parameter is refused; a concurrent change is detected and kept; delete", async () => {
  const { s, ssm: own } = session("ParameterStore");
  const foreign = `/push/foreign-${suffix()}`;
  await ssm.send(new PutParameterCommand({ Name: foreign, Value: "theirs", Type: "String" }));
  await assert.rejects(s.push(bytes(foreign, "mine")), code("CUSTOS_PUSH_NOT_OURS"));
  await s.deletePushed({ remoteKey: foreign });
  assert.equal((await param(foreign)).value, "theirs");

  const id = `/push/race-${suffix()}`;
  await s.push(bytes(id, "{}"));
  let injected = false;
  own.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "PutParameterCommand" && !injected) {
        injected = true;
        await ssm.send(new PutParameterCommand({ Name: id, Value: '{"b":"theirs"}', Overwrite: true }));
      }
      return next(args);
    },
    { step: "initialize", name: "concurrent-writer" },
  );
  await assert.rejects(s.push(bytes(id, "c", { property: "c" })), code("CUSTOS_PUSH_CONFLICT"));
  assert.deepEqual(JSON.parse((await param(id)).value), { b: "theirs" });
  assert.equal(await s.push(bytes(id, "c", { property: "c" })), "updated");
  assert.deepEqual(JSON.parse((await param(id)).value), { b: "theirs", c: "c" });

  await s.deletePushed({ remoteKey: id, property: "c" });
  assert.deepEqual(JSON.parse((await param(id)).value), { b: "theirs" });
  await s.deletePushed({ remoteKey: id });
  assert.equal(await s.exists({ remoteKey: id }), false);
  await s.deletePushed({ remoteKey: id });
});
