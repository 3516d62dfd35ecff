/**
 * The write rule every front door shares (ESO, KES, VSO, SealedSecret): given the Secret a kind
 * wants and the one that exists, create it, update it (only when something it manages differs), or
 * leave it. Pure. Ownership is data the front door passes, not a branch per kind:
 *
 * - `desired.owner`: the owner reference the kind sets (a controller reference, or VSO's plain one).
 *   An existing Secret controlled by another object is never taken over (CUSTOS_OWNERSHIP_CONFLICT).
 * - `rules.mayWrite`: the kind's own precondition on an existing Secret (VSO refuses a Secret it did
 *   not create unless `overwrite`); a message refuses the write.
 * - `rules.mergeData`: keep the existing Secret's other keys (ESO's creationPolicy Merge).
 *
 * Labels and annotations are merged onto the existing ones (others' metadata is kept); data is
 * replaced as a whole unless merged; type changes and immutable Secrets are refused with the fix.
 */
import { CustosError } from "../util/errors.ts";
import { dict } from "../util/dict.ts";
import type { KubeObject, OwnerReference } from "../kube/api.ts";

/** A Secret as the API returns it (data base64-encoded). */
export interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
  immutable?: boolean;
}

export interface DesiredSecret {
  namespace: string;
  name: string;
  /** Absent: the existing Secret's type, else Opaque. */
  type?: string | undefined;
  data: Record<string, Uint8Array>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The controller owner reference the kind sets; absent for Secrets it must not own. */
  owner?: OwnerReference | undefined;
  immutable?: boolean | undefined;
}

export interface TargetRules {
  mergeData?: boolean | undefined;
  mayWrite?: ((existing: SecretObject) => string | undefined) | undefined;
}

export type TargetPlan =
  { action: "create" | "update"; secret: SecretObject } | { action: "none"; secret?: undefined };

export function planTarget(
  desired: DesiredSecret,
  existing: SecretObject | undefined,
  rules: TargetRules = {},
): TargetPlan {
  const { name, owner } = desired;
  if (existing) {
    const controllerRef = existing.metadata.ownerReferences?.find((r) => r.controller);
    if (owner && controllerRef && controllerRef.uid !== owner.uid) {
      throw new CustosError(
        "CUSTOS_OWNERSHIP_CONFLICT",
        `target Secret "${name}" is already controlled by ${controllerRef.kind} "${controllerRef.name}"`,
        { retryable: false },
      );
    }
    const refusal = rules.mayWrite?.(existing);
    if (refusal) throw new CustosError("CUSTOS_OWNERSHIP_CONFLICT", refusal, { retryable: false });
  }
  const data = rules.mergeData ? { ...decodeSecretData(existing), ...desired.data } : desired.data;
  const encoded = encodeSecretData(data);
  const type = desired.type ?? existing?.type ?? "Opaque";
  const immutable = desired.immutable === true ? true : undefined;

  if (!existing) {
    return {
      action: "create",
      secret: {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name,
          namespace: desired.namespace,
          labels: { ...desired.labels },
          annotations: { ...desired.annotations },
          ...(owner ? { ownerReferences: [owner] } : {}),
        },
        type,
        data: encoded,
        ...(immutable ? { immutable } : {}),
      },
    };
  }

  const sameData = sameMap(existing.data ?? {}, encoded);
  const metaOk =
    Object.entries(desired.labels).every(([k, v]) => existing.metadata.labels?.[k] === v) &&
    Object.entries(desired.annotations).every(([k, v]) => existing.metadata.annotations?.[k] === v);
  // VSO's owner reference has no controller flag: the flag must match what the kind sets
  const ownerOk =
    !owner ||
    existing.metadata.ownerReferences?.some(
      (r) => r.uid === owner.uid && Boolean(r.controller) === Boolean(owner.controller),
    );
  const typeOk = (existing.type ?? "Opaque") === type;
  const immutableOk = (existing.immutable ?? false) === (immutable ?? false) || existing.immutable === true;
  if (sameData && metaOk && ownerOk && typeOk && immutableOk) return { action: "none" };
  if (existing.immutable) {
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      `target Secret "${name}" is immutable and its data differs; delete it to let it be re-created`,
      { retryable: false },
    );
  }
  if (!typeOk && existing.type) {
    // the type of a Secret cannot be changed in place
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      `target Secret "${name}" has type "${existing.type}", the template asks for "${type}"; delete it to let it be re-created`,
      { retryable: false },
    );
  }
  const others = (existing.metadata.ownerReferences ?? []).filter((r) => !owner || r.uid !== owner.uid);
  const ownerReferences = owner ? [...others, owner] : others;
  return {
    action: "update",
    secret: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        ...existing.metadata,
        labels: { ...existing.metadata.labels, ...desired.labels },
        annotations: { ...existing.metadata.annotations, ...desired.annotations },
        ...(ownerReferences.length ? { ownerReferences } : {}),
      },
      type,
      data: encoded,
      ...(immutable ? { immutable } : {}),
    },
  };
}

/** The data of a Secret as bytes (null-prototype: a key `__proto__` is a key). */
export function decodeSecretData(s: SecretObject | undefined): Record<string, Uint8Array> {
  const out = dict<Uint8Array>();
  for (const [k, v] of Object.entries(s?.data ?? {})) out[k] = Buffer.from(v, "base64");
  return out;
}

/** Secret data as the API wants it: base64, keys sorted so equal data compares equal. */
export function encodeSecretData(d: Record<string, Uint8Array>): Record<string, string> {
  const out = dict<string>();
  for (const k of Object.keys(d).sort()) out[k] = Buffer.from(d[k]!).toString("base64");
  return out;
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
