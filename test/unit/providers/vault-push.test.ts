import { test } from "node:test";
import assert from "node:assert/strict";
import {
  desiredCustomMetadata,
  desiredMap,
  parsePushMetadata,
  sameJson,
} from "../../../src/providers/vault/push.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const META = { apiVersion: "kubernetes.external-secrets.io/v1alpha1", kind: "PushSecretMetadata" };

test("metadata: PushSecretMetadata parsed as ESO (apiVersion, kind, no unknown fields)", () => {
  assert.equal(parsePushMetadata(undefined), undefined);
  assert.deepEqual(parsePushMetadata({ ...META, spec: { customMetadata: { team: "a" } } }), {
    customMetadata: { team: "a" },
    mergePolicy: "Merge",
  });
  assert.equal(parsePushMetadata({ ...META, spec: { mergePolicy: "Replace" } })?.mergePolicy, "Replace");
  for (const bad of [
    { ...META, apiVersion: "v1" },
    { ...META, kind: "Other" },
    { ...META, extra: 1 },
    { ...META, spec: { mergePolicy: "Sometimes" } },
    { ...META, spec: { customMetadata: { n: 1 } } },
    { ...META, spec: { unknown: true } },
    "text",
  ])
    assert.throws(
      () => parsePushMetadata(bad),
      (e: unknown) => isCustosError(e, "CUSTOS_INVALID_SPEC"),
    );
});

test("custom metadata: the ownership marker always set; Merge keeps remote keys, Replace drops them", () => {
  const meta = { customMetadata: { team: "a", "managed-by": "me" }, mergePolicy: "Merge" as const };
  assert.deepEqual(desiredCustomMetadata(undefined, meta), { team: "a", "managed-by": "external-secrets" });
  assert.deepEqual(desiredCustomMetadata({ keep: "1", "managed-by": "external-secrets" }, meta), {
    keep: "1",
    team: "a",
    "managed-by": "external-secrets",
  });
  assert.deepEqual(desiredCustomMetadata({ keep: "1" }, { ...meta, mergePolicy: "Replace" }), {
    team: "a",
    "managed-by": "external-secrets",
  });
  assert.deepEqual(desiredCustomMetadata(undefined, undefined), { "managed-by": "external-secrets" });
});

test("data: property merges into the map; whole Secret replaces it; one key must be a JSON object", () => {
  const existing = { a: "1", b: "2" };
  assert.deepEqual(
    desiredMap(existing, { remoteKey: "k", property: "b", value: { kind: "bytes", value: enc("new") } }),
    { a: "1", b: "new" },
  );
  assert.deepEqual(desiredMap(existing, { remoteKey: "k", value: { kind: "map", value: { x: enc("y") } } }), {
    x: "y",
  });
  assert.deepEqual(
    desiredMap(undefined, {
      remoteKey: "k",
      property: "all",
      value: { kind: "map", value: { x: enc("y") } },
    }),
    { all: '{"x":"y"}' },
  );
  assert.deepEqual(
    desiredMap(existing, { remoteKey: "k", value: { kind: "bytes", value: enc('{"j":1}') } }),
    { j: 1 },
  );
  assert.throws(
    () => desiredMap(existing, { remoteKey: "k", value: { kind: "bytes", value: enc("s3cret-not-json") } }),
    (e: unknown) =>
      isCustosError(e, "CUSTOS_INVALID_SPEC") &&
      /invalid JSON format/.test((e as Error).message) &&
      !(e as Error).message.includes("s3cret"),
  );
});

test("sameJson ignores key order and compares deeply", () => {
  assert.ok(sameJson({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 }));
  assert.ok(!sameJson({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(!sameJson({ a: "1" }, { a: 1 }));
  assert.ok(!sameJson([1], { 0: 1 }));
});
