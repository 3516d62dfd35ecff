/**
 * Template functions: Go's built-ins, the Sprig functions ESO users rely on, and ESO's own.
 * `env` and `expandenv` are absent on purpose: templates come from tenants and must not read the
 * operator's environment. Nothing here touches files or the network.
 */
import {
  createHash,
  randomBytes,
  randomUUID,
  createPrivateKey,
  createPublicKey,
  X509Certificate,
} from "node:crypto";
import { parse as parseYaml, type Tags } from "yaml";
import { goJsonMarshal } from "../util/gojson.ts";
import { goYamlMarshal } from "./yaml.ts";
import { GoFloat, NO_VALUE, goType, type Func } from "./exec.ts";
import { sprintf, goQuote } from "./printf.ts";
import { formatValue, isTrue, toInt, toNumber, toStr, utf8OrBytes } from "./values.ts";
import { RegexBudget, quoteMeta } from "../util/regex.ts";
import { isCustosError } from "../util/errors.ts";
import { chargeBytes, chargeCost, chargeSteps, checkDepth, reserve } from "./budget.ts";
import {
  FuncError,
  checkKey,
  hasOwnKey,
  isGoMap,
  newMap,
  ownDelete,
  ownEntries,
  ownGet,
  ownKeys,
  ownSet,
  toTemplateValue,
  type GoMap,
} from "./maps.ts";
import { bcryptHash, COST, genPrivateKey, pemToPkcs12, pkcs12Cert, pkcs12Key, rsaDecrypt } from "./crypto.ts";
import { parseJson as parseJsonText } from "../util/json.ts";

/** Widest indent/nindent (Helm charts use a few dozen columns). */
const MAX_INDENT = 10_000;

/** A list argument; its elements are charged (list functions are linear in them). */
function list(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) {
    chargeBytes(8 * v.length);
    return v;
  }
  throw new FuncError(`cannot use ${goType(v)} as a list`);
}

/** A map argument: only Go maps (null-prototype objects or Map), nil as an empty one. */
function dict(v: unknown): GoMap | Map<unknown, unknown> {
  if (isGoMap(v)) return v;
  if (v === undefined || v === null) return newMap();
  throw new FuncError(`cannot use ${goType(v)} as a dict`);
}

/** A key for comparisons of values (uniq, has, without): Go's %v, charged as it is built. */
function valueKey(v: unknown): string {
  return `${goType(v)}\u0000${formatValue(v)}`;
}

function eqValues(a: unknown, b: unknown): boolean {
  if ((a instanceof GoFloat && typeof b === "number") || (b instanceof GoFloat && typeof a === "number")) {
    throw new FuncError(`incompatible types for comparison: ${goType(a)} and ${goType(b)}`);
  }
  const na = a instanceof GoFloat ? a.value : a;
  const nb = b instanceof GoFloat ? b.value : b;
  if (typeof na === "number" && typeof nb === "number") return na === nb;
  if (typeof na !== typeof nb) {
    if ((na === undefined || na === null) && (nb === undefined || nb === null)) return true;
    throw new FuncError("incompatible types for comparison");
  }
  if (typeof na === "object") throw new FuncError("non-comparable type");
  return na === nb;
}

function compare(a: unknown, b: unknown): number {
  const na = a instanceof GoFloat ? a.value : a;
  const nb = b instanceof GoFloat ? b.value : b;
  if (typeof na === "number" && typeof nb === "number") return na - nb;
  if (typeof na === "string" && typeof nb === "string") return na < nb ? -1 : na > nb ? 1 : 0;
  throw new FuncError("incompatible types for comparison");
}

function lengthOf(v: unknown): number {
  if (typeof v === "string") return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v instanceof Uint8Array) return v.length;
  if (v instanceof Map) return v.size;
  if (isGoMap(v)) return Object.keys(v).length;
  throw new FuncError(`len of type ${goType(v)}`);
}

/**
 * Sprig's toJson family: Go's json.Marshal (keys sorted by bytes, `<>&` escaped unless raw,
 * U+2028/U+2029 always); a value Go cannot encode (a NaN) gives "", as Sprig swallows the error.
 */
function goJson(v: unknown, indent?: string, escapeHtml = true): string {
  const data = plain(v, true);
  let s: string;
  try {
    s = goJsonMarshal(data, escapeHtml, indent ?? "");
  } catch (e) {
    if (isCustosError(e, "CUSTOS_DECODE")) return "";
    throw e;
  }
  chargeBytes(s.length);
  return s;
}

/**
 * A template value as plain JSON-like data for JSON and YAML output: floats as numbers, bytes as
 * base64 (as Go marshals []byte), times as RFC 3339; every node charged, nesting bounded (a map
 * holding itself ends here), maps without prototypes. Go's JSON sorts keys; YAML keeps them.
 */
function plain(x: unknown, sortKeys: boolean, depth = 0): unknown {
  chargeSteps();
  checkDepth(depth);
  if (x instanceof GoFloat) return x.value;
  if (x === NO_VALUE || x === undefined) return null;
  if (x instanceof Uint8Array) return Buffer.from(x).toString("base64");
  if (x instanceof Date) return Number.isNaN(x.getTime()) ? null : x.toISOString();
  if (Array.isArray(x)) {
    chargeBytes(8 * x.length);
    return x.map((e) => plain(e, sortKeys, depth + 1));
  }
  if (isGoMap(x)) {
    const out = newMap();
    const entries = ownEntries(x);
    if (sortKeys) entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [k, e] of entries) ownSet(out, k, plain(e, sortKeys, depth + 1));
    return out;
  }
  return typeof x === "object" ? null : x;
}

/**
 * go-yaml v2's reading (sigs.k8s.io/yaml.Unmarshal): YAML 1.1 scalars (`yes`, `on`, `0755`), but
 * timestamps and base-60 numbers stay strings. Silent: the library's warnings quote the document.
 */
const YAML11 = {
  version: "1.1",
  logLevel: "silent",
  maxAliasCount: 100,
  customTags: (tags: Tags) =>
    tags.filter(
      (t) =>
        typeof t !== "object" ||
        !(t.tag === "tag:yaml.org,2002:timestamp" || ("format" in t && t.format === "TIME")),
    ),
} as const;

function randomString(n: number, chars: string): string {
  reserve(n, "random string");
  const bytes = randomBytes(n);
  let out = "";
  for (let i = 0; i < n; i++) out += chars[bytes[i]! % chars.length] ?? "";
  return out;
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Sprig's regex functions on Go's RE2 semantics (src/util/regex.ts): linear time, and an invalid
 * pattern is an error naming the problem without quoting the pattern (it may be a secret). As in
 * Sprig, regexMatch answers false for an invalid pattern; a pattern or input over the limits is an
 * error everywhere.
 */
function regexFuncs(): Record<string, Func> {
  // each call is charged its worst-case compile and search time: linear, but it still adds up
  const re = (p: unknown, s: string) => {
    const budget = new RegexBudget(Infinity, (ms) => {
      chargeCost(ms, "regular expression");
    });
    return budget.search(budget.compile(toStr(p)), s);
  };
  const all = {
    regexFind: (p: unknown, s: unknown) => re(p, toStr(s)).find(toStr(s)),
    regexFindAll: (p: unknown, s: unknown, n: unknown) => re(p, toStr(s)).findAll(toStr(s), toInt(n)),
    regexReplaceAll: (p: unknown, s: unknown, repl: unknown) =>
      re(p, toStr(s)).replaceAll(toStr(s), toStr(repl)),
    regexReplaceAllLiteral: (p: unknown, s: unknown, repl: unknown) =>
      re(p, toStr(s)).replaceAllLiteral(toStr(s), toStr(repl)),
    regexSplit: (p: unknown, s: unknown, n: unknown) => re(p, toStr(s)).split(toStr(s), toInt(n)),
  };
  return {
    ...all,
    regexMatch: (p, s) => {
      let r;
      try {
        r = re(p, toStr(s));
      } catch (e) {
        if (isCustosError(e, "CUSTOS_REGEX_INVALID")) return false;
        throw e;
      }
      return r.test(toStr(s));
    },
    mustRegexMatch: (p, s) => re(p, toStr(s)).test(toStr(s)),
    mustRegexFind: all.regexFind,
    mustRegexFindAll: all.regexFindAll,
    mustRegexReplaceAll: all.regexReplaceAll,
    mustRegexReplaceAllLiteral: all.regexReplaceAllLiteral,
    mustRegexSplit: all.regexSplit,
    regexQuoteMeta: (s) => quoteMeta(toStr(s)),
  };
}

function title(s: string): string {
  // strings.Title: letters, digits and "_" continue a word; anything else separates words
  return s.replace(/(^|[^\p{L}\p{N}_])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase());
}

/**
 * PEM blocks as Go's pem.Decode finds them: a BEGIN line, then the first END line after it, which
 * must name the same type (else that BEGIN is skipped). Linear: the search for END lines only
 * moves forward.
 */
function pemBlocks(input: string): { type: string; text: string }[] {
  const BEGIN = "-----BEGIN ";
  const END = "-----END ";
  const out: { type: string; text: string }[] = [];
  let nextEnd = -1;
  let at = input.indexOf(BEGIN);
  while (at >= 0) {
    chargeSteps();
    const typeEnd = input.indexOf("-----", at + BEGIN.length);
    if (typeEnd < 0) break;
    const type = input.slice(at + BEGIN.length, typeEnd);
    const bodyStart = typeEnd + 5;
    if (nextEnd < bodyStart) nextEnd = input.indexOf(END, bodyStart);
    if (nextEnd < 0) break;
    const close = `${END}${type}-----`;
    if (/^[A-Z0-9 ]+$/.test(type) && input.startsWith(close, nextEnd)) {
      const end = nextEnd + close.length;
      out.push({ type, text: input.slice(at, end) });
      at = input.indexOf(BEGIN, end);
    } else at = input.indexOf(BEGIN, at + BEGIN.length);
  }
  return out;
}

/**
 * The bytes of a value as Go sees a string: binary values (not valid UTF-8) reach templates as
 * Uint8Array and are used as they are; text is its UTF-8 bytes.
 */
function bytesOf(v: unknown): Buffer {
  return v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(toStr(v), "utf8");
}

export function builtinFuncs(): Map<string, Func> {
  const f: Record<string, Func> = {
    // Go text/template built-ins (and/or are evaluated lazily by the executor)
    and: () => undefined,
    or: () => undefined,
    not: (a) => !isTrue(a),
    eq: (a, ...bs) => {
      if (!bs.length) throw new FuncError("missing argument for comparison");
      return bs.some((b) => eqValues(a, b));
    },
    ne: (a, b) => !eqValues(a, b),
    lt: (a, b) => compare(a, b) < 0,
    le: (a, b) => compare(a, b) <= 0,
    gt: (a, b) => compare(a, b) > 0,
    ge: (a, b) => compare(a, b) >= 0,
    len: (a) => lengthOf(a),
    index: (v, ...keys) => {
      let cur = v;
      for (const k of keys) {
        chargeSteps();
        if (Array.isArray(cur) || typeof cur === "string" || cur instanceof Uint8Array) {
          const i = toNumber(k);
          // the index may come from data: not quoted
          if (!Number.isInteger(i) || i < 0 || i >= cur.length) throw new FuncError("index out of range");
          cur = Array.isArray(cur) ? cur[i] : typeof cur === "string" ? cur.charCodeAt(i) : cur[i];
        } else if (isGoMap(cur)) {
          cur = ownGet(cur, checkKey(toStr(k)));
        } else if (cur === undefined || cur === null) {
          throw new FuncError("index of untyped nil");
        } else throw new FuncError(`can't index item of type ${goType(cur)}`);
      }
      return cur;
    },
    // Sprig replaces Go's slice with a list-only one
    slice: (v, ...idx) => {
      if (!Array.isArray(v)) throw new FuncError(`list should be type of slice or array but ${goType(v)}`);
      const n = idx.map(toNumber);
      return (v as unknown[]).slice(n[0] ?? 0, n[1]);
    },
    print: (...a) =>
      a
        .map(
          (x, i) =>
            (i > 0 && typeof x !== "string" && typeof a[i - 1] !== "string" ? " " : "") + formatValue(x),
        )
        .join(""),
    println: (...a) => `${a.map(formatValue).join(" ")}\n`,
    printf: (fmt, ...a) => sprintf(toStr(fmt), a),
    html: (...a) =>
      a
        .map(toStr)
        .join("")
        .replace(/&/g, "&amp;")
        .replace(/</g, "&lt;")
        .replace(/>/g, "&gt;")
        .replace(/"/g, "&#34;")
        .replace(/'/g, "&#39;"),
    js: (...a) =>
      a
        .map(toStr)
        .join("")
        .replace(
          /[\\'"<>&=]/g,
          (c) =>
            ({
              "\\": "\\\\",
              "'": "\\'",
              '"': '\\"',
              "<": "\\u003C",
              ">": "\\u003E",
              "&": "\\u0026",
              "=": "\\u003D",
            })[c] ?? c,
        ),
    urlquery: (...a) =>
      encodeURIComponent(a.map(toStr).join(""))
        .replace(/%20/g, "+")
        .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),

    // Sprig: strings
    trim: (s) => toStr(s).trim(),
    trimAll: (c, s) => trimCutset(toStr(s), toStr(c)),
    trimPrefix: (p, s) => (toStr(s).startsWith(toStr(p)) ? toStr(s).slice(toStr(p).length) : toStr(s)),
    trimSuffix: (x, s) =>
      toStr(x) && toStr(s).endsWith(toStr(x)) ? toStr(s).slice(0, -toStr(x).length) : toStr(s),
    upper: (s) => toStr(s).toUpperCase(),
    lower: (s) => toStr(s).toLowerCase(),
    title: (s) => title(toStr(s)),
    replace: (o, n, s) => replaceAll(toStr(s), toStr(o), toStr(n)),
    contains: (sub, s) => toStr(s).includes(toStr(sub)),
    hasPrefix: (p, s) => toStr(s).startsWith(toStr(p)),
    hasSuffix: (x, s) => toStr(s).endsWith(toStr(x)),
    split: (sep, s) => {
      const out = newMap();
      splitString(toStr(s), toStr(sep)).forEach((p, i) => {
        ownSet(out, `_${i}`, p);
      });
      return out;
    },
    splitList: (sep, s) => splitString(toStr(s), toStr(sep)),
    join: (sep, l) => {
      const parts = list(l).map(toStr);
      reserve(parts.reduce((n, p) => n + p.length, 0) + toStr(sep).length * parts.length, "join");
      return parts.join(toStr(sep));
    },
    quote: (...a) =>
      a
        .filter((x) => x !== undefined && x !== null)
        .map((x) => goQuote(toStr(x)))
        .join(" "),
    squote: (...a) =>
      a
        .filter((x) => x !== undefined && x !== null)
        .map((x) => `'${toStr(x)}'`)
        .join(" "),
    indent: (n, s) => indent(toInt(n), toStr(s), ""),
    nindent: (n, s) => indent(toInt(n), toStr(s), "\n"),
    repeat: (n, s) => {
      const str = toStr(s);
      const count = Math.max(0, toInt(n));
      reserve(count * str.length, "repeat");
      return str.repeat(str.length ? count : 0);
    },
    // Sprig slices bytes, not characters
    substr: (a, b, s) => {
      const str = Buffer.from(toStr(s));
      const start = toInt(a);
      const end = toInt(b);
      const bounds = (lo: number, hi: number): string => {
        if (lo < 0 || hi > str.length || lo > hi)
          throw new FuncError("runtime error: slice bounds out of range");
        return str.subarray(lo, hi).toString();
      };
      if (start < 0) return bounds(0, end);
      if (end < 0 || end > str.length) return bounds(start, str.length);
      return bounds(start, end);
    },
    trunc: (n, s) => {
      const str = Buffer.from(toStr(s));
      const c = toInt(n);
      if (c < 0) return -c < str.length ? str.subarray(str.length + c).toString() : str.toString();
      return c < str.length ? str.subarray(0, c).toString() : str.toString();
    },
    nospace: (s) => toStr(s).replace(/\s/g, ""),
    cat: (...a) =>
      a
        .filter((x) => x !== undefined && x !== null)
        .map(toStr)
        .join(" "),
    ...regexFuncs(),
    toString: (v: unknown) => toStr(v),
    toStrings: (l) => list(l).map(toStr),
    // defaults and flow
    default: (d, ...rest) => {
      const v = rest.length ? rest[0] : undefined;
      return isTrue(v) ? v : d;
    },
    empty: (v) => !isTrue(v),
    coalesce: (...a) => a.find((x) => isTrue(x)) ?? null,
    ternary: (t, f, c) => (isTrue(c) ? t : f),
    // the executor passes a message computed from data as a fixed text (see exec.ts)
    required: (msg, v) => {
      if (v === undefined || v === null || v === "") throw new FuncError(toStr(msg));
      return v;
    },
    fail: (msg) => {
      throw new FuncError(toStr(msg));
    },
    // lists and dicts
    list: (...a) => a,
    // maps: own entries only, and keys naming JavaScript internals refused (see maps.ts)
    dict: (...a) => {
      const out = newMap();
      for (let i = 0; i < a.length; i += 2) ownSet(out, checkKey(toStr(a[i])), a[i + 1] ?? "");
      return out;
    },
    get: (d, k) => ownGet(dict(d), checkKey(toStr(k))) ?? "",
    set: (d, k, v) => {
      const m = dict(d);
      ownSet(m, checkKey(toStr(k)), v);
      return m;
    },
    unset: (d, k) => {
      const m = dict(d);
      ownDelete(m, checkKey(toStr(k)));
      return m;
    },
    hasKey: (d, k) => hasOwnKey(dict(d), checkKey(toStr(k))),
    keys: (...ds) => ds.flatMap((d) => ownKeys(dict(d))),
    values: (d) => ownEntries(dict(d)).map(([, v]) => v),
    pluck: (k, ...ds) => {
      const key = checkKey(toStr(k));
      return ds.map((d) => ownGet(dict(d), key)).filter((x) => x !== undefined);
    },
    // Sprig's dig: dig "a" "b" <default> $map, walking maps by own keys
    dig: (...a) => {
      if (a.length < 3) throw new FuncError("dig needs at least three arguments");
      const def = a[a.length - 2];
      let cur: unknown = dict(a[a.length - 1]);
      for (const k of a.slice(0, -2)) {
        chargeSteps();
        if (!isGoMap(cur)) return def;
        const key = checkKey(toStr(k));
        if (!hasOwnKey(cur, key)) return def;
        cur = ownGet(cur, key);
      }
      return cur;
    },
    merge: (dst, ...srcs) => {
      const out = dict(dst);
      for (const s of srcs)
        for (const [k, v] of ownEntries(dict(s))) if (!hasOwnKey(out, checkKey(k))) ownSet(out, k, v);
      return out;
    },
    mergeOverwrite: (dst, ...srcs) => {
      const out = dict(dst);
      for (const s of srcs) for (const [k, v] of ownEntries(dict(s))) ownSet(out, checkKey(k), v);
      return out;
    },
    first: (l) => list(l)[0] ?? null,
    last: (l) => list(l).at(-1) ?? null,
    rest: (l) => list(l).slice(1),
    initial: (l) => list(l).slice(0, -1),
    append: (l, v) => [...list(l), v],
    prepend: (l, v) => [v, ...list(l)],
    // linear: each element's key is built once (charged), then looked up in a set
    uniq: (l) => {
      const seen = new Set<string>();
      return list(l).filter((x) => {
        const k = valueKey(x);
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    },
    without: (l, ...w) => {
      const drop = new Set(w.map(valueKey));
      return list(l).filter((x) => !drop.has(valueKey(x)));
    },
    has: (v, l) => {
      const k = valueKey(v);
      return list(l).some((x) => valueKey(x) === k);
    },
    sortAlpha: (l) => list(l).map(toStr).sort(),
    reverse: (l) => [...list(l)].reverse(),
    concat: (...ls) => {
      const parts = ls.map(list);
      reserve(8 * parts.reduce((n, p) => n + p.length, 0), "concat");
      return parts.flat(1);
    },
    compact: (l) => list(l).filter((x) => isTrue(x)),
    until: (n) => {
      const count = Math.max(0, toInt(n));
      reserve(8 * count, "until");
      return Array.from({ length: count }, (_x, i) => i);
    },
    // encodings and conversions
    b64enc: (s) => bytesOf(s).toString("base64"),
    b64dec: (s) => {
      const t = toStr(s);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 === 1) throw new FuncError("illegal base64 data");
      return utf8OrBytes(Buffer.from(t, "base64"));
    },
    b32enc: (s) => base32(bytesOf(s)),
    b32dec: (s) => utf8OrBytes(base32dec(toStr(s))),
    toJson: (v) => goJson(v),
    toPrettyJson: (v) => goJson(v, "  "),
    toRawJson: (v) => goJson(v, undefined, false),
    fromJson: (s) => {
      const parsed = parseJson(toStr(s));
      return parsed === undefined ? newMap() : toTemplateValue(parsed);
    },
    mustFromJson: (s) => {
      const parsed = parseJson(toStr(s));
      // the parser's message quotes the input, which is a secret value: a fixed text instead
      if (parsed === undefined) throw new FuncError("the value is not valid JSON");
      return toTemplateValue(parsed);
    },
    atoi: (s) => {
      const n = Number.parseInt(toStr(s), 10);
      return Number.isNaN(n) || !/^[+-]?\d+$/.test(toStr(s).trim()) ? 0 : n;
    },
    int: (v) => toInt(v),
    int64: (v) => toInt(v),
    float64: (v) => new GoFloat(toNumber(v)),
    // hashes and crypto
    sha1sum: (s) => createHash("sha1").update(bytesOf(s)).digest("hex"),
    sha256sum: (s) => createHash("sha256").update(bytesOf(s)).digest("hex"),
    sha512sum: (s) => createHash("sha512").update(bytesOf(s)).digest("hex"),
    adler32sum: (s) => String(adler32(bytesOf(s))),
    // costly functions are charged to the render's cost budget (crypto.ts)
    bcrypt: (s) => bcryptHash(toStr(s)),
    htpasswd: (u, p) =>
      toStr(u).includes(":") ? "invalid username: " + toStr(u) : `${toStr(u)}:${bcryptHash(toStr(p))}`,
    genPrivateKey: (type) => genPrivateKey(toStr(type)),
    uuidv4: () => randomUUID(),
    randAlphaNum: (n) => randomString(toInt(n), ALNUM),
    randAlpha: (n) => randomString(toInt(n), ALNUM.slice(0, 52)),
    randNumeric: (n) => randomString(toInt(n), "0123456789"),
    randAscii: (n) =>
      randomString(toInt(n), Array.from({ length: 94 }, (_x, i) => String.fromCharCode(33 + i)).join("")),
    // math
    add: (...a) => a.reduce<number>((s, x) => s + toInt(x), 0),
    add1: (a) => toInt(a) + 1,
    sub: (a, b) => toInt(a) - toInt(b),
    mul: (...a) => a.reduce<number>((s, x) => s * toInt(x), 1),
    div: (a, b) => {
      if (toInt(b) === 0) throw new FuncError("integer divide by zero");
      return Math.trunc(toInt(a) / toInt(b));
    },
    mod: (a, b) => {
      if (toInt(b) === 0) throw new FuncError("integer divide by zero");
      return toInt(a) % toInt(b);
    },
    max: (...a) => Math.max(...a.map(toInt)),
    min: (...a) => Math.min(...a.map(toInt)),
    floor: (a) => new GoFloat(Math.floor(toNumber(a))),
    ceil: (a) => new GoFloat(Math.ceil(toNumber(a))),
    round: (a, p) => {
      const m = 10 ** toInt(p);
      return new GoFloat(Math.round(toNumber(a) * m) / m);
    },
    // dates
    now: () => new Date(),
    unixEpoch: (d) => String(Math.floor(asDate(d).getTime() / 1000)),
    date: (fmt, d) => goDate(toStr(fmt), asDate(d), "Local"),
    dateInZone: (fmt, d, zone) => goDate(toStr(fmt), asDate(d), toStr(zone)),
    toDate: (fmt, s) => parseGoDate(toStr(fmt), toStr(s)),
    // Sprig accepts a string or an int64 (results of math functions); a plain int literal is 0
    duration: (s) => goDuration(typeof s === "string" ? toInt(s) : 0),
    // ESO
    // sigs.k8s.io/yaml: through Go's JSON, then go-yaml v2 (keys sorted its way; yaml.ts)
    toYaml: (v) => {
      const out = goYamlMarshal(plain(v, false));
      chargeBytes(out.length);
      return out;
    },
    fromYaml: (s) => {
      let parsed: unknown;
      // the YAML parser is slow per byte: charged three times (the call charged once)
      chargeBytes(2 * toStr(s).length);
      try {
        parsed = parseYaml(toStr(s), YAML11) as unknown;
      } catch {
        throw new FuncError("the value is not valid YAML");
      }
      return parsed === undefined || parsed === null ? newMap() : toTemplateValue(parsed);
    },
    filterPEM: (type, s) =>
      pemBlocks(toStr(s))
        .filter((b) => b.type === toStr(type))
        .map((b) => `${b.text}\n`)
        .join(""),
    filterCertChain: (kind, s) => filterCertChain(toStr(s), toStr(kind)),
    pkcs12key: (d) => pkcs12Key(bytesOf(d), ""),
    pkcs12keyPass: (pass, d) => pkcs12Key(bytesOf(d), toStr(pass)),
    pkcs12cert: (d) => pkcs12Cert(bytesOf(d), ""),
    pkcs12certPass: (pass, d) => pkcs12Cert(bytesOf(d), toStr(pass)),
    pemToPkcs12: (cert, key) => pemToPkcs12(certPems(cert), toStr(key), ""),
    pemToPkcs12Pass: (cert, key, pass) => pemToPkcs12(certPems(cert), toStr(key), toStr(pass)),
    fullPemToPkcs12: (cert, key) => pemToPkcs12(certPems(cert), toStr(key), ""),
    jwkPublicKeyPem: (jwk) => createPrivateOrPublic(toStr(jwk), false),
    jwkPrivateKeyPem: (jwk) => createPrivateOrPublic(toStr(jwk), true),
    certSANs: (pem) => {
      chargeCost(COST.certificate, "certificate parsing");
      const c = new X509Certificate(toStr(pem));
      return (c.subjectAltName ?? "")
        .split(", ")
        .filter(Boolean)
        .map((x) => x.replace(/^[A-Za-z ]+:/, ""));
    },
    // ESO's rsaDecrypt(scheme, hash, ciphertext, key): "None" passes the input through
    rsaDecrypt: (scheme, hash, ciphertext, key) =>
      toStr(scheme) === "None"
        ? ciphertext
        : utf8OrBytes(rsaDecrypt(toStr(scheme), toStr(hash), bytesOf(ciphertext), toStr(key))),
  };
  Object.assign(f, sprigMore(f));
  return new Map(Object.entries(f));
}

/**
 * More of Sprig v3's functions, as ESO's vendored copy has them: float math through decimals, list
 * and dict helpers, Go's path functions, and the aliases (`must*` variants return an error where
 * the plain one would panic; here both fail the render the same way).
 */
function sprigMore(f: Record<string, Func>): Record<string, Func> {
  const out: Record<string, Func> = {
    addf: (...a) => new GoFloat(decSum(a.map(toNumber))),
    add1f: (a) => new GoFloat(decSum([toNumber(a), 1])),
    subf: (a, ...v) => new GoFloat(decSum([toNumber(a), ...v.map((x) => -toNumber(x))])),
    mulf: (a, ...v) => new GoFloat([a, ...v].map(toNumber).reduce((p, x) => decMul(p, x), 1)),
    divf: (a, ...v) =>
      new GoFloat(
        v.map(toNumber).reduce((p, x) => {
          if (x === 0) throw new FuncError("decimal division by 0");
          return Number((p / x).toFixed(16));
        }, toNumber(a)),
      ),
    maxf: (a, ...v) => new GoFloat(Math.max(toNumber(a), ...v.map(toNumber))),
    minf: (a, ...v) => new GoFloat(Math.min(toNumber(a), ...v.map(toNumber))),
    biggest: (...a) => Math.max(...a.map(toInt)),
    seq: (...a) => seq(a.map(toInt)).join(" "),
    untilStep: (start, stop, step) => untilStep(toInt(start), toInt(stop), toInt(step)),
    splitn: (sep, n, s) => {
      const out = newMap();
      splitN(toStr(s), toStr(sep), toInt(n)).forEach((p, i) => {
        ownSet(out, `_${i}`, p);
      });
      return out;
    },
    chunk: (size, l) => {
      const n = toInt(size);
      const items = list(l);
      if (n <= 0) return [];
      const chunks: unknown[][] = [];
      for (let i = 0; i < items.length; i += n) chunks.push(items.slice(i, i + n));
      return chunks;
    },
    pick: (d, ...ks) => {
      const m = dict(d);
      const out = newMap();
      for (const k of ks.map((x) => checkKey(toStr(x)))) if (hasOwnKey(m, k)) ownSet(out, k, ownGet(m, k));
      return out;
    },
    omit: (d, ...ks) => {
      const drop = new Set(ks.map((x) => toStr(x)));
      const out = newMap();
      for (const [k, v] of ownEntries(dict(d))) if (!drop.has(k)) ownSet(out, k, v);
      return out;
    },
    all: (...a) => a.every((x) => isTrue(x)),
    any: (...a) => a.some((x) => isTrue(x)),
    initials: (s) =>
      toStr(s)
        .split(/\s+/u)
        .filter(Boolean)
        .map((w) => Array.from(w)[0])
        .join(""),
    plural: (one, many, n) => (toInt(n) === 1 ? toStr(one) : toStr(many)),
    hello: () => "Hello!",
    base: (p) => pathBase(toStr(p)),
    dir: (p) => pathDir(toStr(p)),
    ext: (p) => pathExt(toStr(p)),
    clean: (p) => pathClean(toStr(p)),
    isAbs: (p) => toStr(p).startsWith("/"),
    toDecimal: (s) => {
      const t = toStr(s);
      return /^[+-]?[0-7]+$/.test(t) ? Number.parseInt(t, 8) : 0;
    },
    randInt: (min, max) => {
      const lo = toInt(min);
      const hi = toInt(max);
      if (hi <= lo) throw new FuncError("invalid argument to randInt");
      return lo + (randomBytes(4).readUInt32BE(0) % (hi - lo));
    },
    randBytes: (n) => randomBytes(Math.max(0, Math.min(toInt(n), 1 << 20))).toString("base64"),
    shuffle: (s) => {
      const r = Array.from(toStr(s));
      for (let i = r.length - 1; i > 0; i--) {
        const j = randomBytes(4).readUInt32BE(0) % (i + 1);
        [r[i], r[j]] = [r[j]!, r[i]!];
      }
      return r.join("");
    },
    // Masterminds/semver's NewVersion: its fields as a map, so `(semver "1.2.3").Minor` reads them
    semver: (v) => {
      const m =
        /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/.exec(
          toStr(v),
        );
      if (!m) throw new FuncError("Invalid Semantic Version");
      const out = newMap();
      ownSet(out, "Major", Number(m[1]));
      ownSet(out, "Minor", Number((m[2] ?? ".0").slice(1)));
      ownSet(out, "Patch", Number((m[3] ?? ".0").slice(1)));
      ownSet(out, "Prerelease", m[4] ?? "");
      ownSet(out, "Metadata", m[5] ?? "");
      ownSet(out, "Original", toStr(v));
      return out;
    },
    htmlDate: (d) => f.date!("2006-01-02", d),
    htmlDateInZone: (d, zone) => f.dateInZone!("2006-01-02", d, zone),
  };
  out.osBase = out.base!;
  out.osDir = out.dir!;
  out.osExt = out.ext!;
  out.osClean = out.clean!;
  out.osIsAbs = out.isAbs!;
  const alias: Record<string, string> = {
    trimall: "trimAll",
    tuple: "list",
    date_in_zone: "dateInZone",
    mustAppend: "append",
    mustPrepend: "prepend",
    mustFirst: "first",
    mustLast: "last",
    mustRest: "rest",
    mustInitial: "initial",
    mustReverse: "reverse",
    mustUniq: "uniq",
    mustWithout: "without",
    mustHas: "has",
    mustCompact: "compact",
    mustSlice: "slice",
    mustMerge: "merge",
    mustMergeOverwrite: "mergeOverwrite",
    mustToJson: "toJson",
    mustToPrettyJson: "toPrettyJson",
    mustToRawJson: "toRawJson",
    mustToDate: "toDate",
    mustChunk: "chunk",
  };
  for (const [name, to] of Object.entries(alias)) {
    const fn = f[to] ?? out[to];
    if (fn) out[name] = fn;
  }
  return out;
}

/** Decimal places of a number's shortest text (shopspring/decimal works on those digits). */
function decimals(x: number): number {
  const [m, e] = x.toExponential().split("e") as [string, string];
  const frac = (m.split(".")[1] ?? "").length;
  return Math.max(0, frac - Number(e));
}

/** Sum as decimals then to float64 (Sprig's addf: 0.1 + 0.2 is 0.3). */
function decSum(xs: number[]): number {
  if (!xs.every(Number.isFinite)) return xs.reduce((a, b) => a + b, 0);
  const scale = Math.min(40, Math.max(0, ...xs.map(decimals)));
  const big = xs.reduce((a, x) => a + BigInt(x.toFixed(scale).replace(".", "")), 0n);
  return scaled(big, scale);
}

function decMul(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a * b;
  const da = Math.min(40, decimals(a));
  const db = Math.min(40, decimals(b));
  const big = BigInt(a.toFixed(da).replace(".", "")) * BigInt(b.toFixed(db).replace(".", ""));
  return scaled(big, da + db);
}

function scaled(big: bigint, scale: number): number {
  const neg = big < 0n;
  const digits = (neg ? -big : big).toString().padStart(scale + 1, "0");
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return Number(`${neg ? "-" : ""}${text}`);
}

/** Sprig's untilStep. */
function untilStep(start: number, stop: number, step: number): number[] {
  const v: number[] = [];
  if (stop < start) {
    if (step >= 0) return v;
    for (let i = start; i > stop; i += step) {
      chargeSteps();
      v.push(i);
    }
    return v;
  }
  if (step <= 0) return v;
  for (let i = start; i < stop; i += step) {
    chargeSteps();
    v.push(i);
  }
  return v;
}

/** Sprig's seq: `seq end`, `seq start end`, `seq start step end`. */
function seq(p: number[]): number[] {
  if (p.length === 1) {
    const inc = p[0]! < 1 ? -1 : 1;
    return untilStep(1, p[0]! + inc, inc);
  }
  if (p.length === 2) {
    const step = p[1]! < p[0]! ? -1 : 1;
    return untilStep(p[0]!, p[1]! + step, step);
  }
  if (p.length === 3) {
    const [start, step, end] = p as [number, number, number];
    let inc = 1;
    if (end < start) {
      inc = -1;
      if (step > 0) return [];
    }
    return untilStep(start, end + inc, step);
  }
  return [];
}

/** Go's strings.SplitN. */
function splitN(s: string, sep: string, n: number): string[] {
  if (n === 0) return [];
  if (n < 0) return splitString(s, sep);
  if (sep === "") {
    // Go's explode: one element per character, the last holding the rest
    const cps = Array.from(s);
    const m = Math.min(n, cps.length);
    return m === 0 ? [] : [...cps.slice(0, m - 1), cps.slice(m - 1).join("")];
  }
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}

/** Go's path.Clean. */
function pathClean(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  const parts: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!rooted) parts.push("..");
      continue;
    }
    parts.push(seg);
  }
  const out = (rooted ? "/" : "") + parts.join("/");
  return out === "" ? "." : out;
}

/** Go's path.Base. */
function pathBase(p: string): string {
  if (p === "") return ".";
  const t = p.replace(/\/+$/, "");
  if (t === "") return "/";
  return t.slice(t.lastIndexOf("/") + 1);
}

/** Go's path.Dir. */
function pathDir(p: string): string {
  return pathClean(p.slice(0, p.lastIndexOf("/") + 1));
}

/** Go's path.Ext. */
function pathExt(p: string): string {
  for (let i = p.length - 1; i >= 0 && p[i] !== "/"; i--) if (p[i] === ".") return p.slice(i);
  return "";
}

/** Go's strings.Trim(s, cutset): leading and trailing code points in cutset (linear). */
function trimCutset(s: string, cutset: string): string {
  const cut = new Set(Array.from(cutset, (c) => c.codePointAt(0)!));
  let a = 0;
  while (a < s.length) {
    const cp = s.codePointAt(a)!;
    if (!cut.has(cp)) break;
    a += cp > 0xffff ? 2 : 1;
  }
  let b = s.length;
  while (b > a) {
    const low = s.charCodeAt(b - 1);
    const pair = low >= 0xdc00 && low <= 0xdfff && b - 2 >= a;
    const cp = pair ? s.codePointAt(b - 2)! : low;
    const width = pair && cp > 0xffff ? 2 : 1;
    if (!cut.has(width === 2 ? cp : low)) break;
    b -= width;
  }
  return s.slice(a, b);
}

/** Go's strings.Replace(s, old, new, -1), its size reserved first; "" inserts around each rune. */
function replaceAll(s: string, o: string, n: string): string {
  const parts = o === "" ? ["", ...Array.from(s), ""] : s.split(o);
  reserve(s.length + (parts.length - 1) * (n.length - o.length), "replace");
  return parts.join(n);
}

/** indent/nindent: width bounded, the result's size reserved before it is built. */
function indent(width: number, s: string, prefix: string): string {
  if (width > MAX_INDENT) throw new FuncError(`indent width above ${MAX_INDENT}`);
  const w = Math.max(0, width);
  let lines = 1;
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) lines++;
  reserve(prefix.length + s.length + w * lines, "indent");
  const pad = " ".repeat(w);
  return prefix + pad + s.replaceAll("\n", `\n${pad}`);
}

/** strings.Split: the number of parts reserved (64 bytes each: a map entry) before splitting. */
function splitString(s: string, sep: string): string[] {
  let parts = 1;
  if (sep === "") parts = s.length;
  else for (let i = s.indexOf(sep); i >= 0; i = s.indexOf(sep, i + sep.length)) parts++;
  reserve(64 * parts, "split");
  return sep === "" ? Array.from(s) : s.split(sep);
}

/** JSON, undefined when the text is not JSON (its error message would quote the text). */
function parseJson(s: string): unknown {
  try {
    return parseJsonText(s);
  } catch {
    return undefined;
  }
}

function certPems(cert: unknown): string[] {
  return pemBlocks(toStr(cert)).map((b) => b.text);
}

/** ESO's jwkPrivateKeyPem (PKCS#8 "PRIVATE KEY") and jwkPublicKeyPem (PKIX "PUBLIC KEY"). */
function createPrivateOrPublic(jwk: string, priv: boolean): string {
  const j = JSON.parse(jwk) as import("node:crypto").JsonWebKey;
  if (priv)
    return createPrivateKey({ key: j, format: "jwk" }).export({ type: "pkcs8", format: "pem" }).toString();
  // a private JWK holds its public part too
  return createPublicKey({ key: j, format: "jwk" }).export({ type: "spki", format: "pem" }).toString();
}

function filterCertChain(pem: string, kind: string): string {
  const certs = pemBlocks(pem)
    .filter((b) => b.type === "CERTIFICATE")
    .map((b) => {
      chargeCost(COST.certificate, "certificate parsing");
      return { b, c: new X509Certificate(b.text) };
    });
  const isCA = (c: X509Certificate): boolean => c.ca;
  const pick = certs.filter(({ c }) =>
    kind === "leaf"
      ? !isCA(c)
      : kind === "root"
        ? isCA(c) && c.issuer === c.subject
        : isCA(c) && c.issuer !== c.subject,
  );
  return pick.map(({ b }) => `${b.text}\n`).join("");
}

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  // the modulo once per 5552 bytes (zlib's NMAX: the sums cannot overflow before)
  for (let i = 0; i < buf.length;) {
    const end = Math.min(buf.length, i + 5552);
    for (; i < end; i++) {
      a += buf[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
function base32(buf: Buffer): string {
  const out = Buffer.alloc(Math.ceil(buf.length / 5) * 8, "=");
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const x of buf) {
    value = ((value << 8) | x) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out[o++] = B32.charCodeAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  if (bits > 0) out[o] = B32.charCodeAt((value << (5 - bits)) & 31);
  return out.toString("latin1");
}
function base32dec(s: string): Uint8Array {
  const clean = s.replace(/=+$/, "");
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const i = B32.indexOf(ch);
    if (i < 0) throw new FuncError("illegal base32 data");
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function asDate(d: unknown): Date {
  if (d instanceof Date) return d;
  if (typeof d === "number") return new Date(d * 1000);
  if (d instanceof GoFloat) return new Date(d.value * 1000);
  if (typeof d === "string") return new Date(d);
  return new Date();
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** Go's reference-time layouts (2006-01-02 15:04:05), in UTC or a fixed zone name. */
function goDate(layout: string, d: Date, zone: string): string {
  const utc = zone === "UTC" || zone === "Local" || zone === "";
  const p2 = (n: number): string => String(n).padStart(2, "0");
  const Y = d.getUTCFullYear();
  const M = d.getUTCMonth();
  const D = d.getUTCDate();
  const h = d.getUTCHours();
  const tokens: [string, () => string][] = [
    ["2006", () => String(Y)],
    ["January", () => MONTHS[M]!],
    ["Jan", () => MONTHS[M]!.slice(0, 3)],
    ["Monday", () => DAYS[d.getUTCDay()]!],
    ["Mon", () => DAYS[d.getUTCDay()]!.slice(0, 3)],
    ["MST", () => (utc ? "UTC" : zone)],
    ["Z07:00", () => "Z"],
    ["-07:00", () => "+00:00"],
    ["-0700", () => "+0000"],
    ["01", () => p2(M + 1)],
    ["02", () => p2(D)],
    ["_2", () => String(D).padStart(2, " ")],
    ["15", () => p2(h)],
    ["03", () => p2(h % 12 || 12)],
    ["04", () => p2(d.getUTCMinutes())],
    ["05", () => p2(d.getUTCSeconds())],
    ["06", () => p2(Y % 100)],
    ["PM", () => (h >= 12 ? "PM" : "AM")],
    [".000", () => `.${String(d.getUTCMilliseconds()).padStart(3, "0")}`],
    ["1", () => String(M + 1)],
    ["2", () => String(D)],
    ["3", () => String(h % 12 || 12)],
    ["4", () => String(d.getUTCMinutes())],
    ["5", () => String(d.getUTCSeconds())],
  ];
  // one native pass: the alternation tries the tokens in this order at each position
  const byToken = new Map(tokens);
  const re = new RegExp(tokens.map(([t]) => t.replace(/\./g, "\\.")).join("|"), "g");
  return layout.replace(re, (t) => byToken.get(t)!());
}

function parseGoDate(layout: string, s: string): Date {
  if (layout === "2006-01-02") return new Date(`${s}T00:00:00Z`);
  const d = new Date(s);
  // the text is data: not quoted
  if (Number.isNaN(d.getTime())) throw new FuncError("parsing time: cannot parse the value with the layout");
  return d;
}

function goDuration(seconds: number): string {
  if (seconds === 0) return "0s";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${s}s`;
}
