/**
 * Sharding's pure rules (ADR 0008): which shard a namespace is in, which live replica a shard
 * belongs to, and what a replica does with a shard's Lease on each tick. No I/O and no clock of
 * its own: sharding.ts feeds it what it observed, so every rule is testable without a cluster.
 *
 * - A namespace is in shard `hash(namespace) mod shards`, forever (the shard count is fixed).
 *   Cluster-scoped work (ClusterSecretStore status, ClusterExternalSecret) is the extra shard
 *   `cluster`.
 * - A shard's target replica is computed by every replica from the live member set (and the
 *   namespace count of each shard) with rendezvous (highest random weight) hashing under load
 *   bounds: deterministic, even, and a membership change moves (almost) only the shards it must.
 * - A replica writes a shard only while it holds the shard's Lease, and takes a Lease only when
 *   it is the target and the Lease is free (released) or its record has not changed for a whole
 *   lease duration on this replica's clock. So a shard never has two writers: the API server's
 *   optimistic concurrency on the Lease decides between two takers.
 */
import { createHash } from "node:crypto";

export const CLUSTER_SHARD = "cluster";

function hash48(s: string): number {
  return createHash("sha256").update(s).digest().readUIntBE(0, 6);
}

/** The shard of a namespace ("" = cluster-scoped objects). */
export function shardOf(namespace: string, shards: number): string {
  if (namespace === "") return CLUSTER_SHARD;
  return String(hash48(`ns\u0000${namespace}`) % Math.max(1, shards));
}

/** Every shard's name: "0" .. "shards-1", then "cluster". */
export function shardNames(shards: number): string[] {
  return [...Array.from({ length: Math.max(1, shards) }, (_, i) => String(i)), CLUSTER_SHARD];
}

/** Rendezvous weight of a (shard, member) pair. */
export function weight(shard: string, member: string): number {
  return hash48(`${shard}\u0000${member}`);
}

/**
 * Target member of every shard: rendezvous hashing with load bounds. (shard, member) pairs are
 * taken by rendezvous weight, highest first, and a shard goes to the first member of its pairs
 * that is below its bound:
 * - shards holding namespaces first, bounded by ceil(namespaces / members) namespaces per member
 *   (`load`: namespaces per shard, which every replica counts from its namespace watch), so even
 *   10 namespaces split 4/3/3 rather than as a hash falls;
 * - then the other shards, bounded so that shard counts (Leases to renew) differ by at most one.
 * A shard no member fits goes to the least loaded. The result depends only on the sets and loads
 * given (not their order), so every replica computes the same targets from the same view.
 */
export function assignShards(
  shards: readonly string[],
  members: readonly string[],
  load?: ReadonlyMap<string, number>,
): Map<string, string> {
  const out = new Map<string, string>();
  const live = [...new Set(members)].sort();
  if (live.length === 0) return out;
  const pairs: { shard: string; member: string; w: number }[] = [];
  for (const shard of new Set(shards))
    for (const member of live) pairs.push({ shard, member, w: weight(shard, member) });
  pairs.sort(
    (a, b) =>
      b.w - a.w ||
      (a.member < b.member ? -1 : a.member > b.member ? 1 : 0) ||
      (a.shard < b.shard ? -1 : a.shard > b.shard ? 1 : 0),
  );
  const loadOf = (s: string): number => Math.max(0, load?.get(s) ?? 0);
  const byLoad = new Map<string, number>(live.map((m) => [m, 0]));
  const byCount = new Map<string, number>(live.map((m) => [m, 0]));
  const give = (shard: string, member: string): void => {
    out.set(shard, member);
    byLoad.set(member, byLoad.get(member)! + loadOf(shard));
    byCount.set(member, byCount.get(member)! + 1);
  };
  const leastLoaded = (of: Map<string, number>): string =>
    live.reduce((best, m) => (of.get(m)! < of.get(best)! ? m : best), live[0]!);

  // 1. shards with namespaces, bounded by namespaces per member
  const heavy = new Set([...new Set(shards)].filter((s) => loadOf(s) > 0));
  const total = [...heavy].reduce((n, s) => n + loadOf(s), 0);
  const loadCap = Math.ceil(total / live.length);
  for (const p of pairs) {
    if (!heavy.has(p.shard) || out.has(p.shard)) continue;
    if (byLoad.get(p.member)! + loadOf(p.shard) <= loadCap) give(p.shard, p.member);
  }
  for (const s of [...heavy].sort((a, b) => loadOf(b) - loadOf(a) || (a < b ? -1 : 1)))
    if (!out.has(s)) give(s, leastLoaded(byLoad));

  // 2. the others, bounded so that shard counts differ by at most one
  const count = new Set(shards).size;
  const floor = Math.floor(count / live.length);
  let extra = count % live.length; // members that may hold floor + 1
  for (const m of live) if (byCount.get(m)! > floor) extra -= 1;
  for (const p of pairs) {
    if (out.has(p.shard)) continue;
    const n = byCount.get(p.member)!;
    if (n < floor) give(p.shard, p.member);
    else if (n === floor && extra > 0) {
      extra -= 1;
      give(p.shard, p.member);
    }
  }
  for (const s of [...new Set(shards)].sort()) if (!out.has(s)) give(s, leastLoaded(byCount));
  return out;
}

/** Namespaces per shard, the `load` of assignShards. */
export function shardLoads(namespaces: Iterable<string>, shards: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const ns of namespaces) {
    const s = shardOf(ns, shards);
    out.set(s, (out.get(s) ?? 0) + 1);
  }
  return out;
}

/** What a replica knows of one Lease (a shard's or a member's), as observed on its own clock. */
export interface LeaseView {
  /** holderIdentity; undefined or "" = released. */
  holder: string | undefined;
  /** Local time when this exact record (holder, renewTime, ...) was first seen. */
  observedAt: number;
  /** The holder's lease duration. */
  durationMs: number;
}

/** A Lease is expired when its record has not changed for its whole duration on our clock. */
export function expired(lease: LeaseView, now: number): boolean {
  return now - lease.observedAt >= lease.durationMs;
}

/** A member is live while its Lease is held and not expired. */
export function liveMember(lease: LeaseView | undefined, now: number): boolean {
  return lease !== undefined && !!lease.holder && !expired(lease, now);
}

export type ShardAction = "acquire" | "renew" | "release" | "none";

export interface ShardState {
  self: string;
  /** The shard's target from assignShards over the live members (undefined: no live member). */
  target: string | undefined;
  /** The shard's Lease as last listed; undefined when it does not exist. */
  lease: LeaseView | undefined;
  now: number;
  /** When our last successful renewal of this Lease was sent (0: never). */
  lastRenew: number;
  renewDeadlineMs: number;
  /** Writes of this shard still in flight (a leaving owner waits for them before it releases). */
  inflight: number;
}

export interface ShardDecision {
  action: ShardAction;
  /** May this replica write the shard's objects now. */
  owned: boolean;
}

/**
 * The handover rule, one shard, one tick:
 * - held by us and we are the target: renew; owned while the last renewal is within the renew
 *   deadline (a replica that cannot renew stops writing before anyone may take over);
 * - held by us and another replica is the target: stop writing at once, keep renewing until the
 *   writes in flight are done, then release (the target takes it on its next tick);
 * - not held by us and we are the target: acquire if the Lease is free or expired, else wait;
 * - otherwise nothing.
 */
export function shardStep(s: ShardState): ShardDecision {
  const holder = s.lease?.holder || undefined;
  const fresh = s.lastRenew > 0 && s.now - s.lastRenew <= s.renewDeadlineMs;
  if (holder === s.self) {
    if (s.target === s.self) return { action: "renew", owned: fresh };
    return { action: s.inflight > 0 ? "renew" : "release", owned: false };
  }
  if (s.target !== s.self) return { action: "none", owned: false };
  if (!s.lease || !holder || expired(s.lease, s.now)) return { action: "acquire", owned: false };
  return { action: "none", owned: false };
}
