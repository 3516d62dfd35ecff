/**
 * Sprig's regex functions in templates run on Go's RE2 (src/util/regex.ts): linear on patterns
 * that stall a backtracking engine, Go's expansion and Split, and errors that do not quote the
 * pattern (a template may build it from a secret).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { renderTemplate } from "../../../src/template/index.ts";

const r = (t: string, data: unknown = {}): string => renderTemplate("t", t, data);

test('regexMatch "^(a+)+$" on a long input answers at once (V8 backtracking: ~5 s at 26 characters)', () => {
  const t0 = performance.now();
  assert.equal(r('{{ regexMatch "^(a+)+$" .s }}', { s: "a".repeat(10_000) + "b" }), "false");
  assert.equal(r('{{ regexReplaceAll "(x+x+)+y" .s "-" }}', { s: "x".repeat(10_000) }), "x".repeat(10_000));
  assert.ok(performance.now() - t0 < 2000);
});

test("Go expansion, empty matches and Split as Sprig on Go gives them", () => {
  assert.equal(r('{{ regexReplaceAll "(?P<k>\\\\w+)=(\\\\w+)" "a=1" "$1_x|${1}_x|$k|$$" }}'), "|a_x|a|$");
  assert.equal(r('{{ regexReplaceAll "a*" "baaac" "x" }}'), "xbxcx");
  assert.equal(r('{{ regexReplaceAllLiteral "a" "banana" "$1" }}'), "b$1n$1n$1");
  assert.equal(r('{{ regexFindAll "a*" "baaac" -1 }}'), "[ aaa ]");
  assert.equal(r('{{ regexFindAll "[0-9]" "a1b2c3" 2 }}'), "[1 2]");
  assert.equal(r('{{ regexSplit "a" "banana" -1 }}'), "[b n n ]");
  assert.equal(r('{{ regexSplit "a" "banana" 2 }}'), "[b nana]");
  assert.equal(r('{{ regexSplit "" "日本" -1 }}'), "[日 本]");
  assert.equal(r('{{ regexFind "(?i)straSSe" "Straße STRASSE" }}'), "STRASSE");
  assert.equal(r('{{ regexQuoteMeta "a.b*c" }}'), "a\\.b\\*c");
  assert.equal(r('{{ mustRegexMatch "^[[:alpha:]]+$" "abc" }}'), "true");
  assert.equal(r('{{ mustRegexFind "\\\\pL+" "12héllo" }}'), "héllo");
});

test("invalid patterns: regexMatch is false (as Sprig), the others fail without quoting the pattern", () => {
  assert.equal(r('{{ regexMatch "(s3cr3t" "x" }}'), "false");
  for (const f of [
    '{{ mustRegexMatch .p "x" }}',
    '{{ regexFind .p "x" }}',
    '{{ regexFindAll .p "x" -1 }}',
    '{{ regexReplaceAll .p "x" "y" }}',
    '{{ regexReplaceAllLiteral .p "x" "y" }}',
    '{{ regexSplit .p "x" -1 }}',
    '{{ mustRegexSplit .p "x" -1 }}',
  ]) {
    assert.throws(
      () => r(f, { p: "(s3cr3t\\1" }),
      (e: unknown) => {
        const msg = (e as Error).message;
        assert.match(msg, /invalid regular expression/);
        assert.ok(!msg.includes("s3cr3t"), msg);
        return true;
      },
      f,
    );
  }
});

test("lookaround and backreferences are rejected as Go rejects them", () => {
  assert.throws(() => r('{{ regexFind "a(?=b)" "ab" }}'), /invalid or unsupported Perl syntax/);
  assert.throws(() => r('{{ regexFind "(a)\\\\1" "aa" }}'), /invalid escape sequence/);
});

test("regex calls are charged their worst-case cost: a loop of heavy searches ends with a budget error", () => {
  const t0 = performance.now();
  assert.throws(
    () =>
      r('{{ range until 100000 }}{{ regexMatch "[a-z]{1000}x" $.s }}{{ end }}', {
        s: "a".repeat(5000),
      }),
    /budget of \d+ cost units \(regular expression is expensive\)/,
  );
  assert.ok(performance.now() - t0 < 5000, `${performance.now() - t0} ms`);
});
