/**
 * Sealed Secrets' hybrid encryption, byte-compatible with Bitnami's controller and kubeseal:
 *   uint16 BE len(rsa) || RSA-OAEP(SHA-256, label)(sessionKey) || AES-256-GCM(sessionKey, zero nonce)(plaintext)||tag
 * The label binds a value to its scope: "<namespace>/<name>" (strict), "<namespace>"
 * (namespace-wide) or "" (cluster-wide).
 */
import {
  createCipheriv,
  createDecipheriv,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  constants,
  webcrypto,
  type KeyObject,
} from "node:crypto";
import { CustosError } from "../util/errors.ts";

const SESSION_KEY_BYTES = 32;
const NONCE = Buffer.alloc(12); // a fresh key per value makes the fixed nonce safe
const TAG_BYTES = 16;

export type Scope = "strict" | "namespace-wide" | "cluster-wide";

export const ANNOTATION_CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide";
export const ANNOTATION_NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide";

export function scopeLabel(scope: Scope, namespace: string, name: string): Buffer {
  switch (scope) {
    case "cluster-wide":
      return Buffer.alloc(0);
    case "namespace-wide":
      return Buffer.from(namespace);
    default:
      return Buffer.from(`${namespace}/${name}`);
  }
}

/** The scope a SealedSecret declares through its annotations (cluster-wide wins). */
export function scopeOf(annotations: Record<string, string> | undefined): Scope {
  if (annotations?.[ANNOTATION_CLUSTER_WIDE] === "true") return "cluster-wide";
  if (annotations?.[ANNOTATION_NAMESPACE_WIDE] === "true") return "namespace-wide";
  return "strict";
}

export function scopeAnnotations(scope: Scope): Record<string, string> {
  if (scope === "cluster-wide") return { [ANNOTATION_CLUSTER_WIDE]: "true" };
  if (scope === "namespace-wide") return { [ANNOTATION_NAMESPACE_WIDE]: "true" };
  return {};
}

export function hybridEncrypt(publicKey: KeyObject, plaintext: Uint8Array, label: Uint8Array): Buffer {
  const sessionKey = randomBytes(SESSION_KEY_BYTES);
  const wrapped = publicEncrypt(
    {
      key: publicKey,
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: "sha256",
      oaepLabel: Buffer.from(label),
    },
    sessionKey,
  );
  const cipher = createCipheriv("aes-256-gcm", sessionKey, NONCE);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(wrapped.length);
  return Buffer.concat([len, wrapped, body]);
}

/** Sealed Secrets' layout: a 2-byte length, the RSA-OAEP-wrapped session key, the AES-GCM body. */
function splitCiphertext(ciphertext: Uint8Array): { wrapped: Buffer; body: Buffer } {
  const ct = Buffer.from(ciphertext);
  const rsaLen = ct.length < 2 ? 0 : ct.readUInt16BE(0);
  if (ct.length < 2 || ct.length < 2 + rsaLen + TAG_BYTES)
    throw new CustosError("CUSTOS_UNSEAL_FAILED", "SealedSecret data is too short", { retryable: false });
  return { wrapped: ct.subarray(2, 2 + rsaLen), body: ct.subarray(2 + rsaLen) };
}

/** Tries every key (the ciphertext does not say which one sealed it). */
export function hybridDecrypt(privateKeys: KeyObject[], ciphertext: Uint8Array, label: Uint8Array): Buffer {
  const { wrapped, body } = splitCiphertext(ciphertext);
  for (const key of privateKeys) {
    let sessionKey: Buffer;
    try {
      sessionKey = privateDecrypt(
        { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel: Buffer.from(label) },
        wrapped,
      );
    } catch {
      continue;
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", sessionKey, NONCE);
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
    } catch {
      continue;
    }
  }
  throw new CustosError("CUSTOS_UNSEAL_FAILED", "no key could decrypt secret", { retryable: false });
}

type CryptoKey = webcrypto.CryptoKey;
const oaepKeys = new WeakMap<KeyObject, Promise<CryptoKey>>();

function oaepKey(key: KeyObject): Promise<CryptoKey> {
  let k = oaepKeys.get(key);
  if (!k) {
    const der = key.export({ type: "pkcs8", format: "der" });
    k = webcrypto.subtle.importKey("pkcs8", der, { name: "RSA-OAEP", hash: "SHA-256" }, false, ["decrypt"]);
    oaepKeys.set(key, k);
  }
  return k;
}

/**
 * hybridDecrypt through WebCrypto: RSA and AES run on libuv's thread pool, so unsealing many
 * values (a hostile SealedSecret, a large /v1/verify body) never blocks the event loop — the Lease
 * keeps being renewed and other controllers keep working meanwhile.
 */
export async function hybridDecryptAsync(
  privateKeys: readonly KeyObject[],
  ciphertext: Uint8Array,
  label: Uint8Array,
): Promise<Buffer> {
  const { wrapped, body } = splitCiphertext(ciphertext);
  for (const key of privateKeys) {
    let sessionKey: ArrayBuffer;
    try {
      sessionKey = await webcrypto.subtle.decrypt(
        { name: "RSA-OAEP", label: Buffer.from(label) },
        await oaepKey(key),
        wrapped,
      );
    } catch {
      continue;
    }
    if (sessionKey.byteLength !== SESSION_KEY_BYTES) continue;
    try {
      const aes = await webcrypto.subtle.importKey("raw", sessionKey, "AES-GCM", false, ["decrypt"]);
      return Buffer.from(
        await webcrypto.subtle.decrypt({ name: "AES-GCM", iv: NONCE, tagLength: 128 }, aes, body),
      );
    } catch {
      continue;
    }
  }
  throw new CustosError("CUSTOS_UNSEAL_FAILED", "no key could decrypt secret", { retryable: false });
}
