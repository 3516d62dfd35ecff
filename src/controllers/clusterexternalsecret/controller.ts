/**
 * ClusterExternalSecret controller: keeps one ExternalSecret per selected namespace, deletes the
 * ones of namespaces no longer selected (and of a previous `externalSecretName`), never touches an
 * ExternalSecret it does not control, and reports provisioned and failed namespaces. Namespaces
 * are re-evaluated on every namespace change and every `spec.refreshTime` (default 1m).
 * Deleting the ClusterExternalSecret deletes its ExternalSecrets through their owner reference.
 */
import type { KubeApi, KubeObject } from "../../kube/api.ts";
import { isNotFound, resourcePath } from "../../kube/api.ts";
import { Informer } from "../../kube/informer.ts";
import { WorkQueue } from "../../kube/workqueue.ts";
import type { Logger } from "../../util/log.ts";
import type { Metrics } from "../../manager/metrics.ts";
import { errorMessage } from "../../util/errors.ts";
import {
  ALREADY_EXISTS,
  desiredExternalSecret,
  externalSecretName,
  clusterRefreshMs,
  isOwnedBy,
  nextStatus,
  stable,
  targetNamespaces,
  updated,
  type ClusterExternalSecret,
  type ExternalSecretObject,
} from "./plan.ts";

const CES_PATH = "/apis/external-secrets.io/v1/clusterexternalsecrets";

export interface ClusterExternalSecretDeps {
  api: KubeApi;
  log: Logger;
  /** The ExternalSecret controller's namespace informer, shared rather than watched twice. */
  namespaces: Informer<KubeObject>;
  metrics?: Metrics;
  now?: () => Date;
}

const esPath = (namespace: string, name?: string): string =>
  resourcePath({ group: "external-secrets.io", version: "v1", plural: "externalsecrets", namespace, name });

export class ClusterExternalSecretController {
  readonly name = "clusterexternalsecret";
  readonly ces: Informer<ClusterExternalSecret>;
  readonly namespaces: Informer<KubeObject>;
  readonly #queue: WorkQueue;

  constructor(readonly deps: ClusterExternalSecretDeps) {
    let warned = 0;
    this.ces = new Informer(deps.api, CES_PATH, {
      onError: (e) => {
        // e.g. the CRD is not installed: keep retrying, but say so only now and then
        if (Date.now() - warned > 5 * 60_000) {
          warned = Date.now();
          deps.log.warn({ err: errorMessage(e) }, "cannot watch ClusterExternalSecrets; retrying");
        }
      },
    });
    this.namespaces = deps.namespaces;
    this.#queue = new WorkQueue({
      concurrency: 2,
      handler: (key) => this.#reconcile(key),
      ...(deps.metrics ? { metrics: deps.metrics.queue("clusterexternalsecret") } : {}),
      onError: (key, e) => {
        deps.log.warn({ clusterexternalsecret: key, err: errorMessage(e) }, "reconcile failed");
      },
    });
    this.ces.on((event, obj, old) => {
      if (event === "delete") {
        this.#queue.forget(obj.metadata.name ?? "");
        return;
      }
      const changed =
        !old ||
        old.metadata.generation !== obj.metadata.generation ||
        stable(old.metadata.annotations ?? {}) !== stable(obj.metadata.annotations ?? {});
      if (changed) this.#queue.add(obj.metadata.name ?? "");
    });
    this.namespaces.on((event, ns, old) => {
      if (
        event === "update" &&
        old &&
        stable(old.metadata.labels ?? {}) === stable(ns.metadata.labels ?? {})
      ) {
        if (!ns.metadata.deletionTimestamp || old.metadata.deletionTimestamp) return;
      }
      for (const c of this.ces.list()) this.#queue.add(c.metadata.name ?? "");
    });
  }

  async #reconcile(name: string): Promise<{ requeueAfter: number } | undefined> {
    const ces = this.ces.get(name);
    if (!ces || ces.metadata.deletionTimestamp) return undefined;
    const esName = externalSecretName(ces);
    const failed = new Map<string, string>();
    const previous = ces.status?.provisionedNamespaces ?? [];

    // a renamed ExternalSecret: remove the ones made under the old name
    const prevName = ces.status?.externalSecretName;
    if (prevName && prevName !== esName)
      for (const ns of previous) await this.#deleteOwned(ns, prevName, name, failed);

    const targets = targetNamespaces(ces, this.namespaces.list());
    for (const ns of previous) if (!targets.includes(ns)) await this.#deleteOwned(ns, esName, name, failed);

    const provisioned: string[] = [];
    for (const ns of targets) {
      try {
        const existing = await this.deps.api.getOrUndefined<ExternalSecretObject>(esPath(ns, esName));
        if (existing && !isOwnedBy(existing, name)) {
          failed.set(ns, ALREADY_EXISTS);
          continue;
        }
        const desired = desiredExternalSecret(ces, ns);
        if (!existing) await this.deps.api.create(esPath(ns), desired);
        else {
          const next = updated(existing, desired);
          if (next) await this.deps.api.replace(esPath(ns, esName), next);
        }
        provisioned.push(ns);
      } catch (e) {
        failed.set(ns, errorMessage(e));
      }
    }

    const status = nextStatus(ces.status, esName, provisioned, failed, this.deps.now?.() ?? new Date());
    if (stable(status) !== stable(ces.status ?? {}))
      await this.deps.api.mergePatch(`${CES_PATH}/${encodeURIComponent(name)}/status`, {
        status: { ...nullFields(ces.status), ...status },
      });

    return { requeueAfter: clusterRefreshMs(ces.spec?.refreshTime) };
  }

  async #deleteOwned(
    ns: string,
    esName: string,
    cesName: string,
    failed: Map<string, string>,
  ): Promise<void> {
    try {
      const es = await this.deps.api.getOrUndefined<ExternalSecretObject>(esPath(ns, esName));
      if (es && isOwnedBy(es, cesName)) await this.deps.api.delete(esPath(ns, esName));
    } catch (e) {
      if (!isNotFound(e))
        failed.set(ns, `external secret in non matching namespace could not be deleted: ${errorMessage(e)}`);
    }
  }

  async start(): Promise<void> {
    // started (once) by its owner, the ExternalSecret controller; this only waits for its list
    await this.namespaces.start();
    // without the CRD the informer keeps retrying in the background; other controllers go on
    void this.ces.start().catch(() => undefined);
    this.#queue.start();
  }

  async stop(): Promise<void> {
    await this.#queue.shutdown();
    await this.ces.stop();
  }
}

/** A merge patch removes fields only when they are null: clear the ones the new status omits. */
function nullFields(status: object | undefined): Record<string, null> {
  return Object.fromEntries(Object.keys(status ?? {}).map((k) => [k, null]));
}
