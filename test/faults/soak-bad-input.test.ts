/**
 * Scenarios 6 and 7 of the fault suite (bench/faults/soak.ts, bad-input.ts) at a small size, on
 * their own real environment each (kube-apiserver with an audit log, etcd, Vault): the invariants
 * are asserted; memory slopes and latencies are printed, not asserted (speed is for bench/).
 * The full sizes: `npm run faults -- --only soak` and `--only bad-input` (docs/reliability.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runSoak } from "../../bench/faults/soak.ts";
import { runBadInput } from "../../bench/faults/bad-input.ts";

// the environment's server processes are unref'd: keep the event loop alive while awaiting them
const keepAlive = (): (() => void) => {
  const t = setInterval(() => undefined, 60_000);
  return () => clearInterval(t);
};

test(
  "soak, small: 2 min at 100 ExternalSecrets, 10 s refresh, 1% of values changing per cycle",
  { timeout: 15 * 60_000 },
  async () => {
    const done = keepAlive();
    try {
      // a change is due within one refresh (10 s, ±10% jitter); the margin absorbs a loaded CI machine
      const r = await runSoak({
        minutes: 2,
        externalSecrets: 100,
        refreshSeconds: 10,
        marginSeconds: 20,
        warmupSeconds: 30,
      });
      process.stdout.write(`# ${r.row.faults}\n# ${r.row.notes.join("\n# ")}\n`);
      assert.equal(r.row.operatorRestarts, 0, "operator restarts");
      assert.ok(r.changes >= 10, `${r.changes} changes made`);
      assert.equal(r.undelivered, 0, "changes that never reached their Secret");
      assert.equal(r.late, 0, `changes later than ${r.boundMs} ms: ${r.latencies.join(", ")}`);
      assert.deepEqual(r.spurious, [], "Secret writes for objects whose source did not change");
      assert.equal(r.row.lost, 0);
      assert.equal(r.row.corrupted, 0);
      assert.equal(r.row.wrongDeletions, 0);
      assert.ok(r.samples.length >= 6, "memory sampled");
      assert.ok(
        r.samples.some((s) => s.heapMiB !== undefined && s.lagP99Seconds !== undefined),
        "heap and lag from /metrics",
      );
    } finally {
      done();
    }
  },
);

test(
  "bad input, small: 300 generated manifests while 20 innocent ExternalSecrets refresh",
  { timeout: 15 * 60_000 },
  async () => {
    const done = keepAlive();
    try {
      const r = await runBadInput({ manifests: 300, innocents: 20, refreshSeconds: 10, probes: 10 });
      process.stdout.write(`# ${r.row.faults}\n# ${r.row.notes.join("\n# ")}\n`);
      const v = r.verdicts;
      assert.equal(r.restarts, 0, "operator crashes");
      assert.deepEqual(r.row.failed, []);
      assert.deepEqual(v.noCondition, [], "admitted objects without a condition");
      assert.deepEqual(v.generic, [], "conditions naming no problem");
      const admitted = v.admitted.ExternalSecret + v.admitted.SecretStore + v.admitted.SealedSecret;
      const rejected = v.rejected.ExternalSecret + v.rejected.SecretStore + v.rejected.SealedSecret;
      assert.ok(admitted > 100 && rejected > 30, `${admitted} admitted, ${rejected} refused by the schema`);
      assert.ok(v.named > 50, `${v.named} conditions naming a problem`);
      assert.equal(r.undeliveredBefore + r.undeliveredDuring, 0, "innocent changes lost");
      assert.equal(r.row.lost + r.row.corrupted + r.row.wrongDeletions, 0);
    } finally {
      done();
    }
  },
);
