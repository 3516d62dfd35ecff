/**
 * Sealing keys in Bitnami's format: RSA-4096 with a self-signed certificate (random 128-bit
 * serial, ten years), kept in `kubernetes.io/tls` Secrets labelled
 * `sealedsecrets.bitnami.com/sealed-secrets-key=active` — so keys of an existing Sealed Secrets
 * installation work as they are, and ours work there.
 */
import "reflect-metadata"; // @peculiar/x509 uses decorators that need it
import {
  webcrypto,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  X509Certificate,
  type KeyObject,
} from "node:crypto";
import * as x509 from "@peculiar/x509";
import { CustosError } from "../util/errors.ts";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key";
export const KEY_LABEL_ACTIVE = "active";
export const KEY_GENERATE_NAME = "sealed-secrets-key";

export interface SealingKey {
  privateKey: KeyObject;
  certificatePem: string;
  /** When the key was created (the Secret's creation time, else the certificate's notBefore). */
  createdAt: Date;
  /** The Secret holding it, when loaded from the cluster. */
  secretName?: string | undefined;
}

export interface KeySecret {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    creationTimestamp?: string;
    annotations?: Record<string, string>;
  };
  type?: string;
  data?: Record<string, string>;
}

export async function generateSealingKey(
  opts: { commonName?: string; bits?: number; now?: Date } = {},
): Promise<SealingKey> {
  const alg = {
    name: "RSASSA-PKCS1-v1_5",
    hash: "SHA-256",
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: opts.bits ?? 4096,
  };
  const keys = await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const now = opts.now ?? new Date();
  const notAfter = new Date(now.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + 10);
  const cn = opts.commonName ?? "";
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16)
      .toString("hex")
      .replace(/^[89a-f]/, "1"),
    name: cn ? `CN=${cn}` : "",
    notBefore: now,
    notAfter,
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      new x509.BasicConstraintsExtension(true, undefined, true),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    privateKey: createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }),
    certificatePem: cert.toString("pem"),
    createdAt: now,
  };
}

/** The key Secret as Bitnami's controller writes it (tls.key is PKCS#1 PEM). */
export function keyToSecret(key: SealingKey, namespace: string): KeySecret {
  const pem = key.privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { generateName: `${KEY_GENERATE_NAME}-`, namespace, labels: { [KEY_LABEL]: KEY_LABEL_ACTIVE } },
    type: "kubernetes.io/tls",
    data: {
      "tls.crt": Buffer.from(key.certificatePem).toString("base64"),
      "tls.key": Buffer.from(pem).toString("base64"),
    },
  };
}

export function keyFromSecret(secret: KeySecret): SealingKey {
  const crt = secret.data?.["tls.crt"];
  const pk = secret.data?.["tls.key"];
  if (!crt || !pk)
    throw new CustosError(
      "CUSTOS_CERT_INVALID",
      `key Secret ${secret.metadata.name ?? ""} lacks tls.crt or tls.key`,
      { retryable: false },
    );
  const certificatePem = Buffer.from(crt, "base64").toString("utf8");
  const privateKey = createPrivateKey(Buffer.from(pk, "base64").toString("utf8"));
  const cert = new X509Certificate(certificatePem);
  return {
    privateKey,
    certificatePem,
    createdAt: secret.metadata.creationTimestamp
      ? new Date(secret.metadata.creationTimestamp)
      : new Date(cert.validFrom),
    secretName: secret.metadata.name,
  };
}

// kept here for existing callers; the CLI imports it from cert.ts (no @peculiar/x509)
export { publicKeyFromCertificate } from "./cert.ts";

export function publicKeyOf(key: SealingKey): KeyObject {
  return createPublicKey(key.privateKey);
}
