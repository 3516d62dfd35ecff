/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: a candidate takes the
 * Lease when it is free or when its record has not changed for a whole lease duration *as observed
 * by this process's clock* (no trust in other machines' clocks); the leader renews every retry
 * period and gives up if it cannot renew within the renew deadline. On a clean stop the leader
 * releases the Lease so a standby takes over at once.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { KubeApi, isConflict, isNotFound, resourcePath } from "./api.ts";
import type { Logger } from "../util/log.ts";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void | Promise<void>;
  /** Called when leadership is lost (not on a clean stop). */
  onStoppedLeading: () => void;
  log?: Logger;
}

interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

const LEASES = { group: "coordination.k8s.io", version: "v1", plural: "leases" } as const;

function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  readonly identity: string;
  readonly #o: Required<Omit<LeaderElectionOptions, "log" | "identity">> & { log?: Logger };
  #leading = false;
  #stopped = false;
  #observed: { record: string; at: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastRenew = 0;

  constructor(
    readonly api: KubeApi,
    opts: LeaderElectionOptions,
  ) {
    this.identity = opts.identity ?? `${hostname()}_${randomBytes(6).toString("hex")}`;
    const leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.#o = {
      ...opts,
      leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs ?? Math.round(leaseDurationMs * (2 / 3)),
      retryPeriodMs: opts.retryPeriodMs ?? Math.max(500, Math.round(leaseDurationMs / 7.5)),
    };
  }

  get leading(): boolean {
    return this.#leading;
  }

  get #path(): string {
    return resourcePath({ ...LEASES, namespace: this.#o.namespace, name: this.#o.name });
  }

  start(): void {
    const loop = async (): Promise<void> => {
      if (this.#stopped) return;
      try {
        const ok = await this.#tryAcquireOrRenew();
        if (this.#stopped) {
          // stopped while this attempt was in flight: give back what it may have taken
          if (ok) {
            this.#leading = true;
            await this.#release();
          }
          return;
        }
        if (ok) {
          this.#lastRenew = Date.now();
          if (!this.#leading) {
            this.#leading = true;
            this.#o.log?.info(
              { lease: `${this.#o.namespace}/${this.#o.name}`, identity: this.identity },
              "became leader",
            );
            await this.#o.onStartedLeading();
          }
        } else if (this.#leading) {
          this.#lose("lease taken by another holder");
          return;
        }
      } catch (e) {
        this.#o.log?.warn({ err: (e as Error).message }, "leader election: lease update failed");
      }
      if (this.#leading && Date.now() - this.#lastRenew > this.#o.renewDeadlineMs) {
        this.#lose("could not renew the lease within the renew deadline");
        return;
      }
      if (!this.#stopped) {
        this.#timer = setTimeout(
          () => void loop(),
          this.#o.retryPeriodMs * (this.#leading ? 1 : 1 + Math.random() * 0.2),
        );
      }
    };
    void loop();
  }

  #lose(why: string): void {
    this.#leading = false;
    this.#stopped = true;
    this.#o.log?.error({ why }, "leadership lost");
    this.#o.onStoppedLeading();
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const durationSeconds = Math.max(1, Math.round(this.#o.leaseDurationMs / 1000));
    let lease: Lease | undefined;
    try {
      lease = await this.api.get<Lease>(this.#path);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (!lease) {
      try {
        await this.api.create(resourcePath({ ...LEASES, namespace: this.#o.namespace }), {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.#o.name, namespace: this.#o.namespace },
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        } satisfies Lease);
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    }
    const record = JSON.stringify(lease.spec);
    if (this.#observed?.record !== record) this.#observed = { record, at: Date.now() };
    const holder = lease.spec.holderIdentity ?? "";
    const heldByOther = holder !== "" && holder !== this.identity;
    const theirDuration = (lease.spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && Date.now() < this.#observed.at + theirDuration) return false;
    const spec: Lease["spec"] = {
      ...lease.spec,
      holderIdentity: this.identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(now),
    };
    if (holder !== this.identity) {
      spec.acquireTime = microTime(now);
      spec.leaseTransitions = (lease.spec.leaseTransitions ?? 0) + 1;
    }
    try {
      const updated = await this.api.replace<Lease>(this.#path, { ...lease, spec });
      this.#observed = { record: JSON.stringify(updated.spec), at: Date.now() };
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  /** Stops campaigning; a leader releases the Lease so a standby can take it at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#release();
  }

  async #release(): Promise<void> {
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const lease = await this.api.get<Lease>(this.#path);
      if (lease.spec.holderIdentity !== this.identity) return;
      await this.api.replace(this.#path, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime() },
      });
    } catch (e) {
      this.#o.log?.warn({ err: (e as Error).message }, "could not release the lease");
    }
  }
}
