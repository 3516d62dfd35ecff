/**
 * The KES front door: serves `kubernetes-client.io/v1` ExternalSecrets on the shared engine.
 *
 * - Starts when the CRD is served (Custos's copy or an installed KES one); until then it looks
 *   again every `crdPollMs`, without error.
 * - One informer (all namespaces, the operator's --namespace, or one per WATCHED_NAMESPACES entry).
 *   A new object or a spec change (generation) syncs at once, also with polling disabled; with
 *   polling, each object is synced again every POLLER_INTERVAL_MILLISECONDS.
 * - A sync: namespace rules -> backend as a provider spec -> sessions.get (one login per identity)
 *   -> reads.readAll (one read per unique key per poll window, shared with every object of the
 *   same identity) -> KES's data rules -> planTarget + the one writer (nothing written when equal;
 *   a Secret another object controls is never taken over) -> status in KES's words.
 * - A failure keeps the Secret as it is (never emptied, never deleted).
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { KubeObject } from "../../kube/api.ts";
import { isNotFound, KubeApiError, NAMESPACES, resourcePath, SECRETS } from "../../kube/api.ts";
import { Informer, objectKey } from "../../kube/informer.ts";
import { WorkQueue, type HandlerResult } from "../../kube/workqueue.ts";
import type { Controller, ControllerDeps } from "../../manager/registry.ts";
import { ApiSecretWriter } from "../../engine/writer.ts";
import { planTarget, type SecretObject } from "../../engine/target.ts";
import { ReadCache } from "../../engine/reads.ts";
import { providerFor } from "../../providers/registry.ts";
import type { StoreContext } from "../../providers/types.ts";
import { CustosError, errorMessage, isCustosError } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";
import { KES_API_VERSION, KES_GROUP, KES_PLURAL, KES_VERSION, type KesExternalSecret } from "./api.ts";
import { kesOptions, type KesOptions } from "./config.ts";
import {
  backendOf,
  backendTypeOf,
  desiredSecret,
  fetchPlan,
  isOurs,
  namespaceRefusal,
  normalize,
  renderTemplate,
  secretData,
  specProblems,
  statusDue,
  statusText,
  type Fetched,
  type KesTemplateRenderer,
} from "./mapping.ts";
import { cachedRenderer, DEFAULT_LIMITS } from "../../template/lodash/sandbox.ts";
import { OffThreadRenderer } from "../../template/lodash/off-thread.ts";

/** The store name and uid KES objects' sessions carry: one pool of sessions for all of them. */
export const KES_STORE = "kubernetes-client.io";
/** How old a shared read may be for an object never synced (ESO's new-object window). */
const NEW_OBJECT_READ_WINDOW_MS = 10_000;

class KesMetrics {
  readonly calls: Counter<"name" | "namespace" | "backend" | "status">;
  readonly state: Gauge<"name" | "namespace" | "backend">;

  constructor(registry: Registry) {
    const get = (name: string): unknown => registry.getSingleMetric(name);
    this.calls =
      (get("kubernetes_external_secrets_sync_calls_count") as KesMetrics["calls"] | undefined) ??
      new Counter({
        name: "kubernetes_external_secrets_sync_calls_count",
        help: "Number of sync operations (KES's metric)",
        labelNames: ["name", "namespace", "backend", "status"] as const,
        registers: [registry],
      });
    this.state =
      (get("kubernetes_external_secrets_last_sync_call_state") as KesMetrics["state"] | undefined) ??
      new Gauge({
        name: "kubernetes_external_secrets_last_sync_call_state",
        help: "State of the last sync call of an external secret: 1 success, -1 error (KES's metric)",
        labelNames: ["name", "namespace", "backend"] as const,
        registers: [registry],
      });
  }
}

export class KesController implements Controller {
  readonly name = "kes";
  readonly opts: KesOptions;
  readonly #informers = new Map<string, Informer<KesExternalSecret>>();
  readonly #namespaces: Informer<KubeObject>;
  readonly #queue: WorkQueue;
  readonly #writer: ApiSecretWriter;
  readonly #metrics: KesMetrics;
  readonly #now: () => number;
  /** KES's lodash templates, run in a WebAssembly sandbox on a worker thread (src/template/lodash) */
  readonly #sandbox = new OffThreadRenderer();
  readonly #render: KesTemplateRenderer = cachedRenderer(DEFAULT_LIMITS, 2048, (t, d, l) =>
    this.#sandbox.render(t, d, l),
  );
  #crdTimer: NodeJS.Timeout | undefined;
  #running = false;
  #stopped = false;
  #lastState: string | undefined;

  constructor(
    readonly deps: ControllerDeps,
    opts?: KesOptions,
    now: () => number = Date.now,
  ) {
    this.opts = opts ?? deps.options.kes ?? kesOptions({});
    this.#now = now;
    const onError = (e: unknown): void => {
      deps.log.warn({ err: errorMessage(e) }, "watch failed; resuming");
    };
    const watched = this.opts.watchedNamespaces.length
      ? this.opts.watchedNamespaces
      : deps.options.namespace
        ? [deps.options.namespace]
        : [""];
    for (const ns of watched) {
      const path = `/apis/${KES_GROUP}/${KES_VERSION}${ns ? `/namespaces/${ns}` : ""}/${KES_PLURAL}`;
      const inf = new Informer<KesExternalSecret>(deps.api, path, { onError });
      inf.on((event, obj, old) => {
        const key = objectKey(obj);
        if (event === "delete") {
          this.#queue.forget(key);
          const labels = { name: obj.metadata.name ?? "", namespace: obj.metadata.namespace ?? "" };
          this.#metrics.state.remove({ ...labels, backend: backendLabel(obj) });
          return;
        }
        // KES syncs on a new object and on a spec change; its own status writes change nothing
        if (event === "add" || !old || old.metadata.generation !== obj.metadata.generation)
          this.#queue.add(key, "urgent");
      });
      this.#informers.set(ns, inf);
    }
    this.#namespaces = new Informer(deps.api, "/api/v1/namespaces", { onError, metadataOnly: true });
    this.#writer = new ApiSecretWriter(deps.api, deps.metrics, deps.events);
    this.#metrics = new KesMetrics(deps.metrics.registry);
    this.#queue = new WorkQueue({
      concurrency: deps.options.concurrent,
      handler: (key) => this.reconcile(key),
      metrics: deps.metrics.queue("kes"),
      onError: (key, e, retryIn) => {
        deps.log.warn(
          { externalsecret: key, err: redactor.redact(errorMessage(e)), retryInMs: retryIn },
          "kes sync failed",
        );
      },
    });
  }

  /**
   * Whether the API server serves kubernetes-client.io/v1 externalsecrets, and this operator may
   * list them (installations that leave KES out grant no RBAC for it: then the controller idles).
   */
  async crdServed(): Promise<"absent" | "forbidden" | "served"> {
    try {
      const res = await this.deps.api.get<{ resources?: { name: string }[] }>(
        `/apis/${KES_GROUP}/${KES_VERSION}`,
      );
      if (!(res.resources ?? []).some((r) => r.name === KES_PLURAL)) return "absent";
    } catch (e) {
      if (isNotFound(e)) return "absent";
      throw e;
    }
    for (const inf of this.#informers.values()) {
      try {
        await this.deps.api.list(inf.path, { limit: 1 });
      } catch (e) {
        if (e instanceof KubeApiError && (e.status === 403 || e.status === 401)) return "forbidden";
        throw e;
      }
    }
    return "served";
  }

  async start(): Promise<void> {
    let state: "absent" | "forbidden" | "served" | "unknown" = "unknown";
    try {
      state = await this.crdServed();
    } catch (e) {
      this.deps.log.warn({ err: errorMessage(e) }, "could not look for the kubernetes-client.io CRD");
    }
    if (this.#stopped || this.#running) return;
    if (state !== "served") {
      if (state !== this.#lastState)
        this.deps.log.info(
          { crd: `${KES_PLURAL}.${KES_GROUP}`, state },
          state === "forbidden"
            ? "kes: CRD installed but no RBAC to list it; the controller starts when it has"
            : "kes: CRD not installed; the controller starts when it is",
        );
      this.#lastState = state;
      this.#crdTimer = setTimeout(() => void this.start(), this.opts.crdPollMs);
      this.#crdTimer.unref();
      return;
    }
    this.#running = true;
    await this.#namespaces.start();
    await Promise.all([...this.#informers.values()].map((i) => i.start()));
    this.#queue.start();
    this.deps.log.info(
      { externalsecrets: [...this.#informers.values()].reduce((n, i) => n + i.size, 0) },
      "kes controller started",
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#crdTimer) clearTimeout(this.#crdTimer);
    if (!this.#running) return;
    await this.#queue.shutdown();
    await Promise.all([...this.#informers.values(), this.#namespaces].map((i) => i.stop()));
    await this.#sandbox.close();
  }

  get running(): boolean {
    return this.#running;
  }

  #get(key: string): KesExternalSecret | undefined {
    const ns = key.split("/", 1)[0] ?? "";
    return (this.#informers.get(ns) ?? this.#informers.get(""))?.get(key);
  }

  async reconcile(key: string): Promise<HandlerResult | undefined> {
    const es = this.#get(key);
    if (!es || es.metadata.deletionTimestamp) return undefined;
    const name = es.metadata.name ?? "";
    const namespace = es.metadata.namespace ?? "";
    let spec;
    try {
      spec = normalize(es);
    } catch (e) {
      await this.#report(es, "", errorMessage(e));
      return undefined;
    }
    if (!isOurs(spec, this.opts)) return undefined; // another KES instance's (INSTANCE_ID)
    const backend = backendTypeOf(spec);
    const interval = this.opts.pollIntervalMs;
    const poll: HandlerResult | undefined = this.opts.disablePolling ? undefined : { requeueAfter: interval };

    // KES: poll now when the spec changed since the last sync, else at lastSync + interval
    const changed = (es.status?.observedGeneration ?? -1) !== (es.metadata.generation ?? 0);
    const last = Date.parse(es.status?.lastSync ?? "");
    if (!changed && Number.isFinite(last)) {
      if (this.opts.disablePolling) return undefined;
      const wait = last + interval - this.#now();
      if (wait > 50) return { requeueAfter: wait };
    }

    try {
      const problems = specProblems(spec);
      if (problems.length)
        throw new CustosError("CUSTOS_INVALID_SPEC", problems.join("; "), { retryable: false });
      // a namespace not in the cache yet (just created) is read, never assumed unannotated
      const ns =
        this.#namespaces.get(namespace) ??
        (await this.deps.api.getOrUndefined<KubeObject>(resourcePath({ ...NAMESPACES, name: namespace })));
      const refusal = namespaceRefusal(spec, ns?.metadata.annotations, this.opts);
      if (refusal)
        throw new CustosError(
          "CUSTOS_STORE_DENIED",
          `not allowed to fetch secret: ${namespace}/${name}: ${refusal}`,
          {
            retryable: false,
          },
        );

      const b = backendOf(spec, this.opts);
      const found = providerFor({ [b.provider]: b.spec });
      if ("error" in found) throw new CustosError("CUSTOS_INVALID_SPEC", found.error, { retryable: false });
      const ctx: StoreContext = {
        // KES objects use the identity the platform admin configured (--kes-service-account, or
        // the operator's own token in a cluster): an admin's choice, as a ClusterSecretStore's is
        storeKind: "ClusterSecretStore",
        storeName: KES_STORE,
        storeUid: KES_STORE,
        namespace,
        kube: this.deps.kube,
      };
      const invalid = found.def.validate(b.spec);
      if (invalid.length)
        throw new CustosError("CUSTOS_INVALID_SPEC", invalid.join("; "), { retryable: false });
      const { key: sessionKey, session } = await this.deps.sessions.get(found.def, b.spec, ctx);

      const plan = fetchPlan(spec);
      const refs = plan.flatMap((f) => (f.kind === "path" ? [] : [f.ref]));
      // a spec change reads afresh; a new object (never synced) reuses a read of the last 10 s,
      // as a new ESO object does; a poll reuses what another object read within the interval
      const isNew = es.status?.observedGeneration === undefined;
      const maxAge = isNew ? NEW_OBJECT_READ_WINDOW_MS : changed ? 0 : interval;
      const got = await this.deps.reads.readAll(sessionKey, session, refs, maxAge);
      const results: (Fetched | Error)[] = await Promise.all(
        plan.map(async (f): Promise<Fetched | Error> => {
          if (f.kind !== "path") {
            const r = got.get(ReadCache.refKey(sessionKey, f.ref));
            return r ?? new CustosError("CUSTOS_INTERNAL", `no result for ${f.ref.key}`);
          }
          try {
            return await session.find({ path: f.path });
          } catch (e) {
            return e instanceof Error ? e : new Error(String(e));
          }
        }),
      );
      const { data, skipped } = secretData(plan, results);
      if (skipped.length)
        this.deps.log.warn(
          { namespace, name, keys: skipped },
          "kes: values that are not JSON were skipped (as KES did)",
        );
      const desired = desiredSecret(es, await renderTemplate(spec, data, this.#render), data);
      const path = resourcePath({ ...SECRETS, namespace, name });
      const existing = await this.deps.api.getOrUndefined<SecretObject>(path);
      const target = planTarget(desired, existing);
      await this.#writer.apply(target, existing, { controller: "kes", object: withKind(es) });
      await this.#report(es, backend, undefined);
      return poll;
    } catch (e) {
      if (isCustosError(e, "CUSTOS_WRITE_CONFLICT")) throw e; // re-read and plan again
      const message = redactor.redact(errorMessage(e));
      await this.#report(es, backend, message).catch(() => undefined);
      this.deps.events.record(withKind(es), "Warning", "SyncFailed", message);
      // an outage is retried with backoff; a problem only a change fixes waits for the next poll
      if (!isCustosError(e) || e.retryable) throw e;
      return poll;
    }
  }

  async #report(es: KesExternalSecret, backend: string, error: string | undefined): Promise<void> {
    const labels = { name: es.metadata.name ?? "", namespace: es.metadata.namespace ?? "", backend };
    this.#metrics.calls.inc({ ...labels, status: error === undefined ? "success" : "error" });
    this.#metrics.state.set(labels, error === undefined ? 1 : -1);
    const status = {
      lastSync: new Date(this.#now()).toISOString(),
      status: statusText(error),
      observedGeneration: es.metadata.generation ?? 0,
    };
    if (!statusDue(es.status, status, this.#now())) return;
    const path = resourcePath({
      group: KES_GROUP,
      version: KES_VERSION,
      plural: KES_PLURAL,
      namespace: es.metadata.namespace,
      name: es.metadata.name,
      subresource: "status",
    });
    try {
      await this.deps.api.mergePatch(path, { status });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

function backendLabel(es: KesExternalSecret): string {
  return (es.spec ?? es.secretDescriptor)?.backendType ?? "";
}

function withKind(es: KesExternalSecret): KesExternalSecret & { apiVersion: string; kind: string } {
  return { ...es, apiVersion: KES_API_VERSION, kind: "ExternalSecret" };
}
