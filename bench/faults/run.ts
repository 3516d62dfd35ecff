/**
 * `npm run faults -- [--scale N] [--only SCENARIO[,SCENARIO]] [--outage SECONDS] [--no-write]`:
 * runs the fault scenarios (bench/bench/faults/scenarios.ts) against the real environment, prints one table
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
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadavg, tmpdir } from "node:os";
import { SCENARIOS, type Options } from "./scenarios.ts";
import { formatNotes, formatTable, verdict, type Row } from "./invariants.ts";

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
  const doc = `# Reliability: faults survived, measured

Produced by \`npm run faults -- ${argv.join(" ")}\` on ${started.toISOString().slice(0, 16).replace("T", " ")} UTC,
commit ${git("rev-parse", "--short", "HEAD")}${dirty}, on this machine (${await cpus()}; load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end), against the real
servers of \`test/env/\` (kube-apiserver + etcd + kube-controller-manager, Vault dev server); the operator
runs as real \`custos operator\` processes with their own ServiceAccount tokens.

${table}
Columns: *lost* Secrets that went missing (at the end or in any 2 s sample during the fault);
*corrupted* Secrets holding neither their previous nor their expected data; *spurious rewrites*
Secret writes by the operator (API server audit log) beyond one per changed source; *wrong deletions*
Secret deletions by the operator; *converged in* seconds from the end of the fault until every
ExternalSecret is Ready with its expected data (leader fail-over: from the kill until a new
ExternalSecret's Secret is written); *store calls* requests through the counting proxy in front of
Vault; *operator restarts* exits the harness did not cause; *LIST calls* by the operator in the
scenario (audit log).

${notes}

Scenarios 1-5 also run at a small size in \`npm test\` (\`test/faults/scenarios-1-5.test.ts\`: 30
ExternalSecrets, refresh 10 s, 40 s outages, 2 kills, 1 leader kill), with the same invariants.

## What the suite found, and what changed

- **A down store held every worker.** Errors were not shared between ExternalSecrets, so with Vault
  blackholed each ExternalSecret waited its own 15 s request timeout, 8 at a time: 60 objects took
  over 90 s to report Ready=False, 1,000 would take half an hour, and ExternalSecrets of healthy
  stores waited behind them. A sealed or stopped Vault was asked once per ExternalSecret per retry
  (173 requests a minute for 60 objects over 3 secrets). Now the read cache
  (\`src/engine/reads.ts\`) remembers a transient failure: an unreachable store for every read
  through the session, a 5xx or throttling for its key; everyone who needs it gets the same real
  cause at once, and one read probes again after a back-off of 2 s doubling to 30 s. Requests
  during an outage are bounded by that back-off whatever the number of ExternalSecrets.
- **Recovery waited for the exponential back-off.** A failed ExternalSecret backs off 1 s doubling
  to 7 minutes, so after a 60 s outage it was retried only ~64 s after the store's return, after
  5 minutes up to 7 minutes later. Now a store failure is retried at least once per refresh
  interval (\`maxRetryDelay\` of \`src/kube/workqueue.ts\`), and a retry that is not a spec change
  shares reads with the others (reason \`retry\`, a 10 s read window) instead of each reading
  afresh, so the store's return is not met by one request per ExternalSecret.
- **ExternalSecrets of a down store retried on their own, ahead of those still to report.** With
  Vault stopped or blackholed, 1,000 ExternalSecrets reported Ready=False only 69 s / 86 s after
  the outage began: the operator's log showed the first failure at the start of the next cycle and
  the last a minute later, each failed object retried 1, 2, 4, 8, 16 s later in the urgent lane
  ahead of the refreshes still waiting (3,899 failed reconciles, each with an Event write, for 776
  objects in the first minute); blackholed, the first 15 s also went to the reads in flight (the
  request timeout). Now the read cache says which remembered failure an error is and when it is
  over (\`failureOf\`, \`onRecovered\` in \`src/engine/reads.ts\`), and the ExternalSecret controller
  lets one object per failing store (or key) retry when the store may be asked again, the others
  wait for its answer (requeued as soon as the store answers) or their next cycle (the work
  queue's \`retryDelay\` hook): one failed reconcile per object per cycle.
- **"Two LISTs per watch expiry" were pages.** The informers relisted once; a list of more than
  500 objects is read in pages of 500 and the audit counted each page (1,010 Secrets: 3 requests).
  The suite counts a LIST by its first page now (a later page carries a \`continue\` token) and
  reports the requests. And the informer no longer relists after a broken watch connection, a
  5xx, a 429 or the 401/403 of a restarting API server: it watches again from its
  resourceVersion, as client-go's reflector does, and the server answers with what was missed or
  with 410 (then one relist) (\`afterWatchFailure\` in \`src/kube/informer.ts\`).
- **Known and left as is**: a freshly restarted kube-apiserver answers 403 for a few seconds until
  its RBAC caches are filled; the operator's watches then back off (up to 30 s), so a rollout can
  come that much after its Secret changed (late, never missed: the suite waits up to 60 s and
  counts missed and duplicate restarts). Each informer relists once per API server restart: its
  resourceVersion is older than the new server's watch cache.

## Not covered yet

A multi-hour soak and bad input at scale (issue 16, scenarios 6-7) are not implemented. Operator kills happen during the cold sync until it
has converged, so fewer kills than asked may be made (the faults column says how many). A stopped
Vault is a dev server (in memory): it is restarted and re-seeded with the same values.
`;
  writeFileSync(out, doc);
  process.stderr.write(`faults: wrote ${out}\n`);
}
clearInterval(keepAlive);
process.exit(rows.every(verdict) ? 0 : 1);

async function cpus(): Promise<string> {
  const os = await import("node:os");
  return `${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`;
}
