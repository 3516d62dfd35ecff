/**
 * Long fuzzing campaigns (the unit tests run a bounded number of cases of the same properties):
 *
 *   npm run fuzz -- templates [cases=100000] [--seed N]   random template programs and data
 *   npm run fuzz -- specs [cases=20000]                    random tenant objects (test/unit/fuzz)
 *
 * `templates` prints the cases tried, the worst time of a case (and its program), the worst heap
 * growth across a case, the highest heap seen and the most steps/bytes a case used; it stops at the
 * first case that breaks a property, with fast-check's shrunk counterexample and seed.
 */
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import {
  dataArbitrary,
  FUZZ_LIMITS,
  newStats,
  record,
  runCase,
  templateArbitrary,
} from "../test/unit/template/fuzz-gen.ts";

/** Cases slower than this are printed as they happen (the target: no render near a second). */
const SLOW_MS = 500;

function templates(cases: number, seed: number | undefined): number {
  const stats = newStats();
  const started = performance.now();
  let problem: string | undefined;
  console.log(`template fuzz: ${cases} cases, limits ${JSON.stringify(FUZZ_LIMITS)}`);
  const result = fc.check(
    fc.property(templateArbitrary(), dataArbitrary(), (src, data) => {
      const r = runCase(src, data);
      record(stats, src, r);
      if (stats.cases % 10_000 === 0)
        console.log(
          `  ${stats.cases} cases, ${((performance.now() - started) / 1000).toFixed(0)} s, worst ${stats.worstMs.toFixed(1)} ms`,
        );
      if (r.ms > SLOW_MS)
        console.log(`  slow case (${r.ms.toFixed(0)} ms): ${JSON.stringify(src).slice(0, 2000)}`);
      if (!r.ok) problem = r.problem;
      return r.ok;
    }),
    { numRuns: cases, ...(seed === undefined ? {} : { seed }) },
  );
  const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
  console.log(
    [
      `cases tried:        ${stats.cases}`,
      `elapsed:            ${((performance.now() - started) / 1000).toFixed(1)} s`,
      `worst time:         ${stats.worstMs.toFixed(1)} ms`,
      `  its program:      ${stats.worstMsCase ?? ""}`,
      `worst heap growth:  ${mib(stats.worstHeapGrowth)} (heapUsed after - before one case)`,
      `highest heap used:  ${mib(stats.maxHeapUsed)}`,
      `most steps:         ${stats.maxSteps} (budget ${FUZZ_LIMITS.maxSteps})`,
      `most bytes:         ${stats.maxBytes} (budget ${FUZZ_LIMITS.maxBytes})`,
    ].join("\n"),
  );
  if (result.failed) {
    console.error(`FAILED: ${problem ?? ""}\n${fc.defaultReportMessage(result) ?? ""}`);
    return 1;
  }
  return 0;
}

function specs(cases: number): number {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", "--test-reporter=spec", "test/unit/fuzz/specs.test.ts"],
    { stdio: "inherit", env: { ...process.env, CUSTOS_FUZZ_RUNS: String(cases) } },
  );
  return r.status ?? 1;
}

const args = process.argv.slice(2);
const seedAt = args.indexOf("--seed");
const seed = seedAt >= 0 ? Number(args.splice(seedAt, 2)[1]) : undefined;
const [target = "templates", count] = args;
switch (target) {
  case "templates":
    process.exitCode = templates(Number(count ?? 100_000), seed);
    break;
  case "specs":
    process.exitCode = specs(Number(count ?? 20_000));
    break;
  default:
    console.error(`unknown fuzz target ${target}: use templates or specs`);
    process.exitCode = 2;
}
