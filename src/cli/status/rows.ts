/**
 * `custos status`, pure: the kinds Custos manages, one row per object (ready, reason, last sync,
 * next refresh, message), and the table/JSON/YAML the command prints. The message is the
 * condition's, which the operator already redacted; nothing here reads secret data.
 */
import { stringify } from "yaml";
import { cycleStart, intervalOf } from "../../controllers/externalsecret/status.ts";
import type { ExternalSecret } from "../../controllers/externalsecret/types.ts";

interface Cond {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
}

/** An object as listed from the API server: only what the rows need. */
export interface ListedObject {
  metadata: { name?: string; namespace?: string; creationTimestamp?: string };
  spec?: Record<string, unknown>;
  status?: { conditions?: Cond[]; refreshTime?: string };
}

/** A kind the table knows: where to list it and how its state reads. */
export interface KindInfo {
  kind: string;
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  /** The condition type that says "working" (Ready for ESO kinds, Synced for SealedSecret). */
  readyType: string;
  /** Objects this kind refreshes on a schedule (ExternalSecret): next refresh computed. */
  refreshes: boolean;
}

/**
 * Every kind the status table shows when its CRD is served. KES (kubernetes-client.io) and VSO
 * (secrets.hashicorp.com) objects appear here once Custos serves them: a kind whose CRD is absent is
 * skipped, so adding their entries is all the table needs.
 */
export const KINDS: readonly KindInfo[] = [
  {
    kind: "ExternalSecret",
    group: "external-secrets.io",
    version: "v1",
    plural: "externalsecrets",
    namespaced: true,
    readyType: "Ready",
    refreshes: true,
  },
  {
    kind: "ClusterExternalSecret",
    group: "external-secrets.io",
    version: "v1",
    plural: "clusterexternalsecrets",
    namespaced: false,
    readyType: "Ready",
    refreshes: false,
  },
  {
    kind: "SecretStore",
    group: "external-secrets.io",
    version: "v1",
    plural: "secretstores",
    namespaced: true,
    readyType: "Ready",
    refreshes: false,
  },
  {
    kind: "ClusterSecretStore",
    group: "external-secrets.io",
    version: "v1",
    plural: "clustersecretstores",
    namespaced: false,
    readyType: "Ready",
    refreshes: false,
  },
  {
    kind: "SealedSecret",
    group: "bitnami.com",
    version: "v1alpha1",
    plural: "sealedsecrets",
    namespaced: true,
    readyType: "Synced",
    refreshes: false,
  },
];

export interface StatusRow {
  kind: string;
  namespace: string;
  name: string;
  /** "True", "False" or "Unknown" (no condition yet). */
  ready: string;
  reason: string;
  /** RFC 3339 or undefined. */
  lastSync?: string | undefined;
  /** RFC 3339 of the next scheduled refresh; undefined when none is scheduled. */
  nextRefresh?: string | undefined;
  message: string;
}

/**
 * The next periodic refresh as the controller schedules it (status.ts/schedule.ts): on the
 * wall-clock grid of the interval, the start of the cycle after the current one (plus a spread of
 * at most 5% of the interval, not shown). None for refreshInterval 0, OnChange and CreatedOnce.
 */
export function nextRefresh(es: ExternalSecret, now: number): number | undefined {
  const interval = intervalOf(es);
  const policy = es.spec?.refreshPolicy ?? "Periodic";
  if (interval === 0 || policy !== "Periodic") return undefined;
  // refreshes that change nothing are not recorded in status (refreshTime moves only on change),
  // so the cycle grid alone says when the next one starts
  return cycleStart(now, interval) + interval;
}

export function rowOf(info: KindInfo, obj: ListedObject, now: number): StatusRow {
  const cond = obj.status?.conditions?.find((c) => c.type === info.readyType);
  const lastSync =
    info.kind === "ExternalSecret"
      ? obj.status?.refreshTime
      : info.kind === "SealedSecret"
        ? cond?.lastUpdateTime
        : undefined;
  const next = info.refreshes ? nextRefresh(obj as ExternalSecret, now) : undefined;
  return {
    kind: info.kind,
    namespace: obj.metadata.namespace ?? "",
    name: obj.metadata.name ?? "",
    ready: cond?.status ?? "Unknown",
    reason: cond?.reason ?? "",
    lastSync,
    nextRefresh: next === undefined ? undefined : new Date(next).toISOString().replace(/\.\d{3}Z$/, "Z"),
    message: oneLine(cond?.message ?? ""),
  };
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

/** Sorted as kubectl would group them: by kind (table order), namespace, name. */
export function sortRows(rows: StatusRow[]): StatusRow[] {
  const order = new Map(KINDS.map((k, i) => [k.kind, i]));
  return [...rows].sort(
    (a, b) =>
      (order.get(a.kind) ?? 99) - (order.get(b.kind) ?? 99) ||
      a.namespace.localeCompare(b.namespace) ||
      a.name.localeCompare(b.name),
  );
}

/** Failing = not Ready (False or no condition yet): exit code 1 for CI. */
export function anyFailing(rows: StatusRow[]): boolean {
  return rows.some((r) => r.ready !== "True");
}

/** kubectl's age format: 45s, 12m, 5h, 3d (a future time is "in 12m"). */
export function age(iso: string | undefined, now: number): string {
  if (!iso) return "-";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "-";
  const d = t - now;
  const s = Math.round(Math.abs(d) / 1000);
  const text =
    s < 120
      ? `${s}s`
      : s < 120 * 60
        ? `${Math.floor(s / 60)}m`
        : s < 48 * 3600
          ? `${Math.floor(s / 3600)}h`
          : `${Math.floor(s / 86400)}d`;
  return d > 0 ? `in ${text}` : text;
}

export function formatTable(rows: StatusRow[], now: number): string {
  const header = ["KIND", "NAMESPACE", "NAME", "READY", "REASON", "LAST SYNC", "NEXT REFRESH", "MESSAGE"];
  const cells = rows.map((r) => [
    r.kind,
    r.namespace || "-",
    r.name,
    r.ready,
    r.reason || "-",
    age(r.lastSync, now),
    r.nextRefresh === undefined ? "-" : age(r.nextRefresh, now),
    r.message,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!)))
      .join("   ")
      .trimEnd();
  return [line(header), ...cells.map(line)].join("\n") + "\n";
}

export type StatusOutput = "table" | "json" | "yaml";

export function formatRows(rows: StatusRow[], output: StatusOutput, now: number): string {
  if (output === "json") return JSON.stringify({ items: rows }, null, 2) + "\n";
  if (output === "yaml") return stringify({ items: rows });
  if (rows.length === 0) return "No resources found.\n";
  return formatTable(rows, now);
}
