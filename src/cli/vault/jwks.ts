/**
 * The cluster's service-account signing keys as Vault's JWT auth takes them when it cannot reach
 * the issuer: the API server's JWKS (`/openid/v1/jwks`) turned into PEM public keys.
 */
import { createPublicKey, type JsonWebKey } from "node:crypto";
import { CustosError } from "../../util/errors.ts";

/** PEM (SPKI) of every signing key of a JWKS document, sorted, without trailing newline (as Vault stores them). */
export function jwksToPems(jwks: unknown): string[] {
  const keys = (jwks as { keys?: unknown } | undefined)?.keys;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new CustosError("CUSTOS_INVALID_SPEC", "the API server's JWKS has no keys", { retryable: false });
  const pems = new Set<string>();
  for (const k of keys as JsonWebKey[]) {
    if (k.use !== undefined && k.use !== "sig") continue;
    try {
      pems.add(
        createPublicKey({ key: k, format: "jwk" }).export({ type: "spki", format: "pem" }).toString().trim(),
      );
    } catch (e) {
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        `the API server's JWKS has a key that is not a public key (${String(k.kty)}): ${(e as Error).message}`,
        { retryable: false },
      );
    }
  }
  return [...pems].sort();
}
