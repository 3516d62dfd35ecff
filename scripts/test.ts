/**
 * `npm test`: type-check and lint, run the unit tests, build or reuse the real servers, start one
 * environment for the whole run, run the integration and end-to-end tests against it, tear it down.
 * Extra arguments are test files (default: all).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { startEnv } from "../test/env/index.ts";
import { describeEnv, ENV_VAR } from "../test/env/shared.ts";

const root = join(import.meta.dirname, "..");
const node = process.execPath; // the pinned Node that runs this script

/** Runs a step; a step that outlives `limitMs` is killed so a hang can never eat the CI budget. */
function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  limitMs = 20 * 60_000,
): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: "inherit", cwd: root, env });
    const timer = setTimeout(() => {
      process.stdout.write(`\n!! step exceeded ${limitMs / 60_000} min: stopping it\n`);
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
    }, limitMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

function testFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const e of entries.sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith(".test.ts")) out.push(relative(root, p));
    }
  };
  walk(join(root, dir));
  return out;
}

const started = Date.now();
const args = process.argv.slice(2);
const quick = process.env.CUSTOS_TEST_SKIP_CHECKS === "1";
const step = (name: string): void => {
  process.stdout.write(`\n== ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
};

let failed = false;
// every step runs, even after an earlier one failed: the report shows all problems at once
const withStep = (stepFailed: boolean): boolean => failed || stepFailed;
if (!quick && args.length === 0) {
  step("typecheck");
  failed = withStep(
    (await run(node, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json", "--noEmit"])) !==
      0,
  );
  step("lint");
  failed = withStep((await run(node, [join(root, "node_modules/eslint/bin/eslint.js"), "."])) !== 0);
  step("formatting (prettier --check)");
  failed = withStep(
    (await run(node, [join(root, "node_modules/prettier/bin/prettier.cjs"), "--check", "."])) !== 0,
  );
  step("generated CRDs up to date");
  failed = withStep((await run(node, ["--import", "tsx", "scripts/generate-crds.ts", "--check"])) !== 0);
  step("CLI from a fresh clone: npm ci's prepare builds dist/, bin/custos.js runs it (scripts/check-cli.ts)");
  failed = withStep(
    (await run(node, ["--import", "tsx", "scripts/check-cli.ts"], process.env, 5 * 60_000)) !== 0,
  );
}

const unit = args.length ? args.filter((a) => a.includes("test/unit/")) : testFiles("test/unit");
const real = args.length
  ? args.filter((a) => a.includes("test/integration/"))
  : testFiles("test/integration");
const e2e = args.length ? args.filter((a) => a.includes("test/e2e/")) : testFiles("test/e2e");
const security = args.length ? args.filter((a) => a.includes("test/security/")) : testFiles("test/security");
const testArgs = ["--import", "tsx", "--test", "--test-reporter=spec"];

if (unit.length) {
  step(`unit tests (${unit.length} files)`);
  failed = withStep((await run(node, [...testArgs, "--test-concurrency=4", ...unit])) !== 0);
}

if (real.length || e2e.length || security.length) {
  step("real environment: build (cached) and start");
  const t0 = Date.now();
  const env = await startEnv({ verbose: true });
  process.stdout.write(`environment ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  const dir = mkdtempSync(join(tmpdir(), "custos-test-"));
  const file = join(dir, "env.json");
  writeFileSync(file, JSON.stringify(describeEnv(env)));
  const stopAll = (): void => {
    void env.stop().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once("SIGINT", stopAll);
  process.once("SIGTERM", stopAll);
  const testEnv = { ...process.env, [ENV_VAR]: file, PATH: `${env.bin.dir}:${process.env.PATH ?? ""}` };
  if (real.length) {
    step(`integration tests (${real.length} files)`);
    failed = withStep(
      (await run(node, [...testArgs, "--test-concurrency=2", "--test-timeout=180000", ...real], testEnv)) !==
        0,
    );
  }
  if (e2e.length) {
    // one file at a time: each starts its own operator, and the counting tests measure one operator's traffic
    step(`end-to-end tests (${e2e.length} files)`);
    failed = withStep(
      (await run(
        node,
        [...testArgs, "--test-concurrency=1", "--test-timeout=240000", ...e2e],
        testEnv,
        40 * 60_000,
      )) !== 0,
    );
  }
  if (security.length) {
    // hostile tenants against the real operator: one file at a time, each starts its own operator
    step(`security tests (${security.length} files)`);
    failed = withStep(
      (await run(
        node,
        [...testArgs, "--test-concurrency=1", "--test-timeout=240000", ...security],
        testEnv,
        30 * 60_000,
      )) !== 0,
    );
  }
  await env.stop();
  rmSync(dir, { recursive: true, force: true });
}

// fault scenarios at small sizes (issue 16; the full sizes: `npm run faults`): each scenario
// starts its own environment (an audit log, processes to kill), so they run after the shared one
// is gone. About 20 minutes; CUSTOS_FAULTS=0 leaves them out of a local run.
const faults = args.length
  ? args.filter((a) => a.includes("test/faults/"))
  : process.env.CUSTOS_FAULTS === "0"
    ? []
    : testFiles("test/faults");
if (faults.length) {
  step(`fault scenarios at small sizes (${faults.length} files)`);
  failed = withStep(
    (await run(
      node,
      [...testArgs, "--test-concurrency=1", "--test-timeout=900000", ...faults],
      process.env,
      45 * 60_000,
    )) !== 0,
  );
}

step(failed ? "FAILED" : "all passed");
process.exit(failed ? 1 : 0);
