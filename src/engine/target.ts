/**
 * The write rule every front door shares (ESO, KES, VSO, SealedSecret): given the Secret a kind
 * wants and the one that exists, create it, update it (only when something it manages differs), or
 * leave it. Pure. Ownership is data the front door passes, not a branch per kind:
 *
 * - `desired.owner`: the controller owner reference the kind sets. An existing Secret controlled by
 *   another object is never taken over (CUSTOS_OWNERSHIP_CONFLICT).
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
  /** Finalizers set on creation only (Sealed Secrets' template). */
  finalizers?: string[] | undefined;
}

export interface TargetRules {
  /** Keep the existing Secret's other data keys (ESO Merge, Sealed Secrets' patch annotation). */
  mergeData?: boolean | undefined;
  /**
   * The kind's own precondition on an existing Secret: a message refuses the write. When given and
   * it passes, the kind vouches the Secret is its own, and owner references `supersedes` matches
   * (a deleted and re-created object of the same kind) are replaced rather than a conflict.
   */
  mayWrite?: ((existing: SecretObject) => string | undefined) | undefined;
  supersedes?: ((ref: OwnerReference) => boolean) | undefined;
  /** "replace": the Secret's labels become exactly the desired ones (Sealed Secrets). Default merge. */
  labels?: "merge" | "replace" | undefined;
}

export type TargetPlan =
  { action: "create" | "update"; secret: SecretObject } | { action: "none"; secret?: undefined };

export function planTarget(
  desired: DesiredSecret,
  existing: SecretObject | undefined,
  rules: TargetRules = {},
): TargetPlan {
  const { name, owner } = desired;
  const superseded = (r: OwnerReference): boolean =>
    (owner !== undefined && r.uid === owner.uid) || (rules.mayWrite !== undefined && !!rules.supersedes?.(r));
  if (existing) {
    const refusal = rules.mayWrite?.(existing);
    if (refusal) throw new CustosError("CUSTOS_OWNERSHIP_CONFLICT", refusal, { retryable: false });
    const controllerRef = existing.metadata.ownerReferences?.find((r) => r.controller && !superseded(r));
    if (owner && controllerRef) {
      throw new CustosError(
        "CUSTOS_OWNERSHIP_CONFLICT",
        `target Secret "${name}" is already controlled by ${controllerRef.kind} "${controllerRef.name}"`,
        { retryable: false },
      );
    }
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
          ...(desired.finalizers?.length ? { finalizers: [...desired.finalizers] } : {}),
        },
        type,
        data: encoded,
        ...(immutable ? { immutable } : {}),
      },
    };
  }

  const sameData = sameMap(existing.data ?? {}, encoded);
  const replaceLabels = rules.labels === "replace";
  const labelsOk = replaceLabels
    ? sameMap(existing.metadata.labels ?? {}, desired.labels)
    : Object.entries(desired.labels).every(([k, v]) => existing.metadata.labels?.[k] === v);
  const metaOk =
    labelsOk &&
    Object.entries(desired.annotations).every(([k, v]) => existing.metadata.annotations?.[k] === v);
  const others = (existing.metadata.ownerReferences ?? []).filter((r) => !superseded(r));
  const ownerReferences = owner ? [...others, owner] : others;
  const ownerOk =
    !owner ||
    (existing.metadata.ownerReferences?.some((r) => r.uid === owner.uid && r.controller) === true &&
      ownerReferences.length === (existing.metadata.ownerReferences ?? []).length);
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
  return {
    action: "update",
    secret: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        ...existing.metadata,
        labels: replaceLabels ? { ...desired.labels } : { ...existing.metadata.labels, ...desired.labels },
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
