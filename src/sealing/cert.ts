/**
 * A sealing certificate's public key, with Node's own X.509 parser only: sealing with `--cert`
 * needs nothing more, so it never loads the certificate generator (@peculiar/x509) of keys.ts.
 */
import { X509Certificate, type KeyObject } from "node:crypto";
import { CustosError } from "../util/errors.ts";

/** A certificate's public key, refusing expired or not-yet-valid certificates. */
export function publicKeyFromCertificate(pem: string, now = new Date()): KeyObject {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (e) {
    throw new CustosError("CUSTOS_CERT_INVALID", `not a PEM certificate: ${(e as Error).message}`, {
      retryable: false,
    });
  }
  if (now > new Date(cert.validTo))
    throw new CustosError(
      "CUSTOS_CERT_INVALID",
      `the sealing certificate expired on ${new Date(cert.validTo).toISOString()}`,
      { retryable: false },
    );
  if (now < new Date(cert.validFrom))
    throw new CustosError("CUSTOS_CERT_INVALID", "the sealing certificate is not valid yet", {
      retryable: false,
    });
  return cert.publicKey;
}
