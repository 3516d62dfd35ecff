/**
 * Restarts Deployments, StatefulSets and DaemonSets when the data of a Secret or ConfigMap they
 * opted in to changes (Reloader's annotations and markers). Any Secret counts, not only those
 * Custos writes; ConfigMaps unless `--resources-to-ignore configMaps`, as with Reloader.
 *
 * Only real data changes act: a watch update whose data hash differs from the previous object's.
 * The initial list (operator start, relists) only fills the cache, so restarts of the operator
 * restart nothing. Changes to Secrets of one namespace within `coalesceMs` are one batch: the
 * namespace's workloads are listed from the API server then (restarts.ts), one LIST per kind, and
 * each workload gets one patch for all the changes it follows.
 */
import type { KubeApi, KubeObject } from "../../kube/api.ts";
import { Informer } from "../../kube/informer.ts";
import { WorkQueue } from "../../kube/workqueue.ts";
import { namespaceOfKey } from "../../kube/shard-scope.ts";
import type { EventRecorder } from "../../kube/events.ts";
import type { Logger } from "../../util/log.ts";
import type { Metrics } from "../../manager/metrics.ts";
import { errorMessage } from "../../util/errors.ts";
import {
  configMapHash,
  jobFromCronJob,
  reloaderHash,
  restartPatch,
  type Change,
  type SourceKind,
  type Strategy,
  type Workload,
} from "./match.ts";
import { ARGO_ROLLOUT, createJob, patchWorkload, restartsFor, type SecretChange } from "./restarts.ts";

/** A watched Secret as the cache keeps it: identity, annotations and Reloader's hash of its data. */
interface SecretObj extends KubeObject {
  data?: Record<string, string>;
  /** Set by the informer's transform; `data` is dropped so no Secret's values stay in memory. */
  dataHash?: string;
}

/** A watched ConfigMap as the cache keeps it: identity, annotations and Reloader's hash. */
interface ConfigMapObj extends KubeObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  dataHash?: string;
}

/** What the cache keeps of any source: identity, annotations and a hash, never its data. */
function keepForRollout<T extends KubeObject & { dataHash?: string }>(o: T, hash: () => string): T {
  const { name, namespace, uid, resourceVersion, annotations } = o.metadata;
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name, namespace, uid, resourceVersion, ...(annotations ? { annotations } : {}) },
    dataHash: o.dataHash ?? hash(),
  } as T;
}

/** Keeps what restarts need of a Secret (metadata for matching, a hash for change detection). */
export const secretForRollout = (s: SecretObj): SecretObj => keepForRollout(s, () => reloaderHash(s.data));

/** Keeps what restarts need of a ConfigMap. */
export const configMapForRollout = (c: ConfigMapObj): ConfigMapObj =>
  keepForRollout(c, () => configMapHash(c.data, c.binaryData));

/** Reloader's `--resources-to-ignore` values. */
export type IgnorableResource = "secrets" | "configMaps";

export interface RolloutControllerDeps {
  api: KubeApi;
  log: Logger;
  metrics?: Metrics | undefined;
  events?: EventRecorder | undefined;
  namespace?: string | undefined;
  strategy: Strategy;
  coalesceMs?: number;
  /** Sources not watched (Reloader's --resources-to-ignore); default none. */
  ignore?: ReadonlySet<IgnorableResource> | undefined;
  /** Reloader's --auto-reload-all: workloads follow what they use unless they opt out. */
  autoReloadAll?: boolean | undefined;
  /** Reloader's --reload-on-create: a source created while running counts as a change. */
  reloadOnCreate?: boolean | undefined;
  /** Reloader's --reload-on-delete: a deleted source counts as a change to nothing. */
  reloadOnDelete?: boolean | undefined;
}

/** Reloader's hash of no data: what a deleted source is recorded as. */
const EMPTY_HASH = reloaderHash({});

/** Queue keys of namespace batches (workload keys are `Kind|ns/name`, never with this prefix). */
const NS_KEY = "namespace|";

export class RolloutController {
  readonly name = "rollout";
  readonly secrets: Informer<SecretObj> | undefined;
  readonly configMaps: Informer<ConfigMapObj> | undefined;
  readonly #queue: WorkQueue;
  /** Source changes not yet batched: namespace -> `Kind/name` -> the change. */
  readonly #changed = new Map<string, Map<string, SecretChange>>();
  /** Restarts not yet applied: workload key -> the workload as listed, and the changes to record. */
  readonly #pending = new Map<string, { kind: Workload["kind"]; workload: Workload; changes: Change[] }>();
  /** The Secret cache is synced: changes seen from now on are real changes. */
  #started = false;
  /** Whether Argo Rollouts are served, and when that was last asked (the CRD may come later). */
  #argo: { served: boolean; at: number } | undefined;

  constructor(readonly deps: RolloutControllerDeps) {
    const ns = deps.namespace ? `/namespaces/${deps.namespace}` : "";
    const onError = (e: unknown): void => {
      deps.log.warn({ err: errorMessage(e) }, "watch failed; resuming");
    };
    this.secrets = deps.ignore?.has("secrets")
      ? undefined
      : new Informer(deps.api, `/api/v1${ns}/secrets`, { onError, transform: secretForRollout });
    this.configMaps = deps.ignore?.has("configMaps")
      ? undefined
      : new Informer(deps.api, `/api/v1${ns}/configmaps`, { onError, transform: configMapForRollout });
    this.#queue = new WorkQueue({
      concurrency: 4,
      // a restart owed for a rotation is late by at most 30 s once the API server answers again:
      // a batch is four LISTs, and on a flaky connection all four rarely succeed at once, so the
      // default 7-minute ceiling left restarts undone for minutes (the slow-API-server scenario)
      maxDelayMs: 30_000,
      handler: async (key) => {
        if (key.startsWith(NS_KEY)) await this.#batch(key.slice(NS_KEY.length));
        else await this.#process(key);
        return undefined;
      },
      metrics: deps.metrics?.queue("rollout"),
      // sharding: a namespace batch belongs to its namespace's shard
      namespaceOf: (key) => (key.startsWith(NS_KEY) ? key.slice(NS_KEY.length) : namespaceOfKey(key)),
      onError: (key, e) => {
        deps.log.warn({ workload: key, err: errorMessage(e) }, "restart failed");
      },
    });
    const follow =
      (kind: SourceKind) =>
      (event: string, obj: SecretObj | ConfigMapObj, old?: SecretObj | ConfigMapObj): void => {
        if (!this.#started) return; // the initial list only fills the cache
        if (event === "add" && deps.reloadOnCreate) this.#sourceChanged(kind, obj);
        else if (event === "delete" && deps.reloadOnDelete) this.#sourceChanged(kind, obj, EMPTY_HASH);
        else if (event === "update" && old && old.dataHash !== obj.dataHash) this.#sourceChanged(kind, obj);
      };
    this.secrets?.on(follow("Secret"));
    this.configMaps?.on(follow("ConfigMap"));
  }

  #sourceChanged(kind: SourceKind, obj: KubeObject, goneHash?: string): void {
    const namespace = obj.metadata.namespace ?? "";
    const name = obj.metadata.name ?? "";
    const changes = this.#changed.get(namespace) ?? new Map<string, SecretChange>();
    changes.set(`${kind}/${name}`, {
      ref: { kind, name, namespace, annotations: obj.metadata.annotations },
      hash: goneHash,
    });
    this.#changed.set(namespace, changes);
    this.#queue.addAfter(NS_KEY + namespace, this.deps.coalesceMs ?? 1000, "urgent");
  }

  /** The cached hash of a followed source, if it is still there. */
  #hashOf(kind: SourceKind, namespace: string, name: string): string | undefined {
    const cache = kind === "ConfigMap" ? this.configMaps : this.secrets;
    return cache?.get(`${namespace}/${name}`)?.dataHash;
  }

  /** One batch of a namespace's changes: list its workloads, queue one patch per workload. */
  async #batch(namespace: string): Promise<void> {
    const changes = this.#changed.get(namespace);
    this.#changed.delete(namespace);
    if (!changes?.size) return;
    let restarts;
    try {
      restarts = await restartsFor(this.deps.api, namespace, [...changes.values()], {
        argoRollouts: await this.#argoServed(),
        autoReloadAll: this.deps.autoReloadAll,
      });
    } catch (e) {
      // keep the batch for the retry, without losing changes that arrived meanwhile
      const now = this.#changed.get(namespace) ?? new Map<string, SecretChange>();
      for (const [k, c] of changes) if (!now.has(k)) now.set(k, c);
      this.#changed.set(namespace, now);
      throw e;
    }
    for (const r of restarts) {
      const key = `${r.kind}|${namespace}/${r.workload.metadata.name ?? ""}`;
      const prev = this.#pending.get(key)?.changes ?? [];
      const fresh: Change[] = [];
      for (const ref of r.secrets) {
        const hash =
          changes.get(`${ref.kind ?? "Secret"}/${ref.name}`)?.hash ??
          this.#hashOf(ref.kind ?? "Secret", namespace, ref.name);
        if (hash) fresh.push({ secret: ref, hash });
      }
      const id = (c: Change): string => `${c.secret.kind ?? "Secret"}/${c.secret.name}`;
      const names = new Set(fresh.map(id));
      this.#pending.set(key, {
        kind: r.kind,
        workload: r.workload,
        changes: [...prev.filter((c) => !names.has(id(c))), ...fresh],
      });
      this.#queue.add(key, "urgent");
    }
  }

  /** Asked at most every 5 minutes: one GET of the group's discovery document. */
  async #argoServed(): Promise<boolean> {
    const now = Date.now();
    if (this.#argo && now - this.#argo.at < 300_000) return this.#argo.served;
    // not installed (404) or not readable: CronJobs and apps/v1 workloads still work
    const served = await this.deps.api
      .get<{ resources?: { name: string }[] }>(ARGO_ROLLOUT.path)
      .then((doc) => !!doc.resources?.some((r) => r.name === ARGO_ROLLOUT.plural))
      .catch(() => false);
    this.#argo = { served, at: now };
    return served;
  }

  async #process(key: string): Promise<void> {
    const pending = this.#pending.get(key);
    this.#pending.delete(key);
    if (!pending?.changes.length) return;
    const { kind, workload: w, changes } = pending;
    try {
      if (kind === "CronJob") {
        const job = jobFromCronJob(w, changes);
        if (!job || !(await createJob(this.deps.api, job))) return;
      } else {
        const patch = restartPatch(w, changes, this.deps.strategy, new Date());
        if (!patch) return;
        await patchWorkload(this.deps.api, kind, w.metadata.namespace ?? "", w.metadata.name ?? "", patch);
      }
    } catch (e) {
      // keep what still has to be applied for the retry (a newer batch supersedes it)
      if (!this.#pending.has(key)) this.#pending.set(key, pending);
      throw e;
    }
    const names = changes.map((c) => `${c.secret.kind ?? "Secret"} ${c.secret.name}`).join(", ");
    this.deps.metrics?.rollouts.inc({ kind, strategy: this.deps.strategy });
    this.deps.events?.record(
      {
        ...w,
        apiVersion: kind === "CronJob" ? "batch/v1" : kind === "Rollout" ? "argoproj.io/v1alpha1" : "apps/v1",
        kind,
      },
      "Normal",
      "Reloaded",
      `Restarted because ${names} changed`,
    );
    this.deps.log.info(
      {
        workload: `${kind}/${w.metadata.namespace ?? ""}/${w.metadata.name ?? ""}`,
        sources: names,
        strategy: this.deps.strategy,
      },
      "workload restarted",
    );
  }

  async start(): Promise<void> {
    await Promise.all([this.secrets?.start(), this.configMaps?.start()]);
    this.#started = true;
    this.#queue.start();
  }

  async stop(): Promise<void> {
    await this.#queue.shutdown();
    await Promise.all([this.secrets?.stop(), this.configMaps?.stop()]);
  }
}
