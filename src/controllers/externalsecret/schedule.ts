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
