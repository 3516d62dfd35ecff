/**
 * CI check that a fresh clone gets a working CLI from `npm ci` alone, on the compiled (fast) path:
 * copies what a clone has (no dist/) to a temporary directory sharing node_modules, runs
 * `custos --help` there (the TypeScript fallback), runs the "prepare" script as `npm ci` does,
 * then `custos --help`, `custos operator --help` and `kubectl-custos --help` from dist/, checking
 * with a module trace that no TypeScript source was loaded.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { copyCheckout } from "./checkout-copy.ts";

const root = join(import.meta.dirname, "..");
const tracer = join(root, "test/unit/cli/fixtures/trace-modules.js");
const copy = copyCheckout();
const dir = copy.dir;
let failed = false;

function check(what: string, ok: boolean, detail = ""): void {
  process.stdout.write(`${ok ? "ok" : "FAILED"}: ${what}${ok || !detail ? "" : `\n${detail}`}\n`);
  failed ||= !ok;
}

function cli(bin: string, args: string[], trace?: string): { status: number | null; out: string } {
  const r = spawnSync(
    process.execPath,
    [...(trace ? ["--import", tracer] : []), join(dir, "bin", bin), ...args],
    {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, ...(trace ? { CUSTOS_TRACE_MODULES: trace } : {}) },
    },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

try {
  const before = cli("custos.js", ["--help"]);
  check(
    "custos --help without dist/ (TypeScript sources through tsx)",
    before.status === 0 && before.out.startsWith("Usage: custos"),
    before.out,
  );
  check(
    "npm ci's prepare script builds dist/",
    copy.prepare() === 0 && existsSync(join(dir, "dist/cli/main.js")),
  );

  const trace = join(dir, "trace");
  const help = cli("custos.js", ["--help"], trace);
  const loaded = existsSync(trace) ? readFileSync(trace, "utf8").split("\n") : [];
  check("custos --help from dist/", help.status === 0 && help.out.startsWith("Usage: custos"), help.out);
  check(
    "the compiled path loads no TypeScript source",
    loaded.some((u) => u.endsWith("/dist/cli/main.js")) && !loaded.some((u) => u.endsWith(".ts")),
    loaded.filter((u) => u.endsWith(".ts")).join("\n"),
  );
  const operator = cli("custos.js", ["operator", "--help"]);
  check(
    "custos operator --help from dist/",
    operator.status === 0 && operator.out.includes("--controller-class"),
    operator.out,
  );
  const plugin = cli("kubectl-custos.js", ["--help"]);
  check(
    "kubectl-custos --help",
    plugin.status === 0 && plugin.out.startsWith("Usage: kubectl custos"),
    plugin.out,
  );
} finally {
  copy.remove();
}
process.exit(failed ? 1 : 0);
