/**
 * ClusterExternalSecret, the pure part: which namespaces it selects, the ExternalSecret it wants
 * in each, whether an existing one is its own or must be left alone, and its status. ESO's
 * semantics: `namespaces` plus every namespace matching `namespaceSelector` or any of
 * `namespaceSelectors`; the ExternalSecret is named `externalSecretName` (default: the
 * ClusterExternalSecret's name), carries `externalSecretMetadata` and the force-sync annotation,
 * and is controlled by the ClusterExternalSecret (so it goes with it).
 */
import type { KubeObject } from "../../kube/api.ts";
import { matchesSelector, type LabelSelector } from "../secretstore/access.ts";
import { parseDuration } from "../../util/duration.ts";

export const GROUP = "external-secrets.io";
export const FORCE_SYNC = "external-secrets.io/force-sync";
export const ALREADY_EXISTS = "external secret already exists in namespace";
export const NAMESPACES_FAILED = "one or more namespaces failed";

export interface ClusterExternalSecret extends KubeObject {
  spec?: {
    externalSecretSpec?: Record<string, unknown>;
    externalSecretName?: string;
    externalSecretMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    namespaceSelector?: LabelSelector;
    namespaceSelectors?: LabelSelector[];
    namespaces?: string[];
    refreshTime?: string;
  };
  status?: CesStatus;
}

export interface CesStatus {
  externalSecretName?: string;
  failedNamespaces?: { namespace: string; reason?: string }[];
  provisionedNamespaces?: string[];
  conditions?: { type: string; status: string; message?: string; lastTransitionTime?: string }[];
}

export interface ExternalSecretObject extends KubeObject {
  spec?: unknown;
}

export function externalSecretName(ces: ClusterExternalSecret): string {
  return ces.spec?.externalSecretName || ces.metadata.name || "";
}

/** The namespaces selected, sorted; terminating namespaces are left out. */
export function targetNamespaces(ces: ClusterExternalSecret, namespaces: KubeObject[]): string[] {
  const spec = ces.spec ?? {};
  const selectors = [
    ...(spec.namespaceSelector ? [spec.namespaceSelector] : []),
    ...(spec.namespaceSelectors ?? []),
  ];
  const listed = new Set(spec.namespaces ?? []);
  return namespaces
    .filter((ns) => !ns.metadata.deletionTimestamp)
    .filter(
      (ns) =>
        listed.has(ns.metadata.name ?? "") ||
        selectors.some((s) => matchesSelector(s, ns.metadata.labels ?? {})),
    )
    .map((ns) => ns.metadata.name ?? "")
    .sort();
}

/**
 * Whether the ClusterExternalSecret named `cesName` controls this ExternalSecret (or, with
 * `ownerKind`, a ClusterPushSecret this PushSecret).
 */
export function isOwnedBy(es: KubeObject, cesName: string, ownerKind = "ClusterExternalSecret"): boolean {
  return (es.metadata.ownerReferences ?? []).some(
    (r) =>
      r.controller === true &&
      r.kind === ownerKind &&
      r.apiVersion.split("/")[0] === GROUP &&
      r.name === cesName,
  );
}

export function desiredExternalSecret(ces: ClusterExternalSecret, namespace: string): ExternalSecretObject {
  const meta = ces.spec?.externalSecretMetadata ?? {};
  const annotations: Record<string, string> = { ...(meta.annotations ?? {}) };
  const force = ces.metadata.annotations?.[FORCE_SYNC];
  if (force !== undefined) annotations[FORCE_SYNC] = force;
  return {
    apiVersion: `${GROUP}/v1`,
    kind: "ExternalSecret",
    metadata: {
      name: externalSecretName(ces),
      namespace,
      ...(meta.labels && Object.keys(meta.labels).length ? { labels: { ...meta.labels } } : {}),
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ownerReferences: [
        {
          apiVersion: `${GROUP}/v1`,
          kind: "ClusterExternalSecret",
          name: ces.metadata.name ?? "",
          uid: ces.metadata.uid ?? "",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: ces.spec?.externalSecretSpec ?? {},
  };
}

/** The existing ExternalSecret with the desired labels, annotations, spec and owner, or undefined when it already has them. */
export function updated(
  existing: ExternalSecretObject,
  desired: ExternalSecretObject,
): ExternalSecretObject | undefined {
  const same =
    stable(existing.metadata.labels ?? {}) === stable(desired.metadata.labels ?? {}) &&
    stable(existing.metadata.annotations ?? {}) === stable(desired.metadata.annotations ?? {}) &&
    stable(existing.spec ?? {}) === stable(desired.spec ?? {}) &&
    (existing.metadata.ownerReferences ?? []).some(
      (r) => r.uid === desired.metadata.ownerReferences?.[0]?.uid,
    );
  if (same) return undefined;
  return {
    ...existing,
    metadata: {
      ...existing.metadata,
      labels: desired.metadata.labels ?? {},
      annotations: desired.metadata.annotations ?? {},
      ownerReferences: [
        ...(existing.metadata.ownerReferences ?? []).filter((r) => !r.controller),
        ...(desired.metadata.ownerReferences ?? []),
      ],
    },
    spec: desired.spec,
  };
}

export function nextStatus(
  previous: CesStatus | undefined,
  esName: string,
  provisioned: string[],
  failed: Map<string, string>,
  now: Date,
): CesStatus {
  const ok = failed.size === 0;
  const prevReady = previous?.conditions?.find((c) => c.type === "Ready");
  const status = ok ? "True" : "False";
  return {
    externalSecretName: esName,
    ...(failed.size
      ? {
          failedNamespaces: [...failed]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([namespace, reason]) => ({ namespace, reason })),
        }
      : {}),
    ...(provisioned.length ? { provisionedNamespaces: [...provisioned].sort() } : {}),
    conditions: [
      {
        type: "Ready",
        status,
        ...(ok ? {} : { message: NAMESPACES_FAILED }),
        lastTransitionTime:
          prevReady?.status === status && prevReady.lastTransitionTime
            ? prevReady.lastTransitionTime
            : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
      },
    ],
  };
}

/** JSON with sorted keys, for comparisons that ignore key order. */
export function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(
          Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : x,
  );
}

/**
 * When a cluster-wide object (ClusterExternalSecret, ClusterPushSecret) is evaluated again: its
 * `spec.refreshTime`, at least 1 s; 1m when absent or invalid.
 */
export function clusterRefreshMs(refreshTime: string | undefined): number {
  if (!refreshTime) return 60_000;
  try {
    return Math.max(1000, parseDuration(refreshTime));
  } catch {
    return 60_000; // an invalid refreshTime keeps the default
  }
}
