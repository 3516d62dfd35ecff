/**
 * Go's encoding/json `json.Marshal` and strconv number formats, for the bytes ESO writes when it
 * serialises a remote value (whole Vault secrets, nested objects, dataFrom values). Pure.
 *
 * - object keys sorted by their UTF-8 bytes, at every level;
 * - `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`; U+2028/U+2029 as `\u2028`/`\u2029`;
 * - a lone surrogate (what JS keeps where Go's decoder put U+FFFD) as U+FFFD;
 * - numbers as Go encodes a float64: shortest digits, exponent form below 1e-6 and from 1e21
 *   (`1e-7`, `1e+21`), which is what JS's Number#toString gives, except `-0`.
 */
import { CustosError } from "./errors.ts";

const MAX_DEPTH = 1000;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const SURROGATE = /[\ud800-\udfff]/;

/** Go's string order (UTF-8 bytes = code points); UTF-16 order differs only around surrogates. */
function byUtf8(a: string, b: string): number {
  if (SURROGATE.test(a) || SURROGATE.test(b))
    return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A JSON string literal as Go writes it (HTML-escaped unless `escapeHtml` is false). */
export function goJsonString(s: string, escapeHtml = true): string {
  let out = JSON.stringify(s.replace(LONE_SURROGATE, "\ufffd")).replace(/[\u2028\u2029]/g, (c) =>
    c === "\u2028" ? "\\u2028" : "\\u2029",
  );
  // JSON.stringify never emits these characters outside string contents, so a global replace is safe
  if (escapeHtml)
    out = out.replace(/[<>&]/g, (c) => (c === "<" ? "\\u003c" : c === ">" ? "\\u003e" : "\\u0026"));
  return out;
}

/** A float64 as encoding/json writes it. */
export function goJsonNumber(n: number): string {
  if (!Number.isFinite(n))
    throw new CustosError("CUSTOS_DECODE", "a number that is not finite has no JSON form", {
      retryable: false,
    });
  return Object.is(n, -0) ? "-0" : String(n);
}

/** strconv.FormatFloat(n, 'f', -1, 64): shortest digits, never an exponent. */
export function goFormatFloatF(n: number): string {
  if (Object.is(n, -0)) return "-0";
  const s = String(n);
  if (!/e/.test(s)) return s;
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(n.toExponential());
  if (!m) return s;
  const [, sign, lead, frac = "", expText] = m;
  const digits = `${lead}${frac}`;
  const exp = Number(expText);
  if (exp >= 0) {
    const intLen = exp + 1;
    return digits.length <= intLen
      ? `${sign}${digits}${"0".repeat(intLen - digits.length)}`
      : `${sign}${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
  }
  return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
}

/**
 * json.Marshal of a decoded JSON value (objects, arrays, strings, numbers, booleans, null);
 * with `indent`, json.MarshalIndent(v, "", indent) (empty objects and arrays stay `{}`, `[]`).
 */
export function goJsonMarshal(value: unknown, escapeHtml = true, indent = ""): string {
  const parts: string[] = [];
  const nl = (depth: number): void => {
    if (indent) parts.push("\n", indent.repeat(depth));
  };
  const walk = (v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH)
      throw new CustosError("CUSTOS_DECODE", "value nested too deeply to encode as JSON", {
        retryable: false,
      });
    if (v === null || v === undefined) parts.push("null");
    else if (typeof v === "string") parts.push(goJsonString(v, escapeHtml));
    else if (typeof v === "number") parts.push(goJsonNumber(v));
    else if (typeof v === "boolean") parts.push(v ? "true" : "false");
    else if (Array.isArray(v)) {
      parts.push("[");
      v.forEach((e, i) => {
        if (i) parts.push(",");
        nl(depth + 1);
        walk(e, depth + 1);
      });
      if (v.length) nl(depth);
      parts.push("]");
    } else if (typeof v === "object") {
      const keys = Object.keys(v).sort(byUtf8);
      parts.push("{");
      keys.forEach((k, i) => {
        if (i) parts.push(",");
        nl(depth + 1);
        parts.push(goJsonString(k, escapeHtml), indent ? ": " : ":");
        walk((v as Record<string, unknown>)[k], depth + 1);
      });
      if (keys.length) nl(depth);
      parts.push("}");
    } else parts.push("null");
  };
  walk(value, 0);
  return parts.join("");
}
