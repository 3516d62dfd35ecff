/** Go's fmt.Sprintf for the verbs templates use: %s %d %v %q %x %X %f %e %g %t %c %o %b %%, with flags, width and precision. */
import { GoFloat, GoJsonNumber } from "./exec.ts";
import { formatFloat, formatValue } from "./values.ts";
import { BudgetExceeded, MAX_VALUE_BYTES, reserve } from "./budget.ts";
import { FuncError } from "./maps.ts";

/** Go's fmt refuses widths and precisions above 1e6 (fmt's tooLarge); so do we. */
const MAX_NUM = 1e6;

interface Directive {
  flags: string;
  width?: number;
  prec?: number;
  verb: string;
}

export function sprintf(format: string, args: unknown[]): string {
  let ai = 0;
  const parts: string[] = [];
  let size = 0;
  const emit = (s: string): void => {
    size += s.length;
    if (size > MAX_VALUE_BYTES)
      throw new BudgetExceeded(`printf result would exceed ${MAX_VALUE_BYTES} bytes`);
    parts.push(s);
  };
  // an int argument for * (Go's intFromArg): undefined when missing, not an int, or too large
  const intArg = (): number | undefined => {
    if (ai >= args.length) return undefined;
    const a = args[ai++];
    if (typeof a !== "number" || !Number.isInteger(a) || Math.abs(a) > MAX_NUM) return undefined;
    return a;
  };
  let i = 0;
  const end = format.length;
  while (i < end) {
    const pct = format.indexOf("%", i);
    if (pct < 0) {
      emit(format.slice(i));
      break;
    }
    if (pct > i) emit(format.slice(i, pct));
    i = pct + 1;
    let flags = "";
    while (i < end && "#0+- ".includes(format[i]!)) flags += format[i++]!;
    const d: Directive = { flags, verb: "" };
    // width: digits (more than 1e6 swallows the rest of the format, as Go's parsenum does) or *
    if (format[i] === "*") {
      i++;
      const w = intArg();
      if (w === undefined) emit("%!(BADWIDTH)");
      else if (w < 0) {
        d.width = -w;
        d.flags += "-";
      } else d.width = w;
    } else {
      const n = parseNum(format, i);
      if (n.tooLarge) i = end;
      else if (n.next > i) {
        d.width = n.value;
        i = n.next;
      }
    }
    if (i + 1 < end && format[i] === ".") {
      i++;
      if (format[i] === "*") {
        i++;
        const p = intArg();
        if (p === undefined || p < 0) emit("%!(BADPREC)");
        else d.prec = p;
      } else {
        const n = parseNum(format, i);
        if (n.tooLarge) i = end;
        else {
          d.prec = n.next > i ? n.value : 0;
          i = n.next;
        }
      }
    }
    if (i >= end) {
      emit("%!(NOVERB)");
      break;
    }
    d.verb = String.fromCodePoint(format.codePointAt(i)!);
    i += d.verb.length;
    if (d.verb === "%") {
      emit("%");
      continue;
    }
    if (ai >= args.length) {
      emit(`%!${d.verb}(MISSING)`);
      continue;
    }
    emit(formatOne(d, args[ai++]));
  }
  if (ai < args.length)
    emit(
      `%!(EXTRA ${args
        .slice(ai)
        .map((a) => `${typeName(a)}=${formatValue(a)}`)
        .join(", ")})`,
    );
  return parts.join("");
}

function parseNum(s: string, from: number): { value: number; next: number; tooLarge: boolean } {
  let value = 0;
  let i = from;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) {
    if (value > MAX_NUM) return { value: 0, next: s.length, tooLarge: true };
    value = value * 10 + (s.charCodeAt(i) - 48);
    i++;
  }
  return { value, next: i, tooLarge: false };
}

function rune(n: number): string {
  return Number.isInteger(n) && n >= 0 && n <= 0x10ffff ? String.fromCodePoint(n) : "\uFFFD";
}

/** JavaScript formats at most 100 digits; Go more (rarely wanted): refused rather than wrong. */
function digits(prec: number): number {
  if (prec > 100) throw new FuncError("printf precision above 100 digits is not supported");
  return prec;
}

function formatOne(d: Directive, arg: unknown): string {
  const { flags, verb, width, prec } = d;
  // json.Number is a string kind in Go: its literal
  const a = arg instanceof GoJsonNumber ? arg.literal : arg;
  let s: string;
  const num = (): number => (a instanceof GoFloat ? a.value : (a as number));
  const isNum = typeof a === "number" || a instanceof GoFloat;
  switch (verb) {
    case "v":
      s = formatValue(a);
      break;
    case "s":
      s =
        typeof a === "string"
          ? a
          : a instanceof Uint8Array
            ? Buffer.from(a).toString("utf8")
            : isNum || typeof a === "boolean"
              ? `%!s(${typeName(a)}=${formatValue(a)})`
              : formatValue(a);
      if (prec !== undefined) s = runePrefix(s, prec);
      break;
    case "q":
      s = typeof a === "string" ? goQuote(a) : isNum ? `'${rune(num())}'` : `%!q(${formatValue(a)})`;
      break;
    case "d":
      s =
        isNum && Number.isInteger(num())
          ? String(Math.trunc(num()))
          : `%!d(${typeName(a)}=${formatValue(a)})`;
      if (flags.includes("+") && isNum && num() >= 0) s = `+${s}`;
      break;
    case "t":
      s = typeof a === "boolean" ? String(a) : `%!t(${typeName(a)}=${formatValue(a)})`;
      break;
    case "f":
    case "F":
      s = isNum ? num().toFixed(digits(prec ?? 6)) : `%!f(${typeName(a)}=${formatValue(a)})`;
      if (flags.includes("+") && isNum && num() >= 0) s = `+${s}`;
      break;
    case "e":
      s = isNum
        ? num()
            .toExponential(digits(prec ?? 6))
            .replace(/e([+-])(\d)$/, "e$10$2")
        : `%!e(${formatValue(a)})`;
      break;
    case "g":
      s = isNum
        ? prec !== undefined
          ? String(Number(num().toPrecision(Math.max(1, digits(prec)))))
          : formatFloat(num())
        : `%!g(${formatValue(a)})`;
      break;
    case "x":
    case "X": {
      if (isNum) s = Math.trunc(num()).toString(16);
      else
        s = Buffer.from(typeof a === "string" ? a : a instanceof Uint8Array ? a : formatValue(a)).toString(
          "hex",
        );
      if (verb === "X") s = s.toUpperCase();
      break;
    }
    case "o":
      s = isNum ? Math.trunc(num()).toString(8) : `%!o(${formatValue(a)})`;
      break;
    case "b":
      s = isNum ? Math.trunc(num()).toString(2) : `%!b(${formatValue(a)})`;
      break;
    case "c":
      s = isNum ? rune(num()) : `%!c(${formatValue(a)})`;
      break;
    case "T":
      s = typeName(a);
      break;
    default:
      s = `%!${verb}(${typeName(a)}=${formatValue(a)})`;
  }
  const runes = width ? runeCount(s) : 0;
  if (width !== undefined && runes < width) {
    const pad = reserve(width - runes, "printf padding");
    if (flags.includes("-")) s = s + " ".repeat(pad);
    else if (flags.includes("0") && isNum && verb !== "s" && verb !== "v") {
      const neg = s.startsWith("-") || s.startsWith("+");
      s = neg ? s.slice(0, 1) + "0".repeat(pad) + s.slice(1) : "0".repeat(pad) + s;
    } else s = " ".repeat(pad) + s;
  }
  return s;
}

function typeName(a: unknown): string {
  if (a === null || a === undefined) return "<nil>";
  if (a instanceof GoJsonNumber) return "json.Number";
  if (a instanceof GoFloat) return "float64";
  if (typeof a === "number") return Number.isInteger(a) ? "int" : "float64";
  if (typeof a === "string") return "string";
  if (typeof a === "boolean") return "bool";
  if (Array.isArray(a)) return "[]interface {}";
  return "map[string]interface {}";
}

const QUOTE_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\t": "\\t",
  "\r": "\\r",
};

/** Go's %q of a string (one native pass: a character loop is slow on megabytes). */
export function goQuote(s: string): string {
  return `"${s.replace(
    // eslint-disable-next-line no-control-regex -- Go escapes the control characters
    /["\\\x00-\x1f\x7f]/g,
    (c) => QUOTE_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  )}"`;
}

/** The number of code points (Go counts runes), without building an array. */
export function runeCount(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** The first n code points of s. */
function runePrefix(s: string, n: number): string {
  let i = 0;
  for (let k = 0; k < n && i < s.length; k++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
  }
  return s.slice(0, i);
}
