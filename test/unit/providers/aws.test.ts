import { test } from "node:test";
import assert from "node:assert/strict";
import { mapAwsError } from "../../../src/providers/aws/session.ts";
import { awsProvider } from "../../../src/providers/aws/index.ts";
import type { StoreContext } from "../../../src/providers/types.ts";

const cases: [string, string, boolean][] = [
  ["ResourceNotFoundException", "CUSTOS_SECRET_NOT_FOUND", false],
  ["ParameterNotFound", "CUSTOS_SECRET_NOT_FOUND", false],
  ["AccessDeniedException", "CUSTOS_ACCESS_DENIED", false],
  ["UnrecognizedClientException", "CUSTOS_ACCESS_DENIED", false],
  ["ThrottlingException", "CUSTOS_THROTTLED", true],
  ["TooManyRequestsException", "CUSTOS_THROTTLED", true],
  ["InternalServiceError", "CUSTOS_STORE_ERROR", true],
];
for (const [name, code, retryable] of cases) {
  test(`AWS ${name} -> ${code}`, () => {
    const e = mapAwsError({ name, message: "m" }, "GetSecretValue x");
    assert.equal(e.code, code);
    assert.equal(e.retryable, retryable);
    assert.match(e.message, /GetSecretValue x/);
  });
}

test("connection failures are 'unreachable' and retryable", () => {
  const e = mapAwsError(
    Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
    "ListSecrets",
  );
  assert.equal(e.code, "CUSTOS_STORE_UNREACHABLE");
  assert.equal(e.retryable, true);
});

const ctx = (kind: "SecretStore" | "ClusterSecretStore", namespace: string): StoreContext => ({
  storeKind: kind,
  storeName: "s",
  storeUid: "u",
  namespace,
  kube: {} as never,
});
const spec = {
  service: "SecretsManager" as const,
  region: "eu-central-1",
  auth: {
    secretRef: {
      accessKeyIDSecretRef: { name: "aws", key: "id" },
      secretAccessKeySecretRef: { name: "aws", key: "key" },
    },
  },
};

test("identity: referent credentials differ per namespace on a ClusterSecretStore, never on a SecretStore", () => {
  assert.notEqual(
    awsProvider.identity(spec, ctx("ClusterSecretStore", "a")),
    awsProvider.identity(spec, ctx("ClusterSecretStore", "b")),
  );
  const pinned = {
    ...spec,
    auth: {
      secretRef: {
        accessKeyIDSecretRef: { name: "aws", key: "id", namespace: "x" },
        secretAccessKeySecretRef: { name: "aws", key: "key", namespace: "x" },
      },
    },
  };
  assert.equal(
    awsProvider.identity(pinned, ctx("ClusterSecretStore", "a")),
    awsProvider.identity(pinned, ctx("ClusterSecretStore", "b")),
  );
  // a SecretStore ignores a namespace in its refs: always its own namespace
  assert.match(awsProvider.identity(pinned, ctx("SecretStore", "mine")), /mine\/aws/);
});

test("validation", () => {
  assert.deepEqual(awsProvider.validate(spec), []);
  assert.match(awsProvider.validate({ ...spec, service: "Nope" as never }).join(), /service/);
});
