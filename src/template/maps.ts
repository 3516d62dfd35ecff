/**
 * Go maps as templates see them: null-prototype objects, read and written through own properties
 * only. No template can reach a prototype: lookups ignore inherited properties, keys that name
 * JavaScript internals are refused, and every map a template receives or builds has no prototype
 * (data is converted on the way in; dict, fromJson, fromYaml, split... build null-prototype maps).
 */
import { BudgetExceeded, chargeBytes, chargeSteps, checkDepth } from "./budget.ts";
import { GoFloat } from "./exec.ts";

export type GoMap = Record<string, unknown>;

/** Keys refused wherever a template names a key (dict, set, unset, get, index, dig, merge...). */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** A template error a function raises; its message is ours and never carries a data value. */
export class FuncError extends Error {
  override readonly name = "FuncError";
}

export function newMap(): GoMap {
  return Object.create(null) as GoMap;
}

/** A Go map: a plain object (null or Object prototype) or a Map; not a list, bytes, number, time. */
export function isGoMap(v: unknown): v is GoMap | Map<unknown, unknown> {
  if (v instanceof Map) return true;
  if (!v || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === null || proto === Object.prototype;
}

/** The key as a string, refused when it names a JavaScript internal. */
export function checkKey(k: unknown): string {
  const key = typeof k === "string" ? k : String(k);
  if (FORBIDDEN_KEYS.has(key))
    throw new FuncError(`map keys "__proto__", "constructor" and "prototype" are not allowed in templates`);
  return key;
}

export function hasOwnKey(m: GoMap | Map<unknown, unknown>, key: string): boolean {
  return m instanceof Map ? m.has(key) : Object.hasOwn(m, key);
}

/** An own entry, or undefined: never an inherited property. */
export function ownGet(m: GoMap | Map<unknown, unknown>, key: string): unknown {
  if (m instanceof Map) return m.get(key);
  return Object.hasOwn(m, key) ? m[key] : undefined;
}

/** Writes an own entry (defineProperty: no setter, inherited or not, ever runs). */
export function ownSet(m: GoMap | Map<unknown, unknown>, key: string, v: unknown): void {
  if (m instanceof Map) m.set(key, v);
  else Object.defineProperty(m, key, { value: v, writable: true, enumerable: true, configurable: true });
}

export function ownDelete(m: GoMap | Map<unknown, unknown>, key: string): void {
  if (m instanceof Map) m.delete(key);
  else if (Object.hasOwn(m, key)) Reflect.deleteProperty(m, key);
}

export function ownEntries(m: GoMap | Map<unknown, unknown>): [string, unknown][] {
  const entries: [string, unknown][] =
    m instanceof Map ? [...m.entries()].map(([k, v]) => [String(k), v]) : Object.entries(m);
  chargeBytes(16 * entries.length);
  return entries;
}

export function ownKeys(m: GoMap | Map<unknown, unknown>): string[] {
  const keys = m instanceof Map ? [...m.keys()].map(String) : Object.keys(m);
  chargeBytes(16 * keys.length);
  return keys;
}

/**
 * A value from outside (secret data, JSON, YAML) as template data: maps become null-prototype
 * maps, numbers Go float64s (as JSON-decoded data in Go), sets lists; depth and size charged.
 */
export function toTemplateValue(v: unknown, depth = 0): unknown {
  chargeSteps();
  checkDepth(depth);
  if (typeof v === "number") return new GoFloat(v);
  if (v === null || typeof v !== "object") return typeof v === "bigint" ? new GoFloat(Number(v)) : v;
  if (v instanceof Uint8Array || v instanceof GoFloat || v instanceof Date) return v;
  if (Array.isArray(v)) {
    chargeBytes(8 * v.length);
    return v.map((x) => toTemplateValue(x, depth + 1));
  }
  if (v instanceof Set) return toTemplateValue([...(v as Set<unknown>)], depth);
  const out = newMap();
  const entries: [unknown, unknown][] =
    v instanceof Map ? [...(v as Map<unknown, unknown>).entries()] : Object.entries(v);
  chargeBytes(16 * entries.length);
  for (const [k, x] of entries) ownSet(out, String(k), toTemplateValue(x, depth + 1));
  return out;
}

export { BudgetExceeded };
