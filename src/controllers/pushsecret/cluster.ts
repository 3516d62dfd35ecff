/**
 * ClusterPushSecret (`external-secrets.io/v1alpha1`): one PushSecret per namespace selected by
 * `namespaceSelectors`, as ESO. The namespace selection, ownership check, update comparison and
 * status are ClusterExternalSecret's (clusterexternalsecret/plan.ts), with PushSecret's names:
 * the PushSecret is `pushSecretName` (default: the ClusterPushSecret's name), carries
 * `pushSecretMetadata`, and is controlled by the ClusterPushSecret (deleted with it, through
 * which its own deletionPolicy runs). One that another owner controls is never touched
 * ("push secret already exists in namespace"); those of namespaces no longer selected, and of a
 * previous name, are deleted. Re-evaluated on namespace changes and every `refreshTime`.
 */
import { Gauge, type Registry } from "prom-client";
import type { KubeObject } from "../../kube/api.ts";
import { isNotFound, resourcePath } from "../../kube/api.ts";
import { Informer } from "../../kube/informer.ts";
import { WorkQueue, type HandlerResult } from "../../kube/workqueue.ts";
import type { ControllerDeps } from "../../manager/registry.ts";
import { errorMessage } from "../../util/errors.ts";
import {
  clusterRefreshMs,
  isOwnedBy,
  nextStatus,
  stable,
  targetNamespaces,
  updated,
  type ClusterExternalSecret,
  type ExternalSecretObject,
} from "../clusterexternalsecret/plan.ts";
import type { LabelSelector } from "../secretstore/access.ts";
import { GROUP, PS_VERSION, type Condition, type PushSecretSpec } from "./types.ts";

export const CPS_KIND = "ClusterPushSecret";
export const PS_ALREADY_EXISTS = "push secret already exists in namespace";
const CPS_PATH = `/apis/${GROUP}/${PS_VERSION}/clusterpushsecrets`;

export interface ClusterPushSecret extends KubeObject {
  spec?: {
    pushSecretSpec?: PushSecretSpec;
    refreshTime?: string;
    pushSecretName?: string;
    pushSecretMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    namespaceSelectors?: LabelSelector[];
  };
  status?: {
    failedNamespaces?: { namespace: string; reason?: string }[];
    provisionedNamespaces?: string[];
    pushSecretName?: string;
    conditions?: Condition[];
  };
}

const psPath = (namespace: string, name?: string): string =>
  resourcePath({ group: GROUP, version: PS_VERSION, plural: "pushsecrets", namespace, name });

export function pushSecretName(cps: ClusterPushSecret): string {
  return cps.spec?.pushSecretName || cps.metadata.name || "";
}

/** The namespaces selected (ClusterExternalSecret's rule, over `namespaceSelectors` only). */
export function cpsNamespaces(cps: ClusterPushSecret, namespaces: KubeObject[]): string[] {
  const view: ClusterExternalSecret = {
    metadata: cps.metadata,
    spec: { namespaceSelectors: cps.spec?.namespaceSelectors ?? [] },
  };
  return targetNamespaces(view, namespaces);
}

/** The PushSecret a ClusterPushSecret wants in `namespace`. */
export function desiredPushSecret(cps: ClusterPushSecret, namespace: string): ExternalSecretObject {
  const meta = cps.spec?.pushSecretMetadata ?? {};
  return {
    apiVersion: `${GROUP}/${PS_VERSION}`,
    kind: "PushSecret",
    metadata: {
      name: pushSecretName(cps),
      namespace,
      ...(meta.labels && Object.keys(meta.labels).length ? { labels: { ...meta.labels } } : {}),
      ...(meta.annotations && Object.keys(meta.annotations).length
        ? { annotations: { ...meta.annotations } }
        : {}),
      ownerReferences: [
        {
          apiVersion: `${GROUP}/${PS_VERSION}`,
          kind: CPS_KIND,
          name: cps.metadata.name ?? "",
          uid: cps.metadata.uid ?? "",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: cps.spec?.pushSecretSpec ?? {},
  };
}

export class ClusterPushSecretController {
  readonly name = "clusterpushsecret";
  readonly cps: Informer<ClusterPushSecret>;
  readonly #queue: WorkQueue;
  readonly #condition: Gauge<"name" | "condition" | "status">;

  constructor(
    readonly deps: ControllerDeps,
    readonly namespaces: Informer<KubeObject>,
  ) {
    let warned = 0;
    this.cps = new Informer(deps.api, CPS_PATH, {
      onError: (e) => {
        if (Date.now() - warned > 5 * 60_000) {
          warned = Date.now();
          deps.log.warn({ err: errorMessage(e) }, "cannot watch ClusterPushSecrets; retrying");
        }
      },
    });
    this.#condition = conditionGauge(deps.metrics.registry);
    this.#queue = new WorkQueue({
      concurrency: 1,
      handler: (key) => this.#reconcile(key),
      metrics: deps.metrics.queue("clusterpushsecret"),
      onError: (key, e) => {
        deps.log.warn({ clusterpushsecret: key, err: errorMessage(e) }, "reconcile failed");
      },
    });
    this.cps.on((event, obj, old) => {
      if (event === "delete") {
        this.#queue.forget(obj.metadata.name ?? "");
        for (const status of ["True", "False"])
          this.#condition.remove({ name: obj.metadata.name ?? "", condition: "Ready", status });
        return;
      }
      if (
        !old ||
        old.metadata.generation !== obj.metadata.generation ||
        stable(old.metadata.annotations ?? {}) !== stable(obj.metadata.annotations ?? {})
      )
        this.#queue.add(obj.metadata.name ?? "");
    });
    this.namespaces.on((event, ns, old) => {
      if (event === "update" && old && stable(old.metadata.labels ?? {}) === stable(ns.metadata.labels ?? {}))
        if (!ns.metadata.deletionTimestamp || old.metadata.deletionTimestamp) return;
      for (const c of this.cps.list()) this.#queue.add(c.metadata.name ?? "");
    });
  }

  async #reconcile(name: string): Promise<HandlerResult | undefined> {
    const cps = this.cps.get(name);
    if (!cps || cps.metadata.deletionTimestamp) return undefined;
    const psName = pushSecretName(cps);
    const failed = new Map<string, string>();
    const previous = cps.status?.provisionedNamespaces ?? [];
    const prevName = cps.status?.pushSecretName;
    if (prevName && prevName !== psName)
      for (const ns of previous) await this.#deleteOwned(ns, prevName, name, failed);
    const targets = cpsNamespaces(cps, this.namespaces.list());
    for (const ns of previous) if (!targets.includes(ns)) await this.#deleteOwned(ns, psName, name, failed);
    const provisioned: string[] = [];
    for (const ns of targets) {
      try {
        const existing = await this.deps.api.getOrUndefined<ExternalSecretObject>(psPath(ns, psName));
        if (existing && !isOwnedBy(existing, name, CPS_KIND)) {
          failed.set(ns, PS_ALREADY_EXISTS);
          continue;
        }
        const desired = desiredPushSecret(cps, ns);
        if (!existing) await this.deps.api.create(psPath(ns), desired);
        else {
          const next = updated(existing, desired);
          if (next) await this.deps.api.replace(psPath(ns, psName), next);
        }
        provisioned.push(ns);
      } catch (e) {
        failed.set(ns, errorMessage(e));
      }
    }
    const base = nextStatus(undefined, psName, provisioned, failed, new Date());
    const prevReady = cps.status?.conditions?.find((c) => c.type === "Ready");
    const ready = base.conditions![0]!;
    const status = {
      pushSecretName: psName,
      ...(base.failedNamespaces ? { failedNamespaces: base.failedNamespaces } : {}),
      ...(base.provisionedNamespaces ? { provisionedNamespaces: base.provisionedNamespaces } : {}),
      conditions: [
        {
          ...ready,
          ...(prevReady?.status === ready.status && prevReady.lastTransitionTime
            ? { lastTransitionTime: prevReady.lastTransitionTime }
            : {}),
        },
      ],
    };
    this.#condition.set({ name, condition: "Ready", status: ready.status }, 1);
    this.#condition.set({ name, condition: "Ready", status: ready.status === "True" ? "False" : "True" }, 0);
    if (stable(status) !== stable(cps.status ?? {})) {
      const cleared = Object.fromEntries(Object.keys(cps.status ?? {}).map((k) => [k, null]));
      await this.deps.api.mergePatch(`${CPS_PATH}/${encodeURIComponent(name)}/status`, {
        status: { ...cleared, ...status },
      });
    }
    return { requeueAfter: clusterRefreshMs(cps.spec?.refreshTime) };
  }

  async #deleteOwned(
    ns: string,
    psName: string,
    cpsName: string,
    failed: Map<string, string>,
  ): Promise<void> {
    try {
      const ps = await this.deps.api.getOrUndefined<ExternalSecretObject>(psPath(ns, psName));
      if (ps && isOwnedBy(ps, cpsName, CPS_KIND)) await this.deps.api.delete(psPath(ns, psName));
    } catch (e) {
      if (!isNotFound(e))
        failed.set(ns, `push secret in non matching namespace could not be deleted: ${errorMessage(e)}`);
    }
  }

  async start(): Promise<void> {
    void this.cps.start().catch(() => undefined);
    this.#queue.start();
  }

  async stop(): Promise<void> {
    await this.#queue.shutdown();
    await this.cps.stop();
  }
}

/** ESO's clusterpushsecret_status_condition. */
function conditionGauge(registry: Registry): Gauge<"name" | "condition" | "status"> {
  const name = "clusterpushsecret_status_condition";
  return (
    (registry.getSingleMetric(name) as Gauge<"name" | "condition" | "status"> | undefined) ??
    new Gauge({
      name,
      help: "The status condition of a specific Cluster Push Secret",
      labelNames: ["name", "condition", "status"] as const,
      registers: [registry],
    })
  );
}
