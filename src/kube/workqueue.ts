/**
 * A keyed work queue in the manner of client-go's, with what ESO's users missed:
 * - a key is queued at most once; a key being processed is never processed twice at a time
 *   (an add during processing re-queues it once processing ends);
 * - two lanes: `urgent` (new and changed objects, retries) goes before `refresh` (periodic
 *   re-syncs), so a new ExternalSecret never waits behind thousands of refreshes; but every
 *   REFRESH_TURN-th pick goes to `refresh` first, so a flood of new or failing objects cannot
 *   starve the refreshes of healthy ones (the bad-input fault scenario);
 * - failures back off exponentially per key (base .. max), success resets the backoff;
 * - delayed adds keep only the earliest deadline per key.
 * Memory is proportional to the number of distinct keys with pending work.
 */
import { redactor } from "../util/redact.ts";

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
  /** Called when a handler throws (after the retry is scheduled). */
  onError?: (key: string, error: unknown, retryInMs: number) => void;
  metrics?: QueueMetrics;
}

export interface QueueMetrics {
  depth(n: number): void;
  /** Time from becoming ready to being picked up. */
  queueLatency(ms: number): void;
  workDuration(ms: number): void;
  retry(): void;
}

interface Entry {
  lane: Lane;
  readyAt: number;
}

export class WorkQueue {
  readonly #opts: Required<Pick<WorkQueueOptions, "concurrency" | "baseDelayMs" | "maxDelayMs">> &
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

  constructor(opts: WorkQueueOptions) {
    this.#opts = { baseDelayMs: 1000, maxDelayMs: 7 * 60_000, ...opts };
  }

  start(): void {
    this.#running = true;
    this.#pump();
  }

  /** Queues a key now. An urgent add upgrades a queued refresh. */
  add(key: string, lane: Lane = "urgent"): void {
    if (this.#shuttingDown) return;
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
    try {
      // The values a reconcile registers for redaction stay registered until it (and its error
      // report) is done: a redaction scope per handler call.
      await redactor.scoped(async () => {
        try {
          const res = await this.#opts.handler(key);
          this.#failures.delete(key);
          if (res?.requeueAfter !== undefined && res.requeueAfter >= 0) {
            requeue = { delay: res.requeueAfter, lane: "refresh" };
          }
        } catch (e) {
          const cap = this.#opts.maxRetryDelay?.(key, e);
          const delay = cap === undefined ? this.backoff(key) : Math.min(this.backoff(key), Math.max(0, cap));
          this.#failures.set(key, (this.#failures.get(key) ?? 0) + 1);
          this.#opts.metrics?.retry();
          requeue = { delay, lane: "urgent" };
          try {
            this.#opts.onError?.(key, e, delay);
          } catch {
            /* a logging failure must not stop the queue */
          }
        }
      });
    } finally {
      this.#opts.metrics?.workDuration(Date.now() - started);
      this.#processing.delete(key);
      this.#active--;
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
