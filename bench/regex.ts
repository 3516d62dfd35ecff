/**
 * Benchmark: user-pattern regular expressions on re2js (src/util/regex.ts, Go semantics) against
 * V8's backtracking RegExp, on the patterns Custos sees (store conditions, rewrites, find, template
 * functions), and the catastrophic `^(a+)+$` that V8 cannot bound. Prints JSON; asserts nothing.
 * Usage: npx tsx bench/regex.ts [millisPerCase]
 */
import { compileRegex, clearRegexCache, REGEX_LIMITS } from "../src/util/regex.ts";

const ms = Number(process.argv[2] ?? 300);

/** Runs fn repeatedly for about `ms` and returns operations per second. */
function rate(fn: () => unknown): number {
  for (let i = 0; i < 2000; i++) fn(); // warm up (JIT)
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    t = performance.now();
  }
  return Math.round((n / (t - t0)) * 1000);
}

const text1k = "The quick brown fox, id=42; user: admin@example.com -- path /var/lib/x.\n"
  .repeat(14)
  .slice(0, 1024);
const text10k = text1k.repeat(10);
const pem = `-----BEGIN CERTIFICATE-----\n${"MIIB".repeat(16)}\n`.repeat(20) + "-----END CERTIFICATE-----\n";
const names = Array.from({ length: 1000 }, (_, i) => `${i % 3 ? "prod" : "dev"}/service-${i}/db-password`);

interface Case {
  name: string;
  v8: () => unknown;
  re2: () => unknown;
}

const cases: Case[] = [
  (() => {
    const js = /^team-[a-z0-9-]+$/;
    const go = compileRegex("^team-[a-z0-9-]+$");
    return {
      name: "namespaceRegexes test, 15 chars",
      v8: () => js.test("team-payments-1"),
      re2: () => go.test("team-payments-1"),
    };
  })(),
  (() => {
    const js = /^db\/(?<rest>.*)$/g;
    const go = compileRegex("^db/(?P<rest>.*)$");
    return {
      name: "rewrite ReplaceAllString, 11 chars",
      v8: () => "db/password".replace(js, "DB_$<rest>"),
      re2: () => go.replaceAll("db/password", "DB_${rest}"),
    };
  })(),
  (() => {
    const js = /^prod\/.*password$/;
    const go = compileRegex("^prod/.*password$");
    return {
      name: "find.name.regexp over 1000 names",
      v8: () => names.filter((n) => js.test(n)).length,
      re2: () => names.filter((n) => go.test(n)).length,
    };
  })(),
  (() => {
    const js = /[^a-zA-Z0-9]/g;
    const go = compileRegex("[^a-zA-Z0-9]");
    return {
      name: "regexReplaceAll [^a-zA-Z0-9] on 1 KB",
      v8: () => text1k.replace(js, "_"),
      re2: () => go.replaceAll(text1k, "_"),
    };
  })(),
  (() => {
    const js = /[a-z]+/g;
    const go = compileRegex("[a-z]+");
    return {
      name: "regexFindAll [a-z]+ on 10 KB",
      v8: () => text10k.match(js)?.length,
      re2: () => go.findAll(text10k, -1).length,
    };
  })(),
  (() => {
    const js = /-----BEGIN [A-Z ]+-----/;
    const go = compileRegex("-----BEGIN [A-Z ]+-----");
    return { name: "regexFind PEM header in 1.6 KB", v8: () => js.exec(pem)?.[0], re2: () => go.find(pem) };
  })(),
  (() => {
    const js = /(?<user>[a-z]+)@(?<host>[a-z.]+)/;
    const go = compileRegex("(?P<user>[a-z]+)@(?P<host>[a-z.]+)");
    return {
      name: "submatch email in 1 KB",
      v8: () => js.exec(text1k)?.[2],
      re2: () => go.findSubmatch(text1k)?.[2],
    };
  })(),
];

const results: Record<string, unknown>[] = [];
for (const c of cases) {
  const v8 = rate(c.v8);
  const re2 = rate(c.re2);
  results.push({ case: c.name, v8OpsPerSec: v8, re2OpsPerSec: re2, slowdown: Number((v8 / re2).toFixed(1)) });
}

// compile cost, uncached: a typical rewrite pattern and a large counted repetition
const compileCost = (p: string): number => {
  const n = 200;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    clearRegexCache();
    compileRegex(p);
  }
  return Number(((performance.now() - t0) / n).toFixed(3));
};

const catastrophic: Record<string, unknown>[] = [];
for (const n of [20, 24, 26, 28]) {
  const s = "a".repeat(n) + "b";
  let t0 = performance.now();
  /^(a+)+$/.test(s);
  const v8Ms = performance.now() - t0;
  t0 = performance.now();
  compileRegex("^(a+)+$").test(s);
  const re2Ms = performance.now() - t0;
  catastrophic.push({ chars: n + 1, v8Ms: Number(v8Ms.toFixed(1)), re2Ms: Number(re2Ms.toFixed(3)) });
}
const long = "a".repeat(100_000) + "b";
let t0 = performance.now();
compileRegex("^(a+)+$").test(long);
const longMs = performance.now() - t0;
// the worst a single search may cost under the work limit: program x input at the bound
const worst = compileRegex("(?:a|aa){500}[^a]");
const worstInput = "a".repeat(Math.floor(REGEX_LIMITS.maxWork / worst.programSize) - 1);
t0 = performance.now();
worst.find(worstInput);
const worstMs = performance.now() - t0;

console.log(
  JSON.stringify(
    {
      node: process.version,
      typical: results,
      compileMs: {
        "^db/(?P<rest>.*)$": compileCost("^db/(?P<rest>.*)$"),
        "[a-z0-9]{1,253}": compileCost("[a-z0-9]{1,253}"),
      },
      catastrophic,
      re2On100kChars: Number(longMs.toFixed(1)),
      worstSearchAtWorkLimit: {
        programSize: worst.programSize,
        inputChars: worstInput.length,
        ms: Number(worstMs.toFixed(0)),
      },
    },
    null,
    2,
  ),
);
