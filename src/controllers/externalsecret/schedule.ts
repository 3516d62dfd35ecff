/**
 * When an ExternalSecret is read and refreshed again: refresh cycles on a wall-clock grid of the
 * interval with a small spread (ADR 0003), and how old a shared read may be for each reason.
 */
import { cycleStart, type SyncReason } from "./status.ts";

/** How long a read may be reused by other ExternalSecrets for a new object. */
const NEW_OBJECT_READ_WINDOW_MS = 10_000;
const MAX_SPREAD_MS = 5 * 60_000;
const REFRESH_SPREAD = 0.05;

/**
 * Delay until the next refresh cycle begins, plus a small random spread inside the cycle (at
 * most 5% of the interval, 5 minutes) so a cycle's work does not arrive in one instant.
 */
export function nextCycleIn(now: number, intervalMs: number): number {
  return cycleStart(now, intervalMs) + intervalMs - now + spread(intervalMs);
}

export function spread(intervalMs: number): number {
  return Math.round(Math.random() * Math.min(intervalMs * REFRESH_SPREAD, MAX_SPREAD_MS));
}

export function readWindow(reason: SyncReason, intervalMs: number, now: number): number {
  switch (reason) {
    case "refresh":
      // everything read since this cycle began is fresh enough for this cycle
      return now - cycleStart(now, intervalMs);
    case "new":
    case "secret-missing":
    case "retry":
      return NEW_OBJECT_READ_WINDOW_MS;
    default:
      return 0; // spec change or force-sync: the user asked for fresh data
  }
}

/**
 * The longest a failed sync waits for its retry: until its next refresh cycle, whatever failed (a
 * store that is down, a connection to the API server reset mid-write, a lost write race). A retry
 * costs no more than the refresh it stands for, and a passing failure never leaves an object
 * stale longer than a refresh would; the back-off (1 s doubling to 7 minutes) still spaces retries
 * inside the cycle. Without periodic refresh (interval 0): the back-off alone.
 */
export function retryNoLaterThan(now: number, intervalMs: number): number | undefined {
  return intervalMs > 0 ? nextCycleIn(now, intervalMs) : undefined;
}
