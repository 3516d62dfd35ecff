import { test, before } from "node:test";
import assert from "node:assert/strict";
import { hybridDecrypt, hybridEncrypt, scopeLabel, scopeOf } from "../../../src/sealing/crypto.ts";
import {
  generateSealingKey,
  keyFromSecret,
  keyToSecret,
  publicKeyFromCertificate,
  publicKeyOf,
  type SealingKey,
} from "../../../src/sealing/keys.ts";
import { sealSecret, unsealToSecret, unsealValues } from "../../../src/sealing/sealedsecret.ts";
import { isCustosError } from "../../../src/util/errors.ts";

let key: SealingKey;
let other: SealingKey;
before(async () => {
  // 2048-bit keys keep unit tests fast; the compatibility tests use 4096 as the controller does
  key = await generateSealingKey({ bits: 2048, commonName: "custos" });
  other = await generateSealingKey({ bits: 2048 });
});

const secret = {
  metadata: {
    name: "db",
    namespace: "app",
    annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}" },
    labels: { a: "b" },
  },
  type: "Opaque",
  data: { password: Buffer.from("pw-value").toString("base64") },
  stringData: { user: "admin" },
};

test("the byte layout: uint16 length, RSA-4096-size block, AES-GCM body with tag", async () => {
  const big = await generateSealingKey();
  const ct = hybridEncrypt(publicKeyOf(big), Buffer.from("hi"), Buffer.from("ns/n"));
  assert.equal(ct.readUInt16BE(0), 512);
  assert.equal(ct[0], 0x02);
  assert.equal(ct.length, 2 + 512 + 2 + 16);
  assert.equal(hybridDecrypt([big.privateKey], ct, Buffer.from("ns/n")).toString(), "hi");
});

for (const scope of ["strict", "namespace-wide", "cluster-wide"] as const) {
  test(`seal and unseal round trip, ${scope}`, () => {
    const ss = sealSecret(secret, publicKeyOf(key), scope);
    assert.equal(scopeOf(ss.metadata.annotations), scope);
    assert.deepEqual(Object.keys(ss.spec.encryptedData!), ["password", "user"]);
    const out = unsealToSecret({ ...ss, metadata: { ...ss.metadata, uid: "u1" } }, [
      other.privateKey,
      key.privateKey,
    ]);
    assert.equal(Buffer.from(out.data!.password!, "base64").toString(), "pw-value");
    assert.equal(Buffer.from(out.data!.user!, "base64").toString(), "admin");
    assert.equal(out.metadata.name, "db");
    assert.deepEqual(out.metadata.labels, { a: "b" });
    assert.equal((out.metadata.ownerReferences as { uid: string }[])[0]!.uid, "u1");
  });
}

test("strict scope binds name and namespace; namespace-wide binds the namespace", () => {
  const strict = sealSecret(secret, publicKeyOf(key), "strict");
  assert.throws(
    () => unsealValues({ ...strict, metadata: { ...strict.metadata, name: "other" } }, [key.privateKey]),
    (e) => isCustosError(e, "CUSTOS_UNSEAL_FAILED"),
  );
  assert.throws(
    () => unsealValues({ ...strict, metadata: { ...strict.metadata, namespace: "other" } }, [key.privateKey]),
    /no key could decrypt/,
  );
  const nsWide = sealSecret(secret, publicKeyOf(key), "namespace-wide");
  assert.ok(
    unsealValues({ ...nsWide, metadata: { ...nsWide.metadata, name: "renamed" } }, [key.privateKey]).user,
  );
  assert.throws(() =>
    unsealValues({ ...nsWide, metadata: { ...nsWide.metadata, namespace: "x" } }, [key.privateKey]),
  );
});

test("tampered, truncated and wrong-key ciphertexts fail with a clear error and no plaintext", () => {
  const ss = sealSecret(secret, publicKeyOf(key), "strict");
  const ct = Buffer.from(ss.spec.encryptedData!.password!, "base64");
  const tampered = Buffer.from(ct);
  tampered[tampered.length - 1]! ^= 1;
  for (const bad of [tampered, ct.subarray(0, 10), Buffer.alloc(1)]) {
    assert.throws(
      () =>
        unsealValues({ ...ss, spec: { encryptedData: { password: bad.toString("base64") } } }, [
          key.privateKey,
        ]),
      (e) => isCustosError(e, "CUSTOS_UNSEAL_FAILED") && !e.message.includes("pw-value"),
    );
  }
  assert.throws(() => unsealValues(ss, [other.privateKey]), /no key could decrypt secret/);
  assert.throws(
    () => hybridDecrypt([key.privateKey], Buffer.alloc(1), scopeLabel("cluster-wide", "", "")),
    /too short/,
  );
});

test("kubeseal's template rules: server fields and last-applied dropped, type and immutable kept", () => {
  const ss = sealSecret(
    { ...secret, immutable: true, type: "kubernetes.io/basic-auth" },
    publicKeyOf(key),
    "strict",
  );
  assert.equal(ss.spec.template?.type, "kubernetes.io/basic-auth");
  assert.equal(ss.spec.template?.immutable, true);
  assert.equal(ss.spec.template?.metadata?.annotations, undefined);
  assert.ok(!JSON.stringify(ss).includes("pw-value"));
  assert.throws(
    () => sealSecret({ metadata: { name: "x", namespace: "y" } }, publicKeyOf(key), "strict"),
    /no data/,
  );
  assert.throws(
    () => sealSecret({ metadata: { name: "x" }, data: { a: "YQ==" } }, publicKeyOf(key), "strict"),
    /namespace/,
  );
});

test("key Secrets in Bitnami's format round trip; certificates are checked for expiry", async () => {
  const s = keyToSecret(key, "kube-system");
  assert.equal(s.type, "kubernetes.io/tls");
  assert.equal(s.metadata.labels?.["sealedsecrets.bitnami.com/sealed-secrets-key"], "active");
  assert.match(Buffer.from(s.data!["tls.key"]!, "base64").toString(), /BEGIN RSA PRIVATE KEY/);
  const back = keyFromSecret(s);
  const ct = hybridEncrypt(publicKeyFromCertificate(back.certificatePem), Buffer.from("x"), Buffer.alloc(0));
  assert.equal(hybridDecrypt([key.privateKey], ct, Buffer.alloc(0)).toString(), "x");
  const old = await generateSealingKey({ bits: 2048, now: new Date("2000-01-01T00:00:00Z") });
  assert.throws(
    () => publicKeyFromCertificate(old.certificatePem),
    (e) => isCustosError(e, "CUSTOS_CERT_INVALID") && /expired/.test(e.message),
  );
});
