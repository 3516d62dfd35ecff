/**
 * A keyed work queue in the manner of client-go's, with what ESO's users missed:
 * - a key is queued at most once; a key being processed is never processed twice at a time
 *   (an add during processing re-queues it once processing ends);
 * - two lanes: `urgent` (new and changed objects, retries) goes before `refresh` (periodic
 *   re-syncs), so a new ExternalSecret never waits behind thousands of refreshes; but every
 *   REFRESH_TURN-th pick goes to `refresh` first, so a flood of new or failing objects cannot
 *   starve the refreshes of healthy ones (the bad-input fault scenario);
 * - failures back off exponentially per key (base .. max), success resets the backoff;
 * - delayed adds keep only the earliest deadline per key;
 * - a handler still running after `stallMs` gives its worker back: the key stays in processing
 *   (never run twice at a time) while other keys go on, so a request that never answers cannot
 *   take the workers one by one (a tenant's object must not stall the operator).
 * Memory is proportional to the number of distinct keys with pending work.
 *
 * Sharded (a gate from shard-scope.ts, ADR 0008): a key is handled only while this replica owns
 * its namespace; other keys are parked (by namespace, keys only) and queued again when the
 * namespace is gained. Handlers run in their namespace's work scope (the write guard's check).
 */
import { redactor } from "../util/redact.ts";
import { currentShardGate, inWorkScope, namespaceOfKey, type ShardGate } from "./shard-scope.ts";

export type Lane = "urgent" | "refresh";

const MAX_TIMER_MS = 2_147_483_647;
/** One pick in this many takes from the refresh lane first (when both lanes have work). */
export const REFRESH_TURN = 4;

export interface HandlerResult {
  /** Schedule the key again after this many ms (a periodic refresh). */
  requeueAfter?: number;
}

export interface WorkQueueOptions {
  concurrency: number;
  handler: (key: string) => Promise<HandlerResult | undefined>;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * The latest a failed key may be retried, whatever its back-off (undefined: no limit). E.g. an
   * ExternalSecret whose store is down is retried at least once per refresh interval, so it
   * recovers within a cycle of the store's return however long the outage was.
   */
  maxRetryDelay?: (key: string, error: unknown) => number | undefined;
  /**
   * The delay before a failed key is retried, given its back-off (already capped by
   * maxRetryDelay), and optionally its lane; default: the back-off, in the urgent lane. E.g.
   * ExternalSecrets of a store that is down wait for one of them to find it back instead of each
   * retrying on its own back-off, and then retry in the refresh lane, behind the objects that have
   * not reported the outage yet.
   */
  retryDelay?: (key: string, error: unknown, backoffMs: number) => number | { delayMs: number; lane: Lane };
  /** Called when a handler throws (after the retry is scheduled). */
  onError?: (key: string, error: unknown, retryInMs: number) => void;
  /**
   * A handler running longer than this gives its worker back to the queue (default 2 minutes;
   * 0: never). It is not cancelled: its key is handled again only after it ends.
   */
  stallMs?: number;
  /** Called when a handler passes `stallMs`. */
  onStall?: (key: string, runningMs: number) => void;
  metrics?: QueueMetrics;
  /** Sharding: default the gate of the scope the queue is started in (none: every key is ours). */
  gate?: ShardGate | undefined;
  /** The namespace of a key, for the gate ("" = cluster-scoped); default `namespaceOfKey`. */
  namespaceOf?: (key: string) => string;
}

export interface QueueMetrics {
  depth(n: number): void;
  /** Time from becoming ready to being picked up. */
  queueLatency(ms: number): void;
  workDuration(ms: number): void;
  retry(): void;
  /** A handler passed the stall limit. */
  stalled?(): void;
}

interface Entry {
  lane: Lane;
  readyAt: number;
}

export class WorkQueue {
  readonly #opts: Required<Pick<WorkQueueOptions, "concurrency" | "baseDelayMs" | "maxDelayMs" | "stallMs">> &
    WorkQueueOptions;
  readonly #lanes: Record<Lane, Set<string>> = { urgent: new Set(), refresh: new Set() };
  readonly #queued = new Map<string, Entry>();
  readonly #processing = new Set<string>();
  /** Keys added while processing: re-queued (in this lane) when processing ends. */
  readonly #dirty = new Map<string, Lane>();
  readonly #delayed = new Map<string, { at: number; lane: Lane; timer: NodeJS.Timeout }>();
  readonly #failures = new Map<string, number>();
  #active = 0;
  #running = false;
  #shuttingDown = false;
  #idleWaiters: (() => void)[] = [];
  #gate: ShardGate | undefined;
  readonly #namespaceOf: (key: string) => string;
  /** Sharded: keys of namespaces this replica does not own now, by namespace. */
  readonly #parked = new Map<string, Set<string>>();
  /** Sharded: the keys this queue knows (added, not forgotten), by namespace (the gate's loads). */
  readonly #known = new Map<string, Set<string>>();
  #unsubscribe: (() => void) | undefined;

  constructor(opts: WorkQueueOptions) {
    this.#opts = { baseDelayMs: 1000, maxDelayMs: 7 * 60_000, stallMs: 120_000, ...opts };
    this.#gate = opts.gate;
    this.#namespaceOf = opts.namespaceOf ?? namespaceOfKey;
  }

  start(): void {
    this.#running = true;
    if (!("gate" in this.#opts)) this.#gate ??= currentShardGate();
    if (this.#gate?.track && !this.#unsubscribe)
      for (const key of [...this.#queued.keys(), ...this.#delayed.keys()]) this.#note(key);
    if (this.#gate && !this.#unsubscribe)
      this.#unsubscribe = this.#gate.onChange(() => {
        this.#unpark();
      });
    this.#pump();
  }

  /** Keys parked because their namespace was not ours (sharded queues; for tests and metrics). */
  get parked(): number {
    let n = 0;
    for (const keys of this.#parked.values()) n += keys.size;
    return n;
  }

  #note(key: string): void {
    if (!this.#gate?.track || !this.#running) return;
    const ns = this.#namespaceOf(key);
    if (ns === "") return;
    const keys = this.#known.get(ns);
    if (keys?.has(key)) return;
    if (keys) keys.add(key);
    else {
      this.#known.set(ns, new Set([key]));
      this.#gate.track(ns, 1);
    }
  }

  #unnote(key: string): void {
    if (!this.#gate?.track) return;
    const ns = this.#namespaceOf(key);
    const keys = this.#known.get(ns);
    if (!keys?.delete(key) || keys.size > 0) return;
    this.#known.delete(ns);
    this.#gate.track(ns, -1);
  }

  /** Queues the parked keys of every namespace the gate owns now. */
  #unpark(): void {
    if (!this.#gate || this.#shuttingDown) return;
    for (const [ns, keys] of this.#parked) {
      if (!this.#gate.owns(ns)) continue;
      this.#parked.delete(ns);
      for (const key of keys) this.add(key, "urgent");
    }
  }

  /** Queues a key now. An urgent add upgrades a queued refresh. */
  add(key: string, lane: Lane = "urgent"): void {
    if (this.#shuttingDown) return;
    if (this.#gate?.track) this.#note(key);
    const delayed = this.#delayed.get(key);
    if (delayed) {
      clearTimeout(delayed.timer);
      this.#delayed.delete(key);
    }
    if (this.#processing.has(key)) {
      const prev = this.#dirty.get(key);
      this.#dirty.set(key, prev === "urgent" ? "urgent" : lane);
      return;
    }
    const queued = this.#queued.get(key);
    if (queued) {
      if (queued.lane === "refresh" && lane === "urgent") {
        this.#lanes.refresh.delete(key);
        this.#lanes.urgent.add(key);
        queued.lane = "urgent";
      }
      return;
    }
    this.#queued.set(key, { lane, readyAt: Date.now() });
    this.#lanes[lane].add(key);
    this.#opts.metrics?.depth(this.#queued.size);
    this.#pump();
  }

  /** Queues a key after a delay; an earlier pending deadline for the key wins. */
  addAfter(key: string, delayMs: number, lane: Lane = "refresh"): void {
    if (this.#shuttingDown) return;
    if (this.#gate?.track) this.#note(key);
    if (delayMs <= 0) {
      this.add(key, lane);
      return;
    }
    const at = Date.now() + delayMs;
    const existing = this.#delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    // setTimeout overflows past 2^31-1 ms: long delays wake up early and wait again.
    const timer = setTimeout(
      () => {
        this.#delayed.delete(key);
        const left = at - Date.now();
        if (left > 0) this.addAfter(key, left, lane);
        else this.add(key, lane);
      },
      Math.min(delayMs, MAX_TIMER_MS),
    );
    timer.unref();
    this.#delayed.set(key, { at, lane, timer });
  }

  /** Drops all pending work and backoff state of a key (the object is gone). */
  forget(key: string): void {
    const delayed = this.#delayed.get(key);
    if (delayed) clearTimeout(delayed.timer);
    this.#delayed.delete(key);
    this.#failures.delete(key);
    this.#dirty.delete(key);
    this.#unnote(key);
    if (this.#parked.size) {
      const ns = this.#namespaceOf(key);
      const keys = this.#parked.get(ns);
      if (keys?.delete(key) && keys.size === 0) this.#parked.delete(ns);
    }
    if (this.#queued.delete(key)) {
      this.#lanes.urgent.delete(key);
      this.#lanes.refresh.delete(key);
    }
  }

  get length(): number {
    return this.#queued.size;
  }

  /** Pending delayed keys (for tests and metrics). */
  get scheduled(): number {
    return this.#delayed.size;
  }

  /** Resolves when nothing is queued or processing (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.#queued.size === 0 && this.#active === 0) return Promise.resolve();
    return new Promise((r) => this.#idleWaiters.push(r));
  }

  /** Stops taking work, drops delayed keys, waits for in-flight handlers. */
  async shutdown(): Promise<void> {
    this.#shuttingDown = true;
    this.#running = false;
    for (const d of this.#delayed.values()) clearTimeout(d.timer);
    this.#delayed.clear();
    this.#queued.clear();
    this.#lanes.urgent.clear();
    this.#lanes.refresh.clear();
    this.#dirty.clear();
    this.#parked.clear();
    for (const ns of this.#known.keys()) this.#gate?.track?.(ns, -1);
    this.#known.clear();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#active > 0) await new Promise<void>((r) => this.#idleWaiters.push(r));
  }

  backoff(key: string): number {
    const n = this.#failures.get(key) ?? 0;
    return Math.min(this.#opts.baseDelayMs * 2 ** n, this.#opts.maxDelayMs);
  }

  #picks = 0;

  #next(): string | undefined {
    this.#picks = (this.#picks + 1) % REFRESH_TURN;
    const order = this.#picks === 0 ? (["refresh", "urgent"] as const) : (["urgent", "refresh"] as const);
    for (const lane of order) {
      for (const key of this.#lanes[lane]) {
        this.#lanes[lane].delete(key);
        return key;
      }
    }
    return undefined;
  }

  #pump(): void {
    while (this.#running && this.#active < this.#opts.concurrency) {
      const key = this.#next();
      if (key === undefined) break;
      const entry = this.#queued.get(key)!;
      this.#queued.delete(key);
      this.#opts.metrics?.depth(this.#queued.size);
      if (this.#gate && !this.#gate.owns(this.#namespaceOf(key))) {
        // another replica's work now: parked until this replica gains the namespace
        const ns = this.#namespaceOf(key);
        const keys = this.#parked.get(ns) ?? new Set<string>();
        keys.add(key);
        this.#parked.set(ns, keys);
        this.#failures.delete(key);
        continue;
      }
      this.#opts.metrics?.queueLatency(Date.now() - entry.readyAt);
      this.#active++;
      this.#processing.add(key);
      void this.#process(key);
    }
    if (this.#queued.size === 0 && this.#active === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  async #process(key: string): Promise<void> {
    const started = Date.now();
    let requeue: { delay: number; lane: Lane } | undefined;
    let released = false;
    const watchdog =
      this.#opts.stallMs > 0
        ? setTimeout(() => {
            released = true;
            this.#active--;
            this.#opts.metrics?.stalled?.();
            try {
              this.#opts.onStall?.(key, Date.now() - started);
            } catch {
              /* a logging failure must not stop the queue */
            }
            this.#pump();
          }, this.#opts.stallMs)
        : undefined;
    watchdog?.unref();
    try {
      // The values a reconcile registers for redaction stay registered until it (and its error
      // report) is done: a redaction scope per handler call.
      await redactor.scoped(async () => {
        try {
          const res = this.#gate
            ? await inWorkScope(this.#namespaceOf(key), () => this.#opts.handler(key))
            : await this.#opts.handler(key);
          this.#failures.delete(key);
          if (res?.requeueAfter !== undefined && res.requeueAfter >= 0) {
            requeue = { delay: res.requeueAfter, lane: "refresh" };
          }
        } catch (e) {
          const cap = this.#opts.maxRetryDelay?.(key, e);
          let delay = cap === undefined ? this.backoff(key) : Math.min(this.backoff(key), Math.max(0, cap));
          let lane: Lane = "urgent";
          if (this.#opts.retryDelay) {
            const r = this.#opts.retryDelay(key, e, delay);
            if (typeof r === "number") delay = Math.max(0, r);
            else ({ delayMs: delay, lane } = { delayMs: Math.max(0, r.delayMs), lane: r.lane });
          }
          this.#failures.set(key, (this.#failures.get(key) ?? 0) + 1);
          this.#opts.metrics?.retry();
          requeue = { delay, lane };
          try {
            this.#opts.onError?.(key, e, delay);
          } catch {
            /* a logging failure must not stop the queue */
          }
        }
      });
    } finally {
      clearTimeout(watchdog);
      this.#opts.metrics?.workDuration(Date.now() - started);
      this.#processing.delete(key);
      if (!released) this.#active--;
    }
    const dirty = this.#dirty.get(key);
    this.#dirty.delete(key);
    if (dirty) this.add(key, dirty);
    else if (requeue) this.addAfter(key, requeue.delay, requeue.lane);
    this.#pump();
  }
}

/** A delay with ±fraction random jitter, so refreshes after a restart do not line up. */
export function jitter(ms: number, fraction = 0.1, random: () => number = Math.random): number {
  if (ms <= 0) return ms;
  return Math.max(0, Math.round(ms * (1 + fraction * (2 * random() - 1))));
}
