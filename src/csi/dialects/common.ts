/** Helpers the drop-in dialects share: their YAML as Go's yaml.v3 reads it, modes, booleans. Pure. */
import { isScalar, parseDocument, visit } from "yaml";
import { invalid } from "../files.ts";

/**
 * A parameter holding YAML as the Go providers read it with yaml.v3: YAML 1.2 scalars (`n` is a
 * string, not false), except that an integer written with a leading 0 is octal (`0600`), as
 * yaml.v3 parses integers with strconv's base 0.
 */
export function goYaml(text: string | undefined, what: string): unknown {
  if (text === undefined || text.trim() === "") return undefined;
  const doc = parseDocument(text, { version: "1.2" });
  if (doc.errors.length) throw invalid(`parameter ${what} is not valid YAML`);
  visit(doc, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === "number" && /^0[0-7]+$/.test(node.source ?? ""))
        node.value = Number.parseInt(String(node.source), 8);
    },
  });
  try {
    return doc.toJS({ maxAliasCount: 0 }) as unknown;
  } catch {
    throw invalid(`parameter ${what} is not valid YAML`);
  }
}

export const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

export function str(o: Record<string, unknown>, k: string, what: string): string | undefined {
  const v = o[k];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw invalid(`${what}.${k} must be a string`);
}

/** A Go os.FileMode as YAML gives it (a number, octal when written 0600) or an octal string. */
export function fileMode(v: unknown, fallback: number, what: string): number {
  if (v === undefined || v === null || v === "") return fallback;
  const n =
    typeof v === "number" ? v : typeof v === "string" && /^[0-7]{1,4}$/.test(v) ? Number.parseInt(v, 8) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0o777)
    throw invalid(`${what}.filePermission must be a file mode up to 0777`);
  return n;
}

/** A boolean parameter as the Go providers parse it (strconv.ParseBool). */
export function goBool(v: string | undefined, what: string): boolean {
  if (v === undefined || v === "") return false;
  if (["1", "t", "T", "true", "TRUE", "True"].includes(v)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(v)) return false;
  throw invalid(`parameter ${what} must be true or false`);
}
