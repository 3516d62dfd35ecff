/**
 * Go text/template parser: lists of text and actions, if/else if/else, range (with $i, $v and
 * else), with/else, define/template/block, break/continue, pipelines with declarations and
 * assignments, and operands (fields, variables, literals, parenthesised pipelines, functions).
 */
import { lex, type Token } from "./lexer.ts";
import { TemplateError } from "./errors.ts";

export type Node =
  | { type: "text"; text: string }
  | { type: "action"; pipe: Pipe; pos: number }
  | { type: "if" | "with"; pipe: Pipe; list: Node[]; elseList?: Node[]; pos: number }
  | { type: "range"; pipe: Pipe; list: Node[]; elseList?: Node[]; pos: number }
  | { type: "template"; name: string; pipe?: Pipe; pos: number }
  | { type: "break" | "continue"; pos: number };

export interface Pipe {
  decl: string[];
  isAssign: boolean;
  cmds: Operand[][];
  pos: number;
}

export type Operand =
  | { type: "field"; names: string[]; pos: number }
  | { type: "var"; name: string; names: string[]; pos: number }
  | { type: "dot"; pos: number }
  | { type: "nil"; pos: number }
  | { type: "string" | "number" | "bool"; value: string | number | boolean; pos: number; isFloat?: boolean }
  | { type: "ident"; name: string; pos: number }
  | { type: "pipe"; pipe: Pipe; names: string[]; pos: number };

export interface ParsedTemplate {
  root: Node[];
  defines: Map<string, Node[]>;
  /** The string literals of the source: what fail/required may show (see exec.ts). */
  literals: Set<string>;
}

/** Deepest nesting of blocks and parentheses (Go stops at 10000; JavaScript's stack is smaller). */
export const MAX_PARSE_DEPTH = 500;

export interface ParseOptions {
  leftDelim?: string;
  rightDelim?: string;
  /** Names a function must have to be accepted; unknown names are parse errors (as in Go). */
  isFunction: (name: string) => boolean;
}

export function parseTemplate(name: string, text: string, opts: ParseOptions): ParsedTemplate {
  const toks = lex(name, text, opts.leftDelim, opts.rightDelim);
  let i = 0;
  const defines = new Map<string, Node[]>();
  const vars: Set<string>[] = [new Set(["$"])];
  const literals = new Set<string>();
  let nesting = 0;
  const nest = (pos: number): void => {
    if (++nesting > MAX_PARSE_DEPTH) err(`nesting deeper than ${MAX_PARSE_DEPTH} levels`, pos);
  };
  const err = (msg: string, pos: number): never => {
    throw new TemplateError(name, text, pos, msg);
  };
  const peek = (o = 0): Token => toks[i + o]!;
  const next = (): Token => toks[i++]!;
  const expect = (kind: Token["kind"], what: string): Token => {
    const t = next();
    if (t.kind !== kind) err(`unexpected "${t.value || t.kind}" in ${what}`, t.pos);
    return t;
  };
  const declared = (v: string): boolean => vars.some((scope) => scope.has(v));

  function unquote(t: Token): string {
    if (t.kind === "rawstring") return t.value;
    const body = t.value.slice(1, -1);
    return body.replace(
      /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g,
      (_m, e: string) => {
        switch (e[0]) {
          case "n":
            return "\n";
          case "t":
            return "\t";
          case "r":
            return "\r";
          case "a":
            return "\x07";
          case "b":
            return "\b";
          case "f":
            return "\f";
          case "v":
            return "\v";
          case "\\":
            return "\\";
          case '"':
            return '"';
          case "'":
            return "'";
          case "x":
            return String.fromCharCode(parseInt(e.slice(1), 16));
          case "u":
          case "U":
            return String.fromCodePoint(parseInt(e.slice(1), 16));
          default:
            if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
            return err(`invalid syntax: unknown escape \\${e}`, t.pos);
        }
      },
    );
  }

  function fieldsAfter(endPos: number): string[] {
    const names: string[] = [];
    while (peek().kind === "field" && peek().pos === endPos) {
      const t = next();
      names.push(t.value);
      endPos = t.pos + t.value.length + 1;
    }
    return names;
  }

  function operand(): Operand | undefined {
    const t = peek();
    switch (t.kind) {
      case "field": {
        const names: string[] = [];
        let end = t.pos;
        while (peek().kind === "field" && peek().pos === end) {
          const f = next();
          names.push(f.value);
          end = f.pos + f.value.length + 1;
        }
        return { type: "field", names, pos: t.pos };
      }
      case "var": {
        next();
        if (!declared(t.value)) err(`undefined variable "${t.value}"`, t.pos);
        return { type: "var", name: t.value, names: fieldsAfter(t.pos + t.value.length), pos: t.pos };
      }
      case "dot":
        next();
        return { type: "dot", pos: t.pos };
      case "nil":
        next();
        return { type: "nil", pos: t.pos };
      case "bool":
        next();
        return { type: "bool", value: t.value === "true", pos: t.pos };
      case "string":
      case "rawstring": {
        next();
        const value = unquote(t);
        literals.add(value);
        return { type: "string", value, pos: t.pos };
      }
      case "char": {
        next();
        const s = unquote({ ...t, kind: "string", value: `"${t.value.slice(1, -1)}"` });
        return { type: "number", value: s.codePointAt(0) ?? 0, pos: t.pos };
      }
      case "number": {
        next();
        const raw = t.value.replace(/_/g, "");
        const isFloat = /[.eE]/.test(raw) && !/^[+-]?0[xX]/.test(raw);
        const n = /^[+-]?0[bB]/.test(raw)
          ? parseInt(raw.replace(/0[bB]/, ""), 2) * (raw.startsWith("-") ? -1 : 1)
          : Number(raw);
        if (Number.isNaN(n)) err(`illegal number syntax: "${t.value}"`, t.pos);
        return { type: "number", value: n, pos: t.pos, isFloat };
      }
      case "ident":
        next();
        if (!opts.isFunction(t.value)) err(`function "${t.value}" not defined`, t.pos);
        return { type: "ident", name: t.value, pos: t.pos };
      case "lparen": {
        next();
        nest(t.pos);
        const p = pipeline("parenthesized pipeline", "rparen");
        const close = expect("rparen", "parenthesized pipeline");
        nesting--;
        return { type: "pipe", pipe: p, names: fieldsAfter(close.pos + 1), pos: t.pos };
      }
      default:
        return undefined;
    }
  }

  function pipeline(context: string, end: "right" | "rparen" = "right"): Pipe {
    const pos = peek().pos;
    const decl: string[] = [];
    let isAssign = false;
    // declarations: $x := / $x, $y := / $x =
    if (peek().kind === "var") {
      const save = i;
      const names = [next().value];
      if (peek().kind === "comma" && peek(1).kind === "var") {
        next();
        names.push(next().value);
      }
      if (peek().kind === "declare" || peek().kind === "assign") {
        isAssign = next().kind === "assign";
        if (isAssign) for (const n of names) if (!declared(n)) err(`undefined variable "${n}"`, pos);
        decl.push(...names);
      } else {
        i = save;
      }
    }
    const cmds: Operand[][] = [];
    let cmd: Operand[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === end) break;
      if (t.kind === "pipe") {
        if (!cmd.length) err("missing command", t.pos);
        cmds.push(cmd);
        cmd = [];
        next();
        continue;
      }
      const op = operand();
      if (!op) err(`unexpected "${t.value || t.kind}" in ${context}`, t.pos);
      cmd.push(op!);
    }
    if (cmd.length) cmds.push(cmd); // Go accepts a trailing "|"
    if (!cmds.length) err(`missing value for ${context}`, pos);
    // declared variables are visible after the pipeline
    if (!isAssign) for (const d of decl) vars[vars.length - 1]!.add(d);
    return { decl, isAssign, cmds, pos };
  }

  function list(terminators: string[]): { nodes: Node[]; term: string; termPos: number } {
    const nodes: Node[] = [];
    for (;;) {
      const t = next();
      if (t.kind === "eof") {
        if (terminators.length) err(`unexpected EOF`, t.pos);
        return { nodes, term: "eof", termPos: t.pos };
      }
      if (t.kind === "text") {
        nodes.push({ type: "text", text: t.value });
        continue;
      }
      // action
      const k = peek();
      if (k.kind === "keyword") {
        if (k.value === "end" || k.value === "else") {
          if (!terminators.includes(k.value)) err(`unexpected {{${k.value}}}`, k.pos);
          next();
          return { nodes, term: k.value, termPos: k.pos };
        }
        next();
        nodes.push(keyword(k));
        continue;
      }
      const p = pipeline("command");
      expect("right", "command");
      nodes.push({ type: "action", pipe: p, pos: k.pos });
    }
  }

  function control(kind: "if" | "with" | "range", pos: number): Node {
    nest(pos);
    vars.push(new Set());
    const p = pipeline(kind);
    expect("right", kind);
    const body = list(["end", "else"]);
    let elseList: Node[] | undefined;
    if (body.term === "else") {
      // else if / else with: a nested control ending at the same {{end}}
      if (
        (kind === "if" && peek().kind === "keyword" && peek().value === "if") ||
        (kind === "with" && peek().kind === "keyword" && peek().value === "with")
      ) {
        const t = next();
        elseList = [control(kind, t.pos)];
        vars.pop();
        nesting--;
        return { type: kind, pipe: p, list: body.nodes, elseList, pos };
      }
      expect("right", "else");
      const rest = list(["end"]);
      expect("right", "end");
      elseList = rest.nodes;
    } else {
      expect("right", "end");
    }
    vars.pop();
    nesting--;
    return { type: kind, pipe: p, list: body.nodes, ...(elseList ? { elseList } : {}), pos };
  }

  let rangeDepth = 0;
  function keyword(k: Token): Node {
    switch (k.value) {
      case "if":
      case "with":
        return control(k.value, k.pos);
      case "range": {
        rangeDepth++;
        const n = control("range", k.pos);
        rangeDepth--;
        return n;
      }
      case "break":
      case "continue":
        if (rangeDepth === 0) err(`{{${k.value}}} outside {{range}}`, k.pos);
        expect("right", k.value);
        return { type: k.value, pos: k.pos };
      case "template":
      case "block": {
        const nameTok = next();
        if (nameTok.kind !== "string" && nameTok.kind !== "rawstring")
          err(`unexpected "${nameTok.value}" in ${k.value} clause`, nameTok.pos);
        const tname = unquote(nameTok);
        let p: Pipe | undefined;
        if (peek().kind !== "right") p = pipeline(k.value);
        expect("right", k.value);
        if (k.value === "block") {
          vars.push(new Set(["$"]));
          const body = list(["end"]);
          vars.pop();
          expect("right", "end");
          defines.set(tname, body.nodes);
        }
        return { type: "template", name: tname, ...(p ? { pipe: p } : {}), pos: k.pos };
      }
      case "define": {
        const nameTok = next();
        if (nameTok.kind !== "string" && nameTok.kind !== "rawstring")
          err(`unexpected "${nameTok.value}" in define clause`, nameTok.pos);
        expect("right", "define");
        const saved = vars.splice(0);
        vars.push(new Set(["$"]));
        const body = list(["end"]);
        vars.splice(0, vars.length, ...saved);
        expect("right", "end");
        defines.set(unquote(nameTok), body.nodes);
        return { type: "text", text: "" };
      }
      default:
        return err(`unexpected keyword ${k.value}`, k.pos);
    }
  }

  const root = list([]);
  return { root: root.nodes, defines, literals };
}
