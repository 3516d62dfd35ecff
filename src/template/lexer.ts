/**
 * Go text/template lexer: text and actions, `{{-`/`-}}` trim markers, comments, and the tokens
 * inside actions. Positions are kept for error messages (line:col).
 */
import { TemplateError } from "./errors.ts";

export type TokKind =
  | "text"
  | "left"
  | "right"
  | "ident"
  | "field"
  | "var"
  | "string"
  | "rawstring"
  | "char"
  | "number"
  | "bool"
  | "nil"
  | "dot"
  | "pipe"
  | "lparen"
  | "rparen"
  | "declare"
  | "assign"
  | "comma"
  | "keyword"
  | "eof";

export interface Token {
  kind: TokKind;
  value: string;
  pos: number;
}

const KEYWORDS = new Set([
  "if",
  "else",
  "end",
  "range",
  "with",
  "define",
  "template",
  "block",
  "break",
  "continue",
]);

export function lex(name: string, input: string, left = "{{", right = "}}"): Token[] {
  const toks: Token[] = [];
  let i = 0;
  const err = (msg: string, pos: number): never => {
    throw new TemplateError(name, input, pos, msg);
  };
  while (i < input.length) {
    const start = input.indexOf(left, i);
    if (start < 0) {
      toks.push({ kind: "text", value: input.slice(i), pos: i });
      break;
    }
    let text = input.slice(i, start);
    let p = start + left.length;
    const trimLeft =
      input.startsWith("- ", p) ||
      input.startsWith("-\t", p) ||
      input.startsWith("-\n", p) ||
      input.startsWith("-\r", p);
    if (trimLeft) {
      text = trimSpaceEnd(text);
      p += 1;
    }
    if (text) toks.push({ kind: "text", value: text, pos: i });
    // comment
    const afterSpace = input.slice(p).match(/^[ \t\r\n]*/)![0].length;
    if (input.startsWith("/*", p) || (trimLeft && input.startsWith("/*", p + afterSpace))) {
      const cstart = input.startsWith("/*", p) ? p : p + afterSpace;
      const cend = input.indexOf("*/", cstart + 2);
      if (cend < 0) err("unclosed comment", cstart);
      let q = cend + 2;
      let trimRight = false;
      const ws = input.slice(q).match(/^[ \t\r\n]*/)![0];
      if (input.startsWith(`-${right}`, q + ws.length) && ws.length > 0) {
        trimRight = true;
        q += ws.length + 1;
      } else if (input.startsWith(right, q)) {
        /* plain close */
      } else if (input.startsWith(right, q + ws.length) && trimLeft) {
        q += ws.length;
      } else err("comment ends before closing delimiter", q);
      q += right.length;
      if (trimRight) q += input.slice(q).match(/^[ \t\r\n]*/)![0].length;
      i = q;
      continue;
    }
    toks.push({ kind: "left", value: left, pos: start });
    // inside action
    let depth = 0;
    for (;;) {
      if (p >= input.length) err("unclosed action", start);
      const c = input[p]!;
      // right delimiter (with optional trim)
      if ((c === " " || c === "\t" || c === "\r" || c === "\n") && input.startsWith(`-${right}`, p + 1)) {
        toks.push({ kind: "right", value: right, pos: p });
        p += 2 + right.length;
        p += input.slice(p).match(/^[ \t\r\n]*/)![0].length;
        break;
      }
      if (input.startsWith(right, p) && depth === 0) {
        toks.push({ kind: "right", value: right, pos: p });
        p += right.length;
        break;
      }
      if (c === " " || c === "\t" || c === "\r" || c === "\n") {
        p++;
        continue;
      }
      if (c === "|") {
        toks.push({ kind: "pipe", value: c, pos: p++ });
        continue;
      }
      if (c === "(") {
        depth++;
        toks.push({ kind: "lparen", value: c, pos: p++ });
        continue;
      }
      if (c === ")") {
        depth--;
        if (depth < 0) err("unexpected right paren", p);
        toks.push({ kind: "rparen", value: c, pos: p++ });
        continue;
      }
      if (c === ",") {
        toks.push({ kind: "comma", value: c, pos: p++ });
        continue;
      }
      if (c === ":" && input[p + 1] === "=") {
        toks.push({ kind: "declare", value: ":=", pos: p });
        p += 2;
        continue;
      }
      if (c === "=") {
        toks.push({ kind: "assign", value: "=", pos: p++ });
        continue;
      }
      if (c === '"') {
        let q = p + 1;
        while (q < input.length && input[q] !== '"') {
          if (input[q] === "\\") q++;
          if (input[q] === "\n") err("unterminated quoted string", p);
          q++;
        }
        if (q >= input.length) err("unterminated quoted string", p);
        toks.push({ kind: "string", value: input.slice(p, q + 1), pos: p });
        p = q + 1;
        continue;
      }
      if (c === "`") {
        const q = input.indexOf("`", p + 1);
        if (q < 0) err("unterminated raw quoted string", p);
        toks.push({ kind: "rawstring", value: input.slice(p + 1, q), pos: p });
        p = q + 1;
        continue;
      }
      if (c === "'") {
        let q = p + 1;
        while (q < input.length && input[q] !== "'") {
          if (input[q] === "\\") q++;
          q++;
        }
        toks.push({ kind: "char", value: input.slice(p, q + 1), pos: p });
        p = q + 1;
        continue;
      }
      if (c === "$") {
        const m = /^\$[A-Za-z0-9_]*/.exec(input.slice(p))!;
        toks.push({ kind: "var", value: m[0], pos: p });
        p += m[0].length;
        // field chain directly after a variable: $x.a.b
        continue;
      }
      if (c === ".") {
        const m = /^\.[A-Za-z_][A-Za-z0-9_]*/.exec(input.slice(p));
        if (m) {
          toks.push({ kind: "field", value: m[0].slice(1), pos: p });
          p += m[0].length;
          continue;
        }
        if (/[0-9]/.test(input[p + 1] ?? "")) {
          /* a number like .5 */
        } else {
          toks.push({ kind: "dot", value: ".", pos: p++ });
          continue;
        }
      }
      if (/[0-9]/.test(c) || ((c === "+" || c === "-" || c === ".") && /[0-9.]/.test(input[p + 1] ?? ""))) {
        const num =
          /^[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)/.exec(
            input.slice(p),
          );
        if (num) {
          toks.push({ kind: "number", value: num[0], pos: p });
          p += num[0].length;
          continue;
        }
      }
      const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(input.slice(p));
      if (id) {
        const w = id[0];
        const kind: TokKind = KEYWORDS.has(w)
          ? "keyword"
          : w === "true" || w === "false"
            ? "bool"
            : w === "nil"
              ? "nil"
              : "ident";
        toks.push({ kind, value: w, pos: p });
        p += w.length;
        continue;
      }
      err(`unexpected ${JSON.stringify(c)} in command`, p);
    }
    i = p;
  }
  toks.push({ kind: "eof", value: "", pos: input.length });
  return toks;
}

/** Drops trailing spaces, tabs and line breaks (a loop: the regex form is quadratic). */
function trimSpaceEnd(s: string): string {
  let end = s.length;
  while (end > 0 && " \t\r\n".includes(s[end - 1]!)) end--;
  return s.slice(0, end);
}
