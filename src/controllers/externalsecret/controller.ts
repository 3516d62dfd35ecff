/**
 * The ExternalSecret controller: informers, event routing and the work queue. The reconcile of
 * one ExternalSecret lives in reconcile.ts.
 *
 * What triggers a reconcile:
 * - an ExternalSecret is added, its spec changes (generation) or its labels/annotations change
 *   (ESO's force-sync), in the urgent lane; our own status writes do not trigger;
 * - its store changes (urgent; sessions of the old store spec are dropped);
 * - its target Secret is changed or deleted by someone else (urgent: repair);
 * - the refresh schedule (refresh lane, jittered).
 */
import type { KubeApi, KubeObject } from "../../kube/api.ts";
import { dropLastApplied, identityAndLabels, Informer, objectKey } from "../../kube/informer.ts";
import { rememberSyncedResourceVersion, syncedResourceVersion } from "../../util/eso-hash.ts";
import { WorkQueue } from "../../kube/workqueue.ts";
import type { EventRecorder } from "../../kube/events.ts";
import type { Logger } from "../../util/log.ts";
import type { Metrics } from "../../manager/metrics.ts";
import type { KubeAccess } from "../../providers/types.ts";
import { SessionPool } from "../../engine/sessions.ts";
import type { ReadCache } from "../../engine/reads.ts";
import { intervalOf } from "./status.ts";
import { nextCycleIn, retryNoLaterThan } from "./schedule.ts";
import { errorMessage } from "../../util/errors.ts";
import { ApiSecretWriter } from "../../engine/writer.ts";
import { redactor } from "../../util/redact.ts";
import { GROUP, VERSION_STORAGE, type ExternalSecret, type SecretStoreObject } from "./types.ts";
import { reconcileExternalSecret, type ReconcileContext } from "./reconcile.ts";
import { forgetRefresh } from "./status.ts";

export const MANAGED_LABEL = "reconcile.external-secrets.io/managed";

export interface ExternalSecretControllerDeps {
  api: KubeApi;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  sessions: SessionPool;
  reads: ReadCache;
  kube: KubeAccess;
  controllerClass: string;
  namespace?: string | undefined;
  concurrent: number;
  /** Floor for positive refresh intervals (--min-refresh-interval); 0 = none. */
  minRefreshIntervalMs?: number | undefined;
  now?: () => number;
}

/** The longest an ExternalSecret waits for a down store's return before trying again itself. */
const PARKED_MAX_MS = 5 * 60_000;

export class ExternalSecretController {
  readonly name = "externalsecret";
  readonly externalSecrets: Informer<ExternalSecret>;
  readonly secretStores: Informer<SecretStoreObject>;
  readonly clusterSecretStores: Informer<SecretStoreObject>;
  readonly managedSecrets: Informer<KubeObject>;
  readonly namespaces: Informer<KubeObject>;
  readonly queue: WorkQueue;
  readonly #ctx: ReconcileContext;
  /**
   * ExternalSecrets failed by a store (or remote key) that is down, by the read cache's key of the
   * failure: one of them (the prober) retries when the store may be asked again, the others wait
   * for its answer (requeued when the store answers) or their next refresh cycle, whichever comes
   * first. Without this each retried on its own back-off (1, 2, 4 ... s): with 1,000 objects the
   * retries filled the queue, and the last objects reported the outage only after 70-90 s.
   */
  readonly #waiting = new Map<string, { prober: string; parked: Set<string> }>();

  constructor(readonly deps: ExternalSecretControllerDeps) {
    const { api, namespace } = deps;
    const ns = namespace ? `/namespaces/${namespace}` : "";
    const onError = (e: unknown): void => {
      deps.log.warn({ err: errorMessage(e) }, "watch failed; resuming");
    };
    // Caches keep what the reconcile reads: no managedFields (every informer drops them), no
    // kubectl last-applied copy (ExternalSecrets keep its effect on ESO's syncedResourceVersion,
    // computed on arrival), namespaces as names and labels. Target Secrets keep their annotations
    // whole: an update writes them back.
    this.externalSecrets = new Informer(api, `/apis/${GROUP}/${VERSION_STORAGE}${ns}/externalsecrets`, {
      onError,
      transform: (es) => {
        rememberSyncedResourceVersion(es.metadata);
        return dropLastApplied(es);
      },
    });
    this.secretStores = new Informer(api, `/apis/${GROUP}/${VERSION_STORAGE}${ns}/secretstores`, {
      onError,
      transform: dropLastApplied,
    });
    this.clusterSecretStores = new Informer(api, `/apis/${GROUP}/${VERSION_STORAGE}/clustersecretstores`, {
      onError,
      transform: dropLastApplied,
    });
    this.managedSecrets = new Informer(api, `/api/v1${ns}/secrets`, {
      labelSelector: `${MANAGED_LABEL}=true`,
      onError,
    });
    this.namespaces = new Informer(api, "/api/v1/namespaces", { onError, transform: identityAndLabels });
    this.#ctx = {
      ...deps,
      now: deps.now ?? Date.now,
      writer: new ApiSecretWriter(deps.api, deps.metrics, deps.events),
      externalSecrets: this.externalSecrets,
      secretStores: this.secretStores,
      clusterSecretStores: this.clusterSecretStores,
      managedSecrets: this.managedSecrets,
      namespaces: this.namespaces,
    };
    this.queue = new WorkQueue({
      concurrency: deps.concurrent,
      handler: (key) => reconcileExternalSecret(this.#ctx, key),
      // back off, but retry no later than the next refresh cycle (schedule.ts)
      maxRetryDelay: (key) => {
        const es = this.externalSecrets.get(key);
        return retryNoLaterThan(Date.now(), es ? intervalOf(es, deps.minRefreshIntervalMs) : 0);
      },
      retryDelay: (key, e, backoff) => this.#retryDelay(key, e, backoff),
      metrics: deps.metrics.queue("externalsecret"),
      onError: (key, e, retryIn) => {
        deps.log.warn(
          { externalsecret: key, err: redactor.redact(errorMessage(e)), retryInMs: retryIn },
          "reconcile failed",
        );
      },
      onStall: (key, runningMs) => {
        deps.log.warn(
          { externalsecret: key, runningMs },
          "reconcile still running: its worker goes on to other work",
        );
      },
    });
    this.#route();
    deps.reads.onRecovered((downKey) => {
      const w = this.#waiting.get(downKey);
      if (!w) return;
      this.#waiting.delete(downKey);
      // their reads share what the store now answers (reason "retry": a 10 s read window)
      for (const key of w.parked) this.queue.add(key, "refresh");
    });
  }

  /** When an ExternalSecret failed by a store that is down is retried (see #waiting). */
  #retryDelay(key: string, e: unknown, backoff: number): number | { delayMs: number; lane: "refresh" } {
    const down = this.deps.reads.failureOf(e);
    const es = this.externalSecrets.get(key);
    const interval = es ? intervalOf(es, this.deps.minRefreshIntervalMs) : 0;
    if (!down || interval <= 0) return backoff;
    const cycle = nextCycleIn(Date.now(), interval);
    let w = this.#waiting.get(down.key);
    if (!w || w.prober === key || !this.externalSecrets.get(w.prober)) {
      const parked = w?.parked ?? new Set<string>();
      parked.delete(key);
      w = { prober: key, parked };
      this.#waiting.set(down.key, w);
      // the store may be asked again at `until`; past it, a read is asking it now (a blackholed
      // store answers only after a request timeout): the prober's own back-off then
      const left = down.until - Date.now();
      return Math.min(cycle, Math.max(left > 0 ? left + 100 : backoff, 1000));
    }
    w.parked.add(key);
    // behind the refreshes of this cycle that have not reported the outage yet; at most 5
    // minutes, should the store's return never be heard (its prober went another way)
    return { delayMs: Math.min(cycle, PARKED_MAX_MS), lane: "refresh" };
  }

  #route(): void {
    this.externalSecrets.on((event, obj, old) => {
      const key = objectKey(obj);
      if (event === "delete") {
        this.queue.forget(key);
        for (const w of this.#waiting.values()) w.parked.delete(key);
        this.deps.metrics.removeExternalSecret(obj.metadata.namespace ?? "", obj.metadata.name ?? "");
        forgetRefresh(obj.metadata.uid); // bounded by the live objects, not by every one ever seen
        return;
      }
      if (event === "add" || !old || specOrMetaChanged(old, obj)) this.queue.add(key, "urgent");
    });
    const storeChanged =
      (kind: "SecretStore" | "ClusterSecretStore") =>
      (event: string, store: SecretStoreObject, old?: SecretStoreObject) => {
        if (event === "update" && old && old.metadata.generation === store.metadata.generation) return;
        if (event !== "add") {
          // Sessions of the old spec (or of a deleted store) are of no further use. A new store
          // keeps the session its validation may already have opened.
          const uid = `|${store.metadata.uid ?? "\u0000"}|`;
          const current =
            event === "delete"
              ? undefined
              : SessionPool.specHash(
                  store.spec?.provider ? Object.values(store.spec.provider)[0] : undefined,
                );
          void this.deps.sessions.invalidate(
            (k) => k.includes(uid) && (current === undefined || !k.includes(`|${current}|`)),
          );
        }
        for (const es of this.externalSecrets.list()) {
          if (usesStore(es, kind, store)) this.queue.add(objectKey(es), "urgent");
        }
      };
    this.secretStores.on(storeChanged("SecretStore"));
    this.clusterSecretStores.on(storeChanged("ClusterSecretStore"));
    this.managedSecrets.on((event, secret, old) => {
      if (event === "add") return; // our own creates, and the initial list
      if (event === "update" && old && sameContent(old, secret)) return;
      for (const es of this.#ownersOf(secret)) this.queue.add(es, "urgent");
    });
  }

  #ownersOf(secret: KubeObject): string[] {
    const out: string[] = [];
    for (const ref of secret.metadata.ownerReferences ?? []) {
      if (ref.kind === "ExternalSecret" && secret.metadata.namespace)
        out.push(`${secret.metadata.namespace}/${ref.name}`);
    }
    if (out.length) return out;
    // Orphan/Merge policies leave no owner reference: find ExternalSecrets targeting this name.
    for (const es of this.externalSecrets.list()) {
      if (
        es.metadata.namespace === secret.metadata.namespace &&
        (es.spec?.target?.name ?? es.metadata.name) === secret.metadata.name
      ) {
        out.push(objectKey(es));
      }
    }
    return out;
  }

  async start(): Promise<void> {
    await Promise.all([
      this.namespaces.start(),
      this.secretStores.start(),
      this.clusterSecretStores.start(),
      this.managedSecrets.start(),
    ]);
    await this.externalSecrets.start();
    this.queue.start();
    this.deps.log.info({ externalsecrets: this.externalSecrets.size }, "externalsecret controller started");
  }

  async stop(): Promise<void> {
    await this.queue.shutdown();
    await Promise.all([
      this.externalSecrets.stop(),
      this.secretStores.stop(),
      this.clusterSecretStores.stop(),
      this.managedSecrets.stop(),
      this.namespaces.stop(),
    ]);
  }
}

/** Generation, labels or annotations (kubectl's last-applied included) changed. */
function specOrMetaChanged(old: ExternalSecret, cur: ExternalSecret): boolean {
  return syncedResourceVersion(old.metadata) !== syncedResourceVersion(cur.metadata);
}

function usesStore(es: ExternalSecret, kind: string, store: SecretStoreObject): boolean {
  const refs = [
    es.spec?.secretStoreRef,
    ...(es.spec?.data ?? []).map((d) => d.sourceRef?.storeRef),
    ...(es.spec?.dataFrom ?? []).map((d) => d.sourceRef?.storeRef),
  ];
  return refs.some(
    (r) =>
      r?.name === store.metadata.name &&
      (r?.kind ?? "SecretStore") === kind &&
      (kind === "ClusterSecretStore" || es.metadata.namespace === store.metadata.namespace),
  );
}

function sameContent(a: KubeObject, b: KubeObject): boolean {
  const pick = (o: KubeObject): string =>
    JSON.stringify([
      (o as { data?: unknown }).data ?? {},
      (o as { type?: unknown }).type,
      o.metadata.labels ?? {},
      o.metadata.annotations ?? {},
    ]);
  return pick(a) === pick(b);
}
