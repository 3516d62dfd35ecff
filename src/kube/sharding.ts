/**
 * Several active replicas splitting the work by namespace (ADR 0008), coordinated by Leases only:
 * - membership: one Lease per replica (`<group>-member-<id>`), renewed every tick; a member is
 *   live while its record keeps changing (expired = unchanged for its duration on our clock, as
 *   client-go's leader election judges a Lease; no trust in other machines' clocks);
 * - ownership: one Lease per shard (`<group>-shard-<n>`, and `<group>-shard-cluster` for
 *   cluster-scoped work) whose holderIdentity is the replica allowed to write it; every replica
 *   computes the targets from the live members (shard-assign.ts) and applies the handover rule
 *   (`shardStep`) each tick. Taking a Lease is a PUT with the resourceVersion we listed, so the
 *   API server's optimistic concurrency decides between two takers.
 * One tick = one LIST of the group's Leases + one PUT per Lease this replica holds or takes.
 * `owns(namespace)` is judged by the clock at each call (held, target, renewed within the renew
 * deadline), so a replica whose renewals stall stops writing before anyone may take its shards.
 */
import { createHash } from "node:crypto";
import { isConflict, isNotFound, resourcePath, type RequestOptions } from "./api.ts";
import type { Clock } from "./leader.ts";
import type { ShardGate } from "./shard-scope.ts";
import {
  assignShards,
  CLUSTER_SHARD,
  liveMember,
  shardNames,
  shardLoads,
  shardOf,
  shardStep,
  type LeaseView,
} from "./shard-assign.ts";
import type { Logger } from "../util/log.ts";
import { errorMessage } from "../util/errors.ts";

export interface ShardingOptions {
  /** Namespace of the Leases. */
  namespace: string;
  /** Prefix of the Lease names and value of their group label. */
  group: string;
  /** Number of namespace shards (fixed for a deployment: changing it moves every namespace). */
  shards: number;
  /** This replica's identity (the pod name). */
  replicaId: string;
  leaseDurationMs: number;
  /** Tick period (default leaseDuration / 3: two renewals within the renew deadline). */
  renewPeriodMs?: number | undefined;
}

export interface ShardingHooks {
  log?: Logger | undefined;
  /** Owned shard count after each tick; a handover (acquired, released, lost) as it happens. */
  owned?: (n: number) => void;
  handover?: (direction: "acquired" | "released" | "lost", shard: string) => void;
  members?: (n: number) => void;
  clock?: Clock;
}

/** What the coordinator needs of the API client (KubeApi). */
export interface LeasesApi {
  request<T>(method: string, path: string, opts?: RequestOptions): Promise<T>;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

const GROUP_LABEL = "custos.io/shard-group";
const ROLE_LABEL = "custos.io/shard-role";
const LEASES = { group: "coordination.k8s.io", version: "v1", plural: "leases" } as const;
/** A dead member's Lease is deleted (by the cluster shard's owner) after this many durations. */
const MEMBER_GC_DURATIONS = 10;

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => {
    clearTimeout(h as NodeJS.Timeout);
  },
};

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** A Lease name for any replica id: DNS-safe, unique by a hash of the id. */
export function memberLeaseName(group: string, replicaId: string): string {
  const safe = replicaId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  const h = createHash("sha256").update(replicaId).digest("hex").slice(0, 8);
  return `${group}-member-${safe ? `${safe}-` : ""}${h}`;
}

export class ShardCoordinator implements ShardGate {
  readonly self: string;
  readonly #o: Required<ShardingOptions>;
  readonly #renewDeadlineMs: number;
  readonly #clock: Clock;
  readonly #hooks: ShardingHooks;
  readonly #shards: string[];
  /** Lease name -> the record as last seen and when it was first seen so. */
  readonly #seen = new Map<string, { record: string; at: number }>();
  /** Shards whose Lease we hold -> when the last successful renewal was sent. */
  readonly #held = new Map<string, number>();
  /** Shard -> target member, from the last tick. */
  #targets = new Map<string, string>();
  readonly #inflight = new Map<string, number>();
  /** Namespaces with work: how many queues have keys of each (ShardGate.track). */
  readonly #work = new Map<string, number>();
  readonly #listeners = new Set<() => void>();
  #owned = new Set<string>();
  #members: string[] = [];
  #timer: unknown;
  #tick: Promise<void> | undefined;
  #stopped = false;
  #firstTick: Promise<void>;
  #firstTickDone!: () => void;

  constructor(
    readonly api: LeasesApi,
    opts: ShardingOptions,
    hooks: ShardingHooks = {},
  ) {
    this.self = opts.replicaId;
    const renewPeriodMs = opts.renewPeriodMs ?? Math.max(200, Math.round(opts.leaseDurationMs / 3));
    this.#o = { ...opts, renewPeriodMs };
    this.#renewDeadlineMs = Math.round((opts.leaseDurationMs * 2) / 3);
    this.#clock = hooks.clock ?? realClock;
    this.#hooks = hooks;
    this.#shards = shardNames(opts.shards);
    this.#firstTick = new Promise((r) => (this.#firstTickDone = r));
  }

  // --- ShardGate --------------------------------------------------------------------------

  owns(namespace: string): boolean {
    return this.ownsShard(shardOf(namespace, this.#o.shards));
  }

  ownsShard(shard: string): boolean {
    const last = this.#held.get(shard);
    return (
      !this.#stopped &&
      last !== undefined &&
      this.#targets.get(shard) === this.self &&
      this.#clock.now() - last <= this.#renewDeadlineMs
    );
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  beginWrite(namespace: string): () => void {
    const shard = shardOf(namespace, this.#o.shards);
    this.#inflight.set(shard, (this.#inflight.get(shard) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.#inflight.get(shard) ?? 1) - 1;
      if (n > 0) this.#inflight.set(shard, n);
      else this.#inflight.delete(shard);
    };
  }

  track(namespace: string, delta: 1 | -1): void {
    const n = (this.#work.get(namespace) ?? 0) + delta;
    if (n > 0) this.#work.set(namespace, n);
    else this.#work.delete(namespace);
  }

  // --- state for metrics, logs and tests -----------------------------------------------------

  /** Shards this replica may write now. */
  ownedShards(): string[] {
    return this.#shards.filter((s) => this.ownsShard(s));
  }

  /** Live members as of the last tick (this replica included). */
  get members(): readonly string[] {
    return this.#members;
  }

  /** Resolves after the first tick (membership announced, free shards taken). */
  ready(): Promise<void> {
    return this.#firstTick;
  }

  // --- the loop ------------------------------------------------------------------------------

  start(): void {
    this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#tick = this.#runTick().finally(() => {
        this.#tick = undefined;
        this.#firstTickDone();
      });
      void this.#tick.then(() => {
        this.#schedule(this.#o.renewPeriodMs);
      });
    }, ms);
  }

  #path(name?: string): string {
    return resourcePath({ ...LEASES, namespace: this.#o.namespace, name });
  }

  #call<T>(method: string, path: string, body?: unknown, query?: RequestOptions["query"]): Promise<T> {
    return this.api.request<T>(method, path, {
      ...(body !== undefined ? { body } : {}),
      ...(query ? { query } : {}),
      signal: AbortSignal.timeout(Math.max(1000, Math.round(this.#renewDeadlineMs / 2))),
    });
  }

  #view(lease: Lease | undefined, now: number): LeaseView | undefined {
    if (!lease) return undefined;
    const record = JSON.stringify(lease.spec);
    const seen = this.#seen.get(lease.metadata.name);
    if (seen?.record !== record) this.#seen.set(lease.metadata.name, { record, at: now });
    return {
      holder: lease.spec.holderIdentity ?? undefined,
      observedAt: this.#seen.get(lease.metadata.name)!.at,
      durationMs: (lease.spec.leaseDurationSeconds ?? Math.round(this.#o.leaseDurationMs / 1000)) * 1000,
    };
  }

  async #runTick(): Promise<void> {
    let leases: Lease[];
    try {
      const list = await this.#call<{ items?: Lease[] }>("GET", this.#path(), undefined, {
        labelSelector: `${GROUP_LABEL}=${this.#o.group}`,
      });
      leases = list.items ?? [];
    } catch (e) {
      this.#hooks.log?.warn({ err: errorMessage(e) }, "sharding: could not list leases");
      this.#afterTick();
      return;
    }
    // records count as seen when the list came back (never earlier: expiry stays conservative)
    const now = this.#clock.now();
    const byName = new Map(leases.map((l) => [l.metadata.name, l]));
    for (const name of [...this.#seen.keys()]) if (!byName.has(name)) this.#seen.delete(name);

    // membership: our own Lease first, then who else is live
    const memberName = memberLeaseName(this.#o.group, this.self);
    await this.#renewMember(byName.get(memberName), memberName, now);
    const live = new Set([this.self]);
    const deadMembers: Lease[] = [];
    for (const l of leases) {
      if (l.metadata.labels?.[ROLE_LABEL] !== "member" || l.metadata.name === memberName) continue;
      const view = this.#view(l, now)!;
      if (liveMember(view, now)) live.add(view.holder!);
      else if (now - view.observedAt >= MEMBER_GC_DURATIONS * view.durationMs) deadMembers.push(l);
    }
    this.#members = [...live].sort();
    this.#hooks.members?.(live.size);
    // balanced by namespaces with work (every replica's queues see every object)
    this.#targets = assignShards(this.#shards, this.#members, shardLoads(this.#work.keys(), this.#o.shards));

    // each shard: the handover rule
    await Promise.all(
      this.#shards.map(async (shard) => {
        const name = `${this.#o.group}-shard-${shard}`;
        const lease = byName.get(name);
        const view = this.#view(lease, now);
        if (view?.holder !== this.self && this.#held.has(shard)) {
          // someone else holds it now (we stalled past the lease): it is theirs
          this.#held.delete(shard);
          this.#hooks.handover?.("lost", shard);
          this.#hooks.log?.warn({ shard, holder: view?.holder }, "sharding: shard lost");
        }
        const decision = shardStep({
          self: this.self,
          target: this.#targets.get(shard),
          lease: view,
          now: this.#clock.now(),
          lastRenew: this.#held.get(shard) ?? 0,
          renewDeadlineMs: this.#renewDeadlineMs,
          inflight: this.#inflight.get(shard) ?? 0,
        });
        try {
          if (decision.action === "renew" || decision.action === "acquire")
            await this.#take(shard, name, lease, decision.action === "acquire");
          else if (decision.action === "release") await this.#release(shard, name, lease);
        } catch (e) {
          if (!isConflict(e))
            this.#hooks.log?.warn({ shard, err: errorMessage(e) }, `sharding: could not ${decision.action}`);
        }
      }),
    );
    if (this.ownsShard(CLUSTER_SHARD)) for (const l of deadMembers) await this.#deleteDead(l);
    this.#afterTick();
  }

  async #renewMember(lease: Lease | undefined, name: string, now: number): Promise<void> {
    const spec = {
      holderIdentity: this.self,
      leaseDurationSeconds: Math.max(1, Math.round(this.#o.leaseDurationMs / 1000)),
      renewTime: microTime(now),
    };
    try {
      if (!lease)
        await this.#call("POST", this.#path(), {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, labels: { [GROUP_LABEL]: this.#o.group, [ROLE_LABEL]: "member" } },
          spec: { ...spec, acquireTime: microTime(now) },
        });
      else await this.#call("PUT", this.#path(name), { ...lease, spec: { ...lease.spec, ...spec } });
    } catch (e) {
      if (!isConflict(e))
        this.#hooks.log?.warn({ err: errorMessage(e) }, "sharding: could not renew the membership lease");
    }
  }

  async #take(shard: string, name: string, lease: Lease | undefined, acquire: boolean): Promise<void> {
    const sent = this.#clock.now();
    const spec: Lease["spec"] = {
      ...lease?.spec,
      holderIdentity: this.self,
      leaseDurationSeconds: Math.max(1, Math.round(this.#o.leaseDurationMs / 1000)),
      renewTime: microTime(sent),
    };
    if (acquire) {
      spec.acquireTime = microTime(sent);
      spec.leaseTransitions = (lease?.spec.leaseTransitions ?? -1) + 1;
    }
    if (!lease)
      await this.#call("POST", this.#path(), {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, labels: { [GROUP_LABEL]: this.#o.group, [ROLE_LABEL]: "shard" } },
        spec,
      });
    else await this.#call("PUT", this.#path(name), { ...lease, spec });
    if (this.#stopped) return;
    this.#held.set(shard, sent);
  }

  async #release(shard: string, name: string, lease: Lease | undefined): Promise<void> {
    this.#held.delete(shard);
    if (!lease) return;
    await this.#call("PUT", this.#path(name), {
      ...lease,
      spec: {
        ...lease.spec,
        holderIdentity: null,
        leaseDurationSeconds: 1,
        renewTime: microTime(this.#clock.now()),
      },
    });
    this.#hooks.log?.info({ shard }, "sharding: shard released");
  }

  async #deleteDead(lease: Lease): Promise<void> {
    try {
      await this.#call("DELETE", this.#path(lease.metadata.name), {
        apiVersion: "v1",
        kind: "DeleteOptions",
        preconditions: { resourceVersion: lease.metadata.resourceVersion },
      });
    } catch (e) {
      if (!isNotFound(e) && !isConflict(e))
        this.#hooks.log?.warn({ err: errorMessage(e) }, "sharding: could not delete a dead member's lease");
    }
  }

  /** Handover metrics and logs, and wakes the queues when a shard was gained. */
  #afterTick(): void {
    const now = new Set(this.ownedShards());
    const gained = [...now].filter((s) => !this.#owned.has(s));
    const gone = [...this.#owned].filter((s) => !now.has(s));
    this.#owned = now;
    for (const s of gained) this.#hooks.handover?.("acquired", s);
    for (const s of gone) this.#hooks.handover?.("released", s);
    this.#hooks.owned?.(now.size);
    if (gained.length || gone.length)
      this.#hooks.log?.info(
        { replica: this.self, members: this.#members.length, owned: now.size, gained, released: gone },
        "sharding: ownership changed",
      );
    if (gained.length)
      for (const l of [...this.#listeners]) {
        try {
          l();
        } catch (e) {
          this.#hooks.log?.error({ err: errorMessage(e) }, "sharding: listener failed");
        }
      }
  }

  /** Stops ticking and gives every shard and the membership back, so others take over at once. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    await this.#tick?.catch(() => undefined);
    const names = [
      ...[...this.#held.keys()].map((s) => `${this.#o.group}-shard-${s}`),
      memberLeaseName(this.#o.group, this.self),
    ];
    this.#held.clear();
    await Promise.all(
      names.map(async (name) => {
        try {
          const lease = await this.#call<Lease>("GET", this.#path(name));
          if (lease.spec.holderIdentity !== this.self) return;
          await this.#call("PUT", this.#path(name), {
            ...lease,
            spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1 },
          });
        } catch (e) {
          if (!isNotFound(e))
            this.#hooks.log?.warn(
              { lease: name, err: errorMessage(e) },
              "sharding: could not release a lease",
            );
        }
      }),
    );
  }
}
