/**
 * The PushSecret controller (`external-secrets.io/v1alpha1`): pushes Kubernetes Secrets (or a
 * generator's values) to stores, as ESO does.
 *
 * A reconcile: finalizer (deletionPolicy Delete adds `pushsecret.externalsecrets.io/finalizer`;
 * None removes it) -> refresh due? -> source Secrets (name, label selector, or generator) ->
 * stores (by name or label selector, with the ExternalSecret rules: controller class,
 * ClusterSecretStore conditions) -> template -> plan (plan.ts) -> pushes through the engine's
 * sessions (one login per identity, shared with reads) -> remote removals of dropped entries
 * (Delete) -> status in ESO's words.
 *
 * Safety: a failed push stops the reconcile before any removal (a failure never deletes remote
 * data) and keeps every entry in syncedPushSecrets; the finalizer goes only after every remote
 * removal succeeded. Messages name entries, stores and causes, never values.
 */
import type { KubeObject } from "../../kube/api.ts";
import { isConflict, isNotFound, resourcePath, SECRETS } from "../../kube/api.ts";
import { identityAndLabels, Informer, objectKey } from "../../kube/informer.ts";
import { WorkQueue, type HandlerResult } from "../../kube/workqueue.ts";
import type { Controller, ControllerDeps } from "../../manager/registry.ts";
import { canPush, type PushOutcome, type PushSession, type Session } from "../../providers/types.ts";
import { CustosError, errorMessage, isCustosError } from "../../util/errors.ts";
import { parseDuration } from "../../util/duration.ts";
import { redactor } from "../../util/redact.ts";
import { syncedResourceVersion } from "../../util/eso-hash.ts";
import { decodeSecretData, type SecretObject } from "../../engine/target.ts";
import { runGenerator } from "../../generators/index.ts";
import { isOurStore, matchesSelector } from "../secretstore/access.ts";
import { bindStore, resolveStore, type StoreLookup } from "../externalsecret/stores.ts";
import { renderTarget } from "../externalsecret/plan.ts";
import { fetchTemplateSources } from "../externalsecret/sources.ts";
import { renderBytesForExternalSecret, renderForExternalSecret } from "../externalsecret/render.ts";
import type { ExternalSecret, SecretStoreObject } from "../externalsecret/types.ts";
import { PushSecretMetrics } from "./metrics.ts";
import {
  allDeletions,
  DEFAULT_REFRESH_MS,
  dataToPushes,
  desiredPushes,
  FINALIZER,
  mergeEntries,
  mergeSynced,
  planPush,
  storeKey,
  syncedMessage,
  syncedOf,
  withoutDeleted,
  type DesiredPush,
  type RemoteDeletion,
} from "./plan.ts";
import { GROUP, PS_VERSION, type Condition, type PushSecret, type PushSecretStatus } from "./types.ts";

const ES_VERSION = "v1";

interface ResolvedStore {
  key: string;
  kind: "SecretStore" | "ClusterSecretStore";
  store: SecretStoreObject;
}

/** Why a reconcile failed, in ESO's words, and what syncedPushSecrets to keep. */
class PushFailure extends Error {
  constructor(
    readonly condition: string,
    readonly synced: PushSecretStatus["syncedPushSecrets"] | undefined,
    override readonly cause: unknown,
  ) {
    super(condition);
  }
}

export class PushSecretController implements Controller {
  readonly name = "pushsecret";
  readonly pushSecrets: Informer<PushSecret>;
  readonly secretStores: Informer<SecretStoreObject>;
  readonly clusterSecretStores: Informer<SecretStoreObject>;
  readonly namespaces: Informer<KubeObject>;
  readonly queue: WorkQueue;
  readonly metrics: PushSecretMetrics;

  constructor(readonly deps: ControllerDeps) {
    const ns = deps.options.namespace ? `/namespaces/${deps.options.namespace}` : "";
    let warned = 0;
    const onError = (e: unknown): void => {
      // e.g. the CRD is not installed: keep retrying, say so now and then
      if (Date.now() - warned > 5 * 60_000) {
        warned = Date.now();
        deps.log.warn({ err: errorMessage(e) }, "pushsecret: watch error; retrying");
      }
    };
    this.pushSecrets = new Informer(deps.api, `/apis/${GROUP}/${PS_VERSION}${ns}/pushsecrets`, { onError });
    this.secretStores = new Informer(deps.api, `/apis/${GROUP}/${ES_VERSION}${ns}/secretstores`, { onError });
    this.clusterSecretStores = new Informer(deps.api, `/apis/${GROUP}/${ES_VERSION}/clustersecretstores`, {
      onError,
    });
    this.namespaces = new Informer(deps.api, "/api/v1/namespaces", { onError, transform: identityAndLabels });
    this.metrics = new PushSecretMetrics(deps.metrics.registry);
    this.queue = new WorkQueue({
      concurrency: Math.max(1, Math.min(deps.options.concurrent, 4)),
      handler: (key) => this.#reconcile(key),
      metrics: deps.metrics.queue("pushsecret"),
      onError: (key, e, retryIn) => {
        deps.log.warn(
          { pushsecret: key, err: redactor.redact(errorMessage(e)), retryInMs: retryIn },
          "reconcile failed",
        );
      },
    });
    this.pushSecrets.on((event, obj, old) => {
      const key = objectKey(obj);
      if (event === "delete") {
        this.queue.forget(key);
        this.metrics.remove(obj.metadata.namespace ?? "", obj.metadata.name ?? "");
        return;
      }
      // ESO's predicate: generation, labels, annotations or the start of deletion
      if (
        !old ||
        syncedResourceVersion(old.metadata) !== syncedResourceVersion(obj.metadata) ||
        !!old.metadata.deletionTimestamp !== !!obj.metadata.deletionTimestamp
      )
        this.queue.add(key, "urgent");
    });
    const storeChanged = (event: string, store: SecretStoreObject, old?: SecretStoreObject): void => {
      if (event === "update" && old && old.metadata.generation === store.metadata.generation) return;
      for (const ps of this.pushSecrets.list()) this.queue.add(objectKey(ps), "urgent");
    };
    this.secretStores.on(storeChanged);
    this.clusterSecretStores.on(storeChanged);
  }

  async start(): Promise<void> {
    await Promise.all([this.namespaces.start(), this.secretStores.start(), this.clusterSecretStores.start()]);
    // without the CRD the informer keeps retrying in the background; other controllers go on
    void this.pushSecrets.start().catch(() => undefined);
    this.queue.start();
    this.deps.log.info("pushsecret controller started");
  }

  async stop(): Promise<void> {
    await this.queue.shutdown();
    await Promise.all([
      this.pushSecrets.stop(),
      this.secretStores.stop(),
      this.clusterSecretStores.stop(),
      this.namespaces.stop(),
    ]);
  }

  #path(ps: PushSecret, sub = ""): string {
    return (
      resourcePath({
        group: GROUP,
        version: PS_VERSION,
        plural: "pushsecrets",
        namespace: ps.metadata.namespace ?? "",
        name: ps.metadata.name ?? "",
      }) + sub
    );
  }

  async #reconcile(key: string): Promise<HandlerResult | undefined> {
    const cached = this.pushSecrets.get(key);
    if (!cached) return undefined;
    const started = Date.now();
    try {
      return await this.#reconcileOne(cached);
    } finally {
      this.metrics.duration.set(
        { name: cached.metadata.name ?? "", namespace: cached.metadata.namespace ?? "" },
        Date.now() - started,
      );
    }
  }

  async #reconcileOne(ps: PushSecret): Promise<HandlerResult | undefined> {
    // Another controller class's PushSecret is left alone entirely (no finalizer, no status).
    const owner = this.#ownership(ps);
    if (owner === "theirs") return undefined;
    if (owner === "unknown" && this.deps.options.controllerClass !== "default") return undefined;
    const policy = ps.spec?.deletionPolicy ?? "None";
    const finalizers = ps.metadata.finalizers ?? [];
    const has = finalizers.includes(FINALIZER);

    if (ps.metadata.deletionTimestamp) {
      if (!has) return undefined;
      if (policy === "Delete") {
        const removed = await this.#removeRemote(ps, allDeletions(ps.status?.syncedPushSecrets));
        if (removed.error) {
          const msg = `Failed to Delete Secrets from Provider: ${removed.error}`;
          await this.#fail(ps, msg, removed.synced);
          throw new CustosError("CUSTOS_STORE_ERROR", msg, { cause: removed.cause });
        }
      }
      await this.#setFinalizers(
        ps,
        finalizers.filter((f) => f !== FINALIZER),
      );
      return undefined;
    }
    // the finalizer is in place before anything is pushed (a patch of it is no spec change: go on)
    if (policy === "Delete" && !has) await this.#setFinalizers(ps, [...finalizers, FINALIZER]);
    if (policy !== "Delete" && has)
      await this.#setFinalizers(
        ps,
        finalizers.filter((f) => f !== FINALIZER),
      );

    const interval = refreshIntervalOf(ps);
    const version = syncedResourceVersion(ps.metadata);
    const last = ps.status?.refreshTime ? Date.parse(ps.status.refreshTime) : NaN;
    if (ps.status?.syncedResourceVersion === version && !Number.isNaN(last)) {
      if (interval === 0) return undefined;
      const due = last + interval - Date.now();
      if (due > 0) return { requeueAfter: due + 1000 };
    }

    try {
      const pushedAt = new Date();
      const synced = await this.#push(ps);
      await this.#writeStatus(ps, {
        ...ps.status,
        refreshTime: pushedAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
        syncedResourceVersion: version,
        syncedPushSecrets: synced,
        conditions: withCondition(ps.status?.conditions, "True", "Synced", syncedMessage(ps)),
      });
      this.metrics.setReady(ps.metadata.namespace ?? "", ps.metadata.name ?? "", "True");
      return interval > 0 ? { requeueAfter: interval } : undefined;
    } catch (e) {
      if (isCustosError(e, "CUSTOS_STORE_NOT_OURS")) return undefined; // another operator's
      const failure =
        e instanceof PushFailure ? e : new PushFailure(redactor.redact(errorMessage(e)), undefined, e);
      await this.#fail(ps, failure.condition, failure.synced);
      // retried with back-off; a conflict (concurrent remote change) is re-read and retried
      throw failure.cause instanceof Error ? failure.cause : new Error(failure.condition);
    }
  }

  /** Pushes every entry and removes dropped ones; returns the new syncedPushSecrets. */
  async #push(ps: PushSecret): Promise<NonNullable<PushSecretStatus["syncedPushSecrets"]>> {
    const namespace = ps.metadata.namespace ?? "";
    let sources: Record<string, Uint8Array>[];
    try {
      sources = await this.#sources(ps);
    } catch (e) {
      if (isCustosError(e)) throw e;
      throw new PushFailure("could not get source secret", undefined, e);
    }
    const stores = this.#stores(ps);
    const sessions = new Map<string, Session & PushSession>();
    const sessionFor = async (storeKeyName: string): Promise<Session & PushSession> => {
      let s = sessions.get(storeKeyName);
      if (!s) sessions.set(storeKeyName, (s = await this.#pushSession(namespace, storeKeyName)));
      return s;
    };

    let desired: DesiredPush[] = [];
    for (const data of sources) {
      const rendered = await this.#template(ps, data);
      for (const v of Object.values(rendered)) redactor.add(v);
      for (const st of stores) {
        const info = {
          key: st.key,
          kind: st.kind,
          name: st.store.metadata.name ?? "",
          labels: st.store.metadata.labels ?? {},
        };
        desired = desired.concat(
          mergeEntries(
            dataToPushes(ps, rendered, info, renderForExternalSecret()),
            desiredPushes(ps, rendered, [st.key]),
          ),
        );
      }
    }
    const plan = planPush(desired, ps.status?.syncedPushSecrets, ps.spec?.deletionPolicy);
    const pushed: DesiredPush[] = [];
    const outcomes: PushOutcome[] = [];
    for (const p of plan.pushes) {
      try {
        const session = await sessionFor(p.store);
        outcomes.push(await session.push(p.entry));
        pushed.push(p);
      } catch (e) {
        const cause = redactor.redact(errorMessage(e));
        const [, storeName] = splitStoreKey(p.store);
        const what = p.data.match.secretKey ?? "";
        throw new PushFailure(
          `set secret failed: could not write remote ref ${what} to target secretstore ${storeName}: ${cause}`,
          mergeSynced(syncedOf(pushed), ps.status?.syncedPushSecrets),
          e,
        );
      }
    }
    const next = syncedOf(pushed);
    if (plan.deletions.length) {
      const removed = await this.#removeRemote(ps, plan.deletions, sessionFor);
      if (removed.error)
        throw new PushFailure(
          `Failed to Delete Secrets from Provider: ${removed.error}`,
          mergeSynced(next, removed.synced),
          removed.cause,
        );
    }
    const written = outcomes.filter((o) => o === "created" || o === "updated").length;
    if (written || plan.deletions.length)
      this.deps.log.info(
        {
          pushsecret: objectKey(ps),
          written,
          unchanged: outcomes.length - written,
          removed: plan.deletions.length,
        },
        "pushed",
      );
    return next;
  }

  /** The shared session of a store (`Kind/name`) as seen from `namespace`, refused if it cannot push. */
  async #pushSession(namespace: string, storeKeyName: string): Promise<Session & PushSession> {
    const [kind, name] = splitStoreKey(storeKeyName);
    const { store } = resolveStore(this.#lookup(), { metadata: { namespace } }, { name, kind });
    const b = bindStore(store, kind, namespace, this.deps.kube);
    const { session } = await this.deps.sessions.get(b.def, b.spec, b.ctx);
    if (!canPush(session))
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        `${kind} "${name}" (provider ${b.def.name}) does not support PushSecret`,
        { retryable: false },
      );
    return session;
  }

  /**
   * Removes remote data; stops at the first failure. Returns syncedPushSecrets without what was
   * removed (so a retry does not forget the rest) and the failure, if any.
   */
  async #removeRemote(
    ps: PushSecret,
    deletions: RemoteDeletion[],
    sessionFor?: (store: string) => Promise<Session & PushSession>,
  ): Promise<{
    synced: NonNullable<PushSecretStatus["syncedPushSecrets"]>;
    error?: string;
    cause?: unknown;
  }> {
    const namespace = ps.metadata.namespace ?? "";
    const open = sessionFor ?? ((key: string) => this.#pushSession(namespace, key));
    const done: RemoteDeletion[] = [];
    const synced = ps.status?.syncedPushSecrets ?? {};
    for (const d of deletions) {
      try {
        const session = await open(d.store);
        await session.deletePushed({
          remoteKey: d.data.match.remoteRef.remoteKey,
          property: d.data.match.remoteRef.property || undefined,
        });
        done.push(d);
      } catch (e) {
        return {
          synced: withoutDeleted(synced, done),
          error: `could not delete ${d.ref} from ${d.store}: ${redactor.redact(errorMessage(e))}`,
          cause: e,
        };
      }
    }
    return { synced: withoutDeleted(synced, done) };
  }

  /** The source Secrets' data (name or label selector), or a generator's values. */
  async #sources(ps: PushSecret): Promise<Record<string, Uint8Array>[]> {
    const namespace = ps.metadata.namespace ?? "";
    const sel = ps.spec?.selector;
    if (sel?.secret?.name) {
      const secret = await this.deps.api.get<SecretObject>(
        resourcePath({ ...SECRETS, namespace, name: sel.secret.name }),
      );
      return [decodeSecretData(secret)];
    }
    if (sel?.generatorRef) {
      return [await runGenerator(this.deps.api, this.deps.kube, namespace, sel.generatorRef)];
    }
    if (sel?.secret?.selector) {
      const selector = sel.secret.selector;
      const list = await this.deps.api.list<SecretObject>(resourcePath({ ...SECRETS, namespace }), {
        ...(selector.matchLabels && Object.keys(selector.matchLabels).length
          ? {
              labelSelector: Object.entries(selector.matchLabels)
                .map(([k, v]) => `${k}=${v}`)
                .join(","),
            }
          : {}),
      });
      return list.items
        .filter((s) => matchesSelector(selector, s.metadata.labels ?? {}))
        .sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""))
        .map((s) => decodeSecretData(s));
    }
    throw new CustosError("CUSTOS_INVALID_SPEC", "no secret selector provided", { retryable: false });
  }

  /** spec.template applied to a source Secret's data (ESO's ExternalSecret template engine). */
  async #template(ps: PushSecret, data: Record<string, Uint8Array>): Promise<Record<string, Uint8Array>> {
    const template = ps.spec?.template;
    if (!template) return data;
    const es = {
      metadata: { name: ps.metadata.name, namespace: ps.metadata.namespace },
      spec: { target: { template } },
    } as unknown as ExternalSecret;
    const templateSources = await fetchTemplateSources(this.deps.api, es, (v) => {
      redactor.add(v);
    });
    return renderTarget({
      es,
      data: { data, missingKeys: [], anyMissing: false },
      existing: undefined,
      templateSources,
      render: renderForExternalSecret(es),
      renderBytes: renderBytesForExternalSecret(es),
      now: new Date(),
    }).data;
  }

  #lookup(): StoreLookup {
    return {
      controllerClass: this.deps.options.controllerClass,
      secretStores: this.secretStores,
      clusterSecretStores: this.clusterSecretStores,
      namespaces: this.namespaces,
    };
  }

  /**
   * The stores named or selected by `secretStoreRefs`, ours only (another controller class's are
   * left to it, as ESO). A named store that does not exist fails the reconcile.
   */
  #stores(ps: PushSecret): ResolvedStore[] {
    const namespace = ps.metadata.namespace ?? "";
    const out = new Map<string, ResolvedStore>();
    for (const ref of ps.spec?.secretStoreRefs ?? []) {
      const kind = ref.kind === "ClusterSecretStore" ? "ClusterSecretStore" : "SecretStore";
      const candidates: string[] = [];
      if (ref.labelSelector) {
        const pool =
          kind === "ClusterSecretStore" ? this.clusterSecretStores.list() : this.secretStores.list();
        for (const s of pool) {
          if (kind === "SecretStore" && s.metadata.namespace !== namespace) continue;
          if (matchesSelector(ref.labelSelector, s.metadata.labels ?? {}))
            candidates.push(s.metadata.name ?? "");
        }
      } else if (ref.name) candidates.push(ref.name);
      else
        throw new CustosError("CUSTOS_INVALID_SPEC", "refStore Name must be provided", { retryable: false });
      for (const name of candidates) {
        try {
          const { store } = resolveStore(
            this.#lookup(),
            { metadata: { namespace } },
            {
              name,
              kind,
            },
          );
          if (store.metadata.deletionTimestamp) continue;
          out.set(storeKey(kind, name), { key: storeKey(kind, name), kind, store });
        } catch (e) {
          if (isCustosError(e, "CUSTOS_STORE_NOT_OURS")) continue;
          throw e;
        }
      }
    }
    if (!out.size && (ps.spec?.secretStoreRefs ?? []).length)
      // none of the stores is ours: the PushSecret belongs to another operator
      throw new CustosError("CUSTOS_STORE_NOT_OURS", "no store of this controller class", {
        retryable: false,
      });
    return [...out.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  /**
   * Whose PushSecret this is: ours when a referenced store (or one in its syncedPushSecrets) is of
   * our controller class, theirs when the referenced stores exist and are all another's, unknown
   * when none exists (reported by the default class only).
   */
  #ownership(ps: PushSecret): "ours" | "theirs" | "unknown" {
    const namespace = ps.metadata.namespace ?? "";
    const cls = this.deps.options.controllerClass;
    let theirs = false;
    const seen = (store: SecretStoreObject | undefined): boolean => {
      if (!store) return false;
      if (isOurStore(store.spec, cls)) return true;
      theirs = true;
      return false;
    };
    const get = (kind: string, name: string): SecretStoreObject | undefined =>
      kind === "ClusterSecretStore"
        ? this.clusterSecretStores.get(name)
        : this.secretStores.get(`${namespace}/${name}`);
    for (const ref of ps.spec?.secretStoreRefs ?? []) {
      const kind = ref.kind ?? "SecretStore";
      if (ref.name && seen(get(kind, ref.name))) return "ours";
      if (ref.labelSelector) {
        const pool =
          kind === "ClusterSecretStore" ? this.clusterSecretStores.list() : this.secretStores.list();
        for (const s of pool)
          if (
            (kind === "ClusterSecretStore" || s.metadata.namespace === namespace) &&
            matchesSelector(ref.labelSelector, s.metadata.labels ?? {}) &&
            seen(s)
          )
            return "ours";
      }
    }
    for (const key of Object.keys(ps.status?.syncedPushSecrets ?? {})) {
      const [kind, name] = splitStoreKey(key);
      if (seen(get(kind, name))) return "ours";
    }
    return theirs ? "theirs" : "unknown";
  }

  async #setFinalizers(ps: PushSecret, finalizers: string[]): Promise<void> {
    try {
      await this.deps.api.mergePatch(this.#path(ps), {
        metadata: { finalizers, resourceVersion: ps.metadata.resourceVersion },
      });
    } catch (e) {
      if (isNotFound(e)) return;
      if (isConflict(e))
        throw new CustosError("CUSTOS_WRITE_CONFLICT", "PushSecret changed; retrying", { cause: e });
      throw e;
    }
  }

  async #fail(
    ps: PushSecret,
    message: string,
    synced: PushSecretStatus["syncedPushSecrets"] | undefined,
  ): Promise<void> {
    const msg = redactor.redact(message);
    this.metrics.setReady(ps.metadata.namespace ?? "", ps.metadata.name ?? "", "False");
    this.deps.events.record(
      { ...ps, apiVersion: `${GROUP}/${PS_VERSION}`, kind: "PushSecret" },
      "Warning",
      "Errored",
      msg,
    );
    await this.#writeStatus(ps, {
      ...ps.status,
      ...(synced ? { syncedPushSecrets: synced } : {}),
      conditions: withCondition(ps.status?.conditions, "False", "Errored", msg),
    }).catch((e: unknown) => {
      this.deps.log.warn({ pushsecret: objectKey(ps), err: errorMessage(e) }, "could not write status");
    });
  }

  async #writeStatus(ps: PushSecret, status: PushSecretStatus): Promise<void> {
    if (JSON.stringify(status) === JSON.stringify(ps.status ?? {})) return;
    const becameReady =
      status.conditions?.find((c) => c.type === "Ready")?.status === "True" &&
      ps.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True";
    try {
      // a merge patch with nulls for what went away (syncedPushSecrets entries included)
      await this.deps.api.mergePatch(this.#path(ps, "/status"), {
        status: mergePatchOf({ ...ps.status }, { ...status }),
      });
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    if (becameReady)
      this.deps.events.record(
        { ...ps, apiVersion: `${GROUP}/${PS_VERSION}`, kind: "PushSecret" },
        "Normal",
        "Synced",
        status.conditions?.find((c) => c.type === "Ready")?.message ?? "",
      );
  }
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The JSON merge patch (RFC 7386) that turns `from` into `to`: removed keys become null. */
export function mergePatchOf(
  from: Record<string, unknown>,
  to: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to) || to[k] === undefined) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined) continue;
    const old = from[k];
    out[k] = isPlain(old) && isPlain(v) ? mergePatchOf(old, v) : v;
  }
  return out;
}

function splitStoreKey(key: string): ["SecretStore" | "ClusterSecretStore", string] {
  const i = key.indexOf("/");
  const kind = key.slice(0, i) === "ClusterSecretStore" ? "ClusterSecretStore" : "SecretStore";
  return [kind, key.slice(i + 1)];
}

/** spec.refreshInterval (ESO's default 1h; 0 = push once per spec change). */
export function refreshIntervalOf(ps: PushSecret): number {
  const text = ps.spec?.refreshInterval;
  if (text === undefined || text === "") return DEFAULT_REFRESH_MS;
  try {
    return parseDuration(text);
  } catch {
    return DEFAULT_REFRESH_MS;
  }
}

/** The conditions with Ready set; lastTransitionTime kept while the status stays the same. */
export function withCondition(
  conditions: Condition[] | undefined,
  status: "True" | "False",
  reason: string,
  message: string,
  now = new Date(),
): Condition[] {
  const prev = conditions?.find((c) => c.type === "Ready");
  if (prev && prev.status === status && prev.reason === reason && prev.message === message)
    return conditions ?? [];
  const ready: Condition = {
    type: "Ready",
    status,
    reason,
    message,
    lastTransitionTime:
      prev?.status === status && prev.lastTransitionTime
        ? prev.lastTransitionTime
        : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
  return [...(conditions ?? []).filter((c) => c.type !== "Ready"), ready];
}
