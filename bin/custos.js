#!/usr/bin/env node
// Entry point of the CLI (bin/kubectl-custos.js, the kubectl plugin, runs it too).
// The compiled code in dist/ is the fast start; `npm ci` builds it (the "prepare" script), and the
// image ships it. In a checkout whose dist/ is missing or older than src/ (installed with
// --ignore-scripts, or sources changed since the build) the TypeScript sources run through tsx
// instead: a slower start, never a stale or missing CLI.
import { existsSync, readdirSync, statSync } from "node:fs";
import { totalmem } from "node:os";
import process from "node:process";
import { URL, fileURLToPath } from "node:url";
import { heapDefaults } from "./heap-defaults.js";

// `custos operator`: memory defaults derived from the container's limit (heap-defaults.js), applied
// by re-executing this same process with them before anything is loaded.
const heapArgs = heapDefaults({
  args: process.argv.slice(2),
  execArgv: process.execArgv,
  env: process.env,
  constrainedMemory: process.constrainedMemory?.() ?? 0,
  totalMemory: totalmem(),
});
if (heapArgs && typeof process.execve === "function") {
  try {
    process.execve(process.execPath, [
      process.execPath,
      ...process.execArgv,
      ...heapArgs,
      ...process.argv.slice(1),
    ]);
  } catch {
    // not supported here: run with V8's defaults
  }
}

const compiled = new URL("../dist/cli/main.js", import.meta.url);
const sources = new URL("../src/", import.meta.url);

/** True when dist/ was built after the last change to src/ (or there is no src/, as in the image). */
function compiledIsCurrent() {
  if (!existsSync(compiled)) return false;
  if (!existsSync(sources)) return true;
  const built = statSync(compiled).mtimeMs;
  for (const entry of readdirSync(sources, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && statSync(`${entry.parentPath}/${entry.name}`).mtimeMs > built) return false;
  }
  return true;
}

if (compiledIsCurrent()) {
  await import(compiled.href);
} else {
  let tsx;
  try {
    tsx = await import("tsx/esm/api");
  } catch {
    process.stderr.write(
      "custos: dist/ is not built (or older than src/) and tsx is not installed: run `npm run build`\n",
    );
    process.exit(1);
  }
  tsx.register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) });
  await import(new URL("../src/cli/main.ts", import.meta.url).href);
}
