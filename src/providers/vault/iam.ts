/**
 * Vault's `aws` auth method, IAM flavour: sign an `sts:GetCallerIdentity` request with AWS
 * credentials and hand it to Vault, which replays it to STS to learn who we are. The credentials
 * come from the same places as the AWS provider's (static keys in a Secret, web identity for a
 * ServiceAccount, the default chain, then an optional role), cached by the session.
 */
import { createHash, createHmac } from "node:crypto";
import type { AwsCredentialIdentity } from "@aws-sdk/types";

const BODY = "Action=GetCallerIdentity&Version=2011-06-15";

type Bytes = string | ArrayBuffer | ArrayBufferView;
const toBuffer = (d: Bytes): string | Buffer =>
  typeof d === "string"
    ? d
    : d instanceof ArrayBuffer
      ? Buffer.from(d)
      : Buffer.from(d.buffer, d.byteOffset, d.byteLength);

/** SHA-256 / HMAC-SHA-256 on node:crypto, in the shape the signer expects. */
class Sha256 {
  readonly #h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: Bytes) {
    this.#h = secret === undefined ? createHash("sha256") : createHmac("sha256", toBuffer(secret));
  }
  update(data: Bytes): void {
    this.#h.update(toBuffer(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#h.digest()));
  }
}

/** STS host the request is signed for, as Vault's own client resolves it. */
export function stsHost(region: string): string {
  return region === "us-east-1" ? "sts.amazonaws.com" : `sts.${region}.amazonaws.com`;
}

/** The body of `POST auth/<path>/login` for the IAM flavour. */
export async function iamLoginBody(
  credentials: AwsCredentialIdentity,
  region: string,
  vaultRole: string | undefined,
  serverId: string | undefined,
): Promise<Record<string, string>> {
  const host = stsHost(region);
  const { SignatureV4 } = await import("@smithy/signature-v4"); // loaded with the first IAM login
  const signer = new SignatureV4({ service: "sts", region, credentials, sha256: Sha256 });
  const signed = await signer.sign({
    method: "POST",
    protocol: "https:",
    hostname: host,
    path: "/",
    query: {},
    headers: {
      host,
      "content-type": "application/x-www-form-urlencoded; charset=utf-8",
      // signed, so Vault can check the request was made for it (vaultAwsIamServerID)
      ...(serverId ? { "x-vault-aws-iam-server-id": serverId } : {}),
    },
    body: BODY,
  });
  const headers: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k] = [v];
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  return {
    ...(vaultRole ? { role: vaultRole } : {}),
    iam_http_request_method: "POST",
    iam_request_url: b64(`https://${host}/`),
    iam_request_body: b64(BODY),
    iam_request_headers: b64(JSON.stringify(headers)),
  };
}
