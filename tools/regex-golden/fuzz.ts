/**
 * Differential fuzzing against Go: random patterns (valid and invalid), inputs and replacement
 * templates are run through Go's regexp (main.go) and through src/util/regex.ts, and every
 * operation is compared. Needs Go; not part of `npm test` (the committed golden file is).
 *   npx tsx tools/regex-golden/fuzz.ts [cases] [seed]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { compileRegex, type GoRegexp } from "../../src/util/regex.ts";

const count = Number(process.argv[2] ?? 4000);
let seed = Number(process.argv[3] ?? Date.now() % 1_000_000);
const firstSeed = seed;
const rnd = (n: number): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};
const pick = <T>(a: readonly T[]): T => a[rnd(a.length)]!;

// valid and invalid pieces: Go's answer decides which is which
const atoms = [
  ...["a", "b", ".", "[ab]", "[^a]", "\\b", "\\B", "^", "$", "é", "🙂", "\\pL", "\\PL", "[[:alpha:]]"],
  ...["[[:^alpha:]]", "\\s", "\\S", "\\w", "\\W", "\\d", "[\\d\\s]", "(?i)k", "(?i:A)", "(?s).", "(?-s:.)"],
  ...["(?U)a+", "(?m:^)", "(?m:$)", "x*", "", "\\Qa.\\E", "\\Q)\\E", "[]a]", "[^]a]", "[a-]", "\\x{1F642}"],
  ...["\\141", "\\A", "\\z", "\\n", "ß", "(?i)ß", "(", ")", "\\1", "(?=a)", "a{1001}", "\\C", "[[:foo:]]"],
  "(?P<n0>",
];
const quantifiers = ["*", "+", "?", "*?", "+?", "??", "{2}", "{0,2}", "{1,}", "{,2}", "**"];
function pattern(depth: number): string {
  if (depth <= 0) return pick(atoms);
  switch (rnd(9)) {
    case 0:
      return pattern(depth - 1) + pattern(depth - 1);
    case 1:
      return `${pattern(depth - 1)}|${pattern(depth - 1)}`;
    case 2:
      return `(${pattern(depth - 1)})`;
    case 3:
      return `(?P<n${rnd(3)}>${pattern(depth - 1)})`;
    case 4:
      return `(?:${pattern(depth - 1)})${pick(quantifiers)}`;
    case 5:
      return pattern(depth - 1) + pattern(depth - 1) + pattern(depth - 1);
    default:
      return pick(atoms);
  }
}
const inputs = [
  "",
  "a",
  "ab",
  "ba",
  "aab",
  "abba",
  "a\nb",
  "é🙂a",
  "xx",
  "a b",
  "🙂🙂",
  "b\na\n",
  "A",
  "K",
  "ẞ",
  ")",
];
const repls = [
  "-",
  "$0",
  "[$1]",
  "$n0",
  "${n1}x",
  "$1_x",
  "$$",
  "$",
  "${2}",
  "<$0|$1|$2>",
  "$n2$n0",
  "${n0",
  "$é",
];

const cases = Array.from({ length: count }, (_, i) => ({
  name: `fuzz-${i}`,
  pattern: pattern(1 + rnd(5)),
  input: pick(inputs) + pick(inputs) + pick(inputs),
  replacement: pick(repls),
}));

interface Golden {
  pattern: string;
  input: string;
  replacement: string;
  error?: string;
  match: boolean;
  find: string;
  findAll: string[];
  findAllN: Record<string, string[]>;
  submatch: string[] | null;
  replaceAll: string;
  replaceAllLiteral: string;
  split: Record<string, string[]>;
}

const dir = mkdtempSync(join(tmpdir(), "regex-fuzz-"));
try {
  writeFileSync(join(dir, "corpus.json"), JSON.stringify(cases));
  execFileSync("go", ["run", ".", join(dir, "corpus.json"), join(dir, "golden.json")], {
    cwd: import.meta.dirname,
    env: { ...process.env, GOTOOLCHAIN: "local" },
    stdio: "inherit",
  });
  const golden = JSON.parse(readFileSync(join(dir, "golden.json"), "utf8")) as Golden[];
  let mismatches = 0;
  let invalid = 0;
  for (const g of golden) {
    const fails: string[] = [];
    const chk = (what: string, got: unknown, want: unknown): void => {
      if (!isDeepStrictEqual(got, want))
        fails.push(`${what}: got ${JSON.stringify(got)}, Go ${JSON.stringify(want)}`);
    };
    let re: GoRegexp | undefined;
    try {
      re = compileRegex(g.pattern);
    } catch (e) {
      if (!g.error) fails.push(`Go compiles it, we did not: ${(e as Error).message}`);
    }
    if (g.error) {
      invalid++;
      if (re) fails.push(`Go rejects it: ${g.error}`);
    } else if (re) {
      chk("MatchString", re.test(g.input), g.match);
      chk("FindString", re.find(g.input), g.find);
      chk("FindAllString(-1)", re.findAll(g.input, -1), g.findAll);
      for (const [n, w] of Object.entries(g.findAllN))
        chk(`FindAllString(${n})`, re.findAll(g.input, Number(n)), w);
      chk("FindStringSubmatch", re.findSubmatch(g.input), g.submatch);
      chk("ReplaceAllString", re.replaceAll(g.input, g.replacement), g.replaceAll);
      chk("ReplaceAllLiteralString", re.replaceAllLiteral(g.input, g.replacement), g.replaceAllLiteral);
      for (const [n, w] of Object.entries(g.split)) chk(`Split(${n})`, re.split(g.input, Number(n)), w);
    }
    if (fails.length) {
      mismatches++;
      if (mismatches <= 20)
        console.log(
          JSON.stringify({ pattern: g.pattern, input: g.input, replacement: g.replacement }),
          fails,
        );
    }
  }
  console.log(
    JSON.stringify({ seed: firstSeed, cases: golden.length, goCompileErrors: invalid, mismatches }),
  );
  process.exitCode = mismatches ? 1 : 0;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
