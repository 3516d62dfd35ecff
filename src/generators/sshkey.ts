/**
 * ESO's SSHKey generator: `keyType` rsa (default, `keySize` 2048) | ecdsa (256, 384, 521; other
 * sizes 256) | ed25519, `comment`; output `privateKey` in OpenSSH's format (unencrypted, PEM with
 * 64-character lines, as Go's ssh.MarshalPrivateKey + pem.EncodeToMemory) and `publicKey` as an
 * authorized_keys line (with the comment when set).
 */
import { generateKeyPairSync, randomBytes, type JsonWebKey } from "node:crypto";
import { CustosError } from "../util/errors.ts";

export interface SSHKeySpec {
  keyType?: string;
  keySize?: number;
  comment?: string;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const str = (b: Buffer | string): Buffer => {
  const buf = typeof b === "string" ? Buffer.from(b) : b;
  return Buffer.concat([u32(buf.length), buf]);
};
/** SSH mpint from an unsigned big-endian magnitude (JWK base64url). */
function mpint(b64url: string | undefined): Buffer {
  let b = Buffer.from(b64url ?? "", "base64url");
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  b = b.subarray(i);
  if (b.length && b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return str(b);
}

function pem(body: Buffer): string {
  const b64 = body.toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

function openssh(pubBlob: Buffer, privFields: Buffer, comment: string): string {
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, privFields, str(comment)]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  return pem(
    Buffer.concat([
      Buffer.from("openssh-key-v1\0"),
      str("none"),
      str("none"),
      str(""),
      u32(1),
      str(pubBlob),
      str(priv),
    ]),
  );
}

function invalid(message: string): CustosError {
  return new CustosError("CUSTOS_INVALID_SPEC", `SSHKey generator: ${message}`, { retryable: false });
}

export function sshKey(spec: SSHKeySpec): { privateKey: string; publicKey: string } {
  const type = spec.keyType || "rsa";
  const comment = spec.comment ?? "";
  let pubBlob: Buffer;
  let privFields: Buffer;
  let name: string;
  if (type === "ed25519") {
    const { privateKey } = generateKeyPairSync("ed25519");
    const jwk = privateKey.export({ format: "jwk" });
    const pub = Buffer.from(jwk.x ?? "", "base64url");
    const seed = Buffer.from(jwk.d ?? "", "base64url");
    name = "ssh-ed25519";
    pubBlob = Buffer.concat([str(name), str(pub)]);
    privFields = Buffer.concat([str(name), str(pub), str(Buffer.concat([seed, pub]))]);
  } else if (type === "rsa") {
    const bits = spec.keySize ?? 2048;
    if (!Number.isInteger(bits) || bits < 1024 || bits > 8192)
      throw invalid(`keySize ${bits} is not between 1024 and 8192`);
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: bits, publicExponent: 65537 });
    const j: JsonWebKey = privateKey.export({ format: "jwk" });
    name = "ssh-rsa";
    pubBlob = Buffer.concat([str(name), mpint(j.e), mpint(j.n)]);
    privFields = Buffer.concat([
      str(name),
      mpint(j.n),
      mpint(j.e),
      mpint(j.d),
      mpint(j.qi),
      mpint(j.p),
      mpint(j.q),
    ]);
  } else if (type === "ecdsa") {
    const size = spec.keySize === 384 || spec.keySize === 521 ? spec.keySize : 256;
    const curve = { 256: "P-256", 384: "P-384", 521: "P-521" }[size];
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: curve });
    const j = privateKey.export({ format: "jwk" });
    const ident = `nistp${size}`;
    name = `ecdsa-sha2-${ident}`;
    const point = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(j.x ?? "", "base64url"),
      Buffer.from(j.y ?? "", "base64url"),
    ]);
    pubBlob = Buffer.concat([str(name), str(ident), str(point)]);
    privFields = Buffer.concat([str(name), str(ident), str(point), mpint(j.d)]);
  } else throw invalid(`unsupported key type: ${type}`);
  const publicKey = `${name} ${pubBlob.toString("base64")}${comment ? ` ${comment}` : ""}\n`;
  return { privateKey: openssh(pubBlob, privFields, comment), publicKey };
}
