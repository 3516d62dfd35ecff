/**
 * A copy of the checkout as a fresh clone has it (no dist/), sharing this node_modules: for
 * checks and benchmarks of the CLI as `npm ci` leaves it, without touching this work tree's dist/.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

const root = join(import.meta.dirname, "..");

export interface CheckoutCopy {
  dir: string;
  /** Runs the "prepare" script as `npm ci` does after installing; returns its exit status. */
  prepare(stdio?: "inherit" | "ignore"): number | null;
  remove(): void;
}

export function copyCheckout(prefix = "custos-clone-"): CheckoutCopy {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const p of [
    "package.json",
    "tsconfig.json",
    "tsconfig.build.json",
    "bin",
    "src",
    "scripts/prepare.js",
  ])
    cpSync(join(root, p), join(dir, p), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
  return {
    dir,
    prepare(stdio = "inherit") {
      const scripts = (
        JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { scripts: Record<string, string> }
      ).scripts;
      // npm runs lifecycle scripts through sh with node_modules/.bin first on PATH
      return spawnSync("sh", ["-c", scripts.prepare ?? "false"], {
        cwd: dir,
        stdio,
        env: {
          ...process.env,
          PATH: `${join(dir, "node_modules/.bin")}${delimiter}${process.env.PATH ?? ""}`,
        },
      }).status;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
