/**
 * What a VaultStaticSecret writes, as VSO does (reference §5-6), pure:
 * - the Secret data: rendered templates, then each top-level KV field not already set (strings as
 *   their bytes, anything else as Go's JSON), filtered by excludes then includes, plus `_raw`;
 * - `_raw`: Go's JSON of the whole read response `data` (KV v2: `{data, metadata}`; KV v1: the map);
 * - the destination's labels, annotations and owner reference, and the rule for existing Secrets;
 * - `status.secretMAC`: HMAC-SHA256 over Go's JSON of the Secret data (values base64, keys sorted);
 * - the next refresh: 80-90% of refreshAfter (60 s without it while HMAC is on; none otherwise).
 */
import { createHmac } from "node:crypto";
import type { VaultStaticSecretSpecT } from "../../api/vso.ts";
import type { OwnerReference } from "../../kube/api.ts";
import type { DesiredSecret, SecretObject, TargetRules } from "../../engine/target.ts";
import { CustosError } from "../../util/errors.ts";
import { dict } from "../../util/dict.ts";
import { goJsonMarshal, goJsonNumber } from "../../util/gojson.ts";
import { GoJsonNumber } from "../../template/exec.ts";
import { specMatcher } from "../../util/regex.ts";
import { renderTemplate, withTemplateBudget } from "../../template/index.ts";

export const RAW_KEY = "_raw";
export const VSO_LABELS = {
  "app.kubernetes.io/managed-by": "hashicorp-vso",
  "app.kubernetes.io/name": "vault-secrets-operator",
  "app.kubernetes.io/component": "secret-sync",
} as const;
export const OWNER_UID_LABEL = "secrets.hashicorp.com/vso-ownerRefUID";

export interface TemplateSpec {
  key: string;
  name?: string | undefined;
  text: string;
}

export interface DataInput {
  /** The KV fields. */
  secret: Record<string, unknown>;
  /** What `_raw` holds: KV v2 `{data, metadata}`, KV v1 the map. */
  raw: unknown;
  /** KV v2 version metadata, for templates (`.Metadata`). */
  metadata?: Record<string, unknown> | undefined;
  templates?: TemplateSpec[] | undefined;
  includes?: string[] | undefined;
  excludes?: string[] | undefined;
  excludeRaw?: boolean | undefined;
  /** The VaultStaticSecret's own labels and annotations (`.Labels`, `.Annotations`). */
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
}

const enc = new TextEncoder();

/** `_raw` for a KV read: `{data, metadata}` for v2, the data map for v1. */
export function rawOf(kind: "kv-v1" | "kv-v2", data: Record<string, unknown>, metadata: unknown): unknown {
  return kind === "kv-v2" ? { data, metadata: metadata ?? null } : data;
}

export function secretData(i: DataInput): Record<string, Uint8Array> {
  const out = dict<Uint8Array>();
  if (i.templates?.length) {
    const input = {
      Secrets: jsonNumbers(i.secret),
      Metadata: jsonNumbers(i.metadata ?? {}),
      Annotations: i.annotations ?? {},
      Labels: i.labels ?? {},
    };
    withTemplateBudget(() => {
      for (const t of i.templates ?? [])
        out[t.key] = enc.encode(renderTemplate(t.name ?? t.key, t.text, input));
    });
  }
  const excludes = (i.excludes ?? []).map((r) => specMatcher(r, "transformation.excludes"));
  const includes = (i.includes ?? []).map((r) => specMatcher(r, "transformation.includes"));
  for (const [k, v] of Object.entries(i.secret)) {
    if (k in out) continue;
    if (excludes.some((re) => re.test(k))) continue;
    if (includes.length && !includes.some((re) => re.test(k))) continue;
    if (k === RAW_KEY && !i.excludeRaw)
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        `the Vault secret has a field named "${RAW_KEY}", which VSO reserves; set transformation.excludeRaw`,
        { retryable: false },
      );
    out[k] = typeof v === "string" ? enc.encode(v) : enc.encode(goJsonMarshal(v));
  }
  if (!i.excludeRaw) out[RAW_KEY] = enc.encode(goJsonMarshal(i.raw));
  return out;
}

/** Vault data as VSO's templates see it: numbers are json.Number (printed as their literal). */
export function jsonNumbers(v: unknown): unknown {
  if (typeof v === "number") return new GoJsonNumber(v, goJsonNumber(v));
  if (Array.isArray(v)) return v.map(jsonNumbers);
  if (v === null || typeof v !== "object" || v instanceof Uint8Array) return v;
  const out = dict<unknown>();
  for (const [k, x] of Object.entries(v)) out[k] = jsonNumbers(x);
  return out;
}

/** Go's JSON of map[string][]byte: keys sorted, values base64. */
export function dataJson(data: Record<string, Uint8Array>): string {
  const m: Record<string, string> = {};
  for (const k of Object.keys(data)) m[k] = Buffer.from(data[k]!).toString("base64");
  return goJsonMarshal(m);
}

/** VSO's status.secretMAC for Secret data under the HMAC key. */
export function secretMac(key: Uint8Array, data: Record<string, Uint8Array>): string {
  return createHmac("sha256", key).update(dataJson(data)).digest("base64");
}

/** Any VSO secret object (static, dynamic, PKI): what owner references and events need. */
export interface VsoObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid: string; generation?: number };
}

export interface VssObject extends VsoObject {
  spec: VaultStaticSecretSpecT;
}

export type Destination = VaultStaticSecretSpecT["destination"];

/** The owner reference VSO sets: no controller flag. */
export function vsoOwner(obj: VsoObject): OwnerReference {
  return { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, uid: obj.metadata.uid };
}

/** The Secret a VSO object wants; `create: false` replaces data only (no labels, no owner). */
export function desiredSecret(
  obj: VsoObject,
  dest: Destination,
  data: Record<string, Uint8Array>,
): DesiredSecret {
  if (!dest.create)
    return { namespace: obj.metadata.namespace, name: dest.name, data, labels: {}, annotations: {} };
  return {
    namespace: obj.metadata.namespace,
    name: dest.name,
    type: dest.type || "Opaque",
    data,
    labels: { ...(dest.labels ?? {}), ...VSO_LABELS, [OWNER_UID_LABEL]: obj.metadata.uid },
    annotations: { ...(dest.annotations ?? {}) },
    owner: vsoOwner(obj),
  };
}

/** The Secret carries VSO's three owner labels (VSO's `HasOwnerLabels`). */
export function hasVsoOwnerLabels(s: SecretObject): boolean {
  return Object.entries(VSO_LABELS).every(([k, v]) => s.metadata.labels?.[k] === v);
}

/**
 * VSO's rule for an existing destination Secret (`TargetRules.mayWrite`): with `create`, it must
 * be owned by this object, unless `overwrite` and the Secret does not carry VSO's owner labels
 * (a Secret another VSO object owns is never taken over); without `create` any existing Secret is
 * written (its data only).
 */
export function mayWrite(obj: VsoObject, dest: Destination) {
  return (existing: SecretObject): string | undefined => {
    if (!dest.create) return undefined;
    if (dest.overwrite && !hasVsoOwnerLabels(existing)) return undefined;
    const owned = (existing.metadata.ownerReferences ?? []).some((r) => r.uid === obj.metadata.uid);
    return owned
      ? undefined
      : `not the owner of the destination Secret ${obj.metadata.namespace}/${dest.name}; set destination.overwrite to take it over`;
  };
}

/**
 * The write rules of a VSO destination: `mayWrite`, and with `create` the Secret's labels become
 * exactly VSO's (`SetLabels`: a taken-over Secret loses its other labels, as with VSO).
 */
export function vsoTargetRules(obj: VsoObject, dest: Destination): TargetRules {
  return { mayWrite: mayWrite(obj, dest), labels: dest.create ? "replace" : "merge" };
}

/** Milliseconds of a VSO duration (`30s`, `1.5h`: units s, m, h). */
export function parseVsoDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)$/.exec(text.trim());
  if (!m)
    throw new CustosError(
      "CUSTOS_INVALID_DURATION",
      `invalid duration "${text}": use s, m or h such as "30s"`,
      {
        retryable: false,
      },
    );
  return Number(m[1]) * (m[2] === "s" ? 1000 : m[2] === "m" ? 60_000 : 3_600_000);
}

/**
 * When to read again after a sync: refreshAfter less 10% and less a random 0-10%; without
 * refreshAfter, 60 s (same jitter) while HMAC is on, else never (undefined).
 */
export function nextRefreshMs(
  spec: VaultStaticSecretSpecT,
  random: () => number = Math.random,
): number | undefined {
  const hmac = spec.hmacSecretData ?? true;
  const base = spec.refreshAfter ? parseVsoDuration(spec.refreshAfter) : hmac ? 60_000 : undefined;
  if (base === undefined || base <= 0) return undefined;
  return Math.round(base * (0.9 - 0.1 * random()));
}

/** Go's time.Duration String() of whole milliseconds (`0s`, `500ms`, `50.696s`, `1h0m0s`), as VSO's messages print a horizon. */
export function goDuration(ms: number): string {
  const t = Math.max(0, Math.round(ms));
  if (t === 0) return "0s";
  if (t < 1000) return `${t}ms`;
  const h = Math.floor(t / 3_600_000);
  const m = Math.floor((t % 3_600_000) / 60_000);
  const rest = t % 60_000;
  const secs = `${Math.floor(rest / 1000)}${
    rest % 1000
      ? `.${String(rest % 1000)
          .padStart(3, "0")
          .replace(/0+$/, "")}`
      : ""
  }s`;
  if (h) return `${h}h${m}m${secs}`;
  if (m) return `${m}m${secs}`;
  return secs;
}
