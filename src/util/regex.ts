/**
 * The one entry point for user-supplied regular expressions (templates, rewrites, find, store
 * conditions, Reloader annotations). Patterns run on re2js, a linear-time RE2 engine with Go's
 * syntax (`(?P<name>)`, `\pL`, `[[:alpha:]]`, `\Q..\E`, no backreferences or lookaround), and the
 * operations below reproduce Go's `regexp` package exactly: ESO, Vault and Reloader are Go, so a
 * pattern means here what it means there (docs/adr/0005-regular-expressions.md).
 *
 * Linear is not free: the cost of one search is about (program size x input length), and a loop
 * over all matches can repeat it, so every operation is bounded (REGEX_LIMITS) and fails with a
 * CustosError instead of stalling the event loop. Error messages name the problem and never quote
 * the pattern or the input: in templates either may be a secret value.
 */
import { RE2JS, RE2JSSyntaxException, type Matcher } from "re2js";
import { CustosError } from "./errors.ts";

export const REGEX_LIMITS = {
  /** Characters in a pattern. Store conditions and rewrites are short; this leaves room. */
  maxPatternLength: 16_384,
  /** Instructions in the compiled program (Go allows 3.3 million; ~150 bytes each here). */
  maxProgramSize: 20_000,
  /** Characters of input to one operation. */
  maxInputLength: 1 << 20,
  /** Program size x (input length + 1): a bound on one search's work (0.2-0.4 s at worst here). */
  maxWork: 10_000_000,
  /** Matches a findAll/split/replaceAll may produce. */
  maxResults: 100_000,
  /** Characters a replaceAll may produce. */
  maxOutputLength: 2 << 20,
  /** Wall-clock backstop for loops over matches (leftmost-first search can rescan the tail). */
  maxMillis: 1000,
  /** Default RegexBudget: estimated milliseconds for one batch (a rewrite list, a find). */
  budgetMs: 500,
  /** Compiled patterns kept, and their summed program sizes. */
  cacheEntries: 128,
  cacheProgramSize: 200_000,
  /** A pattern's lazy DFA is cleared after an operation once its estimated size passes this. */
  dfaTrimBytes: 256 << 10,
} as const;

/** Units of work (instructions x characters) per millisecond at the slowest (NFA) rate here. */
const WORK_PER_MS = 30_000;

type Limits = { -readonly [K in keyof typeof REGEX_LIMITS]: number };
const limits: Limits = { ...REGEX_LIMITS };

/** For tests: override some limits; returns a function restoring the previous values. */
export function setRegexLimitsForTest(over: Partial<Limits>): () => void {
  const saved = { ...limits };
  Object.assign(limits, over);
  return () => {
    Object.assign(limits, saved);
    clearRegexCache();
  };
}

function limitError(message: string): CustosError {
  return new CustosError("CUSTOS_REGEX_LIMIT", message, { retryable: false });
}

/** A piece of a parsed Expand template: literal text, a group number or a group name. */
type Piece = string | { group: number } | { name: string };

/** The re2js DFA fields we read to bound its memory (declared in re2js's types, pinned version). */
interface DfaCache {
  stateBudget: number;
  memBudget: number;
  clearCache(): void;
}

export class GoRegexp {
  readonly source: string;
  readonly #re: RE2JS;
  readonly #programSize: number;
  /** Go's SubexpNames: index 0 is the whole match, "" for unnamed groups. */
  readonly subexpNames: readonly string[];

  constructor(source: string, re: RE2JS, renamed?: ReadonlyMap<string, string>) {
    this.source = source;
    this.#re = re;
    this.#programSize = re.programSize();
    const names: string[] = new Array<string>(re.groupCount() + 1).fill("");
    for (const [name, i] of Object.entries(re.namedGroups())) names[i] = renamed?.get(name) ?? name;
    this.subexpNames = names;
  }

  get programSize(): number {
    return this.#programSize;
  }

  /**
   * Worst-case milliseconds of one search over `s` (program x input at the slowest rate measured,
   * bench/regex.ts): what a caller with a time budget (templates) charges before running it.
   */
  estimateMs(s: string): number {
    return (this.#programSize * (s.length + 1)) / WORK_PER_MS;
  }

  get numSubexp(): number {
    return this.subexpNames.length - 1;
  }

  /** Go's MatchString: whether the pattern matches anywhere in `s`. */
  test(s: string): boolean {
    this.#checkInput(s);
    try {
      return this.#re.test(s);
    } finally {
      this.#trimDfa();
    }
  }

  /** Go's FindString: the leftmost match, "" when there is none. */
  find(s: string): string {
    this.#checkInput(s);
    try {
      const m = this.#re.matcher(s);
      return m.find(0) ? s.slice(m.start(), m.end()) : "";
    } finally {
      this.#trimDfa();
    }
  }

  /** Go's FindStringSubmatch: the match and its groups ("" for a group that did not take part). */
  findSubmatch(s: string): string[] | null {
    this.#checkInput(s);
    try {
      const m = this.#re.matcher(s);
      if (!m.find(0)) return null;
      const out: string[] = [];
      for (let i = 0; i <= this.numSubexp; i++) out.push(m.start(i) < 0 ? "" : s.slice(m.start(i), m.end(i)));
      return out;
    } finally {
      this.#trimDfa();
    }
  }

  /** Go's FindAllString: up to `n` successive matches (all when n < 0). */
  findAll(s: string, n: number): string[] {
    return this.#allIndex(s, n).map(([a, b]) => s.slice(a, b));
  }

  /** Go's ReplaceAllString: `$1`, `${1}`, `$name`, `${name}` expanded; `$$` is "$". */
  replaceAll(s: string, template: string): string {
    const pieces = parseTemplate(template);
    return this.#replace(s, (m, out) => {
      for (const p of pieces) {
        if (typeof p === "string") out.push(p);
        else {
          const i = "group" in p ? p.group : this.#groupByName(m, p.name);
          if (i >= 0 && i <= this.numSubexp && m.start(i) >= 0) out.push(s.slice(m.start(i), m.end(i)));
        }
      }
    });
  }

  /** Go's ReplaceAllLiteralString: `repl` inserted as is. */
  replaceAllLiteral(s: string, repl: string): string {
    return this.#replace(s, (_m, out) => {
      out.push(repl);
    });
  }

  /**
   * Go's Split: n > 0 at most n substrings (the last one the unsplit remainder), n == 0 none,
   * n < 0 all of them.
   */
  split(s: string, n: number): string[] {
    if (n === 0) return [];
    if (this.source.length > 0 && s.length === 0) return [""];
    const matches = this.#allIndex(s, n);
    const out: string[] = [];
    let beg = 0;
    let end = 0;
    for (const [a, b] of matches) {
      if (n > 0 && out.length === n - 1) break;
      end = a;
      if (b !== 0) out.push(s.slice(beg, end));
      beg = b;
    }
    if (end !== s.length) out.push(s.slice(beg));
    return out;
  }

  #groupByName(m: Matcher, name: string): number {
    // Go takes the first group of that name that took part in the match
    for (let i = 1; i < this.subexpNames.length; i++)
      if (this.subexpNames[i] === name && m.start(i) >= 0) return i;
    return -1;
  }

  /** Go's allMatches: an empty match right after the previous match is skipped. */
  #allIndex(s: string, n: number): [number, number][] {
    this.#checkInput(s);
    const max = n < 0 ? s.length + 1 : n;
    const out: [number, number][] = [];
    const deadline = performance.now() + limits.maxMillis;
    const m = this.#re.matcher(s);
    try {
      let pos = 0;
      let prevMatchEnd = -1;
      while (out.length < max && pos <= s.length) {
        if (!m.find(pos)) break;
        const a = m.start();
        const b = m.end();
        let accept = true;
        if (b === pos) {
          if (a === prevMatchEnd) accept = false;
          pos += Math.max(1, runeWidth(s, pos));
        } else {
          pos = b;
        }
        prevMatchEnd = b;
        if (accept) {
          out.push([a, b]);
          if (out.length > limits.maxResults)
            throw limitError(`regular expression: more than ${limits.maxResults} matches`);
        }
        checkDeadline(deadline);
      }
      return out;
    } finally {
      this.#trimDfa();
    }
  }

  /** Go's replaceAll loop; `expand` appends the replacement for the current match to `out`. */
  #replace(s: string, expand: (m: Matcher, out: string[]) => void): string {
    this.#checkInput(s);
    const out: string[] = [];
    let size = 0;
    let count = 0;
    const deadline = performance.now() + limits.maxMillis;
    const m = this.#re.matcher(s);
    try {
      let lastMatchEnd = 0;
      let searchPos = 0;
      while (searchPos <= s.length) {
        if (!m.find(searchPos)) break;
        const a = m.start();
        const b = m.end();
        out.push(s.slice(lastMatchEnd, a));
        size += a - lastMatchEnd;
        // no replacement for an empty match right after the previous one (Go's rule)
        if (b > lastMatchEnd || a === 0) {
          const before = out.length;
          expand(m, out);
          for (let i = before; i < out.length; i++) size += out[i]!.length;
          if (++count > limits.maxResults)
            throw limitError(`regular expression: more than ${limits.maxResults} replacements`);
        }
        if (size > limits.maxOutputLength)
          throw limitError(
            `regular expression: replacement result exceeds ${limits.maxOutputLength} characters`,
          );
        lastMatchEnd = b;
        const width = runeWidth(s, searchPos);
        if (searchPos + width > b) searchPos += width;
        else if (searchPos + 1 > b) searchPos++;
        else searchPos = b;
        checkDeadline(deadline);
      }
      out.push(s.slice(lastMatchEnd));
      size += s.length - lastMatchEnd;
      if (size > limits.maxOutputLength)
        throw limitError(
          `regular expression: replacement result exceeds ${limits.maxOutputLength} characters`,
        );
      return out.join("");
    } finally {
      this.#trimDfa();
    }
  }

  #checkInput(s: string): void {
    if (s.length > limits.maxInputLength)
      throw limitError(
        `regular expression: input of ${s.length} characters exceeds ${limits.maxInputLength}`,
      );
    if (this.#programSize * (s.length + 1) > limits.maxWork)
      throw limitError(
        `regular expression too costly for this input: ${this.#programSize} instructions x ${s.length} characters exceeds ${limits.maxWork}`,
      );
  }

  /** Bytes re2js estimates its lazy DFA for this pattern holds (grows with the input seen). */
  get dfaBytes(): number {
    const dfa = this.#dfa();
    return dfa ? dfa.stateBudget - dfa.memBudget : 0;
  }

  #dfa(): DfaCache | null {
    return (this.#re.re2() as unknown as { lazyDFA: DfaCache | null }).lazyDFA;
  }

  /** Cleared once large, so that cached patterns stay small. */
  #trimDfa(): void {
    if (this.dfaBytes > limits.dfaTrimBytes) this.#dfa()?.clearCache();
  }
}

function checkDeadline(deadline: number): void {
  if (performance.now() > deadline)
    throw limitError(`regular expression: matching took longer than ${limits.maxMillis} ms`);
}

/** UTF-16 units of the code point at `i` (Go advances by one rune); 0 at the end. */
function runeWidth(s: string, i: number): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/**
 * Go's Regexp.Expand template, parsed once: `$$` is "$"; `$name` takes the longest run of
 * letters, digits and "_"; `${name}` is braced; a name of digits only (no leading zero, below
 * 1e9) is a group number; anything malformed leaves the "$" as text.
 */
export function parseTemplate(template: string): Piece[] {
  const out: Piece[] = [];
  let lit = "";
  let t = template;
  for (;;) {
    const k = t.indexOf("$");
    if (k < 0) break;
    lit += t.slice(0, k);
    t = t.slice(k + 1);
    if (t.startsWith("$")) {
      lit += "$";
      t = t.slice(1);
      continue;
    }
    const ex = extract(t);
    if (!ex) {
      lit += "$";
      continue;
    }
    t = ex.rest;
    if (lit) out.push(lit);
    lit = "";
    out.push(ex.num >= 0 ? { group: ex.num } : { name: ex.name });
  }
  lit += t;
  if (lit) out.push(lit);
  return out;
}

function extract(str: string): { name: string; num: number; rest: string } | undefined {
  if (str === "") return undefined;
  let s = str;
  const brace = s.startsWith("{");
  if (brace) s = s.slice(1);
  let i = 0;
  while (i < s.length) {
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (!NAME_CHAR.test(ch)) break;
    i += ch.length;
  }
  if (i === 0) return undefined;
  const name = s.slice(0, i);
  if (brace) {
    if (i >= s.length || s[i] !== "}") return undefined;
    i++;
  }
  let num = 0;
  for (const c of name) {
    if (c < "0" || c > "9" || num >= 1e8) {
      num = -1;
      break;
    }
    num = num * 10 + (c.charCodeAt(0) - 48);
  }
  if (name.startsWith("0") && name.length > 1) num = -1;
  return { name, num, rest: s.slice(i) };
}

/** Go's QuoteMeta: every metacharacter escaped with a backslash. */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

// Least-recently-used cache of compiled patterns: Map keeps insertion order, a hit re-inserts.
const cache = new Map<string, GoRegexp>();
let cachedProgramSize = 0;

function remember(source: string, re: GoRegexp): void {
  cache.set(source, re);
  cachedProgramSize += re.programSize;
  for (const [k, v] of cache) {
    if (cache.size <= limits.cacheEntries && cachedProgramSize <= limits.cacheProgramSize) break;
    cache.delete(k);
    cachedProgramSize -= v.programSize;
  }
}

/** For tests and metrics. */
export function regexCacheStats(): { entries: number; programSize: number } {
  return { entries: cache.size, programSize: cachedProgramSize };
}

export function clearRegexCache(): void {
  cache.clear();
  cachedProgramSize = 0;
}

/** Pattern characters parsed, and instructions compiled, per millisecond (~1 µs each here). */
const COMPILE_PER_MS = 1_000;

/**
 * A time budget over a batch of regex operations (one rewrite list, one find, one annotation):
 * each compile and search is charged its worst-case estimate, and going over is
 * CUSTOS_REGEX_LIMIT. Estimates, not clocks, so the same spec always gets the same answer.
 * `onCharge` lets a caller with its own meter (templates) take the charges instead.
 */
export class RegexBudget {
  readonly ms: number;
  #left: number;
  readonly #onCharge: ((ms: number) => void) | undefined;

  constructor(ms: number = limits.budgetMs, onCharge?: (ms: number) => void) {
    this.ms = ms;
    this.#left = ms;
    this.#onCharge = onCharge;
  }

  /**
   * compileRegex, charged for parsing the text and building the program even when cached, so
   * that the answer does not depend on what else is in the cache.
   */
  compile(source: string): GoRegexp {
    this.#charge(source.length / COMPILE_PER_MS);
    const re = compileRegex(source);
    this.#charge(re.programSize / COMPILE_PER_MS);
    return re;
  }

  /** Charges one search of `re` over `s`; returns `re` for chaining. */
  search(re: GoRegexp, s: string): GoRegexp {
    this.#charge(re.estimateMs(s));
    return re;
  }

  #charge(ms: number): void {
    this.#left -= ms;
    this.#onCharge?.(ms);
    if (this.#left < 0) throw limitError(`regular expressions here would take more than ${this.ms} ms`);
  }
}

/** Go's regexp.Compile, cached. Throws CUSTOS_REGEX_INVALID or CUSTOS_REGEX_LIMIT. */
export function compileRegex(source: string): GoRegexp {
  const hit = cache.get(source);
  if (hit) {
    cache.delete(source);
    cache.set(source, hit);
    return hit;
  }
  if (source.length > limits.maxPatternLength)
    throw limitError(`regular expression of ${source.length} characters exceeds ${limits.maxPatternLength}`);
  // Go patterns are UTF-8; a lone surrogate has no UTF-8 form
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(source))
    throw new CustosError("CUSTOS_REGEX_INVALID", "invalid regular expression: invalid UTF-8", {
      retryable: false,
    });
  // compiling costs ~150 bytes and ~1 µs per instruction: a short pattern with counted repeats
  // ("[\s\S]{1000}" x 1000) would take seconds and hundreds of MB before the exact check below
  if (roughProgramSize(source) > 2 * limits.maxProgramSize)
    throw limitError(`regular expression would compile to more than ${limits.maxProgramSize} instructions`);
  let g: GoRegexp;
  try {
    g = new GoRegexp(source, RE2JS.compile(source));
  } catch (e) {
    // Go accepts a group name twice, RE2/J does not: compile with the repeats renamed
    const dup = e instanceof RE2JSSyntaxException && e.error === "duplicate capture group name";
    const renamed = dup ? renameDuplicateGroups(source) : undefined;
    try {
      if (!renamed) throw e;
      g = new GoRegexp(source, RE2JS.compile(renamed.pattern), renamed.original);
    } catch (e2) {
      throw new CustosError("CUSTOS_REGEX_INVALID", `invalid regular expression: ${describe(e2)}`, {
        retryable: false,
      });
    }
  }
  if (g.programSize > limits.maxProgramSize)
    throw limitError(
      `regular expression compiles to ${g.programSize} instructions, more than ${limits.maxProgramSize}`,
    );
  remember(source, g);
  return g;
}

/**
 * A cheap estimate of the compiled program's size, read from the pattern text: every atom counts
 * one, a group its contents, and a counted repeat multiplies what it repeats. Never below half of
 * re2js's own count for large programs, at most about twice it (see the unit test), which is all
 * the pre-compile check needs.
 */
export function roughProgramSize(p: string): number {
  const stack: { total: number; last: number }[] = [{ total: 0, last: 0 }];
  const top = () => stack[stack.length - 1]!;
  const atom = (n: number): void => {
    top().total += n;
    top().last = n;
  };
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (c === "\\") {
      const d = p[i + 1];
      if (d === "Q") {
        const e = p.indexOf("\\E", i + 2);
        const end = e < 0 ? p.length : e;
        for (let k = i + 2; k < end; k++) atom(1);
        i = e < 0 ? p.length : e + 2;
      } else if ((d === "p" || d === "P" || d === "x") && p[i + 2] === "{") {
        const e = p.indexOf("}", i);
        i = e < 0 ? p.length : e + 1;
        atom(1);
      } else {
        i += 2;
        atom(1);
      }
    } else if (c === "[") {
      i = classEnd(p, i);
      atom(1);
    } else if (c === "(") {
      const flags = /^\(\?[imsU-]*\)/.exec(p.slice(i, i + 20));
      if (flags) {
        i += flags[0].length; // "(?i)": flags, not a group
        continue;
      }
      const open = /^\(\?(?:P?<\w+>|[imsU-]*:)/.exec(p.slice(i, i + 300));
      i += open ? open[0].length : 1;
      stack.push({ total: 0, last: 0 });
    } else if (c === ")") {
      i++;
      if (stack.length > 1) atom(stack.pop()!.total + 2);
    } else if (c === "|") {
      top().total += 1;
      top().last = 0;
      i++;
    } else {
      const rep = c === "{" ? /^\{(\d{1,7})(,(\d{0,7}))?\}/.exec(p.slice(i, i + 20)) : null;
      if (rep) {
        const n = Number(rep[1]);
        const k = rep[2] ? (rep[3] ? Number(rep[3]) : n + 1) : n;
        const t = top();
        t.total += t.last * Math.max(0, k - 1) + k;
        t.last *= k;
        i += rep[0].length;
      } else if (c === "*" || c === "+" || c === "?") {
        top().total += 1;
        i++;
      } else {
        atom(1);
        i += c.charCodeAt(0) >= 0xd800 && c.charCodeAt(0) <= 0xdbff ? 2 : 1;
      }
    }
  }
  while (stack.length > 1) atom(stack.pop()!.total + 2);
  return stack[0]!.total;
}

/** The index after the character class opening at `i` (`[]a]`, `[^]a]`, `[[:alpha:]]`, escapes). */
function classEnd(p: string, start: number): number {
  let i = start + 1;
  if (p[i] === "^") i++;
  if (p[i] === "]") i++; // a leading "]" is a member
  while (i < p.length && p[i] !== "]") {
    const close = p.startsWith("[:", i) ? p.indexOf(":]", i + 2) : -1;
    if (close >= 0) i = close + 2;
    else i += p[i] === "\\" ? 2 : 1;
  }
  return i + 1;
}

const GROUP_NAME = /^\(\?P?<(\w+)>/;

/**
 * `(?P<n>a)(?P<n>b)` as `(?P<n>a)(?P<n_2>b)`, with a map from the new names back to "n". Skips
 * escapes, `\Q..\E` and character classes, where "(?P<" is text.
 */
export function renameDuplicateGroups(p: string): { pattern: string; original: Map<string, string> } {
  const groups: { at: number; name: string }[] = [];
  let i = 0;
  while (i < p.length) {
    if (p[i] === "\\") {
      if (p[i + 1] === "Q") {
        const e = p.indexOf("\\E", i + 2);
        i = e < 0 ? p.length : e + 2;
      } else i += 2;
    } else if (p[i] === "[") {
      i = classEnd(p, i);
    } else {
      const m = p[i] === "(" ? GROUP_NAME.exec(p.slice(i, i + 1024)) : null;
      if (m) groups.push({ at: i + m[0].length - 1 - m[1]!.length, name: m[1]! });
      i++;
    }
  }
  const taken = new Set(groups.map((g) => g.name));
  const seen = new Set<string>();
  const original = new Map<string, string>();
  let out = "";
  let from = 0;
  for (const g of groups) {
    if (!seen.has(g.name)) {
      seen.add(g.name);
      continue;
    }
    let k = 2;
    while (taken.has(`${g.name}_${k}`)) k++;
    const fresh = `${g.name}_${k}`;
    taken.add(fresh);
    original.set(fresh, g.name);
    out += p.slice(from, g.at) + fresh;
    from = g.at + g.name.length;
  }
  return { pattern: out + p.slice(from), original };
}

/** The RE2 error kind ("missing closing )", "invalid repeat count"...) without the fragment. */
function describe(e: unknown): string {
  if (e instanceof RE2JSSyntaxException) return e.error;
  // a parser recursing past the stack on a deeply nested pattern
  if (e instanceof RangeError) return "expression nests too deeply";
  return "cannot compile";
}

/**
 * compileRegex for a pattern written in an object's spec: any problem is CUSTOS_INVALID_SPEC
 * naming the field (only a spec change fixes it), with the regex error as its cause.
 */
export function compileSpecRegex(source: string, field: string, budget?: RegexBudget): GoRegexp {
  try {
    return budget ? budget.compile(source) : compileRegex(source);
  } catch (e) {
    throw specError(e, field);
  }
}

/** A regex error (compile or limit) as CUSTOS_INVALID_SPEC naming the field; others unchanged. */
export function specError(e: unknown, field: string): unknown {
  if (e instanceof CustosError && (e.code === "CUSTOS_REGEX_INVALID" || e.code === "CUSTOS_REGEX_LIMIT"))
    return new CustosError("CUSTOS_INVALID_SPEC", `${field}: ${e.message}`, { cause: e, retryable: false });
  return e;
}

/**
 * Go's MatchString for a spec pattern over many inputs (the names a find lists) within one
 * budget; compile or limit problems are CUSTOS_INVALID_SPEC naming the field.
 */
export function specMatcher(
  source: string,
  field: string,
  budget = new RegexBudget(),
): { test(s: string): boolean } {
  const re = compileSpecRegex(source, field, budget);
  return {
    test: (s) => {
      try {
        return budget.search(re, s).test(s);
      } catch (e) {
        throw specError(e, field);
      }
    },
  };
}

/** Go's regexp.MatchString(pattern, s). */
export function matchString(pattern: string, s: string): boolean {
  return compileRegex(pattern).test(s);
}
