/**
 * `npm run bench -- <name> [args]`: runs one benchmark (or all, in turn, with their defaults).
 *   sync [N] [refreshSeconds]   ExternalSecrets: cold start to Ready, store reads and writes per cycle, RSS
 *   shards [N] [replicas] [refreshSeconds]  refresh-cycle cost per replica with --sharding (1 = no sharding)
 *   vso [N] [refreshSeconds]    VaultStaticSecrets: cold start, Vault reads per refreshAfter against VSO's
 *   rollout [N] [coalesceMs]    Secret update to workload patch latency
 *   sealing [seconds]           seal/unseal values per second with 4096-bit keys
 *   template [seconds]          renders per second of a typical 20-line template
 *   redact [values] [bytes]     redact() time per message with many registered values
 *   regex [millisPerCase]       user regexes on re2js vs V8 RegExp, and the catastrophic case
 *   cli-startup [runs]          CLI start-up (help, seal, render) against node -e '' and kubeseal
 *   csi [pods] [concurrency]    CSI provider: mounts per second (cold, warm), Vault calls, RSS
 *   compare [N] [refresh]       floor, Custos and ESO on the same load, fresh env each: the table
 *                               of issue 13 with ratios (--eso-qps, --only, --cycles; bench/compare.ts)
 * Benchmarks print JSON; they never assert timings.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const all = [
  "sync",
  "shards",
  "vso",
  "rollout",
  "sealing",
  "template",
  "redact",
  "regex",
  "cli-startup",
  "csi",
  "compare",
];
const [name, ...args] = process.argv.slice(2);
const chosen = name ? [name] : all;
let failed = false;
for (const b of chosen) {
  if (!all.includes(b)) {
    process.stderr.write(`unknown benchmark "${b}"; one of: ${all.join(", ")}\n`);
    process.exit(2);
  }
  process.stdout.write(`== bench ${b}\n`);
  const r = spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, `${b}.ts`), ...args], {
    stdio: "inherit",
  });
  failed ||= r.status !== 0;
}
process.exit(failed ? 1 : 0);
