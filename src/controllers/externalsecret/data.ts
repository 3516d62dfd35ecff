/**
 * From an ExternalSecret and what the stores returned, the secret data ESO would produce. Pure.
 *
 * - `remoteRefsOf(es)`: the unique reads and finds an ExternalSecret needs, per store, so the
 *   fetcher can share them with every other ExternalSecret;
 * - `buildSecretData(es, results, render)`: dataFrom first (extract, find, with rewrites), then
 *   data[] on top; properties by exact key then gjson path; decoding and key conversion.
 */
import type { FindQuery, RemoteKey, RemoteSecret } from "../../providers/types.ts";
import { CustosError, isCustosError } from "../../util/errors.ts";
import { getPath, toGjsonString } from "../../util/gjson.ts";
import { goFormatFloatF, goJsonMarshal, goJsonNumber } from "../../util/gojson.ts";
import { redactor } from "../../util/redact.ts";
import { dict } from "../../util/dict.ts";
import { parseJson } from "../../util/json.ts";
import { compileSpecRegex, RegexBudget, specError } from "../../util/regex.ts";
import type { DataFromEntry, ExternalSecret, FindSpec, RemoteRef, Rewrite, StoreRef } from "./types.ts";

export interface RefRead {
  storeRef?: StoreRef | undefined;
  ref: RemoteKey;
}
export interface RefFind {
  storeRef?: StoreRef | undefined;
  query: FindQuery;
}

export interface FetchResults {
  /** By `refId(storeRef, ref)`. */
  reads: Map<string, RemoteSecret | Error>;
  /** By `findId(storeRef, query)`. */
  finds: Map<string, Map<string, RemoteSecret> | Error>;
  /** Generated values, by index of the dataFrom entry with a generatorRef. */
  generated?: Map<number, Record<string, Uint8Array> | Error>;
}

/** Renders a Go template with `data` as its dot (used by rewrite transforms). */
export type RenderFn = (name: string, text: string, data: unknown) => string;

export interface BuiltData {
  data: Record<string, Uint8Array>;
  /** Keys whose remote secret no longer exists (for deletionPolicy). */
  missingKeys: string[];
  /** True when some referenced remote secret does not exist. */
  anyMissing: boolean;
  /** The remote keys that do not exist (for messages). */
  missingRemote?: string[];
}

/** Registers a remote secret's values with the redactor (a map as its JSON: leaves included). */
export function registerRemoteSecret(v: RemoteSecret, owner?: object): void {
  redactor.add(v.kind === "bytes" ? v.value : JSON.stringify(v.value), owner);
}

export function storeRefOf(es: ExternalSecret, sourceStore: StoreRef | undefined): StoreRef {
  const ref = sourceStore?.name ? sourceStore : es.spec?.secretStoreRef;
  return { name: ref?.name ?? "", kind: ref?.kind ?? "SecretStore" };
}

export function refId(store: StoreRef, ref: RemoteKey): string {
  return JSON.stringify([
    store.kind ?? "SecretStore",
    store.name,
    ref.key,
    ref.version ?? "",
    ref.metadataPolicy ?? "None",
  ]);
}

export function findId(store: StoreRef, q: FindQuery): string {
  return JSON.stringify([
    store.kind ?? "SecretStore",
    store.name,
    q.path ?? "",
    q.name?.regexp ?? "",
    q.tags ?? {},
  ]);
}

function keyOf(r: RemoteRef): RemoteKey {
  return {
    key: r.key,
    ...(r.version ? { version: r.version } : {}),
    ...(r.metadataPolicy === "Fetch" ? { metadataPolicy: "Fetch" as const } : {}),
  };
}

function queryOf(f: FindSpec): FindQuery {
  return {
    ...(f.path ? { path: f.path } : {}),
    ...(f.name?.regexp ? { name: { regexp: f.name.regexp } } : {}),
    ...(f.tags && Object.keys(f.tags).length ? { tags: f.tags } : {}),
  };
}

export function remoteRefsOf(es: ExternalSecret): { reads: RefRead[]; finds: RefFind[] } {
  const reads = new Map<string, RefRead>();
  const finds = new Map<string, RefFind>();
  for (const d of es.spec?.dataFrom ?? []) {
    const store = storeRefOf(es, d.sourceRef?.storeRef);
    if (d.extract) reads.set(refId(store, keyOf(d.extract)), { storeRef: store, ref: keyOf(d.extract) });
    if (d.find) finds.set(findId(store, queryOf(d.find)), { storeRef: store, query: queryOf(d.find) });
  }
  for (const d of es.spec?.data ?? []) {
    const store = storeRefOf(es, d.sourceRef?.storeRef);
    reads.set(refId(store, keyOf(d.remoteRef)), { storeRef: store, ref: keyOf(d.remoteRef) });
  }
  return { reads: [...reads.values()], finds: [...finds.values()] };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A remote secret as one value: bytes as they are, a map as Go's json.Marshal writes it (as ESO). */
function wholeValue(s: RemoteSecret): Uint8Array {
  // a Kubernetes Secret (raw): ESO's esutils.JSONMarshal, which does not escape HTML characters
  return s.kind === "bytes" ? s.value : enc.encode(goJsonMarshal(s.value, !s.raw));
}

/** A remote secret as a map of top-level keys (for extract); bytes must hold a JSON object. */
function asMap(s: RemoteSecret, what: string): Record<string, unknown> {
  if (s.kind === "map") return s.value;
  try {
    const parsed = parseJson(dec.decode(s.value));
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    /* fall through */
  }
  throw new CustosError("CUSTOS_DECODE", `${what} is not a JSON object, so its keys cannot be extracted`, {
    retryable: false,
  });
}

function valueBytes(v: unknown): Uint8Array {
  if (typeof v === "string") return enc.encode(v);
  if (v instanceof Uint8Array) return v;
  return enc.encode(JSON.stringify(v));
}

/**
 * A value of a decoded map as ESO's GetByteValue writes it: objects and arrays through json.Marshal,
 * null as no bytes. `float64`: numbers as strconv 'f' (ESO's GetSecretMap re-decodes into float64);
 * otherwise as encoding/json writes the number (a property read straight from Vault's answer).
 */
function mapValueBytes(v: unknown, float64: boolean): Uint8Array {
  if (typeof v === "string") return enc.encode(v);
  if (v === null || v === undefined) return new Uint8Array(0);
  if (typeof v === "number") return enc.encode(float64 ? goFormatFloatF(v) : goJsonNumber(v));
  if (typeof v === "boolean") return enc.encode(v ? "true" : "false");
  return enc.encode(goJsonMarshal(v));
}

/** gjson's Result.String() on json.Marshal output: objects raw (sorted, escaped), null empty. */
function gjsonBytes(v: unknown): Uint8Array {
  if (typeof v === "number") return enc.encode(goFormatFloatF(v));
  if (v === null) return new Uint8Array(0);
  return mapValueBytes(v, true);
}

/** `property`: an exact top-level key first, then a gjson path. */
export function extractProperty(s: RemoteSecret, ref: RemoteRef): Uint8Array {
  if (!ref.property) return wholeValue(s);
  if (s.kind === "map" && s.raw) return rawProperty(s.raw, ref);
  let obj: unknown;
  if (s.kind === "map") obj = s.value;
  else {
    try {
      obj = parseJson(dec.decode(s.value));
    } catch {
      throw new CustosError(
        "CUSTOS_PROPERTY_NOT_FOUND",
        `secret "${ref.key}" is not JSON, so it has no property "${ref.property}"`,
        { retryable: false },
      );
    }
  }
  if (obj !== null && typeof obj === "object" && !Array.isArray(obj) && Object.hasOwn(obj, ref.property)) {
    const v = (obj as Record<string, unknown>)[ref.property];
    return s.kind === "map" ? mapValueBytes(v, false) : valueBytes(v);
  }
  const found = getPath(obj, ref.property);
  if (found === undefined) {
    throw new CustosError(
      "CUSTOS_PROPERTY_NOT_FOUND",
      `secret "${ref.key}" has no property "${ref.property}"`,
      { retryable: false },
    );
  }
  return s.kind === "map" ? gjsonBytes(found) : enc.encode(toGjsonString(found));
}

/**
 * ESO's kubernetes provider: an exact data key gives its bytes; else `key.rest` is the gjson path
 * `rest` inside the JSON value of `key` (split at the first dot).
 */
function rawProperty(raw: Record<string, Uint8Array>, ref: RemoteRef): Uint8Array {
  const p = ref.property ?? "";
  if (Object.hasOwn(raw, p)) return raw[p]!;
  const dot = p.indexOf(".");
  const inner =
    dot > 0 && dot < p.length - 1 && Object.hasOwn(raw, p.slice(0, dot)) ? raw[p.slice(0, dot)] : undefined;
  let found: unknown = undefined;
  if (inner) {
    try {
      found = getPath(parseJson(dec.decode(inner)), p.slice(dot + 1));
    } catch {
      found = undefined;
    }
  }
  if (found === undefined)
    throw new CustosError("CUSTOS_PROPERTY_NOT_FOUND", `secret "${ref.key}" has no property "${p}"`, {
      retryable: false,
    });
  return enc.encode(toGjsonString(found));
}

export function decode(value: Uint8Array, strategy: string | undefined, what: string): Uint8Array {
  const text = (): string => dec.decode(value);
  switch (strategy ?? "None") {
    case "None":
      return value;
    case "Base64": {
      const out = goBase64(text(), false);
      if (!out)
        throw new CustosError("CUSTOS_DECODE", `${what}: value is not valid base64`, { retryable: false });
      return out;
    }
    case "Base64URL": {
      const out = goBase64(text(), true);
      if (!out)
        throw new CustosError("CUSTOS_DECODE", `${what}: value is not valid base64url`, { retryable: false });
      return out;
    }
    case "Auto":
      // ESO: standard base64, else URL-safe base64, else the value as it is
      return goBase64(text(), false) ?? goBase64(text(), true) ?? value;
    default:
      throw new CustosError("CUSTOS_INVALID_SPEC", `unknown decodingStrategy "${strategy ?? ""}"`, {
        retryable: false,
      });
  }
}

/**
 * ESO's key conversion: characters other than letters, numbers (Unicode's, as Go's
 * unicode.IsLetter/IsNumber), "-", "." and "_" become "_" (Default) or "_Uxxxx_" (Unicode). Letters
 * outside ASCII are kept, as ESO keeps them: the API server then refuses such a key, as it does ESO's.
 */
export function convertKey(key: string, strategy: string | undefined): string {
  if ((strategy ?? "Default") === "Unicode") {
    return key.replace(/[^-._\p{L}\p{N}]/gu, (c) => `_U${c.codePointAt(0)!.toString(16).padStart(4, "0")}_`);
  }
  return key.replace(/[^-._\p{L}\p{N}]/gu, "_");
}

/**
 * Go's base64.StdEncoding / URLEncoding DecodeString: padding required, "\r" and "\n" ignored,
 * nothing else outside the alphabet (not even spaces); undefined when Go would fail.
 */
export function goBase64(text: string, url: boolean): Buffer | undefined {
  const s = text.replace(/[\r\n]/g, "");
  if (s.length % 4 !== 0) return undefined;
  const ok = url
    ? /^[A-Za-z0-9_-]*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/.test(s)
    : /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s);
  return ok ? Buffer.from(s, url ? "base64url" : "base64") : undefined;
}

export function applyRewrites(
  data: Record<string, Uint8Array>,
  rewrites: Rewrite[] | undefined,
  render: RenderFn,
): Record<string, Uint8Array> {
  let cur = data;
  // one time budget for the whole list: many keys x a heavy pattern cannot stall the loop
  const budget = new RegexBudget();
  for (const [i, rw] of (rewrites ?? []).entries()) {
    // null prototype: a remote key may be "__proto__"
    const next = dict<Uint8Array>();
    const field = `rewrite[${i}].regexp.source`;
    // Go's ReplaceAllString on RE2 (ESO's RewriteRegexp): linear time, `$1_x` is the group "1_x"
    const re = rw.regexp ? compileSpecRegex(rw.regexp.source, field, budget) : undefined;
    for (const [k, v] of Object.entries(cur)) {
      let nk = k;
      if (re && rw.regexp) {
        try {
          nk = budget.search(re, k).replaceAll(k, rw.regexp.target);
        } catch (e) {
          throw specError(e, field); // past the input limits or the budget of this rewrite list
        }
      } else if (rw.transform) nk = render("rewrite", rw.transform.template, { value: k }).trim();
      next[nk] = v;
    }
    cur = next;
  }
  // ESO's ValidateKeys: a key rewritten to "" is dropped without an error
  delete cur[""];
  return cur;
}

function isNotFound(e: unknown): boolean {
  return isCustosError(e, "CUSTOS_SECRET_NOT_FOUND");
}

function dataFromEntry(
  es: ExternalSecret,
  d: DataFromEntry,
  index: number,
  results: FetchResults,
  render: RenderFn,
  missing: { any: boolean },
): Record<string, Uint8Array> {
  const store = storeRefOf(es, d.sourceRef?.storeRef);
  const out = dict<Uint8Array>();
  if (d.sourceRef?.generatorRef && !d.extract && !d.find) {
    const g = results.generated?.get(index);
    if (g === undefined)
      throw new CustosError("CUSTOS_INTERNAL", `no generated values for dataFrom[${index}]`);
    if (g instanceof Error) throw g;
    Object.assign(out, g);
    // ESO: a generator's keys go through the rewrites only, without key conversion
    return d.rewrite?.length ? applyRewrites(out, d.rewrite, render) : out;
  }
  if (d.extract) {
    const r = results.reads.get(refId(store, keyOf(d.extract)));
    if (r === undefined)
      throw new CustosError("CUSTOS_INTERNAL", `no result for dataFrom.extract "${d.extract.key}"`);
    if (r instanceof Error) {
      if (isNotFound(r)) {
        missing.any = true;
        return {};
      }
      throw r;
    }
    const m = d.extract.property
      ? asMap(
          { kind: "bytes", value: extractProperty(r, d.extract) },
          `property "${d.extract.property}" of "${d.extract.key}"`,
        )
      : asMap(r, `secret "${d.extract.key}"`);
    // a provider's map (Vault) goes through ESO's GetSecretMap: JSON bytes decoded to float64 values
    const fromMap = r.kind === "map";
    // a Kubernetes Secret's data: each key's exact bytes (ESO's GetSecretMap returns secret.Data)
    const raw = r.kind === "map" && !d.extract.property ? r.raw : undefined;
    for (const [k, v] of Object.entries(m)) {
      out[k] = decode(
        raw && Object.hasOwn(raw, k) ? raw[k]! : fromMap ? mapValueBytes(v, true) : valueBytes(v),
        d.extract.decodingStrategy,
        `dataFrom.extract "${d.extract.key}" key "${k}"`,
      );
    }
  } else if (d.find) {
    const r = results.finds.get(findId(store, queryOf(d.find)));
    if (r === undefined) throw new CustosError("CUSTOS_INTERNAL", "no result for dataFrom.find");
    if (r instanceof Error) throw r;
    for (const [remoteKey, secret] of r) {
      out[remoteKey] = decode(
        wholeValue(secret),
        d.find.decodingStrategy,
        `dataFrom.find result "${remoteKey}"`,
      );
    }
  }
  // ESO: rewrites see the remote keys; without rewrites the keys are converted to valid names.
  if (d.rewrite?.length) return applyRewrites(out, d.rewrite, render);
  const strategy = d.extract?.conversionStrategy ?? d.find?.conversionStrategy;
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [convertKey(k, strategy), v]));
}

export function buildSecretData(es: ExternalSecret, results: FetchResults, render: RenderFn): BuiltData {
  const data = dict<Uint8Array>();
  const missingKeys: string[] = [];
  const missing = { any: false };
  const missingRemote: string[] = [];
  for (const [i, d] of (es.spec?.dataFrom ?? []).entries())
    Object.assign(data, dataFromEntry(es, d, i, results, render, missing));
  for (const d of es.spec?.data ?? []) {
    const store = storeRefOf(es, d.sourceRef?.storeRef);
    const r = results.reads.get(refId(store, keyOf(d.remoteRef)));
    if (r === undefined) throw new CustosError("CUSTOS_INTERNAL", `no result for data "${d.secretKey}"`);
    if (r instanceof Error) {
      if (isNotFound(r)) {
        missing.any = true;
        missingKeys.push(d.secretKey);
        missingRemote.push(d.remoteRef.key);
        continue;
      }
      throw r;
    }
    const value = decode(
      extractProperty(r, d.remoteRef),
      d.remoteRef.decodingStrategy,
      `data "${d.secretKey}"`,
    );
    if (d.remoteRef.nullBytePolicy === "Fail" && value.includes(0)) {
      throw new CustosError(
        "CUSTOS_DECODE",
        `data "${d.secretKey}" contains a NUL byte (nullBytePolicy: Fail)`,
        { retryable: false },
      );
    }
    data[d.secretKey] = value;
  }
  for (const v of Object.values(data)) redactor.add(v);
  return { data, missingKeys, anyMissing: missing.any, missingRemote };
}
