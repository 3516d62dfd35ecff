/**
 * src/util/regex.ts beyond Go's answers (regex-golden.test.ts): linear time on patterns that make
 * backtracking engines explode, the limits, the cache, and errors that never quote their input.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  compileRegex,
  clearRegexCache,
  matchString,
  parseTemplate,
  regexCacheStats,
  renameDuplicateGroups,
  setRegexLimitsForTest,
  REGEX_LIMITS,
  RegexBudget,
  roughProgramSize,
} from "../../../src/util/regex.ts";
import { isCustosError, type CustosErrorCode } from "../../../src/util/errors.ts";

const code = (c: CustosErrorCode) => (e: unknown) => isCustosError(e, c) && !e.retryable;

test("catastrophic patterns for backtracking finish at once (V8 needs seconds for 26 characters)", () => {
  const hostile = "a".repeat(5000) + "b";
  assert.equal(matchString("^(a+)+$", hostile), false);
  assert.equal(compileRegex("(x+x+)+y").test("x".repeat(5000)), false);
  assert.equal(compileRegex("^(a|aa)+$").replaceAll(hostile, "-"), hostile);
  assert.deepEqual(compileRegex("(a+)+$").findAll(hostile, -1), []);
  assert.equal(compileRegex("^(a+)+$").split(hostile, -1).length, 1);
});

test("an invalid pattern is CUSTOS_REGEX_INVALID naming the problem, never quoting the pattern", () => {
  for (const [p, kind] of [
    ["(s3cr3t-value", "missing closing )"],
    ["s3cr3t(?=x)", "invalid or unsupported Perl syntax"],
    ["(s3cr3t)\\1", "invalid escape sequence"],
    ["s3cr3t{1001}", "invalid repeat count"],
    ["s3cr3t\uD800", "invalid UTF-8"],
  ] as const) {
    assert.throws(
      () => compileRegex(p),
      (e: unknown) => {
        assert.ok(code("CUSTOS_REGEX_INVALID")(e));
        const msg = (e as Error).message;
        assert.ok(msg.includes(kind), msg);
        assert.ok(!msg.includes("s3cr3t"), msg);
        return true;
      },
    );
  }
});

test("deep nesting is an invalid pattern, not a stack overflow", () => {
  assert.throws(() => compileRegex("(".repeat(5000) + ")".repeat(5000)), code("CUSTOS_REGEX_INVALID"));
});

test("pattern length and program size limits", () => {
  assert.throws(
    () => compileRegex("a".repeat(REGEX_LIMITS.maxPatternLength + 1)),
    (e: unknown) => code("CUSTOS_REGEX_LIMIT")(e) && !(e as Error).message.includes("aaaa"),
  );
  // 30 characters, 30 000 instructions: Go compiles it, the limit refuses it before caching
  clearRegexCache();
  assert.throws(() => compileRegex("[a-z]{1000}".repeat(30)), code("CUSTOS_REGEX_LIMIT"));
  assert.equal(regexCacheStats().entries, 0);
  assert.ok(compileRegex("[a-z]{1000}").programSize > 1000);
});

test("input length and work limits refuse before searching, without quoting the input", () => {
  const restore = setRegexLimitsForTest({ maxInputLength: 100, maxWork: 10_000 });
  try {
    const input = "s3cr3t".repeat(20);
    assert.throws(
      () => compileRegex("x").test(input),
      (e: unknown) => code("CUSTOS_REGEX_LIMIT")(e) && !(e as Error).message.includes("s3cr3t"),
    );
    const big = compileRegex("[a-z]{200}");
    assert.throws(() => big.find("a".repeat(60)), code("CUSTOS_REGEX_LIMIT"));
    assert.equal(compileRegex("a").find("a".repeat(60)), "a");
  } finally {
    restore();
  }
});

test("result and output limits on findAll, split and replaceAll", () => {
  const restore = setRegexLimitsForTest({ maxResults: 10, maxOutputLength: 50 });
  try {
    assert.equal(compileRegex("a").findAll("a".repeat(10), -1).length, 10);
    assert.throws(() => compileRegex("a").findAll("a".repeat(11), -1), code("CUSTOS_REGEX_LIMIT"));
    // n bounds the work: asking for 3 of many matches is fine
    assert.equal(compileRegex("a").findAll("a".repeat(40), 3).length, 3);
    assert.throws(() => compileRegex("").split("x".repeat(20), -1), code("CUSTOS_REGEX_LIMIT"));
    assert.throws(
      () => compileRegex("a").replaceAll("a".repeat(5), "x".repeat(11)),
      code("CUSTOS_REGEX_LIMIT"),
    );
    assert.equal(compileRegex("a").replaceAllLiteral("a".repeat(5), "x".repeat(9)), "x".repeat(45));
  } finally {
    restore();
  }
});

test("a loop over matches stops at the time limit (leftmost-first can rescan the tail each time)", () => {
  const restore = setRegexLimitsForTest({ maxMillis: 50 });
  try {
    // each search runs .*b to the end of the input before settling on "a": quadratic overall
    assert.throws(
      () => compileRegex("(?:.*b|a)").findAll("a".repeat(100_000), -1),
      code("CUSTOS_REGEX_LIMIT"),
    );
  } finally {
    restore();
  }
});

test("LRU cache: hits return the compiled pattern, the least recently used is evicted", () => {
  const restore = setRegexLimitsForTest({ cacheEntries: 3 });
  try {
    clearRegexCache();
    const a = compileRegex("a");
    compileRegex("b");
    compileRegex("c");
    assert.equal(compileRegex("a"), a); // a is now the most recent
    compileRegex("d"); // evicts b
    assert.equal(regexCacheStats().entries, 3);
    assert.equal(compileRegex("a"), a);
    const b = compileRegex("b"); // recompiled, evicting c
    assert.notEqual(b, undefined);
    assert.equal(regexCacheStats().entries, 3);
  } finally {
    restore();
  }
});

test("LRU cache is also bounded by the summed program size", () => {
  const restore = setRegexLimitsForTest({ cacheProgramSize: 3000 });
  try {
    clearRegexCache();
    for (let i = 0; i < 10; i++) compileRegex(`x{1000}${i}`);
    assert.ok(regexCacheStats().programSize <= 3000);
    assert.ok(regexCacheStats().entries <= 3);
  } finally {
    restore();
  }
});

test("a cached pattern's lazy DFA is trimmed after use (memory stays bounded)", () => {
  // pseudo-random a/b text visits many of the 2^10 DFA states of this pattern
  let s = "";
  let x = 2463534242;
  for (let i = 0; i < 50_000; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    s += x & 1 ? "a" : "b";
  }
  s += "c";
  const restore = setRegexLimitsForTest({ dfaTrimBytes: Number.MAX_SAFE_INTEGER });
  try {
    const re = compileRegex("(a|b)*a(a|b){10}$");
    re.test(s);
    assert.ok(re.dfaBytes > 100_000, `untrimmed DFA holds ${re.dfaBytes} bytes`);
  } finally {
    restore();
  }
  const re = compileRegex("(a|b)*a(a|b){10}$");
  re.test(s);
  assert.ok(re.dfaBytes <= REGEX_LIMITS.dfaTrimBytes, `${re.dfaBytes}`);
});

test("Go's Expand template, parsed", () => {
  assert.deepEqual(parseTemplate("$1_x${1}_x$$$name$"), [
    { name: "1_x" },
    { group: 1 },
    "_x$",
    { name: "name" },
    "$",
  ]);
  assert.deepEqual(parseTemplate("${1"), ["${1"]);
  assert.deepEqual(parseTemplate("$01"), [{ name: "01" }]);
});

test("duplicate group names are renamed outside classes and quotes only", () => {
  const r = renameDuplicateGroups(String.raw`(?P<a>x)[(?P<a>]\Q(?P<a>\E(?<a>y)(?P<a_2>z)`);
  assert.equal(r.pattern, String.raw`(?P<a>x)[(?P<a>]\Q(?P<a>\E(?<a_3>y)(?P<a_2>z)`);
  assert.deepEqual([...r.original], [["a_3", "a"]]);
  const re = compileRegex(String.raw`(?P<a>x)|(?P<a>y)`);
  assert.deepEqual(re.subexpNames, ["", "a", "a"]);
  assert.equal(re.replaceAll("y", "[$a]"), "[y]");
});

test("property: any string as a pattern compiles or fails with a CustosError; operations never throw anything else", () => {
  const piece = fc.constantFrom(
    ...[
      "a",
      "b",
      "(",
      ")",
      "[",
      "]",
      "*",
      "+",
      "?",
      "{",
      "}",
      "|",
      "^",
      "$",
      "\\",
      ".",
      "-",
      ":",
      "P",
      "<",
      ">",
    ],
    ...["=", "!", "Q", "E", "p", "1", "é", "🙂", "\uD800", "{1001}", "(?P<n>", "(?i)", "[[:alpha:]]"],
  );
  const pattern = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.array(piece, { maxLength: 30 }).map((a) => a.join("")),
  );
  const input = fc.string({ maxLength: 40, unit: "binary" });
  fc.assert(
    fc.property(
      pattern,
      input,
      fc.string({ maxLength: 10 }),
      fc.integer({ min: -2, max: 3 }),
      (p, s, repl, n) => {
        let re;
        try {
          re = compileRegex(p);
        } catch (e) {
          assert.ok(
            isCustosError(e, "CUSTOS_REGEX_INVALID") || isCustosError(e, "CUSTOS_REGEX_LIMIT"),
            String(e),
          );
          if (p.length >= 6) assert.ok(!(e as Error).message.includes(p), "the pattern is never quoted");
          return;
        }
        re.test(s);
        re.find(s);
        re.findSubmatch(s);
        assert.ok(re.findAll(s, n).length <= (n < 0 ? s.length + 1 : n));
        re.replaceAll(s, repl);
        assert.equal(re.replaceAllLiteral(s, ""), re.split(s, -1).join(""));
      },
    ),
    { numRuns: 2000 },
  );
});

test("the program size estimate never undercounts by more than half (so the pre-check holds)", () => {
  for (const p of [
    "[a-z0-9]{1,253}",
    "x{1000}",
    "(?:a{100}){10}",
    "(a|b){1000}c",
    "[\\s\\S]{1000}",
    "(?i)\\pL{1000}",
    "((a{10}){10}){10}",
    "(?:a|aa){500}[^a]",
    "\\Qabcdefgh\\E{100}",
    "(?P<n>[[:alpha:]]{50}){20}",
  ]) {
    const exact = compileRegex(p).programSize;
    const rough = roughProgramSize(p);
    assert.ok(rough >= exact / 2 && rough <= exact * 2.5, `${p}: rough ${rough}, exact ${exact}`);
  }
});

test("a short pattern that would compile to a huge program is refused before compiling", () => {
  // 15 600 characters, ~1.3 million instructions: seconds and hundreds of MB if compiled
  const bomb = "[\\s\\S]{1000}".repeat(1300);
  const heap = process.memoryUsage().heapUsed;
  assert.throws(() => compileRegex(bomb), code("CUSTOS_REGEX_LIMIT"));
  assert.ok(process.memoryUsage().heapUsed - heap < 20 << 20);
});

test("RegexBudget: compiles and searches are charged by estimate, deterministically, cached or not", () => {
  const b = new RegexBudget(10);
  const re = b.compile("[a-z]{1000}x"); // ~1 ms to compile
  assert.throws(() => {
    for (let i = 0; i < 100; i++) b.search(re, "a".repeat(3000)); // ~100 ms each
  }, code("CUSTOS_REGEX_LIMIT"));
  const charges: number[] = [];
  const first = new RegexBudget(Infinity, (ms) => charges.push(ms));
  first.compile("[a-z]{1000}x");
  const again = new RegexBudget(Infinity, (ms) => charges.push(ms));
  again.compile("[a-z]{1000}x");
  assert.deepEqual(charges.slice(0, 2), charges.slice(2));
});
