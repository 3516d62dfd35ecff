/**
 * Go text/template evaluation with Go's truthiness and printing and `missingkey` modes, made safe
 * for templates from tenants' resources: every render runs on a budget (steps, bytes, cost, see
 * budget.ts), maps are read through own properties only (maps.ts), and errors quote the template
 * source but never a data value.
 */
import type { Node, Operand, ParsedTemplate, Pipe } from "./parser.ts";
import { TemplateBudgetError, TemplateError } from "./errors.ts";
import { BudgetExceeded, Meter, sessionMeter, sizeOf, withMeter } from "./budget.ts";
import { FuncError, hasOwnKey, isGoMap, ownGet, ownKeys, toTemplateValue } from "./maps.ts";
import { formatValue, isTrue } from "./values.ts";

export type Func = (...args: unknown[]) => unknown;

export interface TemplateLimits {
  /** Evaluation steps (nodes, operands, calls, iterations, nodes visited by deep walks). */
  maxSteps: number;
  /** Bytes of the rendered output. */
  maxOutputBytes: number;
  /** Nesting of {{template}} calls. */
  maxDepth: number;
  /** Bytes of intermediate values produced and consumed by functions (see budget.ts). */
  maxBytes: number;
  /** Estimated milliseconds of expensive functions (bcrypt, key generation, PKCS#12). */
  maxCost: number;
  /** Wall-clock backstop in milliseconds (the budgets above normally stop a render first). */
  maxMillis: number;
}

export const DEFAULT_LIMITS: TemplateLimits = {
  maxSteps: 1_000_000,
  maxOutputBytes: 4 * 1024 * 1024,
  maxDepth: 100,
  maxBytes: 32 * 1024 * 1024,
  maxCost: 1_000,
  maxMillis: 2_000,
};

export interface ExecOptions {
  missingKey: "error" | "zero" | "default";
  funcs: Map<string, Func>;
  limits: TemplateLimits;
}

/** Control flow of {{break}} and {{continue}}: returned by walk (no exception, no stack trace). */
type Flow = "break" | "continue" | undefined;

/** Marks a lookup that found nothing (printed as "<no value>"). */
export const NO_VALUE = Symbol("no value");

/** Shown instead of a fail/required message computed from data (it could carry a secret). */
const WITHHELD =
  "(message withheld: fail and required show only string literals of the template, never computed values)";

/**
 * Runs a template. The output is a list of chunks: text, and the exact bytes of binary values
 * (Go strings are bytes; a value that is not UTF-8 reaches templates as a Uint8Array).
 */
export function execute(
  name: string,
  source: string,
  tpl: ParsedTemplate,
  input: unknown,
  opts: ExecOptions,
): (string | Uint8Array)[] {
  const out: (string | Uint8Array)[] = [];
  let size = 0;
  let lastPos = 0;
  const meter = sessionMeter() ?? new Meter(opts.limits);
  meter.startRender();
  const fail = (pos: number, msg: string): never => {
    throw new TemplateError(name, source, pos, msg);
  };
  const step = (pos: number): void => {
    lastPos = pos;
    meter.step();
  };
  const write = (s: string | Uint8Array, pos: number): void => {
    out.push(s);
    size += s.length;
    if (size > opts.limits.maxOutputBytes)
      throw new TemplateBudgetError(
        name,
        source,
        pos,
        `template output exceeds ${opts.limits.maxOutputBytes} bytes`,
      );
  };

  type Scope = Map<string, unknown>[];

  function field(value: unknown, names: string[], pos: number, receiverDesc: string): unknown {
    let v = value;
    for (const n of names) {
      step(pos);
      if (v === NO_VALUE || v === undefined || v === null) {
        if (opts.missingKey === "error" || v === null)
          fail(
            pos,
            `executing "${name}" at <${receiverDesc}.${n}>: nil pointer evaluating interface {}.${n}`,
          );
        return NO_VALUE;
      }
      // own entries of maps only: no prototype, method or internal property is reachable
      if (!isGoMap(v))
        fail(
          pos,
          `executing "${name}" at <${receiverDesc}.${n}>: can't evaluate field ${n} in type ${goType(v)}`,
        );
      const m = v as Parameters<typeof hasOwnKey>[0];
      if (!hasOwnKey(m, n)) {
        if (opts.missingKey === "error")
          fail(pos, `executing "${name}" at <${receiverDesc}.${n}>: map has no entry for key "${n}"`);
        return NO_VALUE;
      }
      v = ownGet(m, n);
    }
    return v;
  }

  function lookupVar(scope: Scope, n: string, pos: number): unknown {
    for (let i = scope.length - 1; i >= 0; i--) if (scope[i]!.has(n)) return scope[i]!.get(n);
    return fail(pos, `undefined variable: ${n}`);
  }

  function setVar(scope: Scope, n: string, v: unknown): void {
    for (let i = scope.length - 1; i >= 0; i--) {
      if (scope[i]!.has(n)) {
        scope[i]!.set(n, v);
        return;
      }
    }
    scope[scope.length - 1]!.set(n, v);
  }

  function arg(op: Operand, dot: unknown, scope: Scope): unknown {
    step(op.pos);
    switch (op.type) {
      case "dot":
        return dot;
      case "nil":
        return null;
      case "string":
      case "bool":
        return op.value;
      case "number":
        return op.isFloat ? new GoFloat(op.value as number) : op.value;
      case "field":
        return field(dot, op.names, op.pos, "");
      case "var":
        return field(lookupVar(scope, op.name, op.pos), op.names, op.pos, op.name);
      case "pipe":
        return field(pipe(op.pipe, dot, scope), op.names, op.pos, "");
      case "ident": {
        const f = opts.funcs.get(op.name)!;
        return call(op.name, f, [], op.pos);
      }
    }
  }

  function call(fname: string, f: Func, rawArgs: unknown[], pos: number): unknown {
    step(pos);
    const args = rawArgs.map((a) => (a === NO_VALUE ? undefined : a));
    // fail and required show their message only when it is a literal of the template itself
    if ((fname === "fail" || fname === "required") && args.length && !isLiteral(args[0])) args[0] = WITHHELD;
    // strings and bytes a function reads are charged: most functions are linear in them
    for (const a of args) if (typeof a === "string" || a instanceof Uint8Array) meter.bytesUsed(sizeOf(a));
    let result: unknown;
    try {
      result = f(...args);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      if (e instanceof BudgetExceeded) throw new TemplateBudgetError(name, source, pos, e.message);
      return fail(pos, `executing "${name}" at <${fname}>: error calling ${fname}: ${safeMessage(e)}`);
    }
    // new values are charged; a function handing back one of its arguments (set, default) is not
    if (!args.includes(result)) meter.bytesUsed(sizeOf(result));
    return result;
  }

  function isLiteral(v: unknown): boolean {
    return typeof v === "string" && tpl.literals.has(v);
  }

  function command(cmd: Operand[], dot: unknown, scope: Scope, final: unknown, hasFinal: boolean): unknown {
    const [first, ...rest] = cmd as [Operand, ...Operand[]];
    if (first.type === "ident") {
      const fname = first.name;
      if (fname === "and" || fname === "or") {
        const thunks = [...rest.map((o) => () => arg(o, dot, scope)), ...(hasFinal ? [() => final] : [])];
        if (!thunks.length) fail(first.pos, `wrong number of args for ${fname}: want at least 1 got 0`);
        let v: unknown;
        for (const t of thunks) {
          v = t();
          if (fname === "and" ? !isTrue(v) : isTrue(v)) return v;
        }
        return v;
      }
      const args = rest.map((o) => arg(o, dot, scope));
      if (hasFinal) args.push(final);
      return call(fname, opts.funcs.get(fname)!, args, first.pos);
    }
    if (first.type === "nil") fail(first.pos, `executing "${name}" at <nil>: nil is not a command`);
    if (rest.length || hasFinal)
      fail(first.pos, `executing "${name}": can't give argument to non-function ${describe(first)}`);
    return arg(first, dot, scope);
  }

  function pipe(p: Pipe, dot: unknown, scope: Scope): unknown {
    let v: unknown = undefined;
    let has = false;
    for (const cmd of p.cmds) {
      v = command(cmd, dot, scope, v, has);
      has = true;
    }
    if (p.decl.length === 1) {
      if (p.isAssign) setVar(scope, p.decl[0]!, v);
      else scope[scope.length - 1]!.set(p.decl[0]!, v);
    }
    return v;
  }

  /** Range items, produced one at a time: `range N` never builds a list of N. */
  function* iterate(v: unknown, pos: number): Generator<[unknown, unknown]> {
    if (v === undefined || v === null || v === NO_VALUE) return;
    if (Array.isArray(v)) {
      // a snapshot: the body may append to the list it iterates (Go ranges over a copy of the header)
      const n = v.length;
      for (let i = 0; i < n; i++) yield [i, v[i]];
      return;
    }
    if (typeof v === "number" && Number.isInteger(v)) {
      for (let i = 0; i < v; i++) yield [i, i];
      return;
    }
    if (isGoMap(v)) {
      // Go visits map keys in sorted order
      const keys = ownKeys(v).sort(cmpKeys);
      meter.step(keys.length);
      for (const k of keys) yield [k, ownGet(v, k)];
      return;
    }
    fail(pos, `range can't iterate over value of type ${goType(v)}`);
  }

  function walk(nodes: Node[], dot: unknown, scope: Scope, depth: number): Flow {
    for (const n of nodes) {
      step(n.type === "text" ? lastPos : n.pos);
      switch (n.type) {
        case "text":
          write(n.text, 0);
          break;
        case "action": {
          const v = pipe(n.pipe, dot, scope);
          if (!n.pipe.decl.length) write(v instanceof Uint8Array ? v : printValue(v), n.pos);
          break;
        }
        case "if":
        case "with": {
          scope.push(new Map());
          const v = pipe(n.pipe, dot, scope);
          let flow: Flow;
          if (isTrue(v)) flow = walk(n.list, n.type === "with" ? v : dot, scope, depth);
          else if (n.elseList) flow = walk(n.elseList, dot, scope, depth);
          scope.pop();
          if (flow) return flow;
          break;
        }
        case "range": {
          scope.push(new Map());
          const rp = { ...n.pipe, decl: [] };
          const v = pipe(rp, dot, scope);
          let any = false;
          for (const [k, x] of iterate(v, n.pos)) {
            any = true;
            step(n.pos);
            const s = new Map<string, unknown>();
            if (n.pipe.decl.length === 1) s.set(n.pipe.decl[0]!, x);
            if (n.pipe.decl.length === 2) {
              s.set(n.pipe.decl[0]!, k);
              s.set(n.pipe.decl[1]!, x);
            }
            scope.push(s);
            const flow = walk(n.list, x, scope, depth);
            scope.pop();
            if (flow === "break") break;
          }
          // break/continue in the else branch belong to an enclosing range
          const flow = !any && n.elseList ? walk(n.elseList, dot, scope, depth) : undefined;
          scope.pop();
          if (flow) return flow;
          break;
        }
        case "break":
        case "continue":
          return n.type;
        case "template": {
          const body = tpl.defines.get(n.name);
          if (!body)
            fail(
              n.pos,
              `executing "${name}" at <{{template "${n.name}"}}>: template "${n.name}" not defined`,
            );
          if (depth + 1 > opts.limits.maxDepth)
            throw new TemplateBudgetError(
              name,
              source,
              n.pos,
              `exceeded maximum template depth (${opts.limits.maxDepth})`,
            );
          const v = n.pipe ? pipe(n.pipe, dot, scope) : undefined;
          walk(body!, v, [new Map([["$", v]])], depth + 1);
          break;
        }
      }
    }
    return undefined;
  }

  function printValue(v: unknown): string {
    if (v === NO_VALUE || v === null || v === undefined) return "<no value>";
    return formatValue(v);
  }

  return withMeter(meter, () => {
    try {
      const data = toTemplateValue(input);
      walk(tpl.root, data, [new Map([["$", data]])], 0);
      return out;
    } catch (e) {
      if (e instanceof BudgetExceeded) throw new TemplateBudgetError(name, source, lastPos, e.message);
      if (e instanceof RangeError && !(e instanceof TemplateError))
        // the stack or an engine limit: a template error, not a crash
        throw new TemplateBudgetError(
          name,
          source,
          lastPos,
          `template exceeded an engine limit (${e.message})`,
        );
      throw e;
    }
  });
}

/**
 * The message of an error raised inside a function, safe to show: our own messages (FuncError)
 * are written without values; a library's message is shown only when it cannot be quoting its
 * input (no quotes, no line breaks, short), else just its kind.
 */
function safeMessage(e: unknown): string {
  if (e instanceof FuncError) return e.message;
  const msg = e instanceof Error ? e.message : "";
  if (msg && msg.length <= 160 && /^[A-Za-z0-9 .,:;#()_\-/?!+=]+$/.test(msg)) return msg;
  const kind = e instanceof Error ? e.name : "error";
  return `${kind === "SyntaxError" ? "invalid input" : "the input was not accepted"} (details withheld: they may quote a value)`;
}

/** A Go float64 (from float literals, fromJson numbers, float functions): printed as Go does. */
export class GoFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
}

/**
 * Go's json.Number (VSO decodes Vault data with UseNumber): a number that prints as its literal
 * (`{{ .Secrets.big }}` is `12345678901`, not float64's `1.2345678901e+10`) and is a float64
 * for arithmetic and JSON.
 */
export class GoJsonNumber extends GoFloat {
  constructor(
    value: number,
    readonly literal: string,
  ) {
    super(value);
  }
}

function cmpKeys(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function describe(op: Operand): string {
  switch (op.type) {
    case "field":
      return `.${op.names.join(".")}`;
    case "var":
      return op.name + op.names.map((n) => `.${n}`).join("");
    default:
      return op.type;
  }
}

export function goType(v: unknown): string {
  if (v === null || v === undefined) return "<nil>";
  if (typeof v === "string") return "string";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float64";
  if (v instanceof GoJsonNumber) return "json.Number";
  if (v instanceof GoFloat) return "float64";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "[]interface {}";
  if (v instanceof Uint8Array) return "[]uint8";
  if (v instanceof Date) return "time.Time";
  return "map[string]interface {}";
}
