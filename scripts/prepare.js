// npm's "prepare" script: `npm ci` / `npm install` in a checkout runs it after installing the
// dependencies. It compiles src/ to dist/ so that `npx custos` starts from JavaScript (fast).
// Plain JavaScript: it must run before anything is built, without tsx. An install without the dev
// dependencies (no TypeScript) skips it: bin/custos.js then needs a dist/ built elsewhere.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { URL, fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url));
if (!existsSync(tsc)) {
  process.stdout.write(
    "custos prepare: TypeScript is not installed (production install): not building dist/\n",
  );
  process.exit(0);
}
const r = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
process.exit(r.status ?? 1);
