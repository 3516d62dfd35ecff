/**
 * ESO's `toYaml`: sigs.k8s.io/yaml's Marshal, i.e. Go's json.Marshal, the JSON read back by
 * go-yaml v2 (integers as int, other numbers as float64) and written by go-yaml v2's emitter: keys
 * in go-yaml's natural order, 2-space indentation, sequences in a mapping not indented, strings
 * quoted only when plain text would read as something else, long lines folded after column 80.
 * Works on plain JSON-like data (the template's `plain()`); pure.
 */
import { goJsonNumber } from "../util/gojson.ts";

const BEST_WIDTH = 80;
const BEST_INDENT = 2;
const MAX_SIMPLE_KEY = 128;

type Style = "plain" | "single" | "double" | "literal";

/** A string's code points: go-yaml walks runes. */
const runes = (s: string): string[] => Array.from(s);
const isLetter = (c: string): boolean => /\p{L}/u.test(c);
const isDigit = (c: string): boolean => /\p{Nd}/u.test(c);

/** n*10 + int64(r - '0') in int64 (Unicode digits other than 0-9 give odd values, as in Go). */
const digitStep = (n: bigint, r: string): bigint =>
  BigInt.asIntN(64, n * 10n + BigInt(r.codePointAt(0)! - 48));

/** go-yaml v2's key order: letters after other characters, digit runs compared as numbers. */
export function yamlKeyLess(a: string, b: string): boolean {
  const ar = runes(a);
  const br = runes(b);
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = isLetter(ar[i]!);
    const bl = isLetter(br[i]!);
    if (al && bl) return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
    if (al || bl) return bl;
    // int64 arithmetic, wrapping as Go's does on long digit runs
    let an = 0n;
    let bn = 0n;
    if (ar[i] === "0" || br[i] === "0") {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]!); j--) {
        if (ar[j] !== "0") {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && isDigit(ar[ai]!); ai++) an = digitStep(an, ar[ai]!);
    for (; bi < br.length && isDigit(br[bi]!); bi++) bn = digitStep(bn, br[bi]!);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
  }
  return ar.length < br.length;
}

// --- what go-yaml v2 reads plain text as (resolve.go), for the strings that must be quoted ---

const RESOLVED = new Set([
  "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
  "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
  "~", "null", "Null", "NULL",
  ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
]); // prettier-ignore

const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
// go-yaml v2's timestamp layouts: RFC 3339 with short date fields ("T" or "t"), space-separated
// without a zone, date only
const TIMESTAMP =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(?:Z|[-+]\d{2}:\d{2})| (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?)?$/;

function isTimestamp(s: string): boolean {
  const m = TIMESTAMP.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > days) return false;
  const h = Number(m[4] ?? m[7] ?? 0);
  const mi = Number(m[5] ?? m[8] ?? 0);
  const se = Number(m[6] ?? m[9] ?? 0);
  return h < 24 && mi < 60 && se < 60;
}

/** Go's strconv.ParseInt or ParseUint with base 0 (after go-yaml removed underscores). */
function goParsesAsInt(t: string): boolean {
  const m = /^([-+]?)(0[bB][01]+|0[oO][0-7]+|0[0-7]*|0[xX][0-9a-fA-F]+|[1-9][0-9]*)$/.exec(t);
  if (!m) return false;
  const body = m[2]!;
  const big = /^0[0-7]/.test(body) ? BigInt(`0o${body.slice(1)}`) : BigInt(body.replace(/^0[oO]/, "0o"));
  const v = m[1] === "-" ? -big : big;
  return v >= -(2n ** 63n) && v < 2n ** 64n;
}

/** True when go-yaml v2 reads `s` unquoted as something other than this string (or it is base 60). */
function resolvesAsNonString(s: string): boolean {
  if (s === "") return true;
  const c = s[0]!;
  if (RESOLVED.has(s)) return true;
  if (c === ".") return /^\.[0-9]+(?:[eE][-+]?[0-9]+)?$/.test(s) && Number.isFinite(Number(s));
  if (!/[-+0-9]/.test(c)) return false;
  if (BASE60_FLOAT.test(s)) return true;
  if (isTimestamp(s)) return true;
  const plain = s.replace(/_/g, "");
  if (goParsesAsInt(plain)) return true;
  if (YAML_FLOAT.test(plain) && Number.isFinite(Number(plain))) return true;
  const bin = /^(-?)0b([01]+)$/.exec(plain);
  return bin !== null && BigInt(`0b${bin[2]!}`) < 2n ** 63n + (bin[1] ? 1n : 0n);
}

// --- scalar analysis (emitterc.go yaml_emitter_analyze_scalar) ---

interface Analysis {
  multiline: boolean;
  blockPlain: boolean;
  singleQuoted: boolean;
  block: boolean;
}

const isBreakCh = (c: string): boolean =>
  c === "\n" || c === "\r" || c === "\u0085" || c === "\u2028" || c === "\u2029";
const isBlankZ = (c: string | undefined): boolean =>
  c === undefined || c === " " || c === "\t" || c === "\0" || isBreakCh(c);

function isPrintable(c: string): boolean {
  const n = c.codePointAt(0)!;
  if (n === 0x0a || (n >= 0x20 && n <= 0x7e)) return true;
  if (n >= 0xa0 && n <= 0xd7ff) return true;
  if (n >= 0xe000 && n <= 0xfffd) return n !== 0xfeff;
  return false; // go-yaml v2 treats everything past the BMP as unprintable too
}

function analyze(value: string): Analysis {
  if (value === "") return { multiline: false, blockPlain: true, singleQuoted: true, block: false };
  let blockInd = value.startsWith("---") || value.startsWith("...");
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let precededByWs = true;
  let prevSpace = false;
  let prevBreak = false;
  const cs = runes(value);
  cs.forEach((c, i) => {
    const followedByWs = isBlankZ(cs[i + 1]);
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(c)) blockInd = true;
      else if ((c === "?" || c === ":" || c === "-") && followedByWs) blockInd = true;
    } else if ((c === ":" && followedByWs) || (c === "#" && precededByWs)) blockInd = true;
    if (!isPrintable(c)) special = true;
    if (c === " ") {
      if (i === 0) leadingSpace = true;
      if (i === cs.length - 1) trailingSpace = true;
      if (prevBreak) breakSpace = true;
      prevSpace = true;
      prevBreak = false;
    } else if (isBreakCh(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === cs.length - 1) trailingBreak = true;
      if (prevSpace) spaceBreak = true;
      prevSpace = false;
      prevBreak = true;
    } else {
      prevSpace = false;
      prevBreak = false;
    }
    precededByWs = isBlankZ(c);
  });
  const a: Analysis = { multiline: lineBreaks, blockPlain: true, singleQuoted: true, block: true };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) a.blockPlain = false;
  if (trailingSpace) a.block = false;
  if (breakSpace) a.blockPlain = a.singleQuoted = false;
  if (spaceBreak || special) a.blockPlain = a.singleQuoted = a.block = false;
  if (lineBreaks || blockInd) a.blockPlain = false;
  return a;
}

// --- the emitter: the parts of go-yaml v2's state machine block-style JSON data reaches ---

class Emitter {
  out: string[] = [];
  column = 0;
  whitespace = true;
  indention = true;
  indent = -1;
  indents: number[] = [];
  simpleKey = false;
  mappingContext = false;

  put(s: string): void {
    this.out.push(s);
    this.column += runes(s).length;
  }
  putBreak(): void {
    this.out.push("\n");
    this.column = 0;
  }
  indicator(s: string, needWs: boolean, isWs: boolean, isIndention: boolean): void {
    if (needWs && !this.whitespace) this.put(" ");
    this.put(s);
    this.whitespace = isWs;
    this.indention = this.indention && isIndention;
  }
  writeIndent(): void {
    const indent = Math.max(this.indent, 0);
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace))
      this.putBreak();
    while (this.column < indent) this.put(" ");
    this.whitespace = true;
    this.indention = true;
  }
  increaseIndent(flow: boolean, indentless: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) this.indent = flow ? BEST_INDENT : 0;
    else if (!indentless) this.indent += BEST_INDENT;
  }
  popIndent(): void {
    this.indent = this.indents.pop() ?? -1;
  }
  /** A line break inside a scalar: "\n" as a newline, U+2028 and friends written as they are. */
  writeBreak(c: string): void {
    if (c === "\n") this.putBreak();
    else {
      this.out.push(c);
      this.column = 0;
    }
  }

  node(v: unknown, opts: { simpleKey?: boolean; mapping?: boolean } = {}): void {
    this.simpleKey = opts.simpleKey ?? false;
    this.mappingContext = opts.mapping ?? false;
    if (Array.isArray(v)) this.sequence(v);
    else if (v !== null && typeof v === "object") this.mapping(v as Record<string, unknown>);
    else this.scalarOf(v);
  }

  sequence(items: unknown[]): void {
    if (items.length === 0) {
      this.emptyFlow("[", "]");
      return;
    }
    this.increaseIndent(false, this.mappingContext && !this.indention);
    for (const item of items) {
      this.writeIndent();
      this.indicator("-", true, false, true);
      this.node(item);
    }
    this.popIndent();
  }

  mapping(m: Record<string, unknown>): void {
    const keys = Object.keys(m).sort((a, b) => (yamlKeyLess(a, b) ? -1 : yamlKeyLess(b, a) ? 1 : 0));
    if (keys.length === 0) {
      this.emptyFlow("{", "}");
      return;
    }
    this.increaseIndent(false, false);
    for (const k of keys) {
      this.writeIndent();
      const simple = !analyze(k).multiline && Buffer.byteLength(k) <= MAX_SIMPLE_KEY;
      if (simple) {
        this.node(k, { simpleKey: true });
        this.indicator(":", false, false, false);
      } else {
        this.indicator("?", true, false, true);
        this.node(k);
        this.writeIndent();
        this.indicator(":", true, false, true);
      }
      this.node(m[k], { mapping: true });
    }
    this.popIndent();
  }

  emptyFlow(open: string, close: string): void {
    this.indicator(open, true, true, false);
    this.indicator(close, false, false, false);
  }

  scalarOf(v: unknown): void {
    if (typeof v === "boolean") this.scalar(v ? "true" : "false", "plain");
    else if (typeof v === "number") this.scalar(yamlNumber(v), "plain");
    else if (typeof v !== "string")
      this.scalar("null", "plain"); // plain() leaves nothing else
    else this.scalar(v, v.includes("\n") ? "literal" : resolvesAsNonString(v) ? "double" : "plain");
  }

  scalar(value: string, requested: Style): void {
    const a = analyze(value);
    let style = requested;
    if (this.simpleKey && a.multiline) style = "double";
    if (style === "plain") {
      if (!a.blockPlain) style = "single";
      if (value === "" && this.simpleKey) style = "single";
    }
    if (style === "single" && !a.singleQuoted) style = "double";
    if (style === "literal" && (!a.block || this.simpleKey)) style = "double";
    this.increaseIndent(true, false);
    const breaks = !this.simpleKey;
    if (style === "plain") this.plain(value, breaks);
    else if (style === "single") this.single(value, breaks);
    else if (style === "double") this.double(value, breaks);
    else this.literal(value);
    this.popIndent();
  }

  plain(value: string, allowBreaks: boolean): void {
    if (!this.whitespace) this.put(" ");
    const cs = runes(value);
    let spaces = false;
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i]!;
      if (c === " ") {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && cs[i + 1] !== " ") this.writeIndent();
        else this.put(c);
        spaces = true;
      } else {
        this.put(c);
        this.indention = false;
        spaces = false;
      }
    }
    this.whitespace = false;
    this.indention = false;
  }

  single(value: string, allowBreaks: boolean): void {
    this.indicator("'", true, false, false);
    const cs = runes(value);
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i]!;
      if (c === " ") {
        const fold =
          allowBreaks &&
          !spaces &&
          this.column > BEST_WIDTH &&
          i > 0 &&
          i < cs.length - 1 &&
          cs[i + 1] !== " ";
        if (fold) this.writeIndent();
        else this.put(c);
        spaces = true;
      } else if (isBreakCh(c)) {
        if (!breaks && c === "\n") this.putBreak();
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.put(c === "'" ? "''" : c);
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    this.indicator("'", false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  double(value: string, allowBreaks: boolean): void {
    this.indicator('"', true, false, false);
    const cs = runes(value);
    let spaces = false;
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i]!;
      if (!isPrintable(c) || c === "\ufeff" || isBreakCh(c) || c === '"' || c === "\\") {
        this.put(`\\${doubleEscape(c)}`);
        spaces = false;
      } else if (c === " ") {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && i > 0 && i < cs.length - 1) {
          this.writeIndent();
          if (cs[i + 1] === " ") this.put("\\");
        } else this.put(c);
        spaces = true;
      } else {
        this.put(c);
        spaces = false;
      }
    }
    this.indicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  literal(value: string): void {
    this.indicator("|", true, false, false);
    const cs = runes(value);
    if (cs[0] === " " || isBreakCh(cs[0]!)) this.indicator(String(BEST_INDENT), false, false, false);
    const last = cs[cs.length - 1]!;
    if (!isBreakCh(last)) this.indicator("-", false, false, false);
    else if (cs.length === 1 || isBreakCh(cs[cs.length - 2]!)) this.indicator("+", false, false, false);
    this.putBreak();
    this.indention = true;
    this.whitespace = true;
    let breaks = true;
    for (const c of cs) {
      if (isBreakCh(c)) {
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.put(c);
        this.indention = false;
        breaks = false;
      }
    }
  }
}

const ESCAPES: Record<string, string> = {
  "\0": "0",
  "\x07": "a",
  "\b": "b",
  "\t": "t",
  "\n": "n",
  "\v": "v",
  "\f": "f",
  "\r": "r",
  "\x1b": "e",
  '"': '"',
  "\\": "\\",
  "\u0085": "N",
  "\u00a0": "_",
  "\u2028": "L",
  "\u2029": "P",
};

function doubleEscape(c: string): string {
  const named = ESCAPES[c];
  if (named) return named;
  const n = c.codePointAt(0)!;
  const hex = n.toString(16).toUpperCase();
  if (n <= 0xff) return `x${hex.padStart(2, "0")}`;
  if (n <= 0xffff) return `u${hex.padStart(4, "0")}`;
  return `U${hex.padStart(8, "0")}`;
}

/**
 * A JSON number as go-yaml v2 writes it after reading it back: the JSON text of an integer that
 * fits (u)int64 as is, anything else as a float64 in strconv's 'g' format (`1e+21`, `1.5e-07`).
 */
export function yamlNumber(n: number): string {
  const text = goJsonNumber(n);
  if (/^-?\d+$/.test(text)) {
    const b = BigInt(text);
    if (b >= -(2n ** 63n) && b < 2n ** 64n) return b.toString();
  }
  return goFormatFloatG(n);
}

/** strconv.FormatFloat(n, 'g', -1, 64). */
export function goFormatFloatG(n: number): string {
  if (n === 0) return Object.is(n, -0) ? "-0" : "0";
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(n.toExponential());
  if (!m) return String(n);
  const [, sign, lead, frac = "", expText] = m;
  const exp = Number(expText);
  // shortest 'g' uses the exponent form below 1e-4 and from 1e6, with at least two exponent digits
  if (exp < -4 || exp >= 6) {
    const e = String(Math.abs(exp)).padStart(2, "0");
    return `${sign}${lead}${frac ? `.${frac}` : ""}e${exp < 0 ? "-" : "+"}${e}`;
  }
  const digits = `${lead}${frac}`;
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  return digits.length <= exp + 1
    ? `${sign}${digits}${"0".repeat(exp + 1 - digits.length)}`
    : `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/** Raw characters in Go's JSON output that go-yaml's reader refuses (the Marshal fails). */
const UNREADABLE = /[\x7f-\x84\x86-\x9f\ufffe\uffff]/;

/**
 * What a string becomes when go-yaml reads it back from Go's JSON: a raw NEL (U+0085, the one line
 * break JSON leaves unescaped) is folded like a line break in a double-quoted scalar.
 */
function reread(s: string): string {
  if (UNREADABLE.test(s)) throw new YamlMarshalError();
  if (!s.includes("\u0085")) return s;
  return s.replace(/[ \t]*(?:\u0085[ \t]*)+/g, (run) => {
    const breaks = run.split("\u0085").length - 1;
    return breaks === 1 ? " " : "\n".repeat(breaks - 1);
  });
}

class YamlMarshalError extends Error {}

function rereadAll(v: unknown, depth: number): unknown {
  if (depth > 10_000) throw new YamlMarshalError();
  if (typeof v === "string") return reread(v);
  if (Array.isArray(v)) return v.map((e) => rereadAll(e, depth + 1));
  if (v !== null && typeof v === "object") {
    const out = Object.create(null) as Record<string, unknown>;
    for (const [k, e] of Object.entries(v)) {
      // a key is an implicit key of a flow mapping there, which cannot span lines
      if (k.includes("\u0085")) throw new YamlMarshalError();
      const nk = reread(k);
      // two keys the same after folding: go-yaml refuses the mapping
      if (Object.hasOwn(out, nk)) throw new YamlMarshalError();
      out[nk] = rereadAll(e, depth + 1);
    }
    return out;
  }
  return v;
}

/**
 * sigs.k8s.io/yaml.Marshal(v) without the final newline, as ESO's toYaml returns it; "" where
 * Marshal fails (ESO's toYaml swallows the error).
 */
export function goYamlMarshal(v: unknown): string {
  let data: unknown;
  try {
    data = rereadAll(v, 0);
  } catch (e) {
    if (e instanceof YamlMarshalError) return "";
    throw e;
  }
  const e = new Emitter();
  e.node(data);
  return e.out.join("").replace(/\n$/, "");
}
