/**
 * When an ExternalSecret is due for a sync, and what its status says. Pure.
 *
 * A sync is due when the object is new, its spec or labels/annotations changed (ESO's force-sync,
 * detected through `syncedResourceVersion`), its target Secret is missing or was changed by
 * someone else, or the refresh interval has passed (refreshPolicy Periodic). refreshInterval "0"
 * and refreshPolicy OnChange sync only on changes; CreatedOnce syncs until the Secret exists.
 */
import { parseDuration } from "../../util/duration.ts";
import { esoDataHash, syncedResourceVersion } from "../../util/eso-hash.ts";
import type { Condition, ExternalSecret, ExternalSecretStatus, SecretObject } from "./types.ts";

export type SyncReason = "new" | "changed" | "secret-missing" | "secret-changed" | "refresh" | "retry";

export interface SyncDecision {
  due: boolean;
  reason: SyncReason;
  /** When not due: how long until the next periodic refresh (undefined = none). */
  nextInMs?: number | undefined;
  intervalMs: number;
}

const DEFAULT_INTERVAL = "1h";
export const DATA_HASH_ANNOTATION = "reconcile.external-secrets.io/data-hash";

/** Last successful refresh per object uid, kept in memory so refreshes need no status write. */
const lastRefresh = new Map<string, number>();

export function recordRefresh(uid: string | undefined, at: number): void {
  if (uid) lastRefresh.set(uid, at);
}
export function forgetRefresh(uid: string | undefined): void {
  if (uid) lastRefresh.delete(uid);
}

/**
 * The refresh interval in ms; 0 means no periodic refresh. A positive interval below `floorMs` (the
 * operator's --min-refresh-interval) is raised to it: `refreshInterval: 1ns` must not make a
 * tenant's object read its store continuously.
 */
export function intervalOf(es: ExternalSecret, floorMs = 0): number {
  let ms: number;
  try {
    ms = Math.max(0, parseDuration(es.spec?.refreshInterval ?? DEFAULT_INTERVAL));
  } catch {
    return 0;
  }
  return ms > 0 ? Math.max(ms, floorMs) : 0;
}

const dataHashes = new WeakMap<object, string>();

/**
 * ESO's data hash of a Secret as it is, remembered per object of the informer's cache (a changed
 * Secret arrives as a new object): a refresh of an unchanged Secret decodes and hashes nothing.
 */
export function secretDataHash(secret: SecretObject): string {
  let h = dataHashes.get(secret);
  if (h === undefined) {
    const data: Record<string, Uint8Array> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, "base64");
    h = esoDataHash(data);
    dataHashes.set(secret, h);
  }
  return h;
}

export function syncDecision(
  es: ExternalSecret,
  existing: SecretObject | undefined,
  now: number,
  minIntervalMs = 0,
): SyncDecision {
  const intervalMs = intervalOf(es, minIntervalMs);
  const policy = es.spec?.refreshPolicy ?? "Periodic";
  const creation = es.spec?.target?.creationPolicy ?? "Owner";
  const status = es.status;
  const ready = status?.conditions?.find((c) => c.type === "Ready");
  const due = (reason: SyncReason): SyncDecision => ({ due: true, reason, intervalMs });

  if (!status?.syncedResourceVersion || !ready) return due("new");
  // keep retrying a failed sync (with backoff); unless the spec changed, a retry is not a request
  // for fresh data: after a store outage, one read per remote secret serves every retry
  if (ready.status !== "True")
    return due(status.syncedResourceVersion !== syncedResourceVersion(es.metadata) ? "changed" : "retry");
  // ESO's isSecretValid: a target that is gone or was changed by hand is always re-synced
  const writesSecret = creation === "Owner" || creation === "Orphan";
  if (writesSecret && !existing && ready.reason !== "SecretDeleted") return due("secret-missing");
  if (writesSecret && existing) {
    const recorded = existing.metadata.annotations?.[DATA_HASH_ANNOTATION];
    if (recorded && recorded !== secretDataHash(existing)) return due("secret-changed");
  }
  // CreatedOnce (as ESO): once synced, never again, even after a spec change.
  if (policy === "CreatedOnce") return { due: false, reason: "refresh", intervalMs };
  // A spec, label or annotation change (force-sync) syncs under every other policy. ESO ignores
  // it with refreshInterval 0, a known complaint (#4568, #4167): here 0 only means "no periodic
  // refresh".
  if (status.syncedResourceVersion !== syncedResourceVersion(es.metadata)) return due("changed");
  if (policy === "OnChange" || intervalMs === 0) return { due: false, reason: "refresh", intervalMs };
  // Refreshes follow a wall-clock grid of the interval: every ExternalSecret with the same
  // interval refreshes in the same cycle, so reads are shared, and data is never older than one
  // interval. A refresh is due once the cycle of the last refresh has ended.
  const last = Math.max(
    lastRefresh.get(es.metadata.uid ?? "") ?? 0,
    status.refreshTime ? Date.parse(status.refreshTime) : 0,
  );
  if (cycleStart(now, intervalMs) > last) return due("refresh");
  return {
    due: false,
    reason: "refresh",
    nextInMs: cycleStart(now, intervalMs) + intervalMs - now,
    intervalMs,
  };
}

/** Start of the refresh cycle containing `t` for an interval. */
export function cycleStart(t: number, intervalMs: number): number {
  return intervalMs > 0 ? Math.floor(t / intervalMs) * intervalMs : t;
}

export interface ReadyInput {
  ok: boolean;
  reason: string;
  message: string;
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * The next status. `sync` is set after a sync that succeeded; `synced` says whether it changed
 * anything worth recording (refreshTime and syncedResourceVersion move only then).
 */
export function buildStatus(
  es: ExternalSecret,
  ready: ReadyInput,
  sync: { synced: boolean; now: Date; secretName: string } | undefined,
  now: Date,
): ExternalSecretStatus {
  const prev = es.status ?? {};
  const status: "True" | "False" = ready.ok ? "True" : "False";
  const old = prev.conditions?.find((c) => c.type === "Ready");
  const condition: Condition = {
    type: "Ready",
    status,
    reason: ready.reason,
    message: ready.message,
    lastTransitionTime:
      old?.status === status && old.lastTransitionTime ? old.lastTransitionTime : rfc3339(now),
  };
  const next: ExternalSecretStatus = {
    ...prev,
    conditions: [...(prev.conditions ?? []).filter((c) => c.type !== "Ready"), condition],
  };
  if (sync?.synced) {
    next.refreshTime = rfc3339(sync.now);
    next.syncedResourceVersion = syncedResourceVersion(es.metadata);
    next.binding = { name: sync.secretName };
  }
  return next;
}

export function statusChanged(old: ExternalSecretStatus | undefined, next: ExternalSecretStatus): boolean {
  const pick = (s: ExternalSecretStatus | undefined): string =>
    JSON.stringify([
      s?.refreshTime ?? null,
      s?.syncedResourceVersion ?? null,
      s?.binding?.name ?? null,
      (s?.conditions ?? []).map((c) => [c.type, c.status, c.reason ?? "", c.message ?? ""]),
    ]);
  return pick(old) !== pick(next);
}
