/**
 * The VSO front door (`secrets.hashicorp.com/v1beta1`): VaultStaticSecrets served by the shared
 * engine. For each object: resolve VaultAuth (+ VaultAuthGlobal) and VaultConnection as VSO does
 * (refs.ts), turn them into a spec of the one Vault provider (provider.ts), get the identity's
 * session from the shared pool (one login per identity), read through the shared read cache,
 * build the Secret as VSO does (static.ts), and write it with the engine's rule and writer. Status,
 * conditions and events use VSO's names.
 *
 * Triggers: a VaultStaticSecret added, or its generation, labels or annotations changed; a change
 * of a VaultAuth / VaultAuthGlobal / VaultConnection / SecretTransformation it uses; deletion of a
 * Secret it owns (re-created); the refresh schedule (80-90% of refreshAfter).
 */
import { readFile } from "node:fs/promises";
import { randomBytes, createHash } from "node:crypto";
import type { KubeApi, KubeObject } from "../../kube/api.ts";
import { isConflict, isNotFound, resourcePath, SECRETS } from "../../kube/api.ts";
import { Informer, objectKey } from "../../kube/informer.ts";
import { WorkQueue } from "../../kube/workqueue.ts";
import type { EventRecorder } from "../../kube/events.ts";
import type { Metrics } from "../../manager/metrics.ts";
import type { Logger } from "../../util/log.ts";
import type { KubeAccess, RemoteSecret, StoreContext } from "../../providers/types.ts";
import type { SessionPool } from "../../engine/sessions.ts";
import type { ReadCache } from "../../engine/reads.ts";
import { planTarget, type SecretObject } from "../../engine/target.ts";
import { ApiSecretWriter, type WriteOrigin } from "../../engine/writer.ts";
import { vaultProvider } from "../../providers/vault/index.ts";
import { patchWorkload } from "../rollout/restarts.ts";
import { CustosError, errorMessage, isCustosError } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";
import {
  VSO_GROUP,
  VSO_VERSION,
  type SecretTransformationSpecT,
  type VaultAuthGlobalSpecT,
  type VaultAuthSpecT,
  type VaultConnectionSpecT,
  type VaultDynamicSecretSpecT,
  type VaultPKISecretSpecT,
  type VaultStaticSecretSpecT,
  type VsoCondition,
} from "../../api/vso.ts";
import {
  answerData,
  dynamicRequest,
  leaseOf,
  leaseStillGood,
  sameStaticCreds,
  staticCredsDelayMs,
  staticCredsMeta,
  type StaticCredsMeta,
  pkiData,
  pkiPath,
  pkiRenewAt,
  pkiRequest,
  renewalDelayMs,
  type Lease,
  type VaultAnswer,
} from "./leased.ts";
import { VaultSession } from "../../providers/vault/session.ts";
import { VaultClient } from "../../providers/vault/client.ts";
import { enginePath, fixedPath } from "../../providers/vault/path.ts";
import { globalCandidates, mergeGlobal, namespaceRefusal, resolveRef, type ObjRef } from "./refs.ts";
import { providerSpec } from "./provider.ts";
import {
  desiredSecret,
  mayWrite,
  vsoTargetRules,
  goDuration,
  nextRefreshMs,
  OWNER_UID_LABEL,
  parseVsoDuration,
  rawOf,
  secretData,
  secretMac,
  VSO_LABELS,
  type TemplateSpec,
  type VsoObject,
  type VssObject,
} from "./static.ts";

const API = `/apis/${VSO_GROUP}/${VSO_VERSION}`;
export const HMAC_SECRET = "vso-cc-storage-hmac-key";
export const RESTARTED_AT = "vso.secrets.hashicorp.com/restartedAt";
/** A `create: false` destination that does not exist yet is looked for again after this. */
const MISSING_DESTINATION_MS = 5_000;

interface Obj<S> extends KubeObject {
  spec?: S;
}
type VssStatus = {
  lastGeneration?: number;
  secretMAC?: string;
  vaultClientMeta?: { cacheKey?: string; id?: string };
  conditions?: VsoCondition[];
};
type Vss = Obj<VaultStaticSecretSpecT> & { status?: VssStatus };
type VdsStatus = VssStatus & {
  secretLease?: Lease;
  lastRenewalTime?: number;
  staticCredsMetaData?: Partial<StaticCredsMeta>;
};
type Vds = Obj<VaultDynamicSecretSpecT> & { status?: VdsStatus };
type VpsStatus = VssStatus & { serialNumber?: string; lastRotation?: number; expiration?: number };
type Vps = Obj<VaultPKISecretSpecT> & { status?: VpsStatus };
const VDS = "vds|";
const VPS = "vps|";
const CONN = "conn|";
const AUTH = "auth|";
const FINALIZER = {
  vds: "vaultdynamicsecret.secrets.hashicorp.com/finalizer",
  vps: "vaultpkisecret.secrets.hashicorp.com/finalizer",
};

export interface VsoControllerDeps {
  api: KubeApi;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  sessions: SessionPool;
  reads: ReadCache;
  kube: KubeAccess;
  /** Watch only this namespace's VSO secrets (VaultAuth/VaultConnection are read cluster-wide). */
  namespace?: string | undefined;
  operatorNamespace: string;
  concurrent: number;
}

/** A failure in VSO's words: the event reason and whether it is the auth/connection's or the read's. */
class VsoFailure extends Error {
  constructor(
    readonly reason: string,
    override readonly cause: unknown,
    /** The Secret write failed or was refused: VSO reports it in an event only, not the status. */
    readonly write = false,
  ) {
    super(errorMessage(cause));
  }
}

export class VsoController {
  readonly name = "vso";
  readonly staticSecrets: Informer<Vss>;
  readonly dynamicSecrets: Informer<Vds>;
  readonly pkiSecrets: Informer<Vps>;
  readonly auths: Informer<Obj<VaultAuthSpecT>>;
  readonly globals: Informer<Obj<VaultAuthGlobalSpecT>>;
  readonly connections: Informer<Obj<VaultConnectionSpecT>>;
  readonly transformations: Informer<Obj<SecretTransformationSpecT>>;
  /** Metadata of the Secrets VSO objects own (a deleted one is re-created). */
  readonly owned: Informer<KubeObject>;
  readonly queue: WorkQueue;
  readonly #writer: ApiSecretWriter;
  #hmacKey: Promise<Uint8Array> | undefined;

  constructor(readonly deps: VsoControllerDeps) {
    const { api } = deps;
    const ns = deps.namespace ? `/namespaces/${deps.namespace}` : "";
    const onError = (e: unknown): void => {
      deps.log.warn({ err: errorMessage(e) }, "watch failed; resuming");
    };
    this.staticSecrets = new Informer(api, `${API}${ns}/vaultstaticsecrets`, { onError });
    this.dynamicSecrets = new Informer(api, `${API}${ns}/vaultdynamicsecrets`, { onError });
    this.pkiSecrets = new Informer(api, `${API}${ns}/vaultpkisecrets`, { onError });
    this.auths = new Informer(api, `${API}/vaultauths`, { onError });
    this.globals = new Informer(api, `${API}/vaultauthglobals`, { onError });
    this.connections = new Informer(api, `${API}/vaultconnections`, { onError });
    this.transformations = new Informer(api, `${API}/secrettransformations`, { onError });
    this.owned = new Informer(api, `/api/v1${ns}/secrets`, {
      metadataOnly: true,
      labelSelector: OWNER_UID_LABEL,
      onError,
    });
    this.#writer = new ApiSecretWriter(api, deps.metrics, deps.events);
    this.queue = new WorkQueue({
      concurrency: deps.concurrent,
      baseDelayMs: 5_000,
      maxDelayMs: 60_000,
      handler: (key) =>
        key.startsWith(VDS)
          ? this.#reconcileDynamic(key.slice(VDS.length))
          : key.startsWith(VPS)
            ? this.#reconcilePki(key.slice(VPS.length))
            : key.startsWith(CONN)
              ? this.#reconcileConnection(key.slice(CONN.length))
              : key.startsWith(AUTH)
                ? this.#reconcileAuth(key.slice(AUTH.length))
                : this.#reconcile(key),
      metrics: deps.metrics.queue("vaultstaticsecret"),
      onError: (key, e, retryIn) => {
        deps.log.warn(
          { vaultstaticsecret: key, err: redactor.redact(errorMessage(e)), retryInMs: retryIn },
          "reconcile failed",
        );
      },
    });
    this.#route();
  }

  #route(): void {
    this.staticSecrets.on((event, obj, old) => {
      const key = objectKey(obj);
      if (event === "delete") {
        this.queue.forget(key);
        return;
      }
      if (event === "add" || !old || specOrMetaChanged(old, obj)) this.queue.add(key, "urgent");
    });
    for (const [informer, prefix] of [
      [this.dynamicSecrets, VDS],
      [this.pkiSecrets, VPS],
    ] as const) {
      (informer as Informer<KubeObject>).on((event, obj, old) => {
        const key = prefix + objectKey(obj);
        if (event === "delete") this.queue.forget(key);
        else if (
          event === "add" ||
          !old ||
          specOrMetaChanged(old, obj) ||
          (obj.metadata.deletionTimestamp && !old.metadata.deletionTimestamp)
        )
          this.queue.add(key, "urgent");
      });
    }
    const changed =
      (kind: "VaultAuth" | "VaultAuthGlobal" | "VaultConnection" | "SecretTransformation") =>
      (event: string, obj: KubeObject, old?: KubeObject) => {
        if (event === "update" && old?.metadata.generation === obj.metadata.generation) return;
        if (event !== "delete" && kind === "VaultConnection") this.queue.add(CONN + objectKey(obj), "urgent");
        if (event !== "delete" && kind === "VaultAuth") this.queue.add(AUTH + objectKey(obj), "urgent");
        if (kind === "VaultConnection" || kind === "VaultAuthGlobal")
          for (const auth of this.auths.list()) this.queue.add(AUTH + objectKey(auth), "urgent");
        if (event !== "add" && kind !== "SecretTransformation") {
          const uid = obj.metadata.uid ?? "\u0000";
          void this.deps.sessions.invalidate((k) => k.includes(uid));
        }
        // a few objects: every VaultStaticSecret is looked at again (each re-resolves its refs)
        for (const vss of this.staticSecrets.list()) this.queue.add(objectKey(vss), "urgent");
        for (const o of this.dynamicSecrets.list()) this.queue.add(VDS + objectKey(o), "urgent");
        for (const o of this.pkiSecrets.list()) this.queue.add(VPS + objectKey(o), "urgent");
      };
    this.auths.on(changed("VaultAuth"));
    this.globals.on(changed("VaultAuthGlobal"));
    this.connections.on(changed("VaultConnection"));
    this.transformations.on(changed("SecretTransformation"));
    this.owned.on((event, secret) => {
      if (event !== "delete") return;
      const uid = secret.metadata.labels?.[OWNER_UID_LABEL];
      const ns = secret.metadata.namespace ?? "";
      for (const vss of this.staticSecrets.list())
        if (vss.metadata.uid === uid && vss.metadata.namespace === ns)
          this.queue.add(objectKey(vss), "urgent");
      for (const [informer, prefix] of [
        [this.dynamicSecrets, VDS],
        [this.pkiSecrets, VPS],
      ] as const)
        for (const o of (informer as Informer<KubeObject>).list())
          if (o.metadata.uid === uid && o.metadata.namespace === ns)
            this.queue.add(prefix + objectKey(o), "urgent");
    });
  }

  async #reconcile(key: string): Promise<{ requeueAfter?: number } | undefined> {
    const vss = this.staticSecrets.get(key);
    if (!vss?.spec || vss.metadata.deletionTimestamp) return undefined;
    const obj: VssObject & { status?: VssStatus } = {
      apiVersion: `${VSO_GROUP}/${VSO_VERSION}`,
      kind: "VaultStaticSecret",
      metadata: {
        name: vss.metadata.name ?? "",
        namespace: vss.metadata.namespace ?? "",
        uid: vss.metadata.uid ?? "",
        ...(vss.metadata.generation !== undefined ? { generation: vss.metadata.generation } : {}),
      },
      spec: vss.spec,
      ...(vss.status ? { status: vss.status } : {}),
    };
    const origin: WriteOrigin = { controller: "vaultstaticsecret", object: { ...vss, ...obj } };
    const spec = vss.spec;
    const horizon = nextRefreshMs(spec);
    try {
      const { sessionKey, session, cacheKey } = await this.#session(obj, spec.namespace, {
        mount: spec.mount,
        version: spec.type === "kv-v1" ? "v1" : "v2",
      }).catch((e: unknown) => {
        throw new VsoFailure("VaultClientConfigError", e);
      });
      // Reads are shared with other objects of this identity for a tenth of the refresh period (so
      // a change is seen within refreshAfter); a changed spec reads afresh. A new object shares:
      // a thousand new objects over fifty paths cost fifty reads, not a thousand.
      const period = spec.refreshAfter ? parseVsoDuration(spec.refreshAfter) : 60_000;
      const last = obj.status?.lastGeneration;
      const maxAge = last !== undefined && last !== obj.metadata.generation ? 0 : Math.floor(period / 10);
      const ref = { key: spec.path, ...(spec.version ? { version: String(spec.version) } : {}) };
      const results = await this.deps.reads.readAll(sessionKey, session, [ref], maxAge);
      const read = [...results.values()][0];
      if (!read || read instanceof Error) throw new VsoFailure("VaultClientError", read ?? "no result");
      if (read.kind !== "map") throw new VsoFailure("VaultClientError", "the Vault secret is not a map");
      let data: Record<string, Uint8Array>;
      try {
        data = this.#data(obj, read);
      } catch (e) {
        const transform = isCustosError(e, "CUSTOS_TEMPLATE") || isCustosError(e, "CUSTOS_TEMPLATE_BUDGET");
        throw new VsoFailure(transform ? "TransformationError" : "SecretSyncError", e);
      }
      const secretPath = resourcePath({
        ...SECRETS,
        namespace: obj.metadata.namespace,
        name: spec.destination.name,
      });
      const existing = await this.deps.api.getOrUndefined<SecretObject>(secretPath);
      if (!spec.destination.create && !existing) {
        // VSO: wait for the Secret; a Warning event, no status
        this.deps.events.record(
          origin.object,
          "Warning",
          "SecretSyncError",
          `Failed to update k8s secret: destination secret ${obj.metadata.namespace}/${spec.destination.name} does not exist, and create=false`,
        );
        return { requeueAfter: MISSING_DESTINATION_MS };
      }
      for (const v of Object.values(data)) redactor.add(v);
      const desired = desiredSecret(obj, spec.destination, data);
      let wrote = false;
      try {
        let current = existing;
        if (current && spec.destination.create && (current.type ?? "Opaque") !== (desired.type ?? "Opaque")) {
          // the type of a Secret cannot change in place: VSO deletes and re-creates its own Secret
          if (mayWrite(obj, spec.destination)(current) === undefined) {
            await this.#writer.delete(
              obj.metadata.namespace,
              spec.destination.name,
              origin,
              "its type changed",
            );
            current = undefined;
          }
        }
        const plan = planTarget(desired, current, vsoTargetRules(obj, spec.destination));
        await this.#writer.apply(plan, current, origin);
        wrote = plan.action !== "none";
      } catch (e) {
        throw new VsoFailure("SecretSyncError", e, true);
      }
      await this.#cleanupRenamed(obj, origin);
      const hmac = spec.hmacSecretData ?? true;
      const mac = hmac ? secretMac(await this.#hmac(), desired.data) : undefined;
      const conditions: VsoCondition[] = [];
      if (wrote) {
        this.deps.events.record(origin.object, "Normal", "SecretSynced", "Secret synced");
        // never on the first sync: only when a previous MAC existed
        if (hmac && obj.status?.secretMAC && spec.rolloutRestartTargets?.length)
          conditions.push(await this.#restart(obj, origin));
      }
      await this.#status(obj, {
        lastGeneration: obj.metadata.generation,
        ...(mac ? { secretMAC: mac } : {}),
        vaultClientMeta: { cacheKey, id: createHash("sha256").update(sessionKey).digest("hex").slice(0, 16) },
        conditions: [
          cond("SecretSynced", true, "Synced", `Secret synced, horizon=${goDuration(horizon ?? 0)}`),
          ...conditions,
          ...vssHealth(true),
        ],
      });
      return horizon === undefined ? undefined : { requeueAfter: horizon };
    } catch (e) {
      const failure = e instanceof VsoFailure ? e : new VsoFailure("SecretSyncError", e);
      const message = redactor.redact(failure.message);
      if (failure.write) {
        // VSO: a Secret it may not or could not write is an event, the status stays as it was
        this.deps.events.record(
          origin.object,
          "Warning",
          "SecretSyncError",
          `Failed to update k8s secret: ${message}`,
        );
        throw failure.cause instanceof Error ? failure.cause : e;
      }
      this.deps.events.record(origin.object, "Warning", failure.reason, message);
      // VSO's failure status: the cause is in SecretSynced's message (its reason stays Synced),
      // Healthy=False Unhealthy, Ready=False Ready; lastGeneration is the object's generation
      await this.#status(obj, {
        ...(obj.status ?? {}),
        lastGeneration: obj.metadata.generation,
        conditions: [
          cond("SecretSynced", false, "Synced", `Failed to sync the secret, horizon=0s, err=${message}`),
          ...vssHealth(false),
        ],
      }).catch(() => undefined);
      throw failure.cause instanceof Error ? failure.cause : e;
    }
  }

  /**
   * A VaultConnection's status as VSO reports it: `valid` when Vault answers
   * `GET /v1/sys/seal-status` through the connection's address, headers and CA.
   */
  async #reconcileConnection(key: string): Promise<{ requeueAfter?: number } | undefined> {
    const c = this.connections.get(key);
    if (!c?.spec) return undefined;
    const spec = c.spec;
    const obj = this.#vsoObject(c, "VaultConnection");
    let message = "";
    try {
      if (spec.skipTLSVerify)
        throw new CustosError("CUSTOS_INVALID_SPEC", "skipTLSVerify: true is not supported by Custos");
      const caPem = spec.caCertSecretRef
        ? new TextDecoder().decode(
            await this.deps.kube.secretKey(obj.metadata.namespace, spec.caCertSecretRef, "ca.crt"),
          )
        : spec.caCertPath
          ? await readFile(spec.caCertPath, "utf8")
          : undefined;
      const client = new VaultClient({
        server: spec.address,
        headers: spec.headers,
        caPem,
        recordCall: (call, status) => {
          this.deps.metrics.providerCalls.inc({ provider: "vault", call, status });
        },
      });
      await client.call("SealStatus", "GET", fixedPath("sys/seal-status"));
    } catch (e) {
      message = redactor.redact(errorMessage(e));
    }
    const ok = !message;
    const prev = (c as Obj<unknown> & { status?: { valid?: boolean } }).status;
    if (prev?.valid !== ok)
      this.deps.events.record(
        { ...c, ...obj },
        ok ? "Normal" : "Warning",
        ok ? "Accepted" : "VaultClientError",
        ok ? "VaultConnection accepted" : message,
      );
    await this.#status(
      { ...obj, status: prev as VssStatus },
      {
        valid: ok,
        conditions: [
          cond("VaultPing", ok, ok ? "Accepted" : "VaultClientError", message),
          cond("Healthy", ok, ok ? "Healthy" : "VaultClientError", message),
          cond("Ready", ok, ok ? "Ready" : "VaultClientError", message),
        ],
      },
      "vaultconnections",
    );
    return ok ? undefined : { requeueAfter: 30_000 };
  }

  /** A VaultAuth's status as VSO reports it: `valid` when its spec resolves to a usable login. */
  async #reconcileAuth(key: string): Promise<undefined> {
    const a = this.auths.get(key);
    if (!a?.spec) return undefined;
    const obj = this.#vsoObject(a, "VaultAuth");
    let error = "";
    try {
      const ref = { namespace: obj.metadata.namespace, name: obj.metadata.name };
      let effective: VaultAuthSpecT & { connectionFromGlobal?: boolean } = a.spec;
      let globalNs = "";
      for (const r of globalCandidates({ ...ref, spec: a.spec }, this.deps.operatorNamespace).refs) {
        const g = this.globals.get(`${r.namespace}/${r.name}`);
        if (g) {
          effective = mergeGlobal(a.spec, g.spec);
          globalNs = r.namespace;
          break;
        }
      }
      const connRef = resolveRef(
        effective.vaultConnectionRef,
        effective.connectionFromGlobal ? globalNs : ref.namespace,
        this.deps.operatorNamespace,
      );
      const conn = this.#need(this.connections, "VaultConnection", connRef);
      providerSpec({ connection: conn.spec ?? { address: "" }, auth: effective });
    } catch (e) {
      error = redactor.redact(errorMessage(e));
    }
    const ok = !error;
    const prev = (a as Obj<unknown> & { status?: VssStatus }).status;
    await this.#status(
      { ...obj, ...(prev ? { status: prev } : {}) },
      {
        valid: ok,
        error,
        specHash: createHash("sha256").update(JSON.stringify(a.spec)).digest("hex").slice(0, 16),
        conditions: [
          cond("Healthy", ok, ok ? "Healthy" : "InvalidConfiguration", error),
          cond("Ready", ok, ok ? "Ready" : "InvalidConfiguration", error),
        ],
      },
      "vaultauths",
    );
    return undefined;
  }

  /** The object as VSO names it, for owner references, events and status. */
  #vsoObject(o: KubeObject, kind: string): VsoObject {
    return {
      apiVersion: `${VSO_GROUP}/${VSO_VERSION}`,
      kind,
      metadata: {
        name: o.metadata.name ?? "",
        namespace: o.metadata.namespace ?? "",
        uid: o.metadata.uid ?? "",
        ...(o.metadata.generation !== undefined ? { generation: o.metadata.generation } : {}),
      },
    };
  }

  async #vaultSession(
    o: Obj<{ vaultAuthRef?: string }>,
    vaultNamespace: string | undefined,
  ): Promise<VaultSession> {
    const { session } = await this.#session(
      { metadata: { namespace: o.metadata.namespace ?? "" }, spec: o.spec },
      vaultNamespace,
      undefined,
    );
    if (!(session instanceof VaultSession))
      throw new CustosError("CUSTOS_INTERNAL", "the Vault provider returned another kind of session");
    return session;
  }

  /**
   * Adds (want) or removes the object's finalizer. A JSON merge patch replaces the whole list, so
   * the resourceVersion is sent too: a concurrent change of the list fails (and is retried).
   */
  async #finalizer(o: KubeObject, plural: string, finalizer: string, want: boolean): Promise<void> {
    const list = o.metadata.finalizers ?? [];
    if (list.includes(finalizer) === want) return;
    const finalizers = want ? [...list, finalizer] : list.filter((f) => f !== finalizer);
    try {
      await this.deps.api.mergePatch(
        `${API}/namespaces/${o.metadata.namespace ?? ""}/${plural}/${o.metadata.name ?? ""}`,
        {
          metadata: { finalizers, resourceVersion: o.metadata.resourceVersion },
        },
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Writes the destination Secret (engine rule and writer); whether it wrote. */
  async #write(
    obj: VsoObject,
    dest: VaultStaticSecretSpecT["destination"],
    data: Record<string, Uint8Array>,
    origin: WriteOrigin,
  ): Promise<boolean> {
    const path = resourcePath({ ...SECRETS, namespace: obj.metadata.namespace, name: dest.name });
    const existing = await this.deps.api.getOrUndefined<SecretObject>(path);
    if (!dest.create && !existing)
      throw new CustosError(
        "CUSTOS_STORE_NOT_READY",
        `destination Secret ${dest.name} does not exist and destination.create is false`,
      );
    const plan = planTarget(desiredSecret(obj, dest, data), existing, vsoTargetRules(obj, dest));
    await this.#writer.apply(plan, existing, origin);
    return plan.action !== "none";
  }

  /**
   * A VaultDynamicSecret: credentials from any engine path, with their lease renewed at
   * renewalPercent and re-issued when renewal no longer extends it; a lease in the status that is
   * still good is kept across operator restarts (no re-issue, no restart storm).
   */
  async #reconcileDynamic(key: string): Promise<{ requeueAfter?: number } | undefined> {
    const o = this.dynamicSecrets.get(key);
    if (!o?.spec) return undefined;
    const spec = o.spec;
    const obj = this.#vsoObject(o, "VaultDynamicSecret");
    const origin: WriteOrigin = { controller: "vaultdynamicsecret", object: { ...o, ...obj } };
    const status: VdsStatus = o.status ?? {};
    const plural = "vaultdynamicsecrets";
    if (o.metadata.deletionTimestamp) {
      if (!o.metadata.finalizers?.includes(FINALIZER.vds)) return undefined;
      if (spec.revoke && status.secretLease?.id) {
        const session = await this.#vaultSession(o, spec.namespace);
        await session.call("RevokeLease", "PUT", fixedPath("sys/leases/revoke"), {
          lease_id: status.secretLease.id,
        });
      }
      await this.#finalizer(o, plural, FINALIZER.vds, false);
      return undefined;
    }
    const now = Date.now();
    try {
      await this.#finalizer(o, plural, FINALIZER.vds, spec.revoke === true);
      const session = await this.#vaultSession(o, spec.namespace).catch((e: unknown) => {
        throw new VsoFailure("VaultClientConfigError", e);
      });
      const lease = status.secretLease;
      const sameGeneration = status.lastGeneration === o.metadata.generation;
      const secretExists = !!(await this.deps.api.getOrUndefined(
        resourcePath({ ...SECRETS, namespace: obj.metadata.namespace, name: spec.destination.name }),
      ));
      if (sameGeneration && secretExists && lease?.id) {
        if (leaseStillGood(spec, lease, status.lastRenewalTime, now))
          return {
            requeueAfter: (status.lastRenewalTime ?? 0) * 1000 + renewalDelayMs(spec, lease.duration) - now,
          };
        if (lease.renewable) {
          const renewed = await session
            .call<VaultAnswer>("RenewLease", "PUT", fixedPath("sys/leases/renew"), {
              lease_id: lease.id,
              increment: lease.duration,
            })
            .then((r) => r.body)
            .catch(() => undefined);
          // a renewal that still gives the whole lease keeps the credentials; one cut short by the
          // max TTL (or refused) means: issue new ones
          if (renewed?.lease_duration && renewed.lease_duration >= lease.duration) {
            const next = { ...lease, duration: renewed.lease_duration };
            await this.#status(
              obj,
              { ...status, secretLease: next, lastRenewalTime: Math.floor(now / 1000) },
              plural,
            );
            return { requeueAfter: renewalDelayMs(spec, next.duration) };
          }
        }
      }
      const req = dynamicRequest(spec);
      const answer = (
        await session
          .call<VaultAnswer>("DynamicSecret", req.method, enginePath(spec.mount, spec.path), req.body)
          .catch((e: unknown) => {
            throw new VsoFailure("VaultClientError", e);
          })
      ).body;
      const data = answerData(answer, spec.destination.transformation);
      for (const v of Object.values(data)) redactor.add(v);
      // allowStaticCreds: a static role's answer carries no lease; it is read again just after
      // Vault's next rotation, and written only when the credentials changed (not for its ttl)
      const staticMeta =
        spec.allowStaticCreds && !answer.renewable ? staticCredsMeta(answer.data) : undefined;
      let wrote: boolean;
      try {
        const unchanged =
          staticMeta &&
          sameStaticCreds(
            data,
            (
              await this.deps.api.getOrUndefined<SecretObject>(
                resourcePath({ ...SECRETS, namespace: obj.metadata.namespace, name: spec.destination.name }),
              )
            )?.data,
          );
        wrote = unchanged ? false : await this.#write(obj, spec.destination, data, origin);
      } catch (e) {
        throw new VsoFailure("SecretSyncError", e);
      }
      const next = leaseOf(answer);
      const conditions: VsoCondition[] = [];
      if (wrote) {
        this.deps.events.record(origin.object, "Normal", "SecretSynced", "Secret synced");
        // new credentials restart the workloads, never the first ones
        const hadCreds = !!lease?.id || !!status.staticCredsMetaData?.lastVaultRotation;
        if (hadCreds && spec.rolloutRestartTargets?.length)
          conditions.push(await this.#restart({ ...obj, spec }, origin));
      }
      await this.#status(
        obj,
        {
          lastGeneration: o.metadata.generation,
          secretLease: next,
          lastRenewalTime: Math.floor(now / 1000),
          ...(staticMeta ? { staticCredsMetaData: staticMeta } : {}),
          conditions: [
            cond("SecretSynced", true, "Synced", "Secret synced"),
            ...conditions,
            cond("Healthy", true, "Healthy", ""),
            cond("Ready", true, "Ready", ""),
          ],
        },
        plural,
      );
      if (staticMeta) return { requeueAfter: staticCredsDelayMs(staticMeta) };
      if (next.duration) return { requeueAfter: renewalDelayMs(spec, next.duration) };
      if (spec.refreshAfter) return { requeueAfter: parseVsoDuration(spec.refreshAfter) };
      return undefined;
    } catch (e) {
      await this.#fail(obj, origin, status, plural, e);
      throw e instanceof VsoFailure && e.cause instanceof Error ? e.cause : e;
    }
  }

  /** A VaultPKISecret: a certificate issued by Vault's PKI engine, renewed expiryOffset before it expires. */
  async #reconcilePki(key: string): Promise<{ requeueAfter?: number } | undefined> {
    const o = this.pkiSecrets.get(key);
    if (!o?.spec) return undefined;
    const spec = o.spec;
    const obj = this.#vsoObject(o, "VaultPKISecret");
    const origin: WriteOrigin = { controller: "vaultpkisecret", object: { ...o, ...obj } };
    const status: VpsStatus = o.status ?? {};
    const plural = "vaultpkisecrets";
    const secretPath = resourcePath({
      ...SECRETS,
      namespace: obj.metadata.namespace,
      name: spec.destination.name,
    });
    if (o.metadata.deletionTimestamp) {
      if (!o.metadata.finalizers?.includes(FINALIZER.vps)) return undefined;
      if (spec.revoke && status.serialNumber) {
        const session = await this.#vaultSession(o, spec.namespace);
        await session.call("RevokeCertificate", "POST", enginePath(spec.mount, "revoke"), {
          serial_number: status.serialNumber,
        });
      }
      if (spec.clear) {
        const existing = await this.deps.api.getOrUndefined<SecretObject>(secretPath);
        if (existing?.data && Object.keys(existing.data).length)
          await this.deps.api.replace(secretPath, { ...existing, data: {} });
      }
      await this.#finalizer(o, plural, FINALIZER.vps, false);
      return undefined;
    }
    const now = Date.now();
    try {
      await this.#finalizer(o, plural, FINALIZER.vps, spec.revoke === true || spec.clear === true);
      const existing = await this.deps.api.getOrUndefined<SecretObject>(secretPath);
      const sameGeneration = status.lastGeneration === o.metadata.generation;
      if (sameGeneration && existing && status.serialNumber && status.expiration) {
        const renewAt = pkiRenewAt(spec, status.expiration);
        if (now < renewAt) return { requeueAfter: renewAt - now };
      }
      const session = await this.#vaultSession(o, spec.namespace).catch((e: unknown) => {
        throw new VsoFailure("VaultClientConfigError", e);
      });
      const answer = (
        await session
          .call<VaultAnswer>(
            "IssueCertificate",
            "POST",
            enginePath(spec.mount, ...pkiPath(spec)),
            pkiRequest(spec),
          )
          .catch((e: unknown) => {
            throw new VsoFailure("VaultClientError", e);
          })
      ).body;
      const certData = answer.data ?? {};
      const data = pkiData(certData, spec.destination.type);
      for (const v of Object.values(data)) redactor.add(v);
      let wrote: boolean;
      try {
        wrote = await this.#write(obj, spec.destination, data, origin);
      } catch (e) {
        throw new VsoFailure("SecretSyncError", e);
      }
      const serial = typeof certData.serial_number === "string" ? certData.serial_number : "";
      const expiration = typeof certData.expiration === "number" ? certData.expiration : 0;
      const conditions: VsoCondition[] = [];
      if (wrote) {
        this.deps.events.record(origin.object, "Normal", "SecretRotated", "Certificate issued");
        if (status.serialNumber) {
          if (spec.revoke)
            await session
              .call("RevokeCertificate", "POST", enginePath(spec.mount, "revoke"), {
                serial_number: status.serialNumber,
              })
              .catch((e: unknown) => {
                this.deps.log.warn(
                  { vaultpkisecret: key, err: errorMessage(e) },
                  "revoking the previous certificate failed",
                );
              });
          if (spec.rolloutRestartTargets?.length)
            conditions.push(await this.#restart({ ...obj, spec }, origin));
        }
      }
      await this.#status(
        obj,
        {
          lastGeneration: o.metadata.generation,
          serialNumber: serial,
          expiration,
          lastRotation: Math.floor(now / 1000),
          conditions: [
            cond("SecretSynced", true, "Synced", "Secret synced"),
            ...conditions,
            cond("Healthy", true, "Healthy", ""),
            cond("Ready", true, "Ready", ""),
          ],
        },
        plural,
      );
      return { requeueAfter: Math.max(1000, pkiRenewAt(spec, expiration) - now) };
    } catch (e) {
      await this.#fail(obj, origin, status, plural, e);
      throw e instanceof VsoFailure && e.cause instanceof Error ? e.cause : e;
    }
  }

  async #fail(
    obj: VsoObject,
    origin: WriteOrigin,
    status: VssStatus,
    plural: string,
    e: unknown,
  ): Promise<void> {
    const failure = e instanceof VsoFailure ? e : new VsoFailure("SecretSyncError", e);
    const message = redactor.redact(failure.message);
    this.deps.events.record(origin.object, "Warning", failure.reason, message);
    await this.#status(
      obj,
      {
        ...status,
        conditions: [
          cond("SecretSynced", false, failure.reason, `Failed to sync the secret, err=${message}`),
          cond("Healthy", false, failure.reason, message),
          cond("Ready", false, failure.reason, message),
        ],
      },
      plural,
    ).catch(() => undefined);
  }

  /** The identity's session: VaultAuth (+ global) and VaultConnection resolved as VSO does. */
  async #session(
    obj: { metadata: { namespace: string }; spec?: { vaultAuthRef?: string } | undefined },
    vaultNamespace: string | undefined,
    kv: { mount: string; version: "v1" | "v2" } | undefined,
  ): Promise<{
    sessionKey: string;
    session: Awaited<ReturnType<SessionPool["get"]>>["session"];
    cacheKey: string;
  }> {
    const opNs = this.deps.operatorNamespace;
    const targetNs = obj.metadata.namespace;
    const spec = obj.spec;
    const authRef = resolveRef(spec?.vaultAuthRef, targetNs, opNs);
    const auth = this.#need(this.auths, "VaultAuth", authRef);
    const authSpec = auth.spec ?? {};
    const refusal = namespaceRefusal(
      "VaultAuth",
      { ...authRef, allowedNamespaces: authSpec.allowedNamespaces },
      targetNs,
      opNs,
    );
    if (refusal) throw new CustosError("CUSTOS_STORE_DENIED", refusal, { retryable: false });
    let effective: VaultAuthSpecT & { connectionFromGlobal?: boolean } = authSpec;
    let global: Obj<VaultAuthGlobalSpecT> | undefined;
    const candidates = globalCandidates({ ...authRef, spec: authSpec }, opNs);
    for (const r of candidates.refs) {
      global = this.globals.get(`${r.namespace}/${r.name}`);
      if (global) {
        const g = namespaceRefusal(
          "VaultAuthGlobal",
          { ...r, allowedNamespaces: global.spec?.allowedNamespaces },
          authRef.namespace,
          opNs,
        );
        if (g) throw new CustosError("CUSTOS_STORE_DENIED", g, { retryable: false });
        effective = mergeGlobal(authSpec, global.spec);
        break;
      }
    }
    if (!global && candidates.required)
      throw new CustosError(
        "CUSTOS_STORE_NOT_FOUND",
        `VaultAuthGlobal ${candidates.refs[0]!.namespace}/${candidates.refs[0]!.name} not found`,
      );
    const connRef = resolveRef(
      effective.vaultConnectionRef,
      effective.connectionFromGlobal && global ? (global.metadata.namespace ?? "") : authRef.namespace,
      opNs,
    );
    const conn = this.#need(this.connections, "VaultConnection", connRef);
    const c = conn.spec;
    if (!c?.address)
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        `VaultConnection ${connRef.namespace}/${connRef.name} has no address`,
        { retryable: false },
      );
    let caPem: string | undefined;
    if (c.caCertSecretRef)
      caPem = new TextDecoder().decode(
        await this.deps.kube.secretKey(connRef.namespace, c.caCertSecretRef, "ca.crt"),
      );
    else if (c.caCertPath) caPem = await readFile(c.caCertPath, "utf8");
    const providerInput = { connection: c, caPem, auth: effective, vaultNamespace, kv };
    const pspec = providerSpec(providerInput);
    const ctx: StoreContext = {
      storeKind: "SecretStore",
      storeName: `VaultAuth ${authRef.namespace}/${authRef.name}`,
      storeUid: `${auth.metadata.uid ?? ""}.${conn.metadata.uid ?? ""}.${global?.metadata.uid ?? ""}`,
      namespace: targetNs,
      kube: this.deps.kube,
    };
    const { key, session } = await this.deps.sessions.get(vaultProvider, pspec, ctx);
    return {
      sessionKey: key,
      session,
      cacheKey: `kubernetes-${createHash("sha256").update(`${authRef.namespace}/${authRef.name}/${targetNs}`).digest("hex").slice(0, 12)}`,
    };
  }

  #need<T extends KubeObject>(informer: Informer<T>, kind: string, ref: ObjRef): T {
    const o = informer.get(`${ref.namespace}/${ref.name}`);
    if (!o) throw new CustosError("CUSTOS_STORE_NOT_FOUND", `${kind} ${ref.namespace}/${ref.name} not found`);
    return o;
  }

  #data(obj: VssObject, read: Extract<RemoteSecret, { kind: "map" }>): Record<string, Uint8Array> {
    const t = obj.spec.destination.transformation ?? {};
    const templates: TemplateSpec[] = [];
    const includes = [...(t.includes ?? [])];
    const excludes = [...(t.excludes ?? [])];
    for (const [k, v] of Object.entries(t.templates ?? {}))
      templates.push({ key: k, name: v.name, text: v.text });
    for (const r of t.transformationRefs ?? []) {
      const ref = { namespace: r.namespace || obj.metadata.namespace, name: r.name };
      const st = this.#need(this.transformations, "SecretTransformation", ref).spec ?? {};
      const sources = (st.sourceTemplates ?? []).map((s) => s.text).join("");
      const all = Object.entries(st.templates ?? {});
      const chosen = r.templateRefs?.length
        ? r.templateRefs.map((tr) => {
            // VSO looks a templateRef up by its key and wants the template's own name set
            const found = all.find(([k]) => k === tr.name);
            if (!found)
              throw new CustosError(
                "CUSTOS_TEMPLATE",
                `SecretTransformation ${ref.namespace}/${ref.name} has no template "${tr.name}"`,
                { retryable: false },
              );
            if (!found[1].name)
              throw new CustosError(
                "CUSTOS_TEMPLATE",
                `template name empty: SecretTransformation ${ref.namespace}/${ref.name} template "${tr.name}" needs a name to be referenced`,
                { retryable: false },
              );
            return [tr.keyOverride || found[0], found[1]] as const;
          })
        : all;
      for (const [k, v] of chosen) templates.push({ key: k, name: v.name, text: sources + v.text });
      if (!r.ignoreIncludes) includes.push(...(st.includes ?? []));
      if (!r.ignoreExcludes) excludes.push(...(st.excludes ?? []));
    }
    return secretData({
      secret: read.value,
      raw: rawOf(obj.spec.type, read.value, read.metadata),
      metadata: read.metadata,
      templates,
      includes,
      excludes,
      excludeRaw: t.excludeRaw,
      labels: this.staticSecrets.get(`${obj.metadata.namespace}/${obj.metadata.name}`)?.metadata.labels,
      annotations: this.staticSecrets.get(`${obj.metadata.namespace}/${obj.metadata.name}`)?.metadata
        .annotations,
    });
  }

  /** Secrets this object created under an older destination name are deleted (as VSO). */
  async #cleanupRenamed(obj: VssObject, origin: WriteOrigin): Promise<void> {
    for (const s of this.owned.list()) {
      if (
        s.metadata.namespace === obj.metadata.namespace &&
        s.metadata.labels?.[OWNER_UID_LABEL] === obj.metadata.uid &&
        s.metadata.name !== obj.spec.destination.name &&
        s.metadata.labels?.["app.kubernetes.io/managed-by"] === VSO_LABELS["app.kubernetes.io/managed-by"]
      )
        await this.#writer.delete(
          obj.metadata.namespace,
          s.metadata.name ?? "",
          origin,
          "the destination was renamed",
        );
    }
  }

  async #restart(
    obj: VsoObject & { spec: { rolloutRestartTargets?: VaultStaticSecretSpecT["rolloutRestartTargets"] } },
    origin: WriteOrigin,
  ): Promise<VsoCondition> {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    const failed: string[] = [];
    for (const t of obj.spec.rolloutRestartTargets ?? []) {
      const patch =
        t.kind === "argo.Rollout"
          ? { spec: { restartAt: now } }
          : { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: now } } } } };
      try {
        await patchWorkload(this.deps.api, t.kind, obj.metadata.namespace, t.name, patch);
        this.deps.events.record(
          origin.object,
          "Normal",
          "RolloutRestartTriggered",
          `Rollout restart triggered for ${t.kind}/${t.name}`,
        );
      } catch (e) {
        failed.push(`${t.kind}/${t.name}: ${errorMessage(e)}`);
        this.deps.events.record(
          origin.object,
          "Warning",
          "RolloutRestartFailed",
          `Rollout restart failed for ${t.kind}/${t.name}: ${errorMessage(e)}`,
        );
      }
    }
    return failed.length
      ? cond("RolloutRestart", false, "RolloutRestartFailed", failed.join("; "))
      : cond("RolloutRestart", true, "RolloutRestartTriggered", "Rollout restart triggered");
  }

  /** VSO's HMAC key: 16 random bytes in the immutable Secret vso-cc-storage-hmac-key (key `key`). */
  #hmac(): Promise<Uint8Array> {
    this.#hmacKey ??= (async () => {
      const ns = this.deps.operatorNamespace;
      const path = resourcePath({ ...SECRETS, namespace: ns, name: HMAC_SECRET });
      for (;;) {
        const s = await this.deps.api.getOrUndefined<SecretObject>(path);
        const v = s?.data?.key;
        if (v) {
          const key = Buffer.from(v, "base64");
          redactor.add(key);
          return key;
        }
        try {
          await this.deps.api.create(resourcePath({ ...SECRETS, namespace: ns }), {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: HMAC_SECRET, namespace: ns, labels: { ...VSO_LABELS } },
            immutable: true,
            data: { key: randomBytes(16).toString("base64") },
          });
        } catch (e) {
          if (!isConflict(e)) throw e; // another replica made it: read it
        }
      }
    })();
    this.#hmacKey.catch(() => {
      this.#hmacKey = undefined;
    });
    return this.#hmacKey;
  }

  /** Writes the status when it differs (conditions compared without their times). */
  async #status(
    obj: VsoObject & { status?: VssStatus },
    next: VssStatus & Record<string, unknown>,
    plural = "vaultstaticsecrets",
  ): Promise<void> {
    const prev = obj.status ?? {};
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    const conditions = (next.conditions ?? []).map((c) => {
      const old = prev.conditions?.find((p) => p.type === c.type);
      return {
        ...c,
        observedGeneration: obj.metadata.generation,
        lastTransitionTime:
          old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now,
      };
    });
    const status = { ...next, conditions };
    const strip = (s: VssStatus): string =>
      JSON.stringify({
        ...s,
        conditions: (s.conditions ?? []).map((c) => ({ ...c, lastTransitionTime: "" })),
      });
    if (strip(prev) === strip(status)) return;
    try {
      await this.deps.api.mergePatch(
        `${API}/namespaces/${obj.metadata.namespace}/${plural}/${obj.metadata.name}/status`,
        { status },
      );
    } catch (e) {
      if (!isNotFound(e)) throw e; // deleted meanwhile
    }
  }

  async start(): Promise<void> {
    await Promise.all([
      this.auths.start(),
      this.globals.start(),
      this.connections.start(),
      this.transformations.start(),
      this.owned.start(),
    ]);
    await Promise.all([this.staticSecrets.start(), this.dynamicSecrets.start(), this.pkiSecrets.start()]);
    this.queue.start();
    this.deps.log.info(
      { vaultstaticsecrets: this.staticSecrets.size, operatorNamespace: this.deps.operatorNamespace },
      "vso controller started",
    );
  }

  async stop(): Promise<void> {
    await this.queue.shutdown();
    await Promise.all([
      this.staticSecrets.stop(),
      this.dynamicSecrets.stop(),
      this.pkiSecrets.stop(),
      this.auths.stop(),
      this.globals.stop(),
      this.connections.stop(),
      this.transformations.stop(),
      this.owned.stop(),
    ]);
  }
}

/** VSO's Healthy and Ready conditions of a VaultStaticSecret (`newHealthyCondition`, `newReadyCondition`). */
function vssHealth(ok: boolean): VsoCondition[] {
  return [
    cond("Healthy", ok, ok ? "Healthy" : "Unhealthy", `VaultStaticSecret${ok ? "Healthy" : "Unhealthy"}`),
    cond("Ready", ok, "Ready", "VaultStaticSecretReady"),
  ];
}

function cond(type: string, ok: boolean, reason: string, message: string): VsoCondition {
  return { type, status: ok ? "True" : "False", reason, message };
}

function specOrMetaChanged(old: KubeObject, cur: KubeObject): boolean {
  return (
    old.metadata.generation !== cur.metadata.generation ||
    JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {}) ||
    JSON.stringify(old.metadata.annotations ?? {}) !== JSON.stringify(cur.metadata.annotations ?? {})
  );
}
