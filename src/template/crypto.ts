/**
 * The template functions whose price does not show in the size of their input: password hashing,
 * key generation, PKCS#12 key derivation, RSA decryption. Each is charged to the render's cost
 * budget (estimated milliseconds, see budget.ts) before it runs, so a loop of them fails with a
 * template error instead of blocking the event loop. Estimates are from a 2-core build machine:
 * bcrypt cost 10 ~150 ms, RSA-4096 generation 400-900 ms, forge's PKCS#12/PBKDF2 ~7 us/iteration.
 */
import { constants, createPrivateKey, generateKeyPairSync, privateDecrypt } from "node:crypto";
import bcrypt from "bcryptjs";
import forge from "node-forge";
import { chargeCost, costly, meter } from "./budget.ts";
import { FuncError } from "./maps.ts";

export const COST = {
  bcrypt: 150,
  rsaKey: 800,
  ecKey: 2,
  /** Per iteration of a PKCS#12 / PBKDF2 key derivation (forge runs them in JavaScript). */
  kdfIteration: 0.01,
  /** Per X.509 certificate parsed by Node (filterCertChain, certSANs), ~70 us. */
  certificate: 0.1,
  /** Per certificate or key parsed by forge (pemToPkcs12), in JavaScript. */
  forgeParse: 1,
  /** Per KiB of a PKCS#12 archive read or written by forge (0.65-0.75 ms/KiB measured). */
  pkcs12KiB: 1,
} as const;

/** bcrypt's cost as Sprig uses it (bcrypt.DefaultCost); fixed, never from the template. */
const BCRYPT_COST = 10;

export function bcryptHash(s: string): string {
  return costly(COST.bcrypt, "bcrypt", () => bcrypt.hashSync(s, BCRYPT_COST));
}

/** Sprig's genPrivateKey: 4096-bit RSA (as Sprig and ESO), P-256 ECDSA, Ed25519; fixed sizes. */
export function genPrivateKey(t: string): string {
  if (t === "rsa") {
    return costly(COST.rsaKey, "genPrivateKey rsa", () =>
      generateKeyPairSync("rsa", { modulusLength: 4096 })
        .privateKey.export({ type: "pkcs1", format: "pem" })
        .toString(),
    );
  }
  if (t === "ecdsa") {
    chargeCost(COST.ecKey, "genPrivateKey");
    return generateKeyPairSync("ec", { namedCurve: "P-256" })
      .privateKey.export({ type: "sec1", format: "pem" })
      .toString();
  }
  if (t === "ed25519") {
    chargeCost(COST.ecKey, "genPrivateKey");
    return generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  }
  return "Unknown type " + t;
}

/**
 * ESO's rsaDecrypt(scheme, hash, ciphertext, privateKey): "None" passes the input through;
 * "RSA-OAEP" with SHA1/SHA256/SHA512 (default SHA256) over the raw ciphertext bytes (a base64
 * text is accepted too). Charged by key size: a private operation grows with the cube of it.
 */
export function rsaDecrypt(scheme: string, hash: string, ciphertext: Buffer, keyPem: string): Buffer {
  if (scheme !== "RSA-OAEP")
    throw new FuncError("decryption scheme is not supported (supported: None, RSA-OAEP)");
  const oaepHash = ({ SHA1: "sha1", SHA256: "sha256", SHA512: "sha512" } as Record<string, string>)[hash];
  const k = createPrivateKey(keyPem);
  const bits = k.asymmetricKeyDetails?.modulusLength ?? 2048;
  const open = (b: Buffer): Buffer => {
    chargeCost(Math.max(1, (bits / 2048) ** 3), "rsaDecrypt");
    return privateDecrypt(
      { key: k, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaepHash ?? "sha256" },
      b,
    );
  };
  try {
    return open(ciphertext);
  } catch (e) {
    const text = ciphertext.toString("latin1").trim();
    if (!/^[A-Za-z0-9+/\r\n]+=*$/.test(text)) throw e;
    return open(Buffer.from(text, "base64"));
  }
}

// --- PKCS#12 ---------------------------------------------------------------------------------

type Kdf = (...args: unknown[]) => unknown;

/**
 * forge derives PKCS#12 keys with the iteration counts written in the archive (MAC, shrouded key
 * bags, encrypted safes), which the tenant chooses. Every derivation goes through these guards:
 * during a render each is charged per iteration before it runs.
 */
function guardKdf(fn: Kdf, iterArg: number): Kdf {
  return function guarded(this: unknown, ...args: unknown[]): unknown {
    if (meter()) {
      const iter = Number(args[iterArg]);
      if (!Number.isFinite(iter) || iter > 1e9) throw new FuncError("PKCS#12 iteration count out of range");
      return costly(Math.max(1, iter) * COST.kdfIteration, "PKCS#12 key derivation", () =>
        fn.apply(this, args),
      );
    }
    return fn.apply(this, args);
  };
}

interface ForgeKdfs {
  pki: { pbe: { generatePkcs12Key: Kdf } };
  pkcs12: { generateKey: Kdf };
  pkcs5: { pbkdf2: Kdf };
  pbkdf2?: Kdf;
}
const kdfs = forge as unknown as ForgeKdfs;
let guarded = false;
function guardForge(): void {
  if (guarded) return;
  guarded = true;
  // generatePkcs12Key(password, salt, id, iter, n, md); pkcs12.generateKey is a copy of it
  kdfs.pki.pbe.generatePkcs12Key = guardKdf(kdfs.pki.pbe.generatePkcs12Key, 3);
  kdfs.pkcs12.generateKey = guardKdf(kdfs.pkcs12.generateKey, 3);
  // pbkdf2(password, salt, iterations, keySize, md)
  kdfs.pkcs5.pbkdf2 = guardKdf(kdfs.pkcs5.pbkdf2, 2);
  if (kdfs.pbkdf2) kdfs.pbkdf2 = kdfs.pkcs5.pbkdf2;
}
guardForge();

/** Largest PKCS#12 archive read (a Java truststore with a few hundred CAs stays well below). */
const MAX_PKCS12_BYTES = 1 << 20;

function pkcs12(raw0: Buffer, password: string): forge.pkcs12.Pkcs12Pfx {
  // ESO takes the archive's raw bytes (decodingStrategy: Base64 yields them from a base64 store
  // value); an archive still in base64 text is accepted too, as engine v1 did.
  let raw = raw0;
  const text = raw.toString("latin1").trim();
  if (/^[A-Za-z0-9+/\r\n]+=*$/.test(text)) raw = Buffer.from(text, "base64");
  if (raw.length > MAX_PKCS12_BYTES)
    throw new FuncError(`PKCS#12 archive larger than ${MAX_PKCS12_BYTES} bytes`);
  chargeCost((raw.length / 1024) * COST.pkcs12KiB, "PKCS#12 parsing");
  return forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(raw.toString("binary")), password);
}

export function pkcs12Key(data: Buffer, password: string): string {
  const p12 = pkcs12(data, password);
  const shrouded = forge.pki.oids.pkcs8ShroudedKeyBag!;
  const plain = forge.pki.oids.keyBag!;
  const bags = [
    ...(p12.getBags({ bagType: shrouded })[shrouded] ?? []),
    ...(p12.getBags({ bagType: plain })[plain] ?? []),
  ];
  const key = bags[0]?.key;
  if (!key) throw new FuncError("pkcs12: no private key");
  const info = forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(key));
  return forge.pki.privateKeyInfoToPem(info);
}

export function pkcs12Cert(data: Buffer, password: string): string {
  const p12 = pkcs12(data, password);
  const certBag = forge.pki.oids.certBag!;
  const certs = p12.getBags({ bagType: certBag })[certBag] ?? [];
  return certs.map((b: forge.pkcs12.Bag) => (b.cert ? forge.pki.certificateToPem(b.cert) : "")).join("");
}

export function pemToPkcs12(certPems: string[], key: string, password: string): string {
  const certs = certPems.map((c) => {
    chargeCost(COST.forgeParse + (c.length / 1024) * COST.pkcs12KiB, "pemToPkcs12");
    return forge.pki.certificateFromPem(c);
  });
  chargeCost(COST.forgeParse, "pemToPkcs12");
  const k = forge.pki.privateKeyFromPem(
    createPrivateKey(key).export({ type: "pkcs1", format: "pem" }).toString(),
  );
  const asn = forge.pkcs12.toPkcs12Asn1(k, certs, password, { algorithm: "3des" });
  return forge.util.encode64(forge.asn1.toDer(asn).getBytes());
}
