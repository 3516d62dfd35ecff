/**
 * Top self-time functions of a V8 CPU profile (`node --cpu-prof`; for the operator in a benchmark:
 * BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"). Usage: npx tsx bench/profile-top.ts FILE [N]
 *   [--from S] [--to S]: only samples taken between S seconds after the profile's start (e.g. the
 *   refresh cycles after a cold start).
 * Prints the N (default 25) functions with the most self time, their share, and the total; and the
 * same grouped by file (src/…, node_modules/<package>, node: internals).
 */
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const argv = process.argv.slice(2);
const num = (name: string, dflt: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv.splice(i, 2)[1]) : dflt;
};
const from = num("--from", 0) * 1e6;
const to = num("--to", Infinity) * 1e6;
const [file, nArg] = argv;
if (!file) {
  process.stderr.write("usage: profile-top.ts FILE.cpuprofile [N]\n");
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
let t = 0;
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i] ?? 0;
  if (t < from || t >= to) continue;
  selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
}

const where = (url: string): string => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return `node_modules/${m[1]}`;
  const s = /\/(src|dist)\/(.*)$/.exec(url);
  if (s) return `${s[1]}/${s[2]}`;
  return url.startsWith("node:") ? url : url || "(native)";
};
const fn = new Map<string, number>();
const files = new Map<string, number>();
let total = 0;
let idle = 0;
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  total += us;
  const name = n.callFrame.functionName || "(anonymous)";
  if (name === "(idle)" || name === "(program)") {
    if (name === "(idle)") idle += us;
  }
  const key = `${name} ${where(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const f = name.startsWith("(") ? name : where(n.callFrame.url);
  files.set(f, (files.get(f) ?? 0) + us);
}
const busy = total - idle;
const top = (m: Map<string, number>, n: number): string =>
  [...m]
    .filter(([k]) => !k.startsWith("(idle)"))
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(
      ([k, us]) =>
        `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${k}`,
    )
    .join("\n");
process.stdout.write(
  `profile ${(total / 1e6).toFixed(1)} s, busy (not idle) ${(busy / 1e6).toFixed(1)} s\n\n` +
    `top functions by self time (share of busy):\n${top(fn, Number(nArg ?? 25))}\n\n` +
    `by file or package:\n${top(files, 20)}\n`,
);
