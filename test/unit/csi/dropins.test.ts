import { test } from "node:test";
import assert from "node:assert/strict";
import { parseVaultParams, vaultObjectBytes } from "../../../src/csi/dialects/vault.ts";
import { awsObjectFiles, parseAwsParams } from "../../../src/csi/dialects/aws.ts";
import { evalJmesPath, parseJmesPath } from "../../../src/csi/dialects/jmespath.ts";
import { dialectsFor } from "../../../src/csi/dialects/all.ts";

const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

test("vault drop-in: vault-csi-provider's parameters", () => {
  const p = parseVaultParams(
    {
      roleName: "app",
      vaultAddress: "https://vault:8200",
      vaultKubernetesMountPath: "k8s",
      objects: `
- objectName: db-password
  secretPath: secret/data/db
  secretKey: password
  filePermission: 0600
- objectName: old
  secretPath: /v1/secret/data/db?version=2
- objectName: kv1
  secretPath: kv1/app
  secretKey: cert
  encoding: base64
`,
    },
    0o644,
    {},
  );
  assert.equal(p.mountPath, "k8s");
  assert.equal(p.audience, "vault");
  assert.deepEqual(p.objects, [
    {
      objectName: "db-password",
      path: "secret/data/db",
      version: undefined,
      kv2: true,
      secretKey: "password",
      encoding: "utf-8",
      mode: 0o600,
    },
    {
      objectName: "old",
      path: "secret/data/db",
      version: "2",
      kv2: true,
      secretKey: undefined,
      encoding: "utf-8",
      mode: 0o644,
    },
    {
      objectName: "kv1",
      path: "kv1/app",
      version: undefined,
      kv2: false,
      secretKey: "cert",
      encoding: "base64",
      mode: 0o644,
    },
  ]);
  assert.equal(
    parseVaultParams({ roleName: "r", objects: "[{objectName: a, secretPath: s/a}]" }, 0o644, {
      vaultAddress: "http://v",
      vaultMount: "m",
    }).mountPath,
    "m",
  );
});

test("vault drop-in: what it refuses, named", () => {
  const base = { roleName: "r", vaultAddress: "http://v" };
  const o = (x: string) => ({ ...base, objects: `[${x}]` });
  const cases: [Record<string, string>, RegExp][] = [
    [{ objects: "[{objectName: a, secretPath: s/a}]" }, /roleName is required/],
    [{ roleName: "r", objects: "[{objectName: a, secretPath: s/a}]" }, /vaultAddress is required/],
    [
      { ...o("{objectName: a, secretPath: s/a}"), vaultAuthMountPath: "x", vaultKubernetesMountPath: "y" },
      /only one of/,
    ],
    [{ ...o("{objectName: a, secretPath: s/a}"), vaultSkipTLSVerify: "true" }, /vaultSkipTLSVerify/],
    [{ ...o("{objectName: a, secretPath: s/a}"), vaultTLSClientCertPath: "/x" }, /not supported/],
    [
      o("{objectName: a, secretPath: pki/issue/x, method: POST, secretArgs: {common_name: x}}"),
      /method POST with secretArgs is not supported/,
    ],
    [o("{objectName: a, secretPath: s/a?foo=1}"), /only a \?version=N/],
    [o("{objectName: a, secretPath: kv1/a?version=1}"), /needs a KV v2 path/],
    [o("{objectName: ../a, secretPath: s/a}"), /"\.\." segment/],
    [o("{objectName: a, secretPath: s/a}, {objectName: a, secretPath: s/b}"), /used twice/],
    [o("{objectName: a, secretPath: s/a, encoding: rot13}"), /encoding must be/],
    [o("{objectName: a, secretPath: s/a, filePermission: 01000}"), /filePermission/],
  ];
  for (const [params, re] of cases)
    assert.throws(() => parseVaultParams(params, 0o644, {}), re, JSON.stringify(params));
  assert.doesNotThrow(() =>
    parseVaultParams({ ...o("{objectName: a, secretPath: s/a}"), vaultSkipTLSVerify: "false" }, 0o644, {}),
  );
});

test("vault drop-in: key lookup, data.data for raw reads, JSON for non-strings, decoding", () => {
  const obj = (x: Partial<Parameters<typeof vaultObjectBytes>[0]>) => ({
    objectName: "f",
    path: "p",
    kv2: false,
    encoding: "utf-8" as const,
    mode: 0o644,
    ...x,
  });
  const v2 = { kind: "map" as const, value: { password: "pw", n: 5, data: { nested: true } } };
  assert.equal(text(vaultObjectBytes(obj({ kv2: true, secretKey: "password" }), v2)), "pw");
  assert.equal(text(vaultObjectBytes(obj({ kv2: true, secretKey: "n" }), v2)), "5");
  // a KV v2 secret with a key named "data" is not descended into
  assert.equal(text(vaultObjectBytes(obj({ kv2: true, secretKey: "data" }), v2)), '{"nested":true}');
  const raw = { kind: "map" as const, value: { data: { password: "inner" }, metadata: { version: 1 } } };
  assert.equal(text(vaultObjectBytes(obj({ secretKey: "password" }), raw)), "inner");
  assert.equal(
    text(vaultObjectBytes(obj({ kv2: true }), v2)),
    '{"data":{"nested":true},"n":5,"password":"pw"}',
  );
  assert.throws(() => vaultObjectBytes(obj({ secretKey: "nope" }), raw), /key "nope" does not exist/);
  const enc = { kind: "map" as const, value: { b: Buffer.from("bytes").toString("base64"), h: "6869" } };
  assert.equal(text(vaultObjectBytes(obj({ secretKey: "b", encoding: "base64" }), enc)), "bytes");
  assert.equal(text(vaultObjectBytes(obj({ secretKey: "h", encoding: "hex" }), enc)), "hi");
  assert.throws(
    () => vaultObjectBytes(obj({ secretKey: "h", encoding: "base64" }), { kind: "map", value: { h: "!!" } }),
    /not valid base64/,
  );
});

test("aws drop-in: the AWS provider's parameters", () => {
  const p = parseAwsParams(
    {
      region: "eu-west-1",
      objects: `
- objectName: prod/db
  objectType: secretsmanager
  filePermission: "0600"
  jmesPath:
    - { path: username, objectAlias: db-user }
    - { path: '"pass word"', objectAlias: db-pass, filePermission: "0400" }
- objectName: arn:aws:ssm:eu-west-1:123456789012:parameter/app/flag
  objectAlias: flag
  objectVersion: "3"
- objectName: api
  objectType: ssm
- objectName: labelled
  objectType: secretsmanager
  objectVersionLabel: AWSPREVIOUS
`,
    },
    0o644,
  );
  assert.equal(p.region, "eu-west-1");
  assert.deepEqual(
    p.objects.map((o) => [
      o.objectName,
      o.service,
      o.fileName,
      o.mode,
      o.version,
      o.jmes.map((j) => [j.alias, j.mode]),
    ]),
    [
      [
        "prod/db",
        "SecretsManager",
        "prod_db",
        0o600,
        undefined,
        [
          ["db-user", 0o644],
          ["db-pass", 0o400],
        ],
      ],
      ["arn:aws:ssm:eu-west-1:123456789012:parameter/app/flag", "ParameterStore", "flag", 0o644, "3", []],
      ["api", "ParameterStore", "api", 0o644, undefined, []],
      ["labelled", "SecretsManager", "labelled", 0o644, "AWSPREVIOUS", []],
    ],
  );
  assert.equal(
    parseAwsParams(
      { region: "r", pathTranslation: "False", objects: "[{objectName: a/b, objectType: ssm}]" },
      0o644,
    ).objects[0]!.fileName,
    "a/b",
  );
  assert.equal(
    parseAwsParams({ objects: "[{objectName: a, objectType: ssm}]" }, 0o644, "us-east-1").region,
    "us-east-1",
  );
});

test("aws drop-in: what it refuses, named", () => {
  const o = (x: string, extra: Record<string, string> = {}) => ({ region: "r", objects: `[${x}]`, ...extra });
  const cases: [Record<string, string>, RegExp][] = [
    [{ objects: "[{objectName: a, objectType: ssm}]" }, /region is required/],
    [o("{objectName: a}"), /objectType is required unless objectName is an ARN/],
    [o("{objectName: 'arn:aws:secretsmanager:r:1:secret:a', objectType: ssm}"), /does not match the ARN/],
    [o("{objectName: a, objectType: s3}"), /objectType must be/],
    [o("{objectName: a, objectType: ssm}, {objectName: a, objectType: secretsmanager}"), /used twice/],
    [o("{objectName: a, objectType: ssm, objectAlias: ../x}"), /"\.\." segment/],
    [
      o("{objectName: a, objectType: secretsmanager, objectVersion: v, objectVersionLabel: l}"),
      /only one of/,
    ],
    [
      o("{objectName: a, objectType: secretsmanager, jmesPath: [{path: 'a[?b]', objectAlias: x}]}"),
      /jmesPath/,
    ],
    [o("{objectName: a, objectType: secretsmanager, jmesPath: [{path: a}]}"), /needs path and objectAlias/],
    [o("{objectName: a, objectType: ssm}", { usePodIdentity: "true" }), /usePodIdentity/],
    [o("{objectName: a, objectType: ssm}", { failoverRegion: "x" }), /failoverRegion/],
    [o("{objectName: a, objectType: ssm}", { pathTranslation: "ab" }), /pathTranslation/],
  ];
  for (const [params, re] of cases)
    assert.throws(() => parseAwsParams(params, 0o644), re, JSON.stringify(params));
});

test("aws drop-in: the value and its jmesPath files", () => {
  const [o] = parseAwsParams(
    {
      region: "r",
      objects:
        "[{objectName: db, objectType: secretsmanager, jmesPath: [{path: user, objectAlias: u}, {path: 'hosts[-1]', objectAlias: h}]}]",
    },
    0o644,
  ).objects;
  const secret = { kind: "bytes" as const, value: Buffer.from('{"user":"alice","hosts":["a","b"],"n":1}') };
  assert.deepEqual(
    awsObjectFiles(o!, secret).map((f) => [f.path, text(f.contents)]),
    [
      ["db", '{"user":"alice","hosts":["a","b"],"n":1}'],
      ["u", "alice"],
      ["h", "b"],
    ],
  );
  const [n] = parseAwsParams(
    {
      region: "r",
      objects: "[{objectName: db, objectType: secretsmanager, jmesPath: [{path: n, objectAlias: x}]}]",
    },
    0o644,
  ).objects;
  assert.throws(() => awsObjectFiles(n!, secret), /jmesPath "n" is not a string/);
  assert.throws(
    () => awsObjectFiles(n!, { kind: "bytes", value: Buffer.from("plain") }),
    /needs a JSON value/,
  );
});

test("jmesPath subset: identifiers, quoted keys, indexes; the rest refused", () => {
  const doc = { a: { "b c": [{ d: "x" }] } };
  assert.equal(evalJmesPath(doc, parseJmesPath('a."b c"[0].d', "t")), "x");
  assert.equal(evalJmesPath(doc, parseJmesPath("a.missing.d", "t")), null);
  assert.equal(evalJmesPath(doc, parseJmesPath("a[0]", "t")), null);
  for (const bad of ["", "a.", ".a", "a[*]", "a[?x]", "length(a)", "a | b", 'a."b', "a b"])
    assert.throws(() => parseJmesPath(bad, "t"), /jmesPath/, bad);
});

test("drop-ins are served only when asked for", () => {
  assert.deepEqual(
    dialectsFor([]).map((d) => d.name),
    ["custos"],
  );
  assert.deepEqual(
    dialectsFor(["aws", "vault"]).map((d) => d.name),
    ["custos", "vault", "aws"],
  );
  assert.throws(() => dialectsFor(["gcp"]), /unknown drop-in "gcp"/);
});
