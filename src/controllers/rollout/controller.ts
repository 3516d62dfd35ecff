/**
 * Restarts Deployments, StatefulSets and DaemonSets when the data of a Secret they opted in to
 * changes (Reloader's annotations and markers). Any Secret counts, not only those Custos writes.
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
import { reloaderHash, restartPatch, type Change, type Strategy, type Workload } from "./match.ts";
import { patchWorkload, restartsFor, type SecretChange } from "./restarts.ts";

/** A watched Secret as the cache keeps it: identity, annotations and Reloader's hash of its data. */
interface SecretObj extends KubeObject {
  data?: Record<string, string>;
  /** Set by the informer's transform; `data` is dropped so no Secret's values stay in memory. */
  dataHash?: string;
}

/** Keeps what restarts need (metadata for matching, a hash for change detection), never values. */
export function secretForRollout(s: SecretObj): SecretObj {
  const { name, namespace, uid, resourceVersion, annotations } = s.metadata;
  return {
    apiVersion: s.apiVersion,
    kind: s.kind,
    metadata: { name, namespace, uid, resourceVersion, ...(annotations ? { annotations } : {}) },
    dataHash: s.dataHash ?? reloaderHash(s.data),
  };
}

export interface RolloutControllerDeps {
  api: KubeApi;
  log: Logger;
  metrics?: Metrics | undefined;
  events?: EventRecorder | undefined;
  namespace?: string | undefined;
  strategy: Strategy;
  coalesceMs?: number;
}

/** Queue keys of namespace batches (workload keys are `Kind|ns/name`, never with this prefix). */
const NS_KEY = "namespace|";

export class RolloutController {
  readonly name = "rollout";
  readonly secrets: Informer<SecretObj>;
  readonly #queue: WorkQueue;
  /** Secret changes not yet batched: namespace -> secret name -> the change. */
  readonly #changed = new Map<string, Map<string, SecretChange>>();
  /** Restarts not yet applied: workload key -> the workload as listed, and the changes to record. */
  readonly #pending = new Map<string, { kind: Workload["kind"]; workload: Workload; changes: Change[] }>();
  /** The Secret cache is synced: changes seen from now on are real changes. */
  #started = false;

  constructor(readonly deps: RolloutControllerDeps) {
    const ns = deps.namespace ? `/namespaces/${deps.namespace}` : "";
    const onError = (e: unknown): void => {
      deps.log.warn({ err: errorMessage(e) }, "watch error; relisting");
    };
    this.secrets = new Informer(deps.api, `/api/v1${ns}/secrets`, { onError, transform: secretForRollout });
    this.#queue = new WorkQueue({
      concurrency: 4,
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
    this.secrets.on((event, secret, old) => {
      if (!this.#started || event !== "update" || !old) return;
      if (old.dataHash === secret.dataHash) return; // metadata-only change
      this.#secretChanged(secret);
    });
  }

  #secretChanged(secret: SecretObj): void {
    const namespace = secret.metadata.namespace ?? "";
    const name = secret.metadata.name ?? "";
    const changes = this.#changed.get(namespace) ?? new Map<string, SecretChange>();
    changes.set(name, { ref: { name, namespace, annotations: secret.metadata.annotations } });
    this.#changed.set(namespace, changes);
    this.#queue.addAfter(NS_KEY + namespace, this.deps.coalesceMs ?? 1000, "urgent");
  }

  /** One batch of a namespace's changes: list its workloads, queue one patch per workload. */
  async #batch(namespace: string): Promise<void> {
    const changes = this.#changed.get(namespace);
    this.#changed.delete(namespace);
    if (!changes?.size) return;
    let restarts;
    try {
      restarts = await restartsFor(this.deps.api, namespace, [...changes.values()]);
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
        const s = this.secrets.get(`${namespace}/${ref.name}`);
        if (s) fresh.push({ secret: ref, hash: s.dataHash ?? reloaderHash(s.data) });
      }
      const names = new Set(fresh.map((c) => c.secret.name));
      this.#pending.set(key, {
        kind: r.kind,
        workload: r.workload,
        changes: [...prev.filter((c) => !names.has(c.secret.name)), ...fresh],
      });
      this.#queue.add(key, "urgent");
    }
  }

  async #process(key: string): Promise<void> {
    const pending = this.#pending.get(key);
    this.#pending.delete(key);
    if (!pending?.changes.length) return;
    const { kind, workload: w, changes } = pending;
    const patch = restartPatch(w, changes, this.deps.strategy, new Date());
    if (!patch) return;
    try {
      await patchWorkload(this.deps.api, kind, w.metadata.namespace ?? "", w.metadata.name ?? "", patch);
    } catch (e) {
      // keep what still has to be applied for the retry (a newer batch supersedes it)
      if (!this.#pending.has(key)) this.#pending.set(key, pending);
      throw e;
    }
    const names = changes.map((c) => c.secret.name).join(", ");
    this.deps.metrics?.rollouts.inc({ kind, strategy: this.deps.strategy });
    this.deps.events?.record(
      { ...w, apiVersion: "apps/v1", kind },
      "Normal",
      "Reloaded",
      `Restarted because Secret ${names} changed`,
    );
    this.deps.log.info(
      {
        workload: `${kind}/${w.metadata.namespace ?? ""}/${w.metadata.name ?? ""}`,
        secrets: names,
        strategy: this.deps.strategy,
      },
      "workload restarted",
    );
  }

  async start(): Promise<void> {
    await this.secrets.start();
    this.#started = true;
    this.#queue.start();
  }

  async stop(): Promise<void> {
    await this.#queue.shutdown();
    await this.secrets.stop();
  }
}
