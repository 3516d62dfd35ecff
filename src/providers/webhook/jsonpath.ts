/**
 * JSONPath as ESO's webhook provider evaluates it (github.com/PaesslerAG/jsonpath): `$` root,
 * `.name`, `['name']`, `[n]` (negative from the end), `[a:b]`, `[a:b:step]`, unions `[a,b]`,
 * wildcards `*`, recursive descent `..`, and filters `[?(...)]` with comparisons (`== != < <= >
 * >=`), `&& || !`, parentheses, literals and `@`/`$` paths. A path without any wildcard, union,
 * slice, filter or `..` yields one value (a missing key is an error); any of those yields the list
 * of matches. No code is evaluated: filters are parsed into a tree and interpreted. Map keys are
 * visited in sorted order. Work is bounded (MAX_NODES) so a path cannot explode on a large answer.
 */
import { CustosError } from "../../util/errors.ts";

const MAX_NODES = 100_000;
const MAX_PATH = 4096;

type Selector =
  | { t: "name"; name: string }
  | { t: "index"; index: number }
  | { t: "wild" }
  | { t: "slice"; start?: number | undefined; end?: number | undefined; step?: number | undefined }
  | { t: "union"; items: (string | number)[] }
  | { t: "filter"; expr: Expr };

interface Segment {
  recursive: boolean;
  sel: Selector;
}

type Expr =
  | { t: "lit"; v: unknown }
  | { t: "path"; root: "@" | "$"; segs: Segment[] }
  | { t: "not"; e: Expr }
  | { t: "bin"; op: string; l: Expr; r: Expr };

function fail(path: string, why: string): CustosError {
  return new CustosError("CUSTOS_INVALID_SPEC", `result.jsonPath "${path}": ${why}`, { retryable: false });
}

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  peek(n = 0): string {
    return this.s[this.i + n] ?? "";
  }
  ws(): void {
    while (/\s/.test(this.peek())) this.i++;
  }
  eat(c: string): boolean {
    if (this.s.startsWith(c, this.i)) {
      this.i += c.length;
      return true;
    }
    return false;
  }
  expect(c: string): void {
    if (!this.eat(c)) throw fail(this.s, `expected "${c}" at ${this.i}`);
  }

  ident(): string {
    const m = /^[A-Za-z0-9_\-$\u0080-\uffff]+/.exec(this.s.slice(this.i));
    if (!m) throw fail(this.s, `expected a name at ${this.i}`);
    this.i += m[0].length;
    return m[0];
  }

  string(): string {
    const q = this.peek();
    this.i++;
    let out = "";
    while (this.i < this.s.length && this.peek() !== q) {
      if (this.peek() === "\\") {
        this.i++;
        const c = this.peek();
        out += c === "n" ? "\n" : c === "t" ? "\t" : c;
      } else out += this.peek();
      this.i++;
    }
    this.expect(q);
    return out;
  }

  number(): number {
    const m = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(this.s.slice(this.i));
    if (!m) throw fail(this.s, `expected a number at ${this.i}`);
    this.i += m[0].length;
    return Number(m[0]);
  }

  /** Segments after `$` or `@`, until something that is not a segment. */
  segments(): Segment[] {
    const segs: Segment[] = [];
    for (;;) {
      if (this.eat("..")) {
        if (this.peek() === "[") segs.push({ recursive: true, sel: this.bracket() });
        else if (this.eat("*")) segs.push({ recursive: true, sel: { t: "wild" } });
        else segs.push({ recursive: true, sel: { t: "name", name: this.ident() } });
      } else if (this.eat(".")) {
        if (this.eat("*")) segs.push({ recursive: false, sel: { t: "wild" } });
        else segs.push({ recursive: false, sel: { t: "name", name: this.ident() } });
      } else if (this.peek() === "[") segs.push({ recursive: false, sel: this.bracket() });
      else return segs;
    }
  }

  bracket(): Selector {
    this.expect("[");
    this.ws();
    let sel: Selector;
    if (this.eat("*")) sel = { t: "wild" };
    else if (this.eat("?")) {
      this.ws();
      this.expect("(");
      const expr = this.or();
      this.ws();
      this.expect(")");
      sel = { t: "filter", expr };
    } else {
      const items: (string | number | undefined)[] = [];
      let slice = false;
      const parts: (number | undefined)[] = [];
      for (;;) {
        this.ws();
        const c = this.peek();
        if (c === "'" || c === '"') items.push(this.string());
        else if (c === ":" || c === "]" || c === ",") items.push(undefined);
        else items.push(this.number());
        this.ws();
        if (this.eat(":")) {
          slice = true;
          parts.push(items.pop() as number | undefined);
          continue;
        }
        if (slice) {
          parts.push(items.pop() as number | undefined);
          break;
        }
        if (!this.eat(",")) break;
      }
      if (slice) {
        if (parts.some((p) => p !== undefined && (typeof p !== "number" || !Number.isInteger(p))))
          throw fail(this.s, "slice bounds must be integers");
        if (parts[2] === 0) throw fail(this.s, "slice step must not be 0");
        sel = { t: "slice", start: parts[0], end: parts[1], step: parts[2] };
      } else if (items.length === 1 && typeof items[0] === "string") sel = { t: "name", name: items[0] };
      else if (items.length === 1 && typeof items[0] === "number") {
        if (!Number.isInteger(items[0])) throw fail(this.s, "an index must be an integer");
        sel = { t: "index", index: items[0] };
      } else {
        if (items.some((x) => x === undefined)) throw fail(this.s, "empty union member");
        sel = { t: "union", items: items as (string | number)[] };
      }
    }
    this.ws();
    this.expect("]");
    return sel;
  }

  or(): Expr {
    let l = this.and();
    for (;;) {
      this.ws();
      if (!this.eat("||")) return l;
      l = { t: "bin", op: "||", l, r: this.and() };
    }
  }
  and(): Expr {
    let l = this.cmp();
    for (;;) {
      this.ws();
      if (!this.eat("&&")) return l;
      l = { t: "bin", op: "&&", l, r: this.cmp() };
    }
  }
  cmp(): Expr {
    const l = this.unary();
    this.ws();
    for (const op of ["==", "!=", "<=", ">=", "<", ">"]) {
      if (this.eat(op)) return { t: "bin", op, l, r: this.unary() };
    }
    return l;
  }
  unary(): Expr {
    this.ws();
    if (this.eat("!")) return { t: "not", e: this.unary() };
    if (this.eat("(")) {
      const e = this.or();
      this.ws();
      this.expect(")");
      return e;
    }
    const c = this.peek();
    if (c === "@" || c === "$") {
      this.i++;
      return { t: "path", root: c, segs: this.segments() };
    }
    if (c === "'" || c === '"') return { t: "lit", v: this.string() };
    if (/[-\d]/.test(c)) return { t: "lit", v: this.number() };
    for (const [w, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.eat(w)) return { t: "lit", v };
    }
    throw fail(this.s, `unexpected "${c}" at ${this.i}`);
  }
}

export interface CompiledPath {
  /** True when the path yields a list (wildcard, union, slice, filter or `..`). */
  multi: boolean;
  segs: Segment[];
}

export function compileJsonPath(path: string): CompiledPath {
  if (path.length > MAX_PATH) throw fail(path.slice(0, 40), `longer than ${MAX_PATH} characters`);
  const p = new Parser(path.trim());
  p.expect("$");
  const segs = p.segments();
  p.ws();
  if (p.i !== p.s.length) throw fail(path, `unexpected "${p.peek()}" at ${p.i}`);
  const multi = segs.some((s) => s.recursive || (s.sel.t !== "name" && s.sel.t !== "index"));
  return { multi, segs };
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);
const sortedKeys = (o: Record<string, unknown>): string[] =>
  Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

class Budget {
  n = 0;
  tick(path: string): void {
    if (++this.n > MAX_NODES) throw fail(path, `visits more than ${MAX_NODES} values`);
  }
}

function children(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (isMap(v)) return sortedKeys(v).map((k) => v[k]);
  return [];
}

function selectOne(
  v: unknown,
  sel: Selector,
  root: unknown,
  out: unknown[],
  budget: Budget,
  path: string,
): void {
  switch (sel.t) {
    case "name":
      if (isMap(v) && Object.hasOwn(v, sel.name)) out.push(v[sel.name]);
      return;
    case "index":
      if (Array.isArray(v)) {
        const i = sel.index < 0 ? v.length + sel.index : sel.index;
        if (i >= 0 && i < v.length) out.push(v[i]);
      }
      return;
    case "wild":
      for (const c of children(v)) {
        budget.tick(path);
        out.push(c);
      }
      return;
    case "union":
      for (const it of sel.items)
        selectOne(
          v,
          typeof it === "number" ? { t: "index", index: it } : { t: "name", name: it },
          root,
          out,
          budget,
          path,
        );
      return;
    case "slice": {
      if (!Array.isArray(v)) return;
      const n = v.length;
      const step = sel.step ?? 1;
      if (step === 0) throw fail(path, "slice step must not be 0");
      const norm = (x: number): number => (x < 0 ? Math.max(0, n + x) : Math.min(n, x));
      if (step > 0) {
        const start = norm(sel.start ?? 0);
        const end = norm(sel.end ?? n);
        for (let i = start; i < end; i += step) {
          budget.tick(path);
          out.push(v[i]);
        }
      } else {
        const start =
          sel.start === undefined ? n - 1 : Math.min(n - 1, sel.start < 0 ? n + sel.start : sel.start);
        const end = sel.end === undefined ? -1 : sel.end < 0 ? n + sel.end : sel.end;
        for (let i = start; i > end && i >= 0; i += step) {
          budget.tick(path);
          out.push(v[i]);
        }
      }
      return;
    }
    case "filter":
      for (const c of children(v)) {
        budget.tick(path);
        if (truthy(evalExpr(sel.expr, c, root, budget, path))) out.push(c);
      }
      return;
  }
}

function walk(values: unknown[], segs: Segment[], root: unknown, budget: Budget, path: string): unknown[] {
  let cur = values;
  for (const seg of segs) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (seg.recursive) {
        // depth first, pre-order: a node's matches, then its children's in key/index order
        const stack: unknown[] = [v];
        while (stack.length) {
          const node = stack.pop();
          budget.tick(path);
          selectOne(node, seg.sel, root, next, budget, path);
          const kids = children(node);
          for (let i = kids.length - 1; i >= 0; i--)
            if (kids[i] !== null && typeof kids[i] === "object") stack.push(kids[i]);
        }
      } else {
        budget.tick(path);
        selectOne(v, seg.sel, root, next, budget, path);
      }
    }
    cur = next;
  }
  return cur;
}

const MISSING = Symbol("missing");

function evalExpr(e: Expr, at: unknown, root: unknown, budget: Budget, path: string): unknown {
  switch (e.t) {
    case "lit":
      return e.v;
    case "path": {
      const r = walk([e.root === "@" ? at : root], e.segs, root, budget, path);
      return r.length ? r[0] : MISSING;
    }
    case "not":
      return !truthy(evalExpr(e.e, at, root, budget, path));
    case "bin": {
      if (e.op === "&&")
        return truthy(evalExpr(e.l, at, root, budget, path)) && truthy(evalExpr(e.r, at, root, budget, path));
      if (e.op === "||")
        return truthy(evalExpr(e.l, at, root, budget, path)) || truthy(evalExpr(e.r, at, root, budget, path));
      const l = evalExpr(e.l, at, root, budget, path);
      const r = evalExpr(e.r, at, root, budget, path);
      if (l === MISSING || r === MISSING) return e.op === "!=";
      switch (e.op) {
        case "==":
          return deepEqual(l, r);
        case "!=":
          return !deepEqual(l, r);
        default: {
          if (!(
            (typeof l === "number" && typeof r === "number") ||
            (typeof l === "string" && typeof r === "string")
          ))
            return false;
          if (e.op === "<") return l < r;
          if (e.op === "<=") return l <= r;
          if (e.op === ">") return l > r;
          return l >= r;
        }
      }
    }
  }
}

function truthy(v: unknown): boolean {
  return v !== MISSING && v !== false && v !== null && v !== undefined;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The value at `path` in `doc`: one value for a plain path (a missing key or index is an error,
 * as Paessler's "unknown key"), the list of matches otherwise.
 */
export function evalJsonPath(path: string, doc: unknown): unknown {
  const compiled = compileJsonPath(path);
  const budget = new Budget();
  if (!compiled.multi) {
    let cur: unknown = doc;
    for (const seg of compiled.segs) {
      const out: unknown[] = [];
      selectOne(cur, seg.sel, doc, out, budget, path);
      if (!out.length) {
        const what = seg.sel.t === "name" ? `unknown key ${seg.sel.name}` : `index out of bounds`;
        throw new CustosError("CUSTOS_PROPERTY_NOT_FOUND", `result.jsonPath "${path}": ${what}`, {
          retryable: false,
        });
      }
      cur = out[0];
    }
    return cur;
  }
  return walk([doc], compiled.segs, doc, budget, path);
}
