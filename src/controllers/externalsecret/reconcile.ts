/**
 * Reconcile of one ExternalSecret: the I/O around the pure steps.
 *
 *   decide whether a sync is due                 (status.ts, pure)
 *   resolve the store, check class and access    (secretstore/access.ts, pure)
 *   session for the store identity               (engine/sessions.ts: one login per identity)
 *   read every unique remote secret              (engine/reads.ts: shared, one read per window)
 *   compute the data and the desired Secret      (data.ts, plan.ts, pure)
 *   write the Secret only if it differs; write status only if it changes
 */
import type { KubeApi, KubeObject } from "../../kube/api.ts";
import { isNotFound, resourcePath, SECRETS } from "../../kube/api.ts";
import type { Informer } from "../../kube/informer.ts";
import type { EventRecorder } from "../../kube/events.ts";
import type { HandlerResult } from "../../kube/workqueue.ts";
import type { Logger } from "../../util/log.ts";
import type { Metrics } from "../../manager/metrics.ts";
import type { KubeAccess } from "../../providers/types.ts";
import { SessionPool } from "../../engine/sessions.ts";
import type { SecretWriter } from "../../engine/writer.ts";
import type { ReadCache } from "../../engine/reads.ts";
import { ReadCache as RC } from "../../engine/reads.ts";
import { boundedMessage, errorMessage, isCustosError, type CustosErrorCode } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";
import {
  GROUP,
  VERSION_STORAGE,
  type ExternalSecret,
  type SecretStoreObject,
  type SecretObject,
} from "./types.ts";
import { remoteRefsOf, refId, type FetchResults } from "./data.ts";
import { OWNER_LABEL, ownerLabelValue, type TemplateSources } from "./plan.ts";
import {
  buildStatus,
  intervalOf,
  statusChanged,
  syncDecision,
  recordRefresh,
  type SyncReason,
} from "./status.ts";
import { validateExternalSecret } from "./validate.ts";
import { nextCycleIn, readWindow, spread } from "./schedule.ts";
import { bindStore, groupByStore, resolveStore, runFinds, siblingReads } from "./stores.ts";
import { fetchTemplateSources } from "./sources.ts";
import { planFromResults } from "./outcome.ts";
import { runGenerator } from "../../generators/index.ts";

export interface ReconcileContext {
  api: KubeApi;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  sessions: SessionPool;
  reads: ReadCache;
  /** The engine's one Secret writer (engine/writer.ts). */
  writer: SecretWriter;
  kube: KubeAccess;
  controllerClass: string;
  now: () => number;
  /** Floor for positive refresh intervals (--min-refresh-interval); 0 = none. */
  minRefreshIntervalMs?: number | undefined;
  externalSecrets: Informer<ExternalSecret>;
  secretStores: Informer<SecretStoreObject>;
  clusterSecretStores: Informer<SecretStoreObject>;
  managedSecrets: Informer<KubeObject>;
  namespaces: Informer<KubeObject>;
}

/**
 * Failures only a change fixes: of the ExternalSecret or its store (both trigger a reconcile), or
 * of the remote data (seen at the next refresh). They are retried on the refresh schedule, never
 * on the back-off: a flood of 10,000 bad objects retrying 1, 2, 4... s kept the work queue too
 * busy to reach new objects (issue 16, bad input at scale).
 */
export const WAIT_FOR_CHANGE: ReadonlySet<CustosErrorCode> = new Set<CustosErrorCode>([
  "CUSTOS_INVALID_SPEC",
  "CUSTOS_INVALID_DURATION",
  "CUSTOS_INVALID_REMOTE_KEY",
  "CUSTOS_TEMPLATE",
  "CUSTOS_TEMPLATE_BUDGET",
  "CUSTOS_REGEX_INVALID",
  "CUSTOS_REGEX_LIMIT",
  "CUSTOS_OWNERSHIP_CONFLICT",
  "CUSTOS_OPERATOR_IDENTITY_DENIED",
  "CUSTOS_STORE_DENIED",
  "CUSTOS_STORE_NOT_FOUND",
]);

export async function reconcileExternalSecret(
  ctx: ReconcileContext,
  key: string,
): Promise<HandlerResult | undefined> {
  const es = ctx.externalSecrets.get(key);
  if (!es || es.metadata.deletionTimestamp) return undefined;
  const started = ctx.now();
  const name = es.metadata.name ?? "";
  const namespace = es.metadata.namespace ?? "";
  ctx.metrics.syncCalls.inc({ name, namespace });

  const problems = validateExternalSecret(es);
  if (problems.length) {
    await writeStatus(ctx, es, {
      ok: false,
      reason: "SecretSyncedError",
      message: `invalid ExternalSecret: ${problems.join("; ")}`,
    });
    ctx.metrics.syncErrors.inc({ name, namespace });
    return undefined; // nothing to retry until the spec changes
  }

  const target = targetName(es);
  const existing = await currentSecret(ctx, namespace, target, es.spec?.target?.creationPolicy);
  const decision = syncDecision(es, existing, ctx.now(), ctx.minRefreshIntervalMs);
  ctx.log.debug(
    { namespace, name, due: decision.due, reason: decision.reason, nextInMs: decision.nextInMs },
    "sync decision",
  );
  if (!decision.due) {
    return decision.nextInMs === undefined
      ? undefined
      : { requeueAfter: decision.nextInMs + spread(decision.intervalMs) };
  }

  try {
    const result = await sync(ctx, es, existing, decision.reason);
    ctx.metrics.reconcileDuration.set({ name, namespace }, ctx.now() - started);
    return result;
  } catch (e) {
    // a lost race with another writer is not a failure to report: the backed-off retry re-reads
    if (isCustosError(e, "CUSTOS_WRITE_CONFLICT")) throw e;
    if (isCustosError(e, "CUSTOS_STORE_NOT_OURS")) {
      // ESO's "skipping unmanaged store": the other class's operator owns status and Secret
      ctx.log.debug({ namespace, name, reason: e.message }, "store of another controller class; skipped");
      return undefined;
    }
    ctx.metrics.syncErrors.inc({ name, namespace });
    const message = boundedMessage(redactor.redact(errorMessage(e)));
    const reported = await writeStatus(ctx, es, { ok: false, reason: "SecretSyncedError", message }).then(
      () => true,
      () => false,
    );
    ctx.events.record(withKind(es), "Warning", "UpdateFailed", message);
    ctx.metrics.reconcileDuration.set({ name, namespace }, ctx.now() - started);
    // a failure that waits for a change waits only once its condition is written: else it is
    // retried on the back-off until the object says what is wrong (a flood's 429s ate status writes)
    if (reported && isCustosError(e) && WAIT_FOR_CHANGE.has(e.code)) {
      // Only a change to the ExternalSecret or its store fixes this (both trigger a reconcile):
      // meanwhile retry on the normal schedule, never in a loop.
      const interval = decision.intervalMs;
      return interval ? { requeueAfter: nextCycleIn(ctx.now(), interval) } : undefined;
    }
    throw e; // back off and retry
  }
}

async function sync(
  ctx: ReconcileContext,
  es: ExternalSecret,
  existing: SecretObject | undefined,
  reason: SyncReason,
): Promise<HandlerResult | undefined> {
  const namespace = es.metadata.namespace ?? "";
  const now = ctx.now();
  const maxAge = readWindow(reason, intervalOf(es, ctx.minRefreshIntervalMs), now);
  const { reads, finds } = remoteRefsOf(es);

  // Every store the ExternalSecret uses (secretStoreRef, plus per-entry sourceRef.storeRef).
  const results: FetchResults = { reads: new Map(), finds: new Map() };
  for (const group of groupByStore(es, reads, finds)) {
    const { store, kind } = resolveStore(ctx, es, group.storeRef);
    const found = bindStore(store, kind, namespace, ctx.kube);
    const { key: sessionKey, session } = await ctx.sessions.get(found.def, found.spec, found.ctx);
    const got = await ctx.reads.readAll(sessionKey, session, group.reads, maxAge, () =>
      siblingReads(ctx, es, group.storeRef, sessionKey, found.def, found.spec, kind, store),
    );
    for (const ref of group.reads) {
      const r = got.get(RC.refKey(sessionKey, ref));
      if (r !== undefined) results.reads.set(refId(group.storeRef, ref), r);
    }
    await runFinds(session, group, results);
  }

  // generators: new values for each sync that is due (ESO), never shared between ExternalSecrets
  for (const [i, d] of (es.spec?.dataFrom ?? []).entries()) {
    if (!d.sourceRef?.generatorRef || d.extract || d.find) continue;
    results.generated ??= new Map();
    results.generated.set(i, await runGenerator(ctx.api, ctx.kube, namespace, d.sourceRef.generatorRef));
  }

  const sources = await templateSources(ctx, es);
  const planFor = (current: SecretObject | undefined): ReturnType<typeof planFromResults>["plan"] => {
    const { plan } = planFromResults({
      es,
      results,
      templateSources: sources,
      existing: current,
      now: new Date(now),
    });
    ctx.log.debug(
      { namespace: es.metadata.namespace, name: es.metadata.name, action: plan.action },
      "secret plan",
    );
    return plan;
  };
  let plan = planFor(existing);
  const object = withKind(es);
  const origin = { controller: "externalsecret", object };
  let written: SecretObject | undefined;
  if (plan.action === "delete") {
    await ctx.writer.delete(namespace, targetName(es), origin, "the remote secret no longer exists");
  } else {
    try {
      written = await ctx.writer.apply(plan, existing, {
        ...origin,
        events: recordsEvent(reason, plan.action),
      });
    } catch (e) {
      // Absent from the cache of managed Secrets was taken for absent (see currentSecret): the
      // Secret exists without the label, or the cache is behind. Read it and plan again, once.
      if (!(plan.action === "create" && isCustosError(e, "CUSTOS_WRITE_CONFLICT"))) throw e;
      const found = await ctx.api.getOrUndefined<SecretObject>(
        resourcePath({ ...SECRETS, namespace, name: targetName(es) }),
      );
      plan = planFor(found);
      if (plan.action === "delete") throw e; // not reached: a delete plan never depends on the Secret
      written = await ctx.writer.apply(plan, found, { ...origin, events: recordsEvent(reason, plan.action) });
    }
  }
  // a rename is a spec change: periodic refreshes need not scan for orphans
  if (reason !== "refresh") await deleteOrphans(ctx, es);

  await writeStatus(ctx, es, plan.condition, {
    synced: plan.action !== "none" || reason !== "refresh",
    secret: written,
    now,
  });
  recordRefresh(es.metadata.uid, now);
  const interval = intervalOf(es, ctx.minRefreshIntervalMs);
  return interval > 0 && (es.spec?.refreshPolicy ?? "Periodic") === "Periodic"
    ? { requeueAfter: nextCycleIn(ctx.now(), interval) }
    : undefined;
}

/**
 * Whether a Secret write gets an Event. The first Secret of a new ExternalSecret does not: its
 * status says the same (Ready, SecretSynced, the binding) and a cold start would post one Event per
 * object, a third of its API requests. Every other write does — an update (rotated or repaired
 * data, a Secret taken over), a Secret created again after someone deleted it — as do deletions
 * and failures.
 */
export function recordsEvent(reason: SyncReason, action: "create" | "update" | "none"): boolean {
  return !(reason === "new" && action === "create");
}

/**
 * As ESO does with creationPolicy Owner and an explicit target name: Secrets this ExternalSecret
 * created under another name (its target was renamed) are deleted. Read from the cache of managed
 * Secrets, so a sync with nothing to clean costs no API call.
 */
async function deleteOrphans(ctx: ReconcileContext, es: ExternalSecret): Promise<void> {
  const target = es.spec?.target;
  if ((target?.creationPolicy ?? "Owner") !== "Owner" || !target?.name) return;
  const owner = ownerLabelValue(es);
  const namespace = es.metadata.namespace ?? "";
  for (const s of ctx.managedSecrets.list()) {
    if (s.metadata.namespace !== namespace || s.metadata.name === target.name) continue;
    if (s.metadata.labels?.[OWNER_LABEL] !== owner) continue;
    await ctx.writer.delete(
      namespace,
      s.metadata.name ?? "",
      { controller: "externalsecret", object: withKind(es) },
      `the target was renamed to ${target.name}`,
    );
  }
}

export function targetName(es: ExternalSecret): string {
  return es.spec?.target?.name || es.metadata.name || "";
}

async function currentSecret(
  ctx: ReconcileContext,
  namespace: string,
  name: string,
  policy: string | undefined,
): Promise<SecretObject | undefined> {
  const cached = ctx.managedSecrets.get(`${namespace}/${name}`);
  if (cached) return cached;
  // Every Secret Custos writes carries the managed label, so with Owner and Orphan (which create
  // the Secret) a miss in the synced cache is taken for "absent": the create that follows meets a
  // conflict if it is not (a Secret someone else created, or a cache behind), and sync() reads it
  // then. This saves one GET per ExternalSecret on a cold start.
  const creation = policy ?? "Owner";
  if ((creation === "Owner" || creation === "Orphan") && ctx.managedSecrets.synced) return undefined;
  // Merge and None never create: their target is usually not labelled; read it.
  return ctx.api.getOrUndefined<SecretObject>(resourcePath({ ...SECRETS, namespace, name }));
}

function templateSources(ctx: ReconcileContext, es: ExternalSecret): Promise<TemplateSources> {
  return fetchTemplateSources(ctx.api, es, (v) => {
    redactor.add(v);
  });
}

function withKind(es: ExternalSecret): ExternalSecret & { apiVersion: string; kind: string } {
  return { ...es, apiVersion: `${GROUP}/${VERSION_STORAGE}`, kind: "ExternalSecret" };
}

async function writeStatus(
  ctx: ReconcileContext,
  es: ExternalSecret,
  condition: { ok: boolean; reason: string; message: string },
  sync?: { synced: boolean; secret: SecretObject | undefined; now: number },
): Promise<void> {
  const next = buildStatus(
    es,
    condition,
    sync ? { synced: sync.synced, now: new Date(sync.now), secretName: targetName(es) } : undefined,
    new Date(ctx.now()),
  );
  ctx.metrics.setExternalSecretCondition(
    es.metadata.namespace ?? "",
    es.metadata.name ?? "",
    "Ready",
    condition.ok ? "True" : "False",
  );
  if (!statusChanged(es.status, next)) return;
  const path = resourcePath({
    group: GROUP,
    version: VERSION_STORAGE,
    plural: "externalsecrets",
    namespace: es.metadata.namespace,
    name: es.metadata.name,
    subresource: "status",
  });
  try {
    await ctx.api.mergePatch(path, { status: next });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
