/**
 * Where sharding meets the controllers, in one place instead of in each of them (ADR 0008):
 * - the manager starts the controllers inside `withShardGate(gate, ...)`; every WorkQueue started
 *   there picks the gate up, works only on keys of namespaces the gate owns now, parks the others,
 *   and queues the parked keys of a namespace again when the gate gains it;
 * - each handler runs in a work scope naming its key's namespace, and the Kubernetes client's
 *   write guard (`shardWriteGuard`) refuses a write from a handler whose namespace this replica
 *   no longer owns — checked when each write is sent, so a replica stops writing the moment it
 *   loses a shard, even in the middle of a reconcile.
 * Without sharding there is no gate: queues and writes behave as before.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { CustosError } from "../util/errors.ts";

export interface ShardGate {
  /** May this replica work on objects of this namespace now ("" = cluster-scoped objects)? */
  owns(namespace: string): boolean;
  /** Called after ownership changed (something may have been gained); returns an unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Counts a write of this namespace in flight (a leaving owner waits for them); returns done. */
  beginWrite(namespace: string): () => void;
  /**
   * A queue has keys of this namespace now (+1) or no more (-1): the namespaces with work, which
   * the assignment balances (a namespace without Custos objects weighs nothing).
   */
  track?(namespace: string, delta: 1 | -1): void;
}

const gates = new AsyncLocalStorage<ShardGate>();
const work = new AsyncLocalStorage<{ namespace: string }>();

/** Runs `fn` (the start of the controllers) so that the work queues it starts use `gate`. */
export function withShardGate<T>(gate: ShardGate, fn: () => T): T {
  return gates.run(gate, fn);
}

/** The gate work queues started now should use (undefined: not sharded). */
export function currentShardGate(): ShardGate | undefined {
  return gates.getStore();
}

/** Runs a queue handler in the scope of its key's namespace. */
export function inWorkScope<T>(namespace: string, fn: () => T): T {
  return work.run({ namespace }, fn);
}

/**
 * The namespace of a queue key: keys are `[prefix|]namespace/name` for namespaced objects and
 * `[prefix|]name` for cluster-scoped ones (a queue whose keys differ passes its own parser).
 */
export function namespaceOfKey(key: string): string {
  const bar = key.lastIndexOf("|");
  const rest = bar >= 0 ? key.slice(bar + 1) : key;
  const slash = rest.indexOf("/");
  return slash > 0 ? rest.slice(0, slash) : "";
}

/** Writes a replica may always make: its own Leases, and Events (information, never state). */
function exempt(path: string): boolean {
  return /^\/apis\/coordination\.k8s\.io\//.test(path) || /\/events(\/|$)/.test(path);
}

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * The Kubernetes client's write guard for a sharded replica: a write made by a queue handler is
 * sent only while the replica owns the handler's namespace; otherwise it fails with
 * CUSTOS_SHARD_LOST (the key is parked by its queue and handled by the new owner).
 */
export function shardWriteGuard(gate: ShardGate): (method: string, path: string) => (() => void) | undefined {
  return (method, path) => {
    if (!MUTATING.has(method) || exempt(path)) return undefined;
    const scope = work.getStore();
    if (!scope) return undefined;
    if (!gate.owns(scope.namespace))
      throw new CustosError(
        "CUSTOS_SHARD_LOST",
        `not written: this replica no longer owns ${scope.namespace ? `namespace ${scope.namespace}` : "cluster-scoped objects"}`,
      );
    return gate.beginWrite(scope.namespace);
  };
}
