/**
 * src/util/regex.ts against Go's own regexp: test/fixtures/regex/golden.json is what Go answered
 * for every case of tools/regex-golden/corpus.json (see tools/regex-golden/README.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compileRegex, quoteMeta, type GoRegexp } from "../../../src/util/regex.ts";
import { isCustosError } from "../../../src/util/errors.ts";

interface Golden {
  name: string;
  pattern: string;
  input: string;
  replacement: string;
  error?: string;
  match?: boolean;
  find?: string;
  findAll: string[] | null;
  findAllN?: Record<string, string[]>;
  submatch: string[] | null;
  replaceAll?: string;
  replaceAllLiteral?: string;
  split?: Record<string, string[]>;
  quoteMeta: string;
}

const golden = JSON.parse(
  readFileSync(join(import.meta.dirname, "../../fixtures/regex/golden.json"), "utf8"),
) as Golden[];

test("the corpus is large and covers compile errors and empty matches", () => {
  assert.ok(golden.length >= 120);
  assert.ok(golden.filter((g) => g.error).length >= 25);
  assert.ok(golden.some((g) => g.findAll?.includes("")));
});

for (const g of golden) {
  test(`Go regexp: ${g.name}`, () => {
    assert.equal(quoteMeta(g.input), g.quoteMeta, "QuoteMeta");
    if (g.error) {
      assert.throws(
        () => compileRegex(g.pattern),
        (e: unknown) => isCustosError(e, "CUSTOS_REGEX_INVALID"),
        `Go rejects it: ${g.error}`,
      );
      return;
    }
    let re: GoRegexp;
    try {
      re = compileRegex(g.pattern);
    } catch (e) {
      assert.fail(`Go compiles it, we did not: ${(e as Error).message}`);
    }
    assert.equal(re.test(g.input), g.match, "MatchString");
    assert.equal(re.find(g.input), g.find, "FindString");
    assert.deepEqual(re.findAll(g.input, -1), g.findAll, "FindAllString(-1)");
    for (const [n, want] of Object.entries(g.findAllN ?? {}))
      assert.deepEqual(re.findAll(g.input, Number(n)), want, `FindAllString(${n})`);
    assert.deepEqual(re.findSubmatch(g.input), g.submatch, "FindStringSubmatch");
    assert.equal(re.replaceAll(g.input, g.replacement), g.replaceAll, "ReplaceAllString");
    assert.equal(
      re.replaceAllLiteral(g.input, g.replacement),
      g.replaceAllLiteral,
      "ReplaceAllLiteralString",
    );
    for (const [n, want] of Object.entries(g.split ?? {}))
      assert.deepEqual(re.split(g.input, Number(n)), want, `Split(${n})`);
  });
}
