/** Go's view of template values: truthiness and `%v` printing. */
import { GoFloat, GoJsonNumber, NO_VALUE } from "./exec.ts";
import { chargeBytes, chargeSteps, checkDepth } from "./budget.ts";
import { isGoMap, ownEntries } from "./maps.ts";

export function isTrue(v: unknown): boolean {
  if (v === undefined || v === null || v === NO_VALUE) return false;
  if (v instanceof GoJsonNumber) return v.literal.length > 0; // a string in Go
  if (v instanceof GoFloat) return v.value !== 0;
  switch (typeof v) {
    case "boolean":
      return v;
    case "number":
      return v !== 0;
    case "string":
      return v.length > 0;
    case "object":
      if (Array.isArray(v)) return v.length > 0;
      if (v instanceof Map) return v.size > 0;
      if (v instanceof Uint8Array) return v.length > 0;
      if (v instanceof Date) return true; // a struct in Go
      return Object.keys(v).length > 0;
    default:
      return true;
  }
}

/**
 * Go's %v for float64: the shortest digits, in exponent form when the exponent is below -4 or at
 * least 6 (strconv's 'g' with shortest precision), e.g. 1e+08, 3.5, 1.234567e+06.
 */
export function formatFloat(n: number): string {
  if (n === 0) return Object.is(n, -0) ? "-0" : "0";
  if (!Number.isFinite(n)) return Number.isNaN(n) ? "NaN" : n > 0 ? "+Inf" : "-Inf";
  const [mant, e] = n.toExponential().split("e") as [string, string];
  const exp = Number(e);
  if (exp >= -4 && exp < 6) return String(n);
  return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}

/** Go's %v. Each node visited is charged: a list holding itself twice per level is not exponential. */
export function formatValue(v: unknown, depth = 0): string {
  chargeSteps();
  checkDepth(depth);
  if (v === undefined || v === null || v === NO_VALUE) return "<nil>";
  if (v instanceof GoJsonNumber) return v.literal;
  if (v instanceof GoFloat) return formatFloat(v.value);
  switch (typeof v) {
    case "string":
      return v;
    case "number":
      return Number.isInteger(v) ? String(v) : formatFloat(v);
    case "boolean":
      return String(v);
    case "object": {
      let s: string;
      if (Array.isArray(v)) s = `[${v.map((x) => formatValue(x, depth + 1)).join(" ")}]`;
      else if (v instanceof Uint8Array) s = `[${Array.from(v).join(" ")}]`;
      else if (v instanceof Date) s = goTime(v);
      else {
        const entries = isGoMap(v) ? ownEntries(v) : [];
        entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        s = `map[${entries.map(([k, x]) => `${k}:${formatValue(x, depth + 1)}`).join(" ")}]`;
      }
      chargeBytes(s.length);
      return s;
    }
    default:
      return typeof v === "bigint" ? v.toString() : "<nil>";
  }
}

/** Go's time.Time String() in UTC: 2006-01-02 15:04:05.999999999 +0000 UTC. */
function goTime(d: Date): string {
  if (Number.isNaN(d.getTime())) return "0001-01-01 00:00:00 +0000 UTC";
  const iso = d.toISOString();
  const frac = iso.slice(19, 23).replace(/\.?0+$/, "");
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac} +0000 UTC`;
}

export function toNumber(v: unknown): number {
  if (v instanceof GoFloat) return v.value;
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string") {
    const n = Number(v);
    return Number.isNaN(n) ? 0 : n;
  }
  return 0;
}

/** Sprig's toInt64 (cast.ToInt64): strings parse, floats truncate, others 0. */
export function toInt(v: unknown): number {
  const n = toNumber(v);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

/** Sprig's toString / fmt.Sprint of a value. */
export function toStr(v: unknown): string {
  if (v === undefined || v === null || v === NO_VALUE) return "";
  if (v instanceof Uint8Array) return Buffer.from(v).toString("utf8");
  return formatValue(v);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Go's string(bytes): text when the bytes are UTF-8, else the bytes themselves (kept exact). */
export function utf8OrBytes(v: Uint8Array): string | Uint8Array {
  try {
    return strictUtf8.decode(v);
  } catch {
    return v;
  }
}
