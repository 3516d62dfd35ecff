import { test } from "node:test";
import assert from "node:assert/strict";
import { kvPath as kvPathOf } from "../../../src/providers/vault/path.ts";
const kvPath = (k: string, m: string | undefined, v: "v1" | "v2", kind?: "data" | "metadata"): string =>
  kvPathOf(k, m, v, kind).toString();
import { vaultProvider } from "../../../src/providers/vault/index.ts";
import type { StoreContext } from "../../../src/providers/types.ts";
import { iamLoginBody, stsHost } from "../../../src/providers/vault/iam.ts";

const paths: [string, string | undefined, "v1" | "v2", string][] = [
  ["foo", "secret", "v2", "secret/data/foo"],
  ["secret/foo", "secret", "v2", "secret/data/foo"],
  ["secret/data/foo", "secret", "v2", "secret/data/foo"],
  [
    "kv-v2/kubernetes/supersecret/test-secret",
    "kv-v2",
    "v2",
    "kv-v2/data/kubernetes/supersecret/test-secret",
  ],
  ["a/b", undefined, "v2", "a/data/b"],
  ["a/data/b", undefined, "v2", "a/data/b"],
  ["foo", "secret", "v1", "secret/foo"],
  ["secret/foo", "secret", "v1", "secret/foo"],
  ["a/b", undefined, "v1", "a/b"],
  ["/a/b", undefined, "v1", "a/b"],
];
for (const [key, mount, version, want] of paths) {
  test(`ESO path building: ${key} (mount ${mount ?? "-"}, ${version}) -> ${want}`, () =>
    assert.equal(kvPath(key, mount, version), want));
}
test("metadata paths", () => {
  assert.equal(kvPath("foo", "secret", "v2", "metadata"), "secret/metadata/foo");
  assert.equal(kvPath("a/b", undefined, "v2", "metadata"), "a/metadata/b");
});

const ctx = (kind: "SecretStore" | "ClusterSecretStore", namespace: string): StoreContext => ({
  storeKind: kind,
  storeName: "s",
  storeUid: "u",
  namespace,
  kube: {} as never,
});

test("identity: per auth source; referent auth differs per namespace; no values", () => {
  const token = { server: "https://v", auth: { tokenSecretRef: { name: "t", key: "token" } } };
  assert.notEqual(
    vaultProvider.identity(token, ctx("ClusterSecretStore", "a")),
    vaultProvider.identity(token, ctx("ClusterSecretStore", "b")),
  );
  const jwt = {
    server: "https://v",
    auth: { jwt: { role: "r", kubernetesServiceAccountToken: { serviceAccountRef: { name: "sa" } } } },
  };
  assert.match(
    vaultProvider.identity(jwt, ctx("SecretStore", "n")),
    /jwt:jwt:r:sa:n\/sa\/vault|jwt:jwt:r:sa:n\/sa\//,
  );
  const approle = {
    server: "https://v",
    auth: { appRole: { roleId: "rid", secretRef: { name: "s", key: "k", namespace: "x" } } },
  };
  assert.equal(
    vaultProvider.identity(approle, ctx("ClusterSecretStore", "a")),
    vaultProvider.identity(approle, ctx("ClusterSecretStore", "b")),
  );
});

test("validation names the problem", () => {
  assert.deepEqual(
    vaultProvider.validate({ server: "https://v", auth: { tokenSecretRef: { name: "t", key: "k" } } }),
    [],
  );
  assert.match(
    vaultProvider.validate({ server: "not a url", auth: { tokenSecretRef: { name: "t" } } }).join(),
    /not a URL/,
  );
  assert.match(vaultProvider.validate({ server: "https://v" }).join(), /auth/);
  assert.match(
    vaultProvider.validate({ server: "https://v", auth: { gcp: {} } }).join(),
    /not supported yet/,
  );
});

test("aws (IAM) login body: a SigV4-signed sts:GetCallerIdentity for the region, server ID header signed", async () => {
  const body = await iamLoginBody(
    {
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      sessionToken: "tok",
    },
    "eu-west-1",
    "reader",
    "vault.example.com",
  );
  const dec = (s: string | undefined): string => Buffer.from(s ?? "", "base64").toString();
  assert.equal(body.role, "reader");
  assert.equal(body.iam_http_request_method, "POST");
  assert.equal(dec(body.iam_request_url), "https://sts.eu-west-1.amazonaws.com/");
  assert.equal(dec(body.iam_request_body), "Action=GetCallerIdentity&Version=2011-06-15");
  const headers = JSON.parse(dec(body.iam_request_headers)) as Record<string, string[]>;
  const auth = headers.authorization?.[0] ?? "";
  assert.match(auth, /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/sts\/aws4_request, /);
  assert.match(auth, /SignedHeaders=[^,]*x-vault-aws-iam-server-id/);
  assert.deepEqual(headers["x-vault-aws-iam-server-id"], ["vault.example.com"]);
  assert.deepEqual(headers["x-amz-security-token"], ["tok"]);
  assert.ok(!JSON.stringify(body).includes("wJalrXUtnFEMI"), "the secret key never leaves the signer");
  assert.equal(stsHost("us-east-1"), "sts.amazonaws.com");
});
