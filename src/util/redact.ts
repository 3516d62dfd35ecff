/**
 * Value-based redaction. Every secret value Custos fetches, decrypts or renders is registered here;
 * everything that leaves the process as text (logs, events, conditions, metrics labels, error
 * messages) is passed through `redact()` first. This is the second wall: the first is that
 * messages are built value-free (errors from parsing or templating user values never quote them).
 *
 * Lifetime: a registration belongs to an owner and lasts as long as the owner does — a value is
 * never forgotten while something that holds it is alive, and the set never grows past what is
 * alive. The owner is, in order: the one passed to `add()`; the ambient one of `run()`/`scoped()`
 * (a reconcile, a sealing API request; a session's login); else the process itself (the
 * operator's own credentials), a small FIFO-capped set. An owner's values go when it is
 * `release()`d or garbage-collected (a session dropped from the pool, with everything that held it).
 *
 * Forms: a value is matched as itself and as it appears when quoted or encoded: JSON-escaped (once
 * and twice, and with Go's HTML escapes), Go `%q`, percent-encoded, standard and URL-safe base64
 * (also inside a longer base64 text, at each of the three byte alignments), hex; binary values by
 * their bytes (latin1 and lossy UTF-8 renderings, `%q` with \x escapes), never by a lossy re-encoding.
 *
 * Values shorter than 4 characters are not registered: matched by value they would blank ordinary
 * words and digits across every message; keeping them out of messages is by construction only.
 * Bounds on the work of one call: messages are cut at 64 KiB (so longer values, which could never
 * be found whole, are not registered), and a JSON document registers its first 10,000 leaves.
 *
 * Matching is a trie over 8-character chunks with a 4-gram prefilter: redact() costs about one
 * hash per character of the message, however many values are registered (bench/redact.ts).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { isUtf8 } from "node:buffer";

const MIN_LENGTH = 4; // shorter values would redact ordinary words; see above
/** Values of the process owner (no other owner known) kept at most; the oldest go first. */
const MAX_PROCESS_VALUES = 10_000;
/**
 * Values one owner keeps at most (a long-lived session reading ever-changing values); its least
 * recently (re-)registered go first — a value still in use is registered again on every use.
 */
const MAX_OWNER_VALUES = 50_000;

export const REDACTED = "[REDACTED]";
const TRUNCATED = "…[truncated]";
/** Longest text redacted; the rest is cut off. Longer values are not registered (never found whole). */
const MAX_MESSAGE = 64 * 1024;
/** Leaves of one JSON document registered at most (work per registration stays bounded). */
const MAX_LEAVES = 10_000;

interface OwnerRecord {
  /** Value keys in registration order (a re-registration moves a key to the end). */
  readonly keys: Map<string, true>;
  readonly cap: number;
  dropped: boolean;
}

interface ValueRecord {
  readonly forms: string[];
  owners: number;
}

export class Redactor {
  readonly #values = new Map<string, ValueRecord>();
  readonly #index = new PatternIndex();
  readonly #owners = new WeakMap<object, OwnerRecord>();
  readonly #process: OwnerRecord;
  readonly #ownerCap: number;
  readonly #ambient = new AsyncLocalStorage<object>();
  readonly #finalizer = new FinalizationRegistry<OwnerRecord>((rec) => {
    this.#drop(rec);
  });
  /** Registrations dropped by a cap rather than by their owner's end (should stay 0). */
  evicted = 0;

  constructor(opts: { maxProcessValues?: number; maxOwnerValues?: number } = {}) {
    this.#process = { keys: new Map(), cap: opts.maxProcessValues ?? MAX_PROCESS_VALUES, dropped: false };
    this.#ownerCap = opts.maxOwnerValues ?? MAX_OWNER_VALUES;
  }

  /**
   * Registers a value (string or bytes) and its encoded forms, and the leaf strings of a JSON
   * document, for as long as `owner` (else the ambient owner, else the process) lives.
   */
  add(value: string | Uint8Array, owner?: object): void {
    const rec = this.#record(owner ?? this.#ambient.getStore());
    if (rec.dropped) return;
    const unit = (v: string | Uint8Array): void => {
      // longer than a message is ever kept (see redact): it could never be found whole
      if (v.length > MAX_MESSAGE) return;
      const key = valueKey(v);
      if (key === undefined) return;
      if (rec.keys.has(key)) {
        rec.keys.delete(key); // most recently used last
        rec.keys.set(key, true);
        return;
      }
      rec.keys.set(key, true);
      this.#acquire(key, v);
      if (rec.keys.size > rec.cap) {
        const oldest = rec.keys.keys().next().value!;
        rec.keys.delete(oldest);
        this.#releaseKey(oldest);
        this.evicted++;
      }
    };
    unit(value);
    // JSON documents: their leaf strings are secrets too (a property may be extracted from them).
    const text = typeof value === "string" ? value : undefined;
    if (text !== undefined && text.length > 1 && (text.startsWith("{") || text.startsWith("["))) {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        return; // not JSON
      }
      let leaves = 0;
      collectLeaves(doc, (leaf) => {
        if (++leaves <= MAX_LEAVES) unit(leaf);
      });
    }
  }

  /** Runs `fn` with `owner` as the ambient owner of the values registered inside (and in what it awaits). */
  run<T>(owner: object, fn: () => T): T {
    return this.#ambient.run(owner, fn);
  }

  /** Runs `fn` in a fresh ambient owner, released when `fn` settles (a reconcile, a request). */
  async scoped<T>(fn: () => T | Promise<T>): Promise<T> {
    const owner = {};
    try {
      return await this.#ambient.run(owner, fn);
    } finally {
      this.release(owner);
    }
  }

  /** Forgets what `owner` registered (values other owners hold stay). */
  release(owner: object): void {
    const rec = this.#owners.get(owner);
    if (!rec) return;
    this.#owners.delete(owner);
    this.#finalizer.unregister(rec);
    this.#drop(rec);
  }

  /**
   * `text` with every registered value (in any form) replaced. Texts longer than 64 KiB are cut
   * there (work per message stays bounded): a value across the cut is still redacted whole.
   */
  redact(text: string): string {
    if (this.#values.size === 0 || text.length < MIN_LENGTH) return text;
    const cut = text.length > MAX_MESSAGE;
    // a value (or its encoding) starting before the cut ends within this much more
    const work = cut ? text.slice(0, MAX_MESSAGE + 2 * this.#index.longest + 8) : text;
    const cover = new Coverage();
    this.#index.scan(work, (start, end) => {
      cover.add(start, end);
      return false;
    });
    encodedRuns(this.#index, work, cover);
    if (!cut) return cover.apply(work, REDACTED);
    return `${cover.apply(work, REDACTED, MAX_MESSAGE)}${TRUNCATED}`;
  }

  /** Live values (each counted once however many owners hold it). */
  get size(): number {
    return this.#values.size;
  }

  /** Patterns matched (the values' forms). */
  get patterns(): number {
    return this.#index.size;
  }

  #record(owner: object | undefined): OwnerRecord {
    if (owner === undefined) return this.#process;
    let rec = this.#owners.get(owner);
    if (!rec) {
      rec = { keys: new Map(), cap: this.#ownerCap, dropped: false };
      this.#owners.set(owner, rec);
      this.#finalizer.register(owner, rec, rec);
    }
    return rec;
  }

  #drop(rec: OwnerRecord): void {
    if (rec.dropped) return;
    rec.dropped = true;
    for (const key of rec.keys.keys()) this.#releaseKey(key);
    rec.keys.clear();
  }

  #acquire(key: string, v: string | Uint8Array): void {
    const existing = this.#values.get(key);
    if (existing) {
      existing.owners++;
      return;
    }
    const forms = formsOf(v);
    for (const f of forms) this.#index.add(f);
    this.#values.set(key, { forms, owners: 1 });
  }

  #releaseKey(key: string): void {
    const rec = this.#values.get(key);
    if (!rec) return;
    if (--rec.owners > 0) return;
    this.#values.delete(key);
    for (const f of rec.forms) this.#index.remove(f);
  }
}

/** One key per distinct value: text (or bytes that are valid UTF-8) by its text, other bytes by their bytes. */
function valueKey(v: string | Uint8Array): string | undefined {
  if (typeof v === "string") return v.length >= MIN_LENGTH ? `s${v}` : undefined;
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (isUtf8(b)) return valueKey(b.toString("utf8"));
  return b.length >= MIN_LENGTH ? `b${b.toString("latin1")}` : undefined;
}

function collectLeaves(v: unknown, out: (leaf: string) => void, depth = 0): void {
  if (depth > 20) return;
  if (typeof v === "string") out(v);
  else if (typeof v === "number" && String(v).length >= MIN_LENGTH) out(String(v));
  else if (Array.isArray(v)) for (const x of v) collectLeaves(x, out, depth + 1);
  else if (v !== null && typeof v === "object")
    for (const x of Object.values(v)) collectLeaves(x, out, depth + 1);
}

/**
 * The texts a value may appear as in a message, before any base64/hex encoding (encoded runs are
 * decoded at redact time instead of enumerating every encoding and alignment: a tenth of the memory).
 */
export function formsOf(value: string | Uint8Array): string[] {
  const bytes =
    typeof value === "string"
      ? Buffer.from(value, "utf8")
      : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const out = new Set<string>();
  const add = (t: string): void => {
    if (t.length >= MIN_LENGTH) out.add(t);
  };
  const text = typeof value === "string" ? value : isUtf8(bytes) ? bytes.toString("utf8") : undefined;
  // the bytes one by one: how decoded base64/hex is searched, and how binary shows when printed as latin1
  const latin1 = bytes.toString("latin1");
  const renderings = text !== undefined ? [text, latin1] : [latin1, bytes.toString("utf8")];
  for (const t of renderings) {
    add(t);
    const json = JSON.stringify(t).slice(1, -1);
    add(json);
    add(JSON.stringify(json).slice(1, -1)); // a JSON text inside a JSON string (a log line)
    add(json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)); // Go's encoding/json
  }
  add(goQuote(bytes));
  if (text !== undefined) {
    try {
      add(encodeURIComponent(text));
    } catch {
      /* lone surrogates: not URL-encodable */
    }
  }
  return [...out];
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's strconv.Quote without the surrounding quotes: what `%q` prints for the bytes. */
export function goQuote(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c) {
      out += String.fromCharCode(b); // printable ASCII, the common case
      i++;
      continue;
    }
    const [r, width] = decodeRune(bytes, i);
    if (r < 0) {
      out += `\\x${bytes[i]!.toString(16).padStart(2, "0")}`;
      i += 1;
      continue;
    }
    i += width;
    const c = String.fromCodePoint(r);
    if (c === '"' || c === "\\") out += `\\${c}`;
    else if (PRINTABLE.test(c)) out += c;
    else if (r === 7) out += "\\a";
    else if (r === 8) out += "\\b";
    else if (r === 12) out += "\\f";
    else if (r === 10) out += "\\n";
    else if (r === 13) out += "\\r";
    else if (r === 9) out += "\\t";
    else if (r === 11) out += "\\v";
    else if (r < 0x20 || r === 0x7f) out += `\\x${r.toString(16).padStart(2, "0")}`;
    else if (r < 0x10000) out += `\\u${r.toString(16).padStart(4, "0")}`;
    else out += `\\U${r.toString(16).padStart(8, "0")}`;
  }
  return out;
}

/** One UTF-8 rune at `i`: [code point, width], or [-1, 1] for an invalid byte (as Go's RuneError). */
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const b0 = b[i]!;
  if (b0 < 0x80) return [b0, 1];
  const cont = (k: number): number => {
    const x = b[i + k];
    return x !== undefined && (x & 0xc0) === 0x80 ? x & 0x3f : -1;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    const c1 = cont(1);
    return c1 < 0 ? [-1, 1] : [((b0 & 0x1f) << 6) | c1, 2];
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const c1 = cont(1);
    const c2 = cont(2);
    if (c1 < 0 || c2 < 0) return [-1, 1];
    const r = ((b0 & 0x0f) << 12) | (c1 << 6) | c2;
    return r < 0x800 || (r >= 0xd800 && r <= 0xdfff) ? [-1, 1] : [r, 3];
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const c1 = cont(1);
    const c2 = cont(2);
    const c3 = cont(3);
    if (c1 < 0 || c2 < 0 || c3 < 0) return [-1, 1];
    const r = ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3;
    return r < 0x10000 || r > 0x10ffff ? [-1, 1] : [r, 4];
  }
  return [-1, 1];
}

const CHUNK = 8;
const LEAF_MAX = 8; // remainders kept as a list under one chunk before it becomes a trie node
const PREFILTER_BITS = 21;

/** Under a chunk: a node, or (few patterns: path compression) the remainder(s) after that chunk. */
type Kid = TrieNode | string | Set<string>;

interface TrieNode {
  /** A pattern ends exactly here. */
  end: boolean;
  /** Remainders shorter than a chunk, by length. */
  tails: Map<number, Set<string>> | undefined;
  kids: Map<string, Kid> | undefined;
}

const newNode = (): TrieNode => ({ end: false, tails: undefined, kids: undefined });

/**
 * Multi-pattern matching for many patterns: a trie whose edges are 8-character chunks (few nodes,
 * one map lookup per 8 characters), with path compression at the leaves, behind a prefilter of
 * the patterns' first 4 characters. Finds, at each position, the longest pattern starting there.
 */
class PatternIndex {
  readonly #counts = new Map<string, number>();
  readonly #root = newNode();
  /** Saturating counts of patterns per hash of their first 4 characters. */
  readonly #prefilter = new Uint8Array(1 << PREFILTER_BITS);

  /** The longest pattern ever added (never lowered: only a bound). */
  longest = 0;

  get size(): number {
    return this.#counts.size;
  }

  add(p: string): void {
    const n = this.#counts.get(p) ?? 0;
    this.#counts.set(p, n + 1);
    if (n > 0) return;
    if (p.length > this.longest) this.longest = p.length;
    insert(this.#root, p, 0);
    const h = hash4(p, 0);
    if (this.#prefilter[h]! < 255) this.#prefilter[h]!++;
  }

  remove(p: string): void {
    const n = this.#counts.get(p);
    if (n === undefined) return;
    if (n > 1) {
      this.#counts.set(p, n - 1);
      return;
    }
    this.#counts.delete(p);
    remove(this.#root, p, 0);
    const h = hash4(p, 0);
    if (this.#prefilter[h]! < 255) this.#prefilter[h]!--; // a saturated count stays (a false positive only)
  }

  /** Calls `hit(start, end)` for the longest pattern at each position where one starts; stops when it returns true. */
  scan(text: string, hit: (start: number, end: number) => boolean): void {
    const stop = text.length - MIN_LENGTH;
    for (let i = 0; i <= stop; i++) {
      if (this.#prefilter[hash4(text, i)] === 0) continue;
      const end = longestAt(this.#root, text, i);
      if (end >= 0 && hit(i, end)) return;
    }
  }

  any(text: string): boolean {
    let found = false;
    this.scan(text, () => (found = true));
    return found;
  }
}

/** Covered character ranges, merged when they overlap or touch. */
class Coverage {
  readonly ranges: [number, number][] = [];

  add(start: number, end: number): void {
    this.ranges.push([start, end]);
  }

  /** `text` up to `limit` (default all) with the covered ranges replaced by `by`. */
  apply(text: string, by: string, limit = text.length): string {
    text = text.slice(0, limit);
    const ranges = this.ranges
      .filter(([a]) => a < limit)
      .map(([a, b]): [number, number] => [a, Math.min(b, limit)]);
    this.ranges.length = 0;
    this.ranges.push(...ranges);
    if (!this.ranges.length) return text;
    this.ranges.sort((a, b) => a[0] - b[0]);
    let out = "";
    let last = 0;
    let [s, e] = this.ranges[0]!;
    for (const [a, b] of this.ranges) {
      if (a <= e) {
        if (b > e) e = b;
        continue;
      }
      out += text.slice(last, s) + by;
      last = e;
      [s, e] = [a, b];
    }
    return out + text.slice(last, s) + by + text.slice(e);
  }
}

const BASE64_RUN = /[A-Za-z0-9+/_-]{6,}={0,2}/g;
const HEX_RUN = /[0-9a-fA-F]{8,}/g;

/**
 * Runs that decode (base64 at each of the 4 character alignments, hex at each of 2) to bytes
 * containing a registered value: the whole run is covered.
 */
function encodedRuns(index: PatternIndex, text: string, cover: Coverage): void {
  for (const m of text.matchAll(BASE64_RUN)) {
    const run = m[0];
    let found = false;
    for (let off = 0; off < 4 && off + 6 <= run.length && !found; off++)
      // Node's decoder takes both alphabets (standard and URL-safe) and stops at a partial group
      found = index.any(Buffer.from(run.slice(off), "base64").toString("latin1"));
    // hex digits are base64 characters: hex runs lie inside base64 runs
    for (const h of found ? [] : run.matchAll(HEX_RUN)) {
      for (let off = 0; off < 2 && !found; off++) {
        const even = h[0].slice(off, off + ((h[0].length - off) & ~1));
        found = index.any(Buffer.from(even, "hex").toString("latin1"));
      }
    }
    if (found) cover.add(m.index, m.index + run.length);
  }
}

function hash4(s: string, i: number): number {
  let h = Math.imul(s.charCodeAt(i), 0x9e3779b1);
  h = Math.imul(h ^ s.charCodeAt(i + 1), 0x85ebca6b);
  h = Math.imul(h ^ s.charCodeAt(i + 2), 0xc2b2ae35);
  h = Math.imul(h ^ s.charCodeAt(i + 3), 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> (32 - PREFILTER_BITS);
}

function insert(node: TrieNode, p: string, j: number): void {
  const rem = p.length - j;
  if (rem === 0) {
    node.end = true;
    return;
  }
  if (rem < CHUNK) {
    node.tails ??= new Map();
    let set = node.tails.get(rem);
    if (!set) node.tails.set(rem, (set = new Set()));
    set.add(p.slice(j));
    return;
  }
  node.kids ??= new Map();
  const chunk = p.slice(j, j + CHUNK);
  const rest = p.slice(j + CHUNK);
  const kid = node.kids.get(chunk);
  if (kid === undefined) {
    node.kids.set(chunk, rest);
  } else if (typeof kid === "string") {
    if (kid !== rest) node.kids.set(chunk, new Set([kid, rest]));
  } else if (kid instanceof Set) {
    kid.add(rest);
    if (kid.size > LEAF_MAX) {
      const n = newNode();
      for (const r of kid) insert(n, r, 0);
      node.kids.set(chunk, n);
    }
  } else {
    insert(kid, p, j + CHUNK);
  }
}

/** Removes `p`; returns whether the node is now empty. */
function remove(node: TrieNode, p: string, j: number): boolean {
  const rem = p.length - j;
  if (rem === 0) node.end = false;
  else if (rem < CHUNK) {
    const set = node.tails?.get(rem);
    set?.delete(p.slice(j));
    if (set?.size === 0) node.tails!.delete(rem);
  } else {
    const chunk = p.slice(j, j + CHUNK);
    const rest = p.slice(j + CHUNK);
    const kid = node.kids?.get(chunk);
    if (typeof kid === "string") {
      if (kid === rest) node.kids!.delete(chunk);
    } else if (kid instanceof Set) {
      kid.delete(rest);
      if (kid.size === 1) node.kids!.set(chunk, kid.values().next().value!);
    } else if (kid && remove(kid, p, j + CHUNK)) node.kids!.delete(chunk);
  }
  return !node.end && !node.tails?.size && !node.kids?.size;
}

/** The end of the longest pattern starting at `i`, or -1. */
function longestAt(root: TrieNode, text: string, i: number): number {
  let best = -1;
  let node = root;
  let j = i;
  for (;;) {
    if (node.end && j > i) best = j;
    if (node.tails)
      for (const [len, set] of node.tails)
        if (j + len <= text.length && j + len > best && set.has(text.slice(j, j + len))) best = j + len;
    if (!node.kids || j + CHUNK > text.length) return best;
    const kid = node.kids.get(text.slice(j, j + CHUNK));
    if (kid === undefined) return best;
    j += CHUNK;
    if (typeof kid === "string")
      return text.startsWith(kid, j) && j + kid.length > best ? j + kid.length : best;
    if (kid instanceof Set) {
      for (const r of kid) if (j + r.length > best && text.startsWith(r, j)) best = j + r.length;
      return best;
    }
    node = kid;
  }
}

/** The process-wide redactor used by logs, events, conditions and metrics. */
export const redactor = new Redactor();
