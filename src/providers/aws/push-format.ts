/**
 * The pure half of pushing to AWS (PushSecret): ESO's `PushSecretMetadata` for Secrets Manager and
 * Parameter Store with ESO's defaults, the bytes a push writes (one key, or the whole Secret as
 * JSON the way ESO serialises it), and `remoteRef.property` merged into (or removed from) a JSON
 * value. No I/O here: push.ts does the calls.
 */
import { CustosError } from "../../util/errors.ts";

/** ESO's ownership marker: a remote secret without this tag is never overwritten or deleted. */
export const MANAGED_BY = "managed-by";
export const EXTERNAL_SECRETS = "external-secrets";
/** ESO's default description of what it creates. */
export const DEFAULT_DESCRIPTION = `secret '${MANAGED_BY}:${EXTERNAL_SECRETS}'`;

const enc = new TextEncoder();
const dec = new TextDecoder();

const invalid = (message: string): CustosError =>
  new CustosError("CUSTOS_INVALID_SPEC", `PushSecret metadata: ${message}`, { retryable: false });

/** Secrets Manager's `metadata.spec` with ESO's defaults applied. */
export interface SmPushMetadata {
  secretPushFormat: "binary" | "string";
  description: string;
  kmsKeyId: string;
  /** Always holds `managed-by: external-secrets`. */
  tags: Record<string, string>;
  /** Whether the user gave tags (ESO only patches tags of an existing secret then). */
  userTags: boolean;
}

/** Parameter Store's `metadata.spec` with ESO's defaults applied. */
export interface SsmPushMetadata {
  secretType: "String" | "StringList" | "SecureString";
  kmsKeyID: string;
  tier: { type: "Standard" | "Advanced" | "Intelligent-Tiering"; policies?: string | undefined };
  /** Whole-Secret pushes: values as strings (true) or base64 (ESO's default, Go's []byte JSON). */
  encodeAsDecoded: boolean;
  description: string;
  tags: Record<string, string>;
}

/**
 * ESO's `metadata.ParseMetadataParameters`: `{apiVersion: kubernetes.external-secrets.io/v1alpha1,
 * kind: PushSecretMetadata, spec: {...}}`; absent metadata is no metadata. Field names match Go's
 * case-insensitive decoding (ESO's `kmsKeyId` and `kmsKeyID` are the same field).
 */
function metadataSpec(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw invalid("must be an object");
  const m = raw as Record<string, unknown>;
  if (m.kind !== undefined && m.kind !== "PushSecretMetadata")
    throw invalid(`kind must be PushSecretMetadata, not ${JSON.stringify(m.kind)}`);
  if (m.apiVersion !== undefined && m.apiVersion !== "kubernetes.external-secrets.io/v1alpha1")
    throw invalid(`apiVersion must be kubernetes.external-secrets.io/v1alpha1`);
  const spec = m.spec ?? {};
  if (typeof spec !== "object" || spec === null || Array.isArray(spec))
    throw invalid("spec must be an object");
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) out[k.toLowerCase()] = v;
  return out;
}

const str = (spec: Record<string, unknown>, key: string): string | undefined => {
  const v = spec[key.toLowerCase()];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw invalid(`${key} must be a string`);
  return v;
};

function tagsOf(spec: Record<string, unknown>): { tags: Record<string, string>; user: boolean } {
  const raw = spec.tags;
  const tags: Record<string, string> = Object.create(null) as Record<string, string>;
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== "object" || Array.isArray(raw)) throw invalid("tags must be a map");
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v !== "string") throw invalid(`tag ${JSON.stringify(k)} must be a string`);
      tags[k] = v;
    }
  }
  const user = Object.keys(tags).length > 0;
  if (Object.hasOwn(tags, MANAGED_BY))
    throw invalid(`error parsing tags in metadata: Cannot specify a '${MANAGED_BY}' tag`);
  tags[MANAGED_BY] = EXTERNAL_SECRETS;
  return { tags, user };
}

export function smPushMetadata(raw: unknown): SmPushMetadata {
  const spec = metadataSpec(raw);
  const format = str(spec, "secretPushFormat") ?? "binary";
  if (format !== "binary" && format !== "string") throw invalid(`invalid secret push format: ${format}`);
  const { tags, user } = tagsOf(spec);
  const out: SmPushMetadata = {
    secretPushFormat: format,
    description: str(spec, "description") ?? DEFAULT_DESCRIPTION,
    kmsKeyId: str(spec, "kmsKeyId") ?? "alias/aws/secretsmanager",
    tags,
    userTags: user,
  };
  // The policy comes from a ConfigMap or Secret of the PushSecret's namespace; sessions are shared
  // by identity across namespaces, so a provider session must not read it: refused, not ignored.
  const replicas = spec.replicationlocations;
  if (Array.isArray(replicas) && replicas.length > 0)
    throw invalid("replicationLocations is not supported by Custos yet");
  if (spec.resourcepolicy !== undefined && spec.resourcepolicy !== null)
    throw invalid(
      "resourcePolicy is not supported by Custos yet (set the policy on the secret outside the PushSecret)",
    );
  return out;
}

export function ssmPushMetadata(raw: unknown): SsmPushMetadata {
  const spec = metadataSpec(raw);
  const type = str(spec, "secretType") ?? "String";
  if (type !== "String" && type !== "StringList" && type !== "SecureString")
    throw invalid(`secretType must be String, StringList or SecureString, not ${JSON.stringify(type)}`);
  const tierRaw = spec.tier;
  let tier: SsmPushMetadata["tier"] = { type: "Standard" };
  if (tierRaw !== undefined && tierRaw !== null) {
    if (typeof tierRaw !== "object" || Array.isArray(tierRaw)) throw invalid("tier must be an object");
    const t = tierRaw as Record<string, unknown>;
    const tt = t.type ?? "Standard";
    if (tt !== "Standard" && tt !== "Advanced" && tt !== "Intelligent-Tiering")
      throw invalid(`tier.type must be Standard, Advanced or Intelligent-Tiering`);
    tier = {
      type: tt,
      ...(t.policies !== undefined && t.policies !== null ? { policies: JSON.stringify(t.policies) } : {}),
    };
  }
  const e = spec.encodeasdecoded;
  if (e !== undefined && typeof e !== "boolean") throw invalid("encodeAsDecoded must be a boolean");
  return {
    secretType: type,
    kmsKeyID: str(spec, "kmsKeyID") ?? "alias/aws/ssm",
    tier,
    encodeAsDecoded: e === true,
    description: str(spec, "description") ?? DEFAULT_DESCRIPTION,
    tags: tagsOf(spec).tags,
  };
}

/**
 * A string as Go's encoding/json writes it with HTML escaping off (ESO's `esutils.JSONMarshal`):
 * JSON.stringify's escapes plus U+2028 and U+2029.
 */
function goString(s: string): string {
  return JSON.stringify(s)
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * A whole Secret as one JSON object, keys sorted (Go maps marshal sorted): values as UTF-8 strings
 * (ESO's `ExtractSecretData`, Secrets Manager; Parameter Store with `encodeAsDecoded`) or base64
 * (Parameter Store's default, Go's `[]byte`).
 */
export function secretMapJson(data: Record<string, Uint8Array>, values: "string" | "base64"): Uint8Array {
  const keys = Object.keys(data).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const parts = keys.map((k) => {
    const v = data[k]!;
    const s = values === "base64" ? Buffer.from(v).toString("base64") : dec.decode(v);
    return `${goString(k)}:${goString(s)}`;
  });
  return enc.encode(`{${parts.join(",")}}`);
}

/** A property path as gjson/sjson read it: `.` separates, `\.` is a literal dot. */
export function propertyPath(property: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < property.length; i++) {
    const c = property[i]!;
    if (c === "\\" && i + 1 < property.length) {
      cur += property[++i]!;
    } else if (c === ".") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

type Json = Record<string, unknown>;

const notJson = (what: string): CustosError =>
  new CustosError(
    "CUSTOS_DECODE",
    `PushSecret with a property requires the remote ${what} to hold a JSON object`,
    { retryable: false },
  );

function parseObject(existing: Uint8Array | undefined, what: string): Json {
  if (!existing || existing.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(existing));
  } catch {
    throw notJson(what);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw notJson(what);
  return v as Json;
}

/**
 * The path in `property` of an existing JSON object: ESO's gjson lookup (an exact key with dots
 * first, then the dotted path).
 */
function resolvePath(obj: Json, property: string): string[] {
  if (property.includes(".") && Object.hasOwn(obj, property)) return [property];
  return propertyPath(property);
}

/** Whether `property` exists in the remote JSON value. */
export function hasProperty(existing: Uint8Array | undefined, property: string): boolean {
  let obj: Json;
  try {
    obj = parseObject(existing, "secret");
  } catch {
    return false;
  }
  let cur: unknown = obj;
  for (const seg of resolvePath(obj, property)) {
    if (typeof cur !== "object" || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, seg))
      return false;
    cur = (cur as Json)[seg];
  }
  return true;
}

/**
 * `value` set as a JSON string at `property` of the existing JSON object (sjson.SetBytes, as ESO):
 * other keys are kept; an absent or empty existing value starts from `{}`.
 */
export function mergeProperty(
  existing: Uint8Array | undefined,
  property: string,
  value: Uint8Array,
): Uint8Array {
  const obj = parseObject(existing, "secret");
  const path = resolvePath(obj, property);
  let cur: Json = obj;
  for (const seg of path.slice(0, -1)) {
    const next = cur[seg];
    if (typeof next !== "object" || next === null || Array.isArray(next)) cur[seg] = {};
    cur = cur[seg] as Json;
  }
  cur[path[path.length - 1]!] = dec.decode(value);
  return enc.encode(JSON.stringify(obj));
}

/**
 * The existing JSON object without `property`; undefined when nothing is left (the remote secret
 * itself goes). An absent property leaves the bytes as they are.
 */
export function removeProperty(existing: Uint8Array, property: string): Uint8Array | undefined {
  if (!hasProperty(existing, property)) return existing;
  const obj = parseObject(existing, "secret");
  const path = resolvePath(obj, property);
  const parents: Json[] = [obj];
  let cur = obj;
  for (const seg of path.slice(0, -1)) {
    cur = cur[seg] as Json;
    parents.push(cur);
  }
  delete cur[path[path.length - 1]!];
  // empty parents left behind go too
  for (let i = parents.length - 1; i > 0; i--) {
    if (Object.keys(parents[i]!).length > 0) break;
    delete parents[i - 1]![path[i - 1]!];
  }
  return Object.keys(obj).length === 0 ? undefined : enc.encode(JSON.stringify(obj));
}

export function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** Tag changes to reach `want` from `have` (ESO: remove the keys not wanted, then add/change). */
export function tagChanges(
  have: Record<string, string>,
  want: Record<string, string>,
): { remove: string[]; set: Record<string, string> } {
  const remove = Object.keys(have).filter((k) => !Object.hasOwn(want, k) && !k.startsWith("aws:"));
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(want)) if (have[k] !== v) set[k] = v;
  return { remove, set };
}
