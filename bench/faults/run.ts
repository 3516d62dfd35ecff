/**
 * `npm run faults -- [--scale N] [--only SCENARIO[,SCENARIO]] [--outage SECONDS] [--no-write]`:
 * runs the fault scenarios (bench/faults/scenarios.ts) against the real environment, prints one table
 * and writes it to docs/reliability.md with the date, commit and command. Exit 1 if an invariant
 * failed. Not part of `npm test`: the full sizes take tens of minutes.
 *   --scale N            ExternalSecrets in the load (default 1000; 10 namespaces, and one Vault
 *                        secret, SealedSecret and rollout-annotated Deployment per 20)
 *   --only LIST          scenarios to run (default all): see --list
 *   --outage SECONDS     store outage length (default 300)
 *   --refresh SECONDS    ExternalSecret refreshInterval (default 30)
 *   --api-kills N        kube-apiserver kills per scenario (default 10)
 *   --operator-kills N   operator kills during a cold sync (default 50)
 *   --leader-kills N     leader kills (default 3)
 *   --log-dir DIR        where the operators' output is kept (default $TMPDIR/custos-faults-logs)
 *   --soak-minutes N     soak length (scenario soak; default 120, load 5000 ES unless --scale)
 *   --manifests N        manifests of the bad-input flood (scenario bad-input; default 10000)
 *   --out FILE           where the report goes (default docs/reliability.md); --no-write: nowhere
 *   --section NAME       the part of the report this run replaces (default "scenarios"); the rest
 *                        of the file, hand-written or from other runs, is kept
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadavg, tmpdir } from "node:os";
import { SCENARIOS, type Options } from "./scenarios.ts";
import { formatMarkdown, formatNotes, formatTable, verdict, withSection, type Row } from "./invariants.ts";

const root = join(import.meta.dirname, "..", "..");
const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const num = (name: string, dflt: number): number => {
  const v = flag(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`${name}: not a positive number: ${v}\n`);
    process.exit(2);
  }
  return n;
};

if (argv.includes("--list") || argv.includes("--help")) {
  process.stdout.write(`scenarios: ${Object.keys(SCENARIOS).join(", ")}\n`);
  process.exit(0);
}
const only =
  flag("--only")
    ?.split(",")
    .map((s) => s.trim()) ?? Object.keys(SCENARIOS);
for (const s of only)
  if (!(s in SCENARIOS)) {
    process.stderr.write(`unknown scenario "${s}"; one of: ${Object.keys(SCENARIOS).join(", ")}\n`);
    process.exit(2);
  }
const options: Options = {
  scale: num("--scale", 1000),
  refreshSeconds: num("--refresh", 30),
  outageSeconds: num("--outage", 300),
  apiKills: num("--api-kills", 10),
  operatorKills: num("--operator-kills", 50),
  leaderKills: num("--leader-kills", 3),
  convergeTimeoutSeconds: num("--converge-timeout", 300),
  log: (m) => process.stderr.write(`${m}\n`),
  logDir: flag("--log-dir") ?? join(tmpdir(), "custos-faults-logs"),
  soakMinutes: num("--soak-minutes", 120),
  scaleGiven: argv.includes("--scale"),
  manifests: num("--manifests", 10000),
};

// the environment's server processes are unref'd (they must not keep a test alive): awaiting
// one of them must not let the event loop drain
const keepAlive = setInterval(() => undefined, 60_000);
const rows: Row[] = [];
const started = new Date();
const loadAtStart = loadavg()[0]!; // the machine is shared: how busy it was is part of the figures
for (const name of only) {
  const sc = SCENARIOS[name]!;
  process.stderr.write(`faults: ${name} (${sc.name}) at ${options.scale} ExternalSecrets\n`);
  const t0 = Date.now();
  try {
    rows.push(await sc.run(options));
  } catch (e) {
    rows.push({
      scenario: sc.name,
      load: `${options.scale} ES`,
      faults: "-",
      lost: 0,
      corrupted: 0,
      spurious: 0,
      wrongDeletions: 0,
      convergeSeconds: undefined,
      storeCalls: "-",
      operatorRestarts: 0,
      lists: 0,
      failed: [`harness error: ${(e as Error).message.split("\n")[0]!.slice(0, 300)}`],
      notes: [],
    });
  }
  const row = rows[rows.length - 1]!;
  process.stderr.write(
    `faults: ${name} ${verdict(row) ? "held" : "FAILED"} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`,
  );
}

const table = formatTable(rows);
const notes = formatNotes(rows);
process.stdout.write(`${table}\n${notes}\n`);

if (!argv.includes("--no-write")) {
  const git = (...a: string[]): string => {
    try {
      return execFileSync("git", a, { cwd: root, encoding: "utf8" }).trim();
    } catch {
      return "unknown";
    }
  };
  const dirty = git("status", "--porcelain", "--untracked-files=no") ? " (with uncommitted changes)" : "";
  const out = flag("--out") ?? join(root, "docs", "reliability.md");
  const block = `Produced by \`npm run faults -- ${shownArgs(argv)}\` on ${started.toISOString().slice(0, 16).replace("T", " ")} UTC,
commit ${git("rev-parse", "--short", "HEAD")}${dirty}, on this machine (${await cpus()}; load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end).

${table}
${notes}`;
  const doc = withSection(
    existsSync(out) ? readFileSync(out, "utf8") : "",
    flag("--section") ?? "scenarios",
    block,
  );
  writeFileSync(out, await formatMarkdown(doc, out));
  process.stderr.write(`faults: wrote ${out}\n`);
}
clearInterval(keepAlive);
process.exit(rows.every(verdict) ? 0 : 1);

/** The command as a reader would type it: where the report and logs went changes no figure. */
function shownArgs(args: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--out" || args[i] === "--log-dir") i++;
    else out.push(args[i]!);
  }
  return out.join(" ");
}

async function cpus(): Promise<string> {
  const os = await import("node:os");
  return `${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`;
}
