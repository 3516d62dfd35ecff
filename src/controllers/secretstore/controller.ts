/**
 * SecretStore and ClusterSecretStore: validate the spec, and for stores whose credentials do not
 * depend on the using namespace, open (or reuse) the session, so `Ready` says whether the store
 * can really be used. Re-validated every `requeueMs`; status written only when it changes.
 */
import type { KubeApi } from "../../kube/api.ts";
import { Informer, objectKey } from "../../kube/informer.ts";
import { WorkQueue } from "../../kube/workqueue.ts";
import type { Logger } from "../../util/log.ts";
import type { Metrics } from "../../manager/metrics.ts";
import type { KubeAccess } from "../../providers/types.ts";
import { providerFor } from "../../providers/registry.ts";
import type { SessionPool } from "../../engine/sessions.ts";
import { errorMessage } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";
import { conditionProblems, isOurStore, type StoreCondition as AccessCondition } from "./access.ts";
import { storeReadyCondition, type StoreCondition } from "./status.ts";

const GROUP = "external-secrets.io";
const VERSION = "v1";

export interface StoreObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
  };
  spec?: { controller?: string; provider?: Record<string, unknown>; conditions?: unknown[] };
  status?: { conditions?: StoreCondition[]; capabilities?: string };
}

export interface SecretStoreControllerDeps {
  api: KubeApi;
  log: Logger;
  metrics: Metrics;
  sessions: SessionPool;
  kube: KubeAccess;
  controllerClass: string;
  namespace?: string | undefined;
  requeueMs: number;
}

type Kind = "SecretStore" | "ClusterSecretStore";

export class SecretStoreController {
  readonly name = "secretstore";
  readonly #informers: Record<Kind, Informer<StoreObject>>;
  readonly #queue: WorkQueue;

  constructor(readonly deps: SecretStoreControllerDeps) {
    const ns = deps.namespace ? `/namespaces/${deps.namespace}` : "";
    const onError = (e: unknown): void => {
      deps.log.warn({ err: errorMessage(e) }, "watch failed; resuming");
    };
    this.#informers = {
      SecretStore: new Informer(deps.api, `/apis/${GROUP}/${VERSION}${ns}/secretstores`, { onError }),
      ClusterSecretStore: new Informer(deps.api, `/apis/${GROUP}/${VERSION}/clustersecretstores`, {
        onError,
      }),
    };
    this.#queue = new WorkQueue({
      concurrency: 2,
      handler: (key) => this.#reconcile(key),
      onError: (key, e) => {
        deps.log.warn({ store: key, err: redactor.redact(errorMessage(e)) }, "store reconcile failed");
      },
    });
    for (const kind of ["SecretStore", "ClusterSecretStore"] as const) {
      this.#informers[kind].on((event, obj, old) => {
        const key = `${kind}|${objectKey(obj)}`;
        if (event === "delete") {
          this.#queue.forget(key);
          return;
        }
        if (event === "update" && old?.metadata.generation === obj.metadata.generation) return;
        this.#queue.add(key);
      });
    }
  }

  async #reconcile(qkey: string): Promise<{ requeueAfter: number } | undefined> {
    const [kind, key] = qkey.split("|", 2) as [Kind, string];
    const store = this.#informers[kind].get(key);
    if (!store) return undefined;
    if (!isOurStore(store.spec, this.deps.controllerClass)) return undefined;
    const name = store.metadata.name ?? "";
    const namespace = store.metadata.namespace ?? "";
    let ready: { ok: boolean; reason: string; message: string };
    const found = providerFor(store.spec?.provider);
    const conditionErrors = conditionProblems(store.spec?.conditions as AccessCondition[] | undefined);
    if (conditionErrors.length) {
      ready = {
        ok: false,
        reason: "InvalidProviderConfig",
        message: `invalid store: ${conditionErrors.join("; ")}`,
      };
    } else if ("error" in found) {
      ready = { ok: false, reason: "InvalidProviderConfig", message: found.error };
    } else {
      const problems = found.def.validate(found.spec);
      if (problems.length) {
        ready = {
          ok: false,
          reason: "InvalidProviderConfig",
          message: `invalid store: ${problems.join("; ")}`,
        };
      } else if (kind === "ClusterSecretStore" && isReferent(found.spec)) {
        // Credentials resolve in each using namespace: nothing to log in to yet.
        ready = { ok: true, reason: "Valid", message: "store validated" };
      } else {
        try {
          await this.deps.sessions.get(found.def, found.spec, {
            storeKind: kind,
            storeName: name,
            storeUid: store.metadata.uid ?? "",
            namespace: kind === "SecretStore" ? namespace : "default",
            kube: this.deps.kube,
          });
          ready = { ok: true, reason: "Valid", message: "store validated" };
        } catch (e) {
          ready = {
            ok: false,
            reason: "ValidationFailed",
            message: `unable to validate store: ${redactor.redact(errorMessage(e))}`,
          };
        }
      }
    }
    const condition = storeReadyCondition(store.status?.conditions, ready, new Date());
    for (const s of ["True", "False"]) {
      this.deps.metrics.storeCondition.set(
        { kind, name, namespace, condition: "Ready", status: s },
        condition.status === s ? 1 : 0,
      );
    }
    const current = store.status?.conditions?.find((c) => c.type === "Ready");
    if (
      !current ||
      current.status !== condition.status ||
      current.reason !== condition.reason ||
      current.message !== condition.message
    ) {
      const path = `/apis/${GROUP}/${VERSION}${kind === "SecretStore" ? `/namespaces/${namespace}/secretstores` : "/clustersecretstores"}/${name}/status`;
      await this.deps.api.mergePatch(path, { status: { conditions: [condition], capabilities: "ReadOnly" } });
    }
    return { requeueAfter: this.deps.requeueMs };
  }

  async start(): Promise<void> {
    await Promise.all([this.#informers.SecretStore.start(), this.#informers.ClusterSecretStore.start()]);
    this.#queue.start();
  }

  async stop(): Promise<void> {
    await this.#queue.shutdown();
    await Promise.all([this.#informers.SecretStore.stop(), this.#informers.ClusterSecretStore.stop()]);
  }
}

/** True when some credential reference has no namespace: it resolves where the store is used. */
function isReferent(spec: unknown): boolean {
  let referent = false;
  const walk = (v: unknown, depth: number): void => {
    if (depth > 8 || referent || v === null || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    if (typeof o.name === "string" && typeof o.key === "string" && o.namespace === undefined) referent = true;
    for (const x of Object.values(o)) walk(x, depth + 1);
  };
  walk(spec, 0);
  return referent;
}
