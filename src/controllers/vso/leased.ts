/**
 * VaultDynamicSecret and VaultPKISecret decisions, pure (reference §7):
 * - dynamic: the request (method, params), the Secret data (as static: fields + `_raw`), when to
 *   renew (renewalPercent of the lease, default 67, at most 90) and whether a lease found in the
 *   status is still good after an operator restart (then it is kept, not re-issued: VSO #285);
 * - PKI: the issue request, the Secret data (`certificate`, `private_key`, `issuing_ca`,
 *   `ca_chain`, `serial_number`, `expiration`...; `tls.crt`/`tls.key` for kubernetes.io/tls) and
 *   when to renew (expiryOffset before expiration).
 */
import type { VaultDynamicSecretSpecT, VaultPKISecretSpecT } from "../../api/vso.ts";
import { CustosError } from "../../util/errors.ts";
import { parseVsoDuration, secretData } from "./static.ts";

export interface Lease {
  id: string;
  duration: number;
  renewable: boolean;
  requestID: string;
}

/** What a dynamic request returns (the part Custos keeps). */
export interface VaultAnswer {
  request_id?: string;
  lease_id?: string;
  lease_duration?: number;
  renewable?: boolean;
  data?: Record<string, unknown> | null;
}

export function dynamicRequest(spec: VaultDynamicSecretSpecT): {
  method: "GET" | "POST" | "PUT";
  body?: unknown;
} {
  const params = spec.params && Object.keys(spec.params).length ? spec.params : undefined;
  const method = spec.requestHTTPMethod ?? (params ? "PUT" : "GET");
  if (method === "GET" && params)
    throw new CustosError("CUSTOS_INVALID_SPEC", "params cannot be sent with requestHTTPMethod GET", {
      retryable: false,
    });
  return { method, ...(method === "GET" ? {} : { body: params ?? {} }) };
}

export function leaseOf(a: VaultAnswer): Lease {
  return {
    id: a.lease_id ?? "",
    duration: a.lease_duration ?? 0,
    renewable: a.renewable ?? false,
    requestID: a.request_id ?? "",
  };
}

export function answerData(
  a: VaultAnswer,
  transformation: VaultDynamicSecretSpecT["destination"]["transformation"],
): Record<string, Uint8Array> {
  const data = a.data ?? {};
  return secretData({ secret: data, raw: data, excludeRaw: transformation?.excludeRaw });
}

/** Milliseconds after `from` at which a lease of `duration` s is renewed (renewalPercent, 67 by default, at most 90). */
export function renewalDelayMs(
  spec: Pick<VaultDynamicSecretSpecT, "renewalPercent">,
  duration: number,
): number {
  const pct = Math.min(90, Math.max(0, spec.renewalPercent ?? 67));
  return Math.max(1000, Math.floor(duration * 1000 * (pct / 100)));
}

/**
 * Whether the lease in the status is still good at `now` (ms): issued at `lastRenewalTime` (s)
 * for `duration` s and not yet at its renewal point. A good lease survives an operator restart.
 */
export function leaseStillGood(
  spec: Pick<VaultDynamicSecretSpecT, "renewalPercent">,
  lease: Lease | undefined,
  lastRenewalTime: number | undefined,
  now: number,
): boolean {
  if (!lease?.id || !lease.duration || !lastRenewalTime) return false;
  return now < lastRenewalTime * 1000 + renewalDelayMs(spec, lease.duration);
}

/** VSO's `status.staticCredsMetaData`: what a database/LDAP static role's answer says of its rotation. */
export interface StaticCredsMeta {
  lastVaultRotation: number;
  rotationPeriod: number;
  rotationSchedule: string;
  ttl: number;
}

/**
 * The rotation metadata of a static-creds answer (`allowStaticCreds`), when it is one: a
 * `last_vault_rotation` and a `rotation_period` (>= 1 s) or `rotation_schedule`. Undefined for
 * anything else (then VSO neither renews nor refreshes).
 */
export function staticCredsMeta(
  data: Record<string, unknown> | null | undefined,
): StaticCredsMeta | undefined {
  const d = data ?? {};
  const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? Math.trunc(v) : 0);
  const at = typeof d.last_vault_rotation === "string" ? Date.parse(d.last_vault_rotation) : NaN;
  const meta: StaticCredsMeta = {
    lastVaultRotation: Number.isNaN(at) ? 0 : Math.floor(at / 1000),
    rotationPeriod: num(d.rotation_period),
    rotationSchedule: typeof d.rotation_schedule === "string" ? d.rotation_schedule : "",
    ttl: num(d.ttl),
  };
  return meta.lastVaultRotation > 0 && (meta.rotationPeriod >= 1 || meta.rotationSchedule !== "")
    ? meta
    : undefined;
}

/** When to read static creds again: just after Vault's next rotation (ttl + 0.5 s, as VSO). */
export function staticCredsDelayMs(meta: StaticCredsMeta): number {
  return meta.ttl > 0 ? meta.ttl * 1000 + 500 : 1000;
}

/** The fields of a static-creds answer that change on every read, not on a rotation. */
const ROTATION_FIELDS = new Set([
  "ttl",
  "rotation_schedule",
  "rotation_period",
  "last_vault_rotation",
  "_raw",
]);

/**
 * Whether the credentials in `next` are those already in the Secret (`existing`, its data as the
 * API returns it): then VSO does not write (only `ttl` and the like would change).
 */
export function sameStaticCreds(
  next: Record<string, Uint8Array>,
  existing: Record<string, string> | undefined,
): boolean {
  if (!existing) return false;
  const keys = (o: object): string[] =>
    Object.keys(o)
      .filter((k) => !ROTATION_FIELDS.has(k))
      .sort();
  const a = keys(next);
  const b = keys(existing);
  if (a.length !== b.length || a.some((k, i) => k !== b[i])) return false;
  return a.every((k) => Buffer.from(next[k]!).toString("base64") === existing[k]);
}

export function pkiPath(spec: VaultPKISecretSpecT): string[] {
  return spec.issuerRef ? ["issuer", spec.issuerRef, "issue", spec.role] : ["issue", spec.role];
}

export function pkiRequest(spec: VaultPKISecretSpecT): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (spec.commonName) body.common_name = spec.commonName;
  if (spec.altNames?.length) body.alt_names = spec.altNames.join(",");
  if (spec.ipSans?.length) body.ip_sans = spec.ipSans.join(",");
  if (spec.uriSans?.length) body.uri_sans = spec.uriSans.join(",");
  if (spec.otherSans?.length) body.other_sans = spec.otherSans.join(",");
  if (spec.userIDs?.length) body.user_ids = spec.userIDs.join(",");
  if (spec.ttl) body.ttl = spec.ttl;
  if (spec.notAfter) body.not_after = spec.notAfter;
  if (spec.format) body.format = spec.format;
  if (spec.privateKeyFormat) body.private_key_format = spec.privateKeyFormat;
  if (spec.excludeCNFromSans) body.exclude_cn_from_sans = true;
  return body;
}

const enc = new TextEncoder();

/** The Secret data of an issued certificate; with type kubernetes.io/tls also `tls.crt` (cert + chain) and `tls.key`. */
export function pkiData(data: Record<string, unknown>, type: string | undefined): Record<string, Uint8Array> {
  const out = secretData({ secret: data, raw: data, excludeRaw: true });
  if (type === "kubernetes.io/tls") {
    const chain = Array.isArray(data.ca_chain)
      ? data.ca_chain.filter((c): c is string => typeof c === "string")
      : [];
    const cert = typeof data.certificate === "string" ? data.certificate : "";
    out["tls.crt"] = enc.encode([cert, ...chain.filter((c) => c.trim() !== cert.trim())].join("\n"));
    out["tls.key"] = enc.encode(typeof data.private_key === "string" ? data.private_key : "");
  }
  return out;
}

/** When (ms epoch) a certificate expiring at `expiration` (s epoch) is renewed: expiryOffset before it. */
export function pkiRenewAt(spec: Pick<VaultPKISecretSpecT, "expiryOffset">, expiration: number): number {
  const offset = spec.expiryOffset ? parseVsoDuration(spec.expiryOffset) : 0;
  return expiration * 1000 - offset;
}
