/**
 * The GeneratorState controller (`--controllers generatorstate`): ESO's garbage collection of
 * generator state. It starts when the GeneratorState CRD is served (asked every 5 minutes until
 * then), so a cluster without it pays nothing.
 */
import type { Controller, ControllerFactory, ControllerDeps } from "../../manager/registry.ts";
import { Informer } from "../../kube/informer.ts";
import { WorkQueue } from "../../kube/workqueue.ts";
import { isNotFound } from "../../kube/api.ts";
import { errorMessage } from "../../util/errors.ts";
import { GENERATOR_GROUP, GENERATOR_KINDS, GENERATOR_VERSION } from "../../generators/schema.ts";
import {
  GENERATOR_STATE_FINALIZER,
  planGeneratorState,
  type GeneratorState,
  type GeneratorStateCondition,
} from "./plan.ts";

const API = `/apis/${GENERATOR_GROUP}/${GENERATOR_VERSION}`;
const served = new Set<string>([...Object.keys(GENERATOR_KINDS), "ClusterGenerator"]);

class GeneratorStateController implements Controller {
  readonly name = "generatorstate";
  #informer: Informer<GeneratorState & { apiVersion?: string; kind?: string }> | undefined;
  #queue: WorkQueue | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(readonly deps: ControllerDeps) {}

  async start(): Promise<void> {
    const doc = await this.deps.api.get<{ resources?: { name: string }[] }>(API).catch(() => undefined);
    if (!doc?.resources?.some((r) => r.name === "generatorstates")) {
      if (!this.#stopped) this.#timer = setTimeout(() => void this.start().catch(() => undefined), 300_000);
      return;
    }
    const ns = this.deps.options.namespace ? `/namespaces/${this.deps.options.namespace}` : "";
    const informer = new Informer<GeneratorState>(this.deps.api, `${API}${ns}/generatorstates`, {
      onError: (e) => {
        this.deps.log.warn({ err: errorMessage(e) }, "generatorstate watch failed; resuming");
      },
    });
    const queue = new WorkQueue({
      concurrency: 2,
      handler: (key) => this.#reconcile(informer, key),
      metrics: this.deps.metrics.queue("generatorstate"),
      onError: (key, e) => {
        this.deps.log.warn({ generatorstate: key, err: errorMessage(e) }, "reconcile failed");
      },
    });
    informer.on((event, gs) => {
      const key = `${gs.metadata.namespace ?? ""}/${gs.metadata.name ?? ""}`;
      if (event === "delete") queue.forget(key);
      else queue.add(key);
    });
    this.#informer = informer;
    this.#queue = queue;
    await informer.start();
    queue.start();
  }

  async #reconcile(
    informer: Informer<GeneratorState>,
    key: string,
  ): Promise<{ requeueAfter?: number } | undefined> {
    const gs = informer.get(key);
    if (!gs) return undefined;
    const path = `${API}/namespaces/${gs.metadata.namespace ?? ""}/generatorstates/${gs.metadata.name ?? ""}`;
    const action = planGeneratorState(gs, new Date(), (kind) => served.has(kind));
    const finalizers = gs.metadata.finalizers ?? [];
    switch (action.do) {
      case "addFinalizer":
        await this.deps.api.mergePatch(path, {
          metadata: {
            finalizers: [...finalizers, GENERATOR_STATE_FINALIZER],
            resourceVersion: gs.metadata.resourceVersion,
          },
        });
        return undefined;
      case "removeFinalizer":
        // the served generators keep no remote state: their cleanup is done once the state goes
        await this.deps.api.mergePatch(path, {
          metadata: {
            finalizers: finalizers.filter((f) => f !== GENERATOR_STATE_FINALIZER),
            resourceVersion: gs.metadata.resourceVersion,
          },
        });
        return undefined;
      case "delete":
        await this.#condition(path, gs, action.condition);
        await this.deps.api.delete(path).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
        return undefined;
      case "keep":
      case "wait":
        await this.#condition(path, gs, action.condition);
        return action.do === "wait" && action.requeueAfterMs !== undefined
          ? { requeueAfter: Math.max(1000, action.requeueAfterMs) }
          : undefined;
    }
  }

  /** Writes the condition when it is new (one status write per change, none per resync). */
  async #condition(path: string, gs: GeneratorState, c: GeneratorStateCondition): Promise<void> {
    const current = gs.status?.conditions?.find((x) => x.type === c.type);
    if (
      current &&
      current.status === c.status &&
      current.reason === c.reason &&
      current.message === c.message
    )
      return;
    const others = (gs.status?.conditions ?? []).filter((x) => x.type !== c.type);
    await this.deps.api
      .mergePatch(`${path}/status`, {
        status: {
          conditions: [
            ...others,
            { ...c, lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") },
          ],
        },
      })
      .catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#queue?.shutdown();
    await this.#informer?.stop();
  }
}

export const generatorStateController: ControllerFactory = (deps) => new GeneratorStateController(deps);
