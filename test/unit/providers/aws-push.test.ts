import { test } from "node:test";
import assert from "node:assert/strict";
import {
  hasProperty,
  mergeProperty,
  propertyPath,
  removeProperty,
  secretMapJson,
  smPushMetadata,
  ssmPushMetadata,
  tagChanges,
} from "../../../src/providers/aws/push-format.ts";
import { tokenFor } from "../../../src/providers/aws/push.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const plain = <T extends { tags: Record<string, string> }>(m: T): T => ({ ...m, tags: { ...m.tags } });

test("Secrets Manager metadata: ESO's defaults, managed-by always set and never user-set", () => {
  assert.deepEqual(plain(smPushMetadata(undefined)), {
    secretPushFormat: "binary",
    description: "secret 'managed-by:external-secrets'",
    kmsKeyId: "alias/aws/secretsmanager",
    tags: { "managed-by": "external-secrets" },
    userTags: false,
  });
  const m = smPushMetadata({
    apiVersion: "kubernetes.external-secrets.io/v1alpha1",
    kind: "PushSecretMetadata",
    spec: { secretPushFormat: "string", kmsKeyID: "k", tags: { a: "b" }, description: "d" },
  });
  assert.equal(m.kmsKeyId, "k"); // Go decodes field names case-insensitively
  assert.equal(m.secretPushFormat, "string");
  assert.deepEqual({ ...m.tags }, { a: "b", "managed-by": "external-secrets" });
  assert.equal(m.userTags, true);
  const bad = (spec: unknown): void => {
    assert.throws(
      () => smPushMetadata({ kind: "PushSecretMetadata", spec }),
      (e) => isCustosError(e, "CUSTOS_INVALID_SPEC"),
    );
  };
  bad({ tags: { "managed-by": "me" } });
  bad({ secretPushFormat: "yaml" });
  bad({ replicationLocations: ["eu-west-1"] });
  bad({ resourcePolicy: { policySourceRef: { kind: "ConfigMap", name: "p", key: "k" } } });
  assert.throws(() => smPushMetadata({ kind: "Other" }), /PushSecretMetadata/);
});

test("Parameter Store metadata: ESO's defaults and fields", () => {
  assert.deepEqual(plain(ssmPushMetadata(undefined)), {
    secretType: "String",
    kmsKeyID: "alias/aws/ssm",
    tier: { type: "Standard" },
    encodeAsDecoded: false,
    description: "secret 'managed-by:external-secrets'",
    tags: { "managed-by": "external-secrets" },
  });
  const m = ssmPushMetadata({
    kind: "PushSecretMetadata",
    spec: {
      secretType: "SecureString",
      kmsKeyID: "k",
      tier: { type: "Advanced", policies: [{ Type: "Expiration" }] },
    },
  });
  assert.equal(m.secretType, "SecureString");
  assert.deepEqual(m.tier, { type: "Advanced", policies: '[{"Type":"Expiration"}]' });
  assert.throws(() => ssmPushMetadata({ spec: { secretType: "Number" } }), /secretType/);
});

test("whole Secret JSON: sorted keys, strings or base64 values, Go's escapes", () => {
  const data = { b: enc.encode("2"), a: enc.encode('q"<\u2028') };
  assert.equal(dec.decode(secretMapJson(data, "string")), '{"a":"q\\"<\\u2028","b":"2"}');
  assert.equal(dec.decode(secretMapJson({ a: enc.encode("x") }, "base64")), '{"a":"eA=="}');
});

test("property paths: dots separate, backslash escapes", () => {
  assert.deepEqual(propertyPath("a.b"), ["a", "b"]);
  assert.deepEqual(propertyPath("a\\.b.c"), ["a.b", "c"]);
});

test("mergeProperty keeps other keys, nests, and refuses a non-JSON value", () => {
  const s = (b: Uint8Array): unknown => JSON.parse(dec.decode(b));
  assert.deepEqual(s(mergeProperty(undefined, "k", enc.encode("v"))), { k: "v" });
  assert.deepEqual(s(mergeProperty(enc.encode('{"a":1}'), "b.c", enc.encode("v"))), { a: 1, b: { c: "v" } });
  // an existing key with a dot is that key (gjson's lookup as ESO escapes it)
  assert.deepEqual(s(mergeProperty(enc.encode('{"x.y":"1"}'), "x.y", enc.encode("2"))), { "x.y": "2" });
  assert.throws(
    () => mergeProperty(enc.encode("plain"), "k", enc.encode("v")),
    (e) => isCustosError(e, "CUSTOS_DECODE"),
  );
  assert.throws(() => mergeProperty(enc.encode("[1]"), "k", enc.encode("v")), /JSON object/);
});

test("hasProperty and removeProperty", () => {
  const v = enc.encode('{"a":"1","b":{"c":"2"}}');
  assert.equal(hasProperty(v, "b.c"), true);
  assert.equal(hasProperty(v, "b.d"), false);
  assert.equal(hasProperty(enc.encode("plain"), "a"), false);
  assert.equal(dec.decode(removeProperty(v, "b.c")!), '{"a":"1"}');
  assert.equal(removeProperty(v, "zz"), v);
  assert.equal(removeProperty(enc.encode('{"a":"1"}'), "a"), undefined);
});

test("tag changes: remove what is not wanted (never aws: tags), set what differs", () => {
  assert.deepEqual(
    tagChanges(
      { "managed-by": "external-secrets", old: "1", same: "s", "aws:x": "y" },
      {
        "managed-by": "external-secrets",
        same: "s",
        new: "n",
      },
    ),
    { remove: ["old"], set: { new: "n" } },
  );
});

test("the ClientRequestToken is a function of the version read, UUID-shaped", () => {
  const t = tokenFor("arn:x", "v1");
  assert.match(t, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(tokenFor("arn:x", "v1"), t);
  assert.notEqual(tokenFor("arn:x", "v2"), t);
});
