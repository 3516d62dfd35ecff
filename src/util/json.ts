/**
 * JSON.parse for text a tenant's store may hold (Vault answers, AWS SecretString, fromJson).
 *
 * V8 in Node 24 and 26 can return a wrong key: after `{"a":1,"\\":2}` was parsed, parsing
 * `{"a":1,"\n":2}` yields the key "\\" instead of a newline (an escaped key taken from an earlier
 * object with the same leading keys). A key can only be escaped when the text holds a backslash,
 * so such texts are read by jsonc-parser's scanner (strict: no comments, no trailing commas, no
 * empty input), which decodes escapes itself; everything else by JSON.parse. Objects get own keys
 * as JSON.parse gives them (a "__proto__" key is an ordinary key). Errors never quote the text.
 */
import { visit } from "jsonc-parser";

export function parseJson(text: string): unknown {
  return text.includes("\\") ? parseEscaped(text) : JSON.parse(text);
}

interface Frame {
  container: Record<string, unknown> | unknown[];
  key?: string;
}

function parseEscaped(text: string): unknown {
  let root: unknown;
  let failed = false;
  const stack: Frame[] = [];
  const put = (v: unknown): void => {
    const top = stack[stack.length - 1];
    if (!top) root = v;
    else if (Array.isArray(top.container)) top.container.push(v);
    else
      Object.defineProperty(top.container, top.key ?? "", {
        value: v,
        writable: true,
        enumerable: true,
        configurable: true,
      });
  };
  try {
    visit(
      text,
      {
        onObjectBegin: () => {
          const o: Record<string, unknown> = {};
          put(o);
          stack.push({ container: o });
        },
        onObjectProperty: (property) => {
          stack[stack.length - 1]!.key = property;
        },
        onObjectEnd: () => {
          stack.pop();
        },
        onArrayBegin: () => {
          const a: unknown[] = [];
          put(a);
          stack.push({ container: a });
        },
        onArrayEnd: () => {
          stack.pop();
        },
        onLiteralValue: (value: unknown) => {
          put(value);
        },
        onError: () => {
          failed = true;
        },
      },
      { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
    );
  } catch {
    failed = true; // nesting deep enough to exhaust the stack
  }
  if (failed) throw new SyntaxError("the text is not valid JSON");
  return root;
}
