/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: a candidate takes the
 * Lease when it is free or when its record has not changed for a whole lease duration *as observed
 * by this process's clock* (no trust in other machines' clocks); the leader renews every retry
 * period and gives up if it cannot renew within the renew deadline. On a clean stop the leader
 * releases the Lease so a standby takes over at once.
 *
 * Renewal depends on nothing else: it runs on its own timer from the moment the Lease is taken,
 * while the controllers start (their first lists may take minutes, or never finish) and while they
 * work — `onStartedLeading` is not awaited. Every Lease request has a timeout, and a watchdog timer
 * (not the renewal loop, which may be waiting on a hung request) ends leadership at the deadline.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { isConflict, isNotFound, resourcePath, type RequestOptions } from "./api.ts";
import type { Logger } from "../util/log.ts";
import { errorMessage } from "../util/errors.ts";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Called once the Lease is taken; not awaited (renewal goes on meanwhile). A rejection ends leadership. */
  onStartedLeading: () => void | Promise<void>;
  /** Called when leadership is lost (not on a clean stop). */
  onStoppedLeading: () => void;
  log?: Logger;
  /** Time and timers (tests use a fake clock). */
  clock?: Clock;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

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

/** What the elector needs of the API client (KubeApi). */
export interface LeaseApi {
  request<T>(method: string, path: string, opts?: RequestOptions): Promise<T>;
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

function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  readonly identity: string;
  readonly #o: Required<Omit<LeaderElectionOptions, "log" | "identity" | "clock">> & { log?: Logger };
  readonly #clock: Clock;
  #leading = false;
  #stopped = false;
  #observed: { record: string; at: number } | undefined;
  #timer: unknown;
  #watchdog: unknown;
  #lastRenew = 0;

  constructor(
    readonly api: LeaseApi,
    opts: LeaderElectionOptions,
  ) {
    this.identity = opts.identity ?? `${hostname()}_${randomBytes(6).toString("hex")}`;
    this.#clock = opts.clock ?? realClock;
    const leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.#o = {
      ...opts,
      leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs ?? Math.round(leaseDurationMs * (2 / 3)),
      retryPeriodMs: opts.retryPeriodMs ?? Math.max(500, Math.round(leaseDurationMs / 7.5)),
    };
  }

  /**
   * Whether this process holds the Lease now: by the clock, not only by the last timer that ran,
   * so a process whose loop was stalled past the deadline does not read as leading meanwhile.
   */
  get leading(): boolean {
    return this.#leading && this.#clock.now() - this.#lastRenew <= this.#o.renewDeadlineMs;
  }

  get #path(): string {
    return resourcePath({ ...LEASES, namespace: this.#o.namespace, name: this.#o.name });
  }

  start(): void {
    void this.#loop();
  }

  async #loop(): Promise<void> {
    if (this.#stopped) return;
    const started = this.#clock.now();
    let ok = false;
    let answered = false; // the API server answered (not a network error or timeout)
    try {
      ok = await this.#tryAcquireOrRenew(this.#attemptTimeout());
      answered = true;
    } catch (e) {
      this.#o.log?.warn({ err: errorMessage(e) }, "leader election: lease update failed");
    }
    if (this.#stopped) {
      // stopped while this attempt was in flight: give back what it may have taken
      if (ok) {
        this.#leading = true;
        await this.#release();
      }
      return;
    }
    if (ok) {
      // the request may have been slow: the renewal counts from when it was sent
      this.#lastRenew = started;
      this.#armWatchdog();
      if (!this.#leading) {
        this.#leading = true;
        this.#o.log?.info(
          { lease: `${this.#o.namespace}/${this.#o.name}`, identity: this.identity },
          "became leader",
        );
        this.#startLeading();
      }
    } else if (this.#leading && answered) {
      // someone else holds or has just updated the Lease: stop at once rather than at the deadline
      this.#lose("lease taken by another holder");
      return;
    } else if (this.#leading && this.#clock.now() - this.#lastRenew > this.#o.renewDeadlineMs) {
      this.#lose("could not renew the lease within the renew deadline");
      return;
    }
    if (this.#stopped) return;
    const wait = this.#o.retryPeriodMs * (this.#leading ? 1 : 1 + Math.random() * 0.2);
    this.#timer = this.#clock.setTimeout(() => void this.#loop(), wait);
  }

  /** A Lease request may not outlive what is left of the renew deadline. */
  #attemptTimeout(): number {
    if (!this.#leading) return this.#o.renewDeadlineMs;
    const left = this.#lastRenew + this.#o.renewDeadlineMs - this.#clock.now();
    return Math.max(1, Math.min(this.#o.renewDeadlineMs, left));
  }

  #startLeading(): void {
    let started: void | Promise<void>;
    try {
      started = this.#o.onStartedLeading();
    } catch (e) {
      started = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    Promise.resolve(started).catch((e: unknown) => {
      if (!this.#leading || this.#stopped) return;
      this.#o.log?.error({ err: errorMessage(e) }, "controllers failed to start");
      this.#lose("controllers failed to start");
    });
  }

  #armWatchdog(): void {
    if (this.#watchdog !== undefined) this.#clock.clearTimeout(this.#watchdog);
    const due = this.#lastRenew + this.#o.renewDeadlineMs - this.#clock.now();
    this.#watchdog = this.#clock.setTimeout(
      () => {
        this.#watchdog = undefined;
        if (this.#leading && !this.#stopped && this.#clock.now() - this.#lastRenew >= this.#o.renewDeadlineMs)
          this.#lose("could not renew the lease within the renew deadline");
      },
      Math.max(0, due),
    );
  }

  #lose(why: string): void {
    if (this.#stopped) return;
    this.#leading = false;
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    if (this.#watchdog !== undefined) this.#clock.clearTimeout(this.#watchdog);
    this.#o.log?.error({ why }, "leadership lost");
    this.#o.onStoppedLeading();
  }

  #call<T>(method: string, path: string, timeoutMs: number, body?: unknown): Promise<T> {
    return this.api.request<T>(method, path, {
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
  }

  async #tryAcquireOrRenew(timeoutMs: number): Promise<boolean> {
    const deadline = this.#clock.now() + timeoutMs;
    const left = (): number => Math.max(1, deadline - this.#clock.now());
    const now = new Date(this.#clock.now());
    const durationSeconds = Math.max(1, Math.round(this.#o.leaseDurationMs / 1000));
    let lease: Lease | undefined;
    try {
      lease = await this.#call<Lease>("GET", this.#path, left());
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (!lease) {
      try {
        await this.#call("POST", resourcePath({ ...LEASES, namespace: this.#o.namespace }), left(), {
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
    if (this.#observed?.record !== record) this.#observed = { record, at: this.#clock.now() };
    const holder = lease.spec.holderIdentity ?? "";
    const heldByOther = holder !== "" && holder !== this.identity;
    const theirDuration = (lease.spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && this.#clock.now() < this.#observed.at + theirDuration) return false;
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
      const updated = await this.#call<Lease>("PUT", this.#path, left(), { ...lease, spec });
      this.#observed = { record: JSON.stringify(updated.spec), at: this.#clock.now() };
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  /** Stops campaigning; a leader releases the Lease so a standby can take it at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    if (this.#watchdog !== undefined) this.#clock.clearTimeout(this.#watchdog);
    await this.#release();
  }

  async #release(): Promise<void> {
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const lease = await this.#call<Lease>("GET", this.#path, this.#o.renewDeadlineMs);
      if (lease.spec.holderIdentity !== this.identity) return;
      await this.#call("PUT", this.#path, this.#o.renewDeadlineMs, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: null,
          leaseDurationSeconds: 1,
          renewTime: microTime(new Date(this.#clock.now())),
        },
      });
    } catch (e) {
      this.#o.log?.warn({ err: errorMessage(e) }, "could not release the lease");
    }
  }
}
