/**
 * Go text/template evaluation with Go's truthiness and printing, `missingkey` modes, and limits
 * that make templates from tenants' resources safe: bounded steps, output size and recursion.
 */
import type { Node, Operand, ParsedTemplate, Pipe } from "./parser.ts";
import { TemplateError } from "./errors.ts";
import { formatValue, isTrue } from "./values.ts";

export type Func = (...args: unknown[]) => unknown;

export interface TemplateLimits {
  maxSteps: number;
  maxOutputBytes: number;
  maxDepth: number;
}

export const DEFAULT_LIMITS: TemplateLimits = {
  maxSteps: 1_000_000,
  maxOutputBytes: 4 * 1024 * 1024,
  maxDepth: 100,
};

export interface ExecOptions {
  missingKey: "error" | "zero" | "default";
  funcs: Map<string, Func>;
  limits: TemplateLimits;
}

/** Control flow of {{break}} and {{continue}} inside range. */
class BreakSignal extends Error {}
class ContinueSignal extends Error {}

/** Marks a lookup that found nothing (printed as "<no value>"). */
export const NO_VALUE = Symbol("no value");

/**
 * Runs a template. The output is a list of chunks: text, and the exact bytes of binary values
 * (Go strings are bytes; a value that is not UTF-8 reaches templates as a Uint8Array).
 */
export function execute(
  name: string,
  source: string,
  tpl: ParsedTemplate,
  data: unknown,
  opts: ExecOptions,
): (string | Uint8Array)[] {
  const out: (string | Uint8Array)[] = [];
  let size = 0;
  let steps = 0;
  const fail = (pos: number, msg: string): never => {
    throw new TemplateError(name, source, pos, msg);
  };
  const step = (pos: number): void => {
    if (++steps > opts.limits.maxSteps)
      fail(pos, `template exceeded ${opts.limits.maxSteps} evaluation steps`);
  };
  const write = (s: string | Uint8Array, pos: number): void => {
    out.push(s);
    size += s.length;
    if (size > opts.limits.maxOutputBytes)
      fail(pos, `template output exceeds ${opts.limits.maxOutputBytes} bytes`);
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
      if (v instanceof Map) {
        if (!v.has(n)) {
          if (opts.missingKey === "error")
            fail(pos, `executing "${name}" at <${receiverDesc}.${n}>: map has no entry for key "${n}"`);
          return NO_VALUE;
        }
        v = v.get(n);
      } else if (typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)) {
        if (!Object.hasOwn(v, n)) {
          if (opts.missingKey === "error")
            fail(pos, `executing "${name}" at <${receiverDesc}.${n}>: map has no entry for key "${n}"`);
          return NO_VALUE;
        }
        v = (v as Record<string, unknown>)[n];
      } else {
        fail(
          pos,
          `executing "${name}" at <${receiverDesc}.${n}>: can't evaluate field ${n} in type ${goType(v)}`,
        );
      }
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

  function call(fname: string, f: Func, args: unknown[], pos: number): unknown {
    try {
      return f(...args.map((a) => (a === NO_VALUE ? undefined : a)));
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      return fail(pos, `executing "${name}" at <${fname}>: error calling ${fname}: ${(e as Error).message}`);
    }
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
    if (rest.length || hasFinal) {
      if (first.type === "field" || first.type === "var" || first.type === "pipe") {
        fail(first.pos, `executing "${name}": can't give argument to non-function ${describe(first)}`);
      }
      fail(first.pos, `executing "${name}": can't give argument to non-function ${describe(first)}`);
    }
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

  function iterate(v: unknown, pos: number): [unknown, unknown][] | undefined {
    if (v === undefined || v === null || v === NO_VALUE) return [];
    if (Array.isArray(v)) return v.map((x, i) => [i, x]);
    if (v instanceof Map) return [...v.entries()].sort((a, b) => cmpKeys(a[0], b[0]));
    if (typeof v === "number" && Number.isInteger(v))
      return Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
    if (typeof v === "object" && !(v instanceof Uint8Array) && !(v instanceof GoFloat)) {
      return Object.keys(v)
        .sort()
        .map((k) => [k, (v as Record<string, unknown>)[k]]);
    }
    return fail(pos, `range can't iterate over ${formatValue(v)}`);
  }

  function walk(nodes: Node[], dot: unknown, scope: Scope, depth: number): void {
    for (const n of nodes) {
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
          if (isTrue(v)) walk(n.list, n.type === "with" ? v : dot, scope, depth);
          else if (n.elseList) walk(n.elseList, dot, scope, depth);
          scope.pop();
          break;
        }
        case "range": {
          scope.push(new Map());
          const rp = { ...n.pipe, decl: [] };
          const v = pipe(rp, dot, scope);
          const items = iterate(v, n.pos)!;
          if (!items.length) {
            if (n.elseList) walk(n.elseList, dot, scope, depth);
          } else {
            for (const [k, x] of items) {
              step(n.pos);
              const s = new Map<string, unknown>();
              if (n.pipe.decl.length === 1) s.set(n.pipe.decl[0]!, x);
              if (n.pipe.decl.length === 2) {
                s.set(n.pipe.decl[0]!, k);
                s.set(n.pipe.decl[1]!, x);
              }
              scope.push(s);
              try {
                walk(n.list, x, scope, depth);
              } catch (e) {
                if (e instanceof BreakSignal) {
                  scope.pop();
                  break;
                }
                if (!(e instanceof ContinueSignal)) throw e;
              }
              scope.pop();
            }
          }
          scope.pop();
          break;
        }
        case "break":
          throw new BreakSignal();
        case "continue":
          throw new ContinueSignal();
        case "template": {
          const body = tpl.defines.get(n.name);
          if (!body)
            fail(
              n.pos,
              `executing "${name}" at <{{template "${n.name}"}}>: template "${n.name}" not defined`,
            );
          if (depth + 1 > opts.limits.maxDepth)
            fail(n.pos, `exceeded maximum template depth (${opts.limits.maxDepth})`);
          const v = n.pipe ? pipe(n.pipe, dot, scope) : undefined;
          walk(body!, v, [new Map([["$", v]])], depth + 1);
          break;
        }
      }
    }
  }

  function printValue(v: unknown): string {
    if (v === NO_VALUE || v === null || v === undefined) return "<no value>";
    return formatValue(v);
  }

  walk(tpl.root, data, [new Map([["$", data]])], 0);
  return out;
}

/** A Go float64 (from float literals, fromJson numbers, float functions): printed as Go does. */
export class GoFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
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
  if (v instanceof GoFloat) return "float64";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "[]interface {}";
  return "map[string]interface {}";
}
