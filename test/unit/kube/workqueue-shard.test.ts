/**
 * Sharded work queues (ADR 0008): keys of namespaces the gate does not own are parked and come back
 * when the namespace is gained; handlers' writes are refused once the namespace is lost.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WorkQueue } from "../../../src/kube/workqueue.ts";
import {
  namespaceOfKey,
  shardWriteGuard,
  withShardGate,
  type ShardGate,
} from "../../../src/kube/shard-scope.ts";
import { isCustosError } from "../../../src/util/errors.ts";

class Gate implements ShardGate {
  owned = new Set<string>();
  track?: (ns: string, delta: 1 | -1) => void;
  inflight = 0;
  readonly #listeners = new Set<() => void>();
  owns(ns: string): boolean {
    return this.owned.has(ns);
  }
  onChange(l: () => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }
  beginWrite(): () => void {
    this.inflight++;
    return () => {
      this.inflight--;
    };
  }
  gain(ns: string): void {
    this.owned.add(ns);
    for (const l of this.#listeners) l();
  }
}

test("queue keys: namespace of `[prefix|]ns/name`, cluster-scoped otherwise", () => {
  assert.equal(namespaceOfKey("team-a/es"), "team-a");
  assert.equal(namespaceOfKey("vds|team-a/x"), "team-a");
  assert.equal(namespaceOfKey("SecretStore|team-a/s"), "team-a");
  assert.equal(namespaceOfKey("ClusterSecretStore|global"), "");
  assert.equal(namespaceOfKey("my-ces"), "");
});

test("a sharded queue works only on owned namespaces, and picks parked keys up when it gains one", async () => {
  const gate = new Gate();
  gate.owned.add("a");
  const seen: string[] = [];
  const q = new WorkQueue({ concurrency: 2, handler: async (k) => (seen.push(k), undefined) });
  withShardGate(gate, () => {
    q.start();
  });
  for (const k of ["a/1", "b/1", "b/2", "c/1", "global"]) q.add(k);
  await q.idle();
  assert.deepEqual(seen, ["a/1"]);
  assert.equal(q.parked, 4);
  q.forget("c/1"); // deleted meanwhile: never comes back
  gate.gain("b");
  await q.idle();
  assert.deepEqual(seen.sort(), ["a/1", "b/1", "b/2"]);
  gate.gain("c");
  gate.gain("");
  await q.idle();
  assert.deepEqual(seen.sort(), ["a/1", "b/1", "b/2", "global"]);
  await q.shutdown();
});

test("an unsharded queue (no gate in scope) works on every key", async () => {
  const seen: string[] = [];
  const q = new WorkQueue({ concurrency: 1, handler: async (k) => (seen.push(k), undefined) });
  q.start();
  q.add("x/1");
  q.add("cluster");
  await q.idle();
  assert.deepEqual(seen, ["x/1", "cluster"]);
});

test("the write guard refuses a handler's write once its namespace is lost, at the moment of the write", async () => {
  const gate = new Gate();
  gate.owned.add("a");
  const guard = shardWriteGuard(gate);
  const outcomes: string[] = [];
  const q = new WorkQueue({
    concurrency: 1,
    gate,
    handler: async () => {
      const done = guard("PUT", "/api/v1/namespaces/a/secrets/s");
      assert.equal(gate.inflight, 1);
      done?.();
      gate.owned.delete("a"); // lost in the middle of the reconcile
      try {
        guard("PATCH", "/apis/external-secrets.io/v1/namespaces/a/externalsecrets/e/status");
        outcomes.push("written");
      } catch (e) {
        outcomes.push(isCustosError(e, "CUSTOS_SHARD_LOST") ? "refused" : "other");
      }
      // reads, Leases and Events are never refused
      assert.equal(guard("GET", "/api/v1/namespaces/a/secrets/s"), undefined);
      assert.equal(guard("PUT", "/apis/coordination.k8s.io/v1/namespaces/x/leases/l"), undefined);
      assert.equal(guard("POST", "/api/v1/namespaces/a/events"), undefined);
      return undefined;
    },
  });
  q.start();
  q.add("a/e");
  await q.idle();
  assert.deepEqual(outcomes, ["refused"]);
  assert.equal(gate.inflight, 0);
  // outside a handler (the coordinator's own calls, keyrings): not the guard's business
  assert.equal(guard("PUT", "/api/v1/namespaces/a/secrets/s"), undefined);
});

test("a sharded queue reports the namespaces it has work in (added, until forgotten) to the gate", async () => {
  const gate = new Gate();
  const counts = new Map<string, number>();
  gate.track = (ns: string, delta: 1 | -1): void => {
    counts.set(ns, (counts.get(ns) ?? 0) + delta);
  };
  const q = new WorkQueue({ concurrency: 1, handler: async () => undefined });
  q.add("a/1"); // before start: reported at start
  withShardGate(gate, () => {
    q.start();
  });
  q.add("a/2");
  q.addAfter("b/1", 60_000);
  q.add("cluster-object"); // cluster-scoped: no namespace weight
  await q.idle();
  assert.deepEqual(Object.fromEntries(counts), { a: 1, b: 1 });
  q.forget("a/1");
  assert.equal(counts.get("a"), 1);
  q.forget("a/2");
  assert.equal(counts.get("a"), 0);
  await q.shutdown();
  assert.equal(counts.get("b"), 0);
});
