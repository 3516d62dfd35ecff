/**
 * The part of gjson path syntax ESO users write in `remoteRef.property`: dot-separated keys,
 * `\.` for a literal dot, array indices (`list.0`), `#` for an array's length and `list.#.field`
 * to collect a field from every element. Works on parsed JSON; no evaluation of anything else.
 */
const MAX_DEPTH = 64;

export function splitPath(path: string): string[] {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === "\\" && i + 1 < path.length) {
      cur += path[++i] ?? "";
    } else if (c === ".") {
      parts.push(cur);
      cur = "";
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

/** The value at `path`, or undefined when it does not exist. */
export function getPath(value: unknown, path: string): unknown {
  const parts = splitPath(path);
  if (parts.length > MAX_DEPTH) return undefined;
  return walk(value, parts);
}

function walk(value: unknown, parts: string[]): unknown {
  if (parts.length === 0) return value;
  const [head, ...rest] = parts as [string, ...string[]];
  if (Array.isArray(value)) {
    if (head === "#") {
      if (rest.length === 0) return value.length;
      const out = value.map((v) => walk(v, rest)).filter((v) => v !== undefined);
      return out;
    }
    if (!/^\d+$/.test(head)) return undefined;
    return walk(value[Number(head)], rest);
  }
  if (value !== null && typeof value === "object") {
    if (!Object.hasOwn(value, head)) return undefined;
    return walk((value as Record<string, unknown>)[head], rest);
  }
  return undefined;
}

/** gjson's `.String()`: strings as-is, other values as JSON. */
export function toGjsonString(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}
