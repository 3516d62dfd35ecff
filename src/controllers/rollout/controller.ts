/**
 * Restarts Deployments, StatefulSets and DaemonSets when the data of a Secret they opted in to
 * changes (Reloader's annotations and markers). Any Secret counts, not only those Custos writes.
 *
 * Only real data changes act: a watch update whose data hash differs from the previous object's.
 * The initial list (operator start, relists) only fills the cache, so restarts of the operator
 * restart nothing. Changes to several Secrets of one workload within `coalesceMs` give one patch.
 */
import type { KubeApi, KubeObject } from "../../kube/api.ts";
import { Informer, objectKey } from "../../kube/informer.ts";
import { WorkQueue } from "../../kube/workqueue.ts";
import type { EventRecorder } from "../../kube/events.ts";
import type { Logger } from "../../util/log.ts";
import type { Metrics } from "../../manager/metrics.ts";
import { errorMessage } from "../../util/errors.ts";
import {
  reloaderHash,
  restartPatch,
  shouldRestart,
  type Change,
  type Strategy,
  type Workload,
} from "./match.ts";

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

const KINDS = [
  { kind: "Deployment", plural: "deployments" },
  { kind: "StatefulSet", plural: "statefulsets" },
  { kind: "DaemonSet", plural: "daemonsets" },
] as const;

export interface RolloutControllerDeps {
  api: KubeApi;
  log: Logger;
  metrics?: Metrics | undefined;
  events?: EventRecorder | undefined;
  namespace?: string | undefined;
  strategy: Strategy;
  coalesceMs?: number;
}

export class RolloutController {
  readonly name = "rollout";
  readonly secrets: Informer<SecretObj>;
  readonly workloads: Map<string, Informer<Workload & KubeObject>>;
  readonly #queue: WorkQueue;
  /** Secrets changed since a workload was last patched: workload key -> secret keys. */
  readonly #pending = new Map<string, Set<string>>();
  /** Synced workloads are known; a Secret changed before a workload exists restarts nothing. */
  #started = false;

  constructor(readonly deps: RolloutControllerDeps) {
    const ns = deps.namespace ? `/namespaces/${deps.namespace}` : "";
    const onError = (e: unknown): void => {
      deps.log.warn({ err: errorMessage(e) }, "watch error; relisting");
    };
    this.secrets = new Informer(deps.api, `/api/v1${ns}/secrets`, { onError, transform: secretForRollout });
    this.workloads = new Map(
      KINDS.map((k) => [
        k.kind,
        new Informer<Workload & KubeObject>(deps.api, `/apis/apps/v1${ns}/${k.plural}`, { onError }),
      ]),
    );
    this.#queue = new WorkQueue({
      concurrency: 4,
      handler: async (key) => {
        await this.#process(key);
        return undefined;
      },
      metrics: deps.metrics?.queue("rollout"),
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
    const ref = {
      name: secret.metadata.name ?? "",
      namespace: secret.metadata.namespace ?? "",
      annotations: secret.metadata.annotations,
    };
    for (const [kind, inf] of this.workloads) {
      for (const w of inf.list()) {
        const wl = { ...w, kind: kind as Workload["kind"] };
        if (!shouldRestart(wl, ref)) continue;
        const key = `${kind}|${objectKey(w)}`;
        const set = this.#pending.get(key) ?? new Set<string>();
        set.add(objectKey(secret));
        this.#pending.set(key, set);
        this.#queue.addAfter(key, this.deps.coalesceMs ?? 1000, "urgent");
      }
    }
  }

  async #process(key: string): Promise<void> {
    const [kind, wkey] = key.split("|", 2) as [Workload["kind"], string];
    const secretKeys = this.#pending.get(key);
    this.#pending.delete(key);
    const w = this.workloads.get(kind)?.get(wkey);
    if (!w || !secretKeys?.size) return;
    const changes: Change[] = [];
    for (const sk of secretKeys) {
      const s = this.secrets.get(sk);
      if (!s) continue;
      changes.push({
        secret: {
          name: s.metadata.name ?? "",
          namespace: s.metadata.namespace ?? "",
          annotations: s.metadata.annotations,
        },
        hash: s.dataHash ?? reloaderHash(s.data),
      });
    }
    const workload = { ...w, kind };
    const patch = restartPatch(workload, changes, this.deps.strategy, new Date());
    if (!patch) return;
    const plural = KINDS.find((k) => k.kind === kind)!.plural;
    const path = `/apis/apps/v1/namespaces/${w.metadata.namespace ?? ""}/${plural}/${w.metadata.name ?? ""}`;
    try {
      await this.deps.api.request("PATCH", path, {
        body: patch,
        contentType: "application/strategic-merge-patch+json",
      });
    } catch (e) {
      // keep what still has to be applied for the retry
      this.#pending.set(key, new Set([...(this.#pending.get(key) ?? []), ...secretKeys]));
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
      { workload: `${kind}/${wkey}`, secrets: names, strategy: this.deps.strategy },
      "workload restarted",
    );
  }

  async start(): Promise<void> {
    await Promise.all([this.secrets.start(), ...[...this.workloads.values()].map((i) => i.start())]);
    this.#started = true;
    this.#queue.start();
  }

  async stop(): Promise<void> {
    await this.#queue.shutdown();
    await Promise.all([this.secrets.stop(), ...[...this.workloads.values()].map((i) => i.stop())]);
  }
}
