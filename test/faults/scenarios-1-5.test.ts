/**
 * Issue 16's fault scenarios 1-5 at a small size, so a regression is caught by `npm test`; the
 * full sizes run with `npm run faults` (bench/faults/, docs/reliability.md). Each scenario starts
 * its own environment (kube-apiserver with an audit log, etcd, kube-controller-manager, Vault) and
 * real operator processes, injects its fault with the real mechanism, and must keep every
 * invariant: no Secret lost, corrupted, spuriously rewritten or wrongly deleted, convergence, and
 * the scenario's own checks (one relist per watch expiry, Ready=False with the store's error
 * within a refresh cycle plus a margin, store calls bounded by the back-off, one writer per leader
 * term, every rollout once, the slow API server's work done with back-off in the metrics). The
 * only time bounds are the scenarios' own, relative to the refresh interval or the lease.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SCENARIOS, type Options } from "../../bench/faults/scenarios.ts";
import { formatNotes, formatTable, verdict } from "../../bench/faults/invariants.ts";

const small: Options = {
  scale: 30,
  refreshSeconds: 10,
  // a blackholed store answers nothing until the Vault client's 15 s request timeout: the outage
  // must outlast a refresh cycle plus that timeout for the objects to report it
  outageSeconds: 40,
  apiKills: 2,
  operatorKills: 2,
  leaderKills: 1,
  convergeTimeoutSeconds: 180,
  log: () => undefined,
  logDir: join(tmpdir(), "custos-faults-test-logs"),
};

// the environment's server processes are unref'd: awaiting one must not let the event loop drain
const keepAlive = setInterval(() => undefined, 60_000);

const ids = [
  "apiserver-cold", // 1
  "apiserver-steady", // 1
  "watch-expiry", // 2
  "vault-sealed", // 3
  "vault-stopped", // 3
  "vault-blackhole", // 3
  "operator-kill", // 4
  "leader-failover", // 4
  "slow-apiserver", // 5
];

for (const id of ids) {
  test(`fault scenario ${id} at ${small.scale} ExternalSecrets: every invariant holds`, async () => {
    const sc = SCENARIOS[id];
    assert.ok(sc, `scenario ${id}`);
    const row = await sc.run(small);
    const report = `${formatTable([row])}\n${formatNotes([row])}`;
    assert.equal(row.lost, 0, report);
    assert.equal(row.corrupted, 0, report);
    assert.equal(row.spurious, 0, report);
    assert.equal(row.wrongDeletions, 0, report);
    assert.equal(row.operatorRestarts, 0, report);
    assert.notEqual(row.convergeSeconds, undefined, report);
    assert.deepEqual(row.failed, [], report);
    assert.ok(verdict(row), report);
  });
}

test("fault scenarios: done", () => {
  clearInterval(keepAlive);
});
