/**
 * The push side of a Vault session (PushSecret), with ESO's semantics:
 *
 * - ownership: a remote secret is ours when its custom metadata (KV v2) or its `custom_metadata`
 *   data key (KV v1, where ESO keeps it) says `managed-by: external-secrets`. An existing secret
 *   without it is never written (CUSTOS_PUSH_NOT_OURS) — ESO refuses it under every updatePolicy
 *   too — and never deleted (deletePushed leaves it alone, as ESO's DeleteSecret).
 * - `property`: the value is merged into the existing map under that key; without a property the
 *   value replaces the whole map: a whole Secret's keys, or one key whose value is a JSON object
 *   (anything else is refused, as ESO: "invalid JSON format").
 * - KV v2 writes are check-and-set: `options.cas` is the version read (0: must not exist), so a
 *   concurrent remote write between read and write fails with CUSTOS_PUSH_CONFLICT (retried by the
 *   controller on a fresh read, never clobbered). Nothing is written when the bytes (and custom
 *   metadata) are already as desired: outcome `unchanged`.
 * - metadata: `kind: PushSecretMetadata` (apiVersion kubernetes.external-secrets.io/v1alpha1) with
 *   `spec.customMetadata` and `spec.mergePolicy` Merge (default) | Replace: KV v2 custom metadata.
 *   The ownership marker is always set and cannot be overridden.
 *
 * Messages name the path and Vault's error text, never a value.
 */
import type { PushEntry, PushOutcome, PushRef } from "../types.ts";
import { CustosError, isCustosError } from "../../util/errors.ts";
import type { VaultResponse } from "./client.ts";
import { kvPath, type VaultPath } from "./path.ts";

export const MANAGED_BY_KEY = "managed-by";
export const MANAGED_BY_VALUE = "external-secrets";
const KV1_META_KEY = "custom_metadata";
export const METADATA_API_VERSION = "kubernetes.external-secrets.io/v1alpha1";
export const METADATA_KIND = "PushSecretMetadata";

/** What push needs of a session: its KV settings and authenticated calls. */
export interface VaultKv {
  readonly version: "v1" | "v2";
  readonly mount: string | undefined;
  request<T>(
    call: string,
    method: "GET" | "POST" | "PUT" | "LIST" | "DELETE",
    path: VaultPath,
    opts?: { body?: unknown; query?: Record<string, string>; allow404?: boolean },
  ): Promise<VaultResponse<T>>;
  redact(value: string): void;
}

export interface VaultPushMetadata {
  customMetadata: Record<string, string>;
  mergePolicy: "Merge" | "Replace";
}

/** Parses `data[].metadata` (ESO's PushSecretMetadata for Vault); undefined when absent. */
export function parsePushMetadata(raw: unknown): VaultPushMetadata | undefined {
  if (raw === undefined || raw === null) return undefined;
  const bad = (why: string): CustosError =>
    new CustosError("CUSTOS_INVALID_SPEC", `metadata: ${why}`, { retryable: false });
  if (typeof raw !== "object" || Array.isArray(raw)) throw bad(`expected a ${METADATA_KIND} object`);
  const m = raw as Record<string, unknown>;
  for (const k of Object.keys(m))
    if (!["apiVersion", "kind", "spec"].includes(k)) throw bad(`unknown field "${k}"`);
  if (m.apiVersion !== METADATA_API_VERSION)
    throw bad(
      `unexpected apiVersion ${JSON.stringify(m.apiVersion ?? "")}, expected "${METADATA_API_VERSION}"`,
    );
  if (m.kind !== METADATA_KIND)
    throw bad(`unexpected kind ${JSON.stringify(m.kind ?? "")}, expected "${METADATA_KIND}"`);
  const spec = (m.spec ?? {}) as Record<string, unknown>;
  if (typeof spec !== "object" || Array.isArray(spec)) throw bad("spec must be an object");
  for (const k of Object.keys(spec))
    if (!["customMetadata", "mergePolicy"].includes(k)) throw bad(`unknown field "spec.${k}"`);
  const mergePolicy = spec.mergePolicy ?? "Merge";
  if (mergePolicy !== "Merge" && mergePolicy !== "Replace")
    throw bad(`unsupported merge policy ${JSON.stringify(mergePolicy)}, must be one of: Merge, Replace`);
  const customMetadata: Record<string, string> = {};
  const cm = spec.customMetadata ?? {};
  if (typeof cm !== "object" || Array.isArray(cm)) throw bad("spec.customMetadata must be a map of strings");
  for (const [k, v] of Object.entries(cm as Record<string, unknown>)) {
    if (typeof v !== "string") throw bad(`spec.customMetadata.${k} must be a string`);
    customMetadata[k] = v;
  }
  return { customMetadata, mergePolicy };
}

/** The custom metadata to write: desired (+ marker) merged into or replacing the remote one. */
export function desiredCustomMetadata(
  remote: Record<string, string> | undefined,
  meta: VaultPushMetadata | undefined,
): Record<string, string> {
  const desired = { ...(meta?.customMetadata ?? {}), [MANAGED_BY_KEY]: MANAGED_BY_VALUE };
  if (!remote || (meta?.mergePolicy ?? "Merge") === "Replace") return desired;
  return { ...remote, ...desired };
}

const dec = new TextDecoder("utf-8", { fatal: false });

/** The map a push writes, or an error that names the entry, never the value. */
export function desiredMap(
  existing: Record<string, unknown> | undefined,
  entry: Pick<PushEntry, "value" | "property" | "remoteKey">,
): Record<string, unknown> {
  if (entry.property) {
    const v =
      entry.value.kind === "bytes"
        ? dec.decode(entry.value.value)
        : JSON.stringify(
            Object.fromEntries(Object.entries(entry.value.value).map(([k, b]) => [k, dec.decode(b)])),
          );
    return { ...(existing ?? {}), [entry.property]: v };
  }
  if (entry.value.kind === "map")
    return Object.fromEntries(Object.entries(entry.value.value).map(([k, b]) => [k, dec.decode(b)]));
  let parsed: unknown;
  try {
    parsed = JSON.parse(dec.decode(entry.value.value));
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      `remote key "${entry.remoteKey}": without remoteRef.property the value must be a JSON object (invalid JSON format)`,
      { retryable: false },
    );
  return parsed as Record<string, unknown>;
}

/** Deep equality of JSON values (key order ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => sameJson(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  return (
    ak.length === Object.keys(bo).length && ak.every((k) => Object.hasOwn(bo, k) && sameJson(ao[k], bo[k]))
  );
}

interface V2State {
  /** current_version from the metadata (0: no version yet); the CAS value. */
  version: number;
  /** The latest version's data, when it exists and is not deleted/destroyed. */
  data: Record<string, unknown> | undefined;
  /** Custom metadata, when the metadata exists. */
  custom: Record<string, string> | undefined;
}

function strings(x: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (x && typeof x === "object")
    for (const [k, v] of Object.entries(x as Record<string, unknown>)) if (typeof v === "string") out[k] = v;
  return out;
}

async function readV2(kv: VaultKv, key: string): Promise<V2State> {
  const metaPath = kvPath(key, kv.mount, "v2", "metadata");
  const meta = await kv.request<{ data?: { current_version?: number; custom_metadata?: unknown } }>(
    "ReadMetadata",
    "GET",
    metaPath,
    { allow404: true },
  );
  if (meta.status === 404 || !meta.body.data) return { version: 0, data: undefined, custom: undefined };
  const version = meta.body.data.current_version ?? 0;
  const custom = strings(meta.body.data.custom_metadata);
  if (!version) return { version, data: undefined, custom };
  // the data of exactly the version the CAS names: a later write cannot slip in unnoticed
  const res = await kv.request<{ data?: { data?: Record<string, unknown> | null } }>(
    "ReadSecret",
    "GET",
    kvPath(key, kv.mount, "v2", "data"),
    { allow404: true, query: { version: String(version) } },
  );
  const data = res.status === 404 ? undefined : (res.body.data?.data ?? undefined);
  if (data) kv.redact(JSON.stringify(data));
  return { version, data, custom };
}

async function readV1(kv: VaultKv, key: string): Promise<Record<string, unknown> | undefined> {
  const res = await kv.request<{ data?: Record<string, unknown> }>(
    "ReadSecret",
    "GET",
    kvPath(key, kv.mount, "v1"),
    { allow404: true },
  );
  if (res.status === 404 || !res.body.data) return undefined;
  kv.redact(JSON.stringify(withoutPushMarker(res.body.data)));
  return res.body.data;
}

/**
 * KV v1 data without ESO's ownership marker (`custom_metadata: {managed-by: external-secrets}`),
 * for redaction: the marker is not a secret, and registering it would mask the word everywhere.
 */
export function withoutPushMarker(data: Record<string, unknown>): Record<string, unknown> {
  const m = data[KV1_META_KEY];
  if (
    !m ||
    typeof m !== "object" ||
    Object.keys(m).length !== 1 ||
    strings(m)[MANAGED_BY_KEY] !== MANAGED_BY_VALUE
  )
    return data;
  const rest = { ...data };
  delete rest[KV1_META_KEY];
  return rest;
}

const isOursV1 = (data: Record<string, unknown>): boolean =>
  strings(data[KV1_META_KEY])[MANAGED_BY_KEY] === MANAGED_BY_VALUE;

function notOurs(key: string): CustosError {
  return new CustosError(
    "CUSTOS_PUSH_NOT_OURS",
    `Vault secret "${key}" exists and is not managed by external-secrets (custom metadata managed-by); it is left as it is`,
    { retryable: false },
  );
}

/** Vault's answer to a failed check-and-set (HTTP 400 "check-and-set parameter did not match"). */
function casFailed(e: unknown): boolean {
  return e instanceof CustosError && /check-and-set/i.test(e.message);
}

function conflict(key: string, e: unknown): CustosError {
  return new CustosError(
    "CUSTOS_PUSH_CONFLICT",
    `Vault secret "${key}" changed remotely between read and write (check-and-set); not overwritten, will retry`,
    { cause: e },
  );
}

export async function pushVault(kv: VaultKv, entry: PushEntry): Promise<PushOutcome> {
  const key = entry.remoteKey;
  const meta = parsePushMetadata(entry.metadata);
  if (kv.version === "v1") {
    if (meta)
      throw new CustosError("CUSTOS_INVALID_SPEC", "metadata (custom metadata) needs a Vault KV v2 store", {
        retryable: false,
      });
    const existing = await readV1(kv, key);
    if (existing) {
      // IfNotExists leaves any existing value alone, ours or not (ESO checks existence first)
      if (
        entry.updatePolicy === "IfNotExists" &&
        (!entry.property || Object.hasOwn(existing, entry.property))
      )
        return "skipped";
      if (!isOursV1(existing)) throw notOurs(key);
    }
    const current = existing ? { ...existing } : undefined;
    if (current) delete current[KV1_META_KEY];
    const next = desiredMap(current, entry);
    if (current && sameJson(current, next)) return "unchanged";
    await kv.request("WriteSecret", "PUT", kvPath(key, kv.mount, "v1"), {
      body: { ...next, [KV1_META_KEY]: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE } },
    });
    return existing ? "updated" : "created";
  }

  const state = await readV2(kv, key);
  if (state.data) {
    if (
      entry.updatePolicy === "IfNotExists" &&
      (!entry.property || Object.hasOwn(state.data, entry.property))
    )
      return "skipped";
    if (state.custom?.[MANAGED_BY_KEY] !== MANAGED_BY_VALUE) throw notOurs(key);
  }
  const next = desiredMap(state.data, entry);
  // as ESO: a secret without data (new, or its latest version deleted) takes the desired metadata
  const custom = desiredCustomMetadata(state.data ? state.custom : undefined, meta);
  const dataSame = state.data !== undefined && sameJson(state.data, next);
  const metaSame = state.custom !== undefined && sameJson(state.custom, custom);
  if (dataSame && metaSame) return "unchanged";
  // Metadata first (ESO's order): the ownership marker exists before any data is written.
  if (!metaSame)
    await kv.request("WriteMetadata", "POST", kvPath(key, kv.mount, "v2", "metadata"), {
      body: { custom_metadata: custom },
    });
  if (!dataSame) {
    try {
      await kv.request("WriteSecret", "POST", kvPath(key, kv.mount, "v2", "data"), {
        body: { data: next, options: { cas: state.version } },
      });
    } catch (e) {
      if (casFailed(e)) throw conflict(key, e);
      throw e;
    }
  }
  return state.data ? "updated" : "created";
}

export async function existsVault(kv: VaultKv, ref: PushRef): Promise<boolean> {
  const data = kv.version === "v1" ? await readV1(kv, ref.remoteKey) : (await readV2(kv, ref.remoteKey)).data;
  if (!data) return false;
  return ref.property ? Object.hasOwn(data, ref.property) : true;
}

/**
 * Removes a pushed property (rewriting the rest, check-and-set on KV v2) or the whole secret
 * (KV v2: its metadata, so every version goes) — only when ours; absent data is not an error.
 */
export async function deletePushedVault(kv: VaultKv, ref: PushRef): Promise<void> {
  const key = ref.remoteKey;
  if (kv.version === "v1") {
    const existing = await readV1(kv, key);
    if (!existing || !isOursV1(existing)) return;
    const rest = { ...existing };
    delete rest[KV1_META_KEY];
    if (ref.property) {
      if (!Object.hasOwn(rest, ref.property)) return;
      delete rest[ref.property];
      if (Object.keys(rest).length) {
        await kv.request("WriteSecret", "PUT", kvPath(key, kv.mount, "v1"), {
          body: { ...rest, [KV1_META_KEY]: existing[KV1_META_KEY] },
        });
        return;
      }
    }
    await kv.request("DeleteSecret", "DELETE", kvPath(key, kv.mount, "v1"), { allow404: true });
    return;
  }
  const state = await readV2(kv, key);
  if (!state.custom || state.custom[MANAGED_BY_KEY] !== MANAGED_BY_VALUE) return;
  if (ref.property && state.data) {
    if (!Object.hasOwn(state.data, ref.property)) return;
    const rest = { ...state.data };
    delete rest[ref.property];
    if (Object.keys(rest).length) {
      try {
        await kv.request("WriteSecret", "POST", kvPath(key, kv.mount, "v2", "data"), {
          body: { data: rest, options: { cas: state.version } },
        });
      } catch (e) {
        if (casFailed(e)) throw conflict(key, e);
        throw e;
      }
      return;
    }
  }
  try {
    await kv.request("DeleteSecret", "DELETE", kvPath(key, kv.mount, "v2", "metadata"), { allow404: true });
  } catch (e) {
    if (isCustosError(e, "CUSTOS_SECRET_NOT_FOUND")) return;
    throw e;
  }
}
