/**
 * The part of JMESPath the AWS provider's `jmesPath` entries use in practice: a path of
 * identifiers (`a.b`, `"quoted key".c`) and array indexes (`a[0]`, negative from the end).
 * Anything else (filters, projections, functions) is refused rather than guessed. Pure.
 */
import { invalid } from "../files.ts";

type Step = { key: string } | { index: number };

export function parseJmesPath(path: string, what: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  const fail = (): never => {
    throw invalid(
      `${what}: jmesPath "${path.slice(0, 100)}" uses more than identifiers, "quoted" keys and [N] indexes`,
    );
  };
  let expectKey = true;
  while (i < path.length) {
    const c = path[i]!;
    if (expectKey) {
      if (c === '"') {
        let j = i + 1;
        let key = "";
        while (j < path.length && path[j] !== '"') {
          if (path[j] === "\\") {
            const n = path[j + 1];
            if (n === '"' || n === "\\" || n === "/") key += n;
            else fail();
            j += 2;
          } else {
            key += path[j] ?? "";
            j++;
          }
        }
        if (j >= path.length) fail();
        steps.push({ key });
        i = j + 1;
      } else {
        const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(path.slice(i));
        if (!m) fail();
        steps.push({ key: m![0] });
        i += m![0].length;
      }
      expectKey = false;
      continue;
    }
    if (c === ".") {
      expectKey = true;
      i++;
      continue;
    }
    if (c === "[") {
      const m = /^\[(-?\d+)\]/.exec(path.slice(i));
      if (!m) fail();
      steps.push({ index: Number(m![1]) });
      i += m![0].length;
      continue;
    }
    fail();
  }
  if (expectKey || steps.length === 0) fail();
  return steps;
}

/** The value at `steps` (JMESPath gives null for anything missing). */
export function evalJmesPath(value: unknown, steps: Step[]): unknown {
  let cur = value;
  for (const s of steps) {
    if ("key" in s) {
      cur =
        cur !== null && typeof cur === "object" && !Array.isArray(cur) && Object.hasOwn(cur, s.key)
          ? (cur as Record<string, unknown>)[s.key]
          : null;
    } else {
      if (!Array.isArray(cur)) return null;
      const idx = s.index < 0 ? cur.length + s.index : s.index;
      cur = idx >= 0 && idx < cur.length ? (cur[idx] as unknown) : null;
    }
    if (cur === undefined) cur = null;
  }
  return cur;
}
