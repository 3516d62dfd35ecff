/**
 * The SealedSecret controller, a drop-in for Bitnami's: unseals `bitnami.com/v1alpha1`
 * SealedSecrets into Secrets with any of its keys, reports a `Synced` condition and events, and
 * serves kubeseal's HTTP API (/healthz, /v1/cert.pem, /v1/verify, /v1/rotate) on its own port.
 *
 * An existing Secret is only taken over when it is owned by the SealedSecret or annotated
 * `sealedsecrets.bitnami.com/managed: "true"`; `sealedsecrets.bitnami.com/patch: "true"` merges
 * into it instead of replacing its data. Writes happen only when something differs.
 */
import type { KubeApi, KubeObject, OwnerReference } from "../../kube/api.ts";
import { isNotFound, resourcePath, SECRETS } from "../../kube/api.ts";
import { Informer, objectKey } from "../../kube/informer.ts";
import { WorkQueue } from "../../kube/workqueue.ts";
import type { EventRecorder } from "../../kube/events.ts";
import { HttpEndpoints } from "../../manager/http.ts";
import type { Metrics } from "../../manager/metrics.ts";
import type { Logger } from "../../util/log.ts";
import { CustosError, errorMessage } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";
import { publicKeyOf } from "../../sealing/keys.ts";
import {
  ANNOTATION_MANAGED,
  ANNOTATION_PATCH,
  secretFromValues,
  unsealValuesAsync,
  type SealedSecret,
  type SecretLike,
  type TemplateRenderer,
} from "../../sealing/sealedsecret.ts";
import { Keyring } from "./keyring.ts";
import { mountSealingApi } from "./api.ts";
import { withTemplateBudget } from "../../template/index.ts";
import {
  decodeSecretData,
  planTarget,
  type DesiredSecret,
  type SecretObject,
  type TargetRules,
} from "../../engine/target.ts";
import { ApiSecretWriter } from "../../engine/writer.ts";

const GROUP_PATH = "/apis/bitnami.com/v1alpha1";
const RESYNC_MS = 60 * 60_000;

export interface SealedSecretControllerDeps {
  api: KubeApi;
  log: Logger;
  metrics?: Metrics | undefined;
  events?: EventRecorder | undefined;
  namespace?: string | undefined;
  keyNamespace: string;
  keyRenewPeriodMs: number;
  keyCommonName: string;
  port: number;
  /** Address the sealing API listens on (all interfaces by default: kubeseal reaches it through the API server's service proxy). */
  bindAddress?: string | undefined;
  /** Go templates for spec.template.data (the template engine). */
  render?: TemplateRenderer | undefined;
  keyBits?: number;
}

type SealedObj = SealedSecret & KubeObject;

interface SyncedCondition {
  type: "Synced";
  status: "True" | "False";
  reason?: string;
  message?: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
}

export class SealedSecretController {
  readonly name = "sealedsecret";
  readonly keyring: Keyring;
  readonly sealed: Informer<SealedObj>;
  /** Metadata of every Secret: an unsealed Secret deleted by hand is made again (as Bitnami's). */
  readonly secrets: Informer<KubeObject>;
  readonly http = new HttpEndpoints();
  readonly #queue: WorkQueue;
  readonly #writer: ApiSecretWriter;
  port = 0;

  constructor(readonly deps: SealedSecretControllerDeps) {
    this.#writer = new ApiSecretWriter(deps.api, deps.metrics, deps.events);
    this.keyring = new Keyring(
      deps.api,
      {
        namespace: deps.keyNamespace,
        renewPeriodMs: deps.keyRenewPeriodMs,
        commonName: deps.keyCommonName,
        ...(deps.keyBits ? { bits: deps.keyBits } : {}),
      },
      deps.log,
    );
    const ns = deps.namespace ? `/namespaces/${deps.namespace}` : "";
    this.sealed = new Informer(deps.api, `${GROUP_PATH}${ns}/sealedsecrets`, {
      onError: (e) => {
        deps.log.warn({ err: errorMessage(e) }, "watch failed; resuming");
      },
    });
    this.#queue = new WorkQueue({
      concurrency: 2,
      handler: async (key) => {
        await this.#reconcile(key);
        return { requeueAfter: RESYNC_MS };
      },
      metrics: deps.metrics?.queue("sealedsecret"),
      onError: (key, e) => {
        deps.log.warn({ sealedsecret: key, err: redactor.redact(errorMessage(e)) }, "unseal failed");
      },
    });
    this.secrets = new Informer<KubeObject>(deps.api, `/api/v1${ns}/secrets`, {
      metadataOnly: true,
      onError: (e) => {
        deps.log.warn({ err: errorMessage(e) }, "secret watch failed; resuming");
      },
    });
    this.secrets.on((event, secret) => {
      if (event !== "delete") return;
      const key = objectKey(secret);
      const ss = this.sealed.get(key);
      if (!ss) return;
      const owned = (secret.metadata.ownerReferences ?? []).some(
        (r) => r.controller && r.uid === ss.metadata.uid,
      );
      if (owned || secret.metadata.annotations?.[ANNOTATION_MANAGED] === "true") this.#queue.add(key);
    });
    this.sealed.on((event, obj, old) => {
      const key = objectKey(obj);
      if (event === "delete") this.#queue.forget(key);
      else if (event === "add" || old?.metadata.generation !== obj.metadata.generation) this.#queue.add(key);
    });
    this.#routes();
  }

  #routes(): void {
    this.http.route("GET /v1/cert.pem", (_req, res) => {
      res.writeHead(200, { "content-type": "application/x-pem-file" });
      res.end(this.keyring.newest.certificatePem);
    });
    const keyring = this.keyring;
    mountSealingApi(this.http, {
      get privateKeys() {
        return keyring.privateKeys;
      },
      newestPublicKey: () => publicKeyOf(keyring.newest),
    });
  }

  async #reconcile(key: string): Promise<void> {
    const ss = this.sealed.get(key);
    if (!ss || ss.metadata.deletionTimestamp) return;
    const namespace = ss.metadata.namespace ?? "";
    const name = ss.metadata.name ?? "";
    const withKind = { ...ss, apiVersion: "bitnami.com/v1alpha1", kind: "SealedSecret" };
    let desired: SecretLike;
    try {
      // decrypted on the thread pool: a SealedSecret with thousands of values never stalls the loop
      const values = await unsealValuesAsync(ss, this.keyring.privateKeys);
      // every spec.template.data key of this SealedSecret shares one template budget
      desired = withTemplateBudget(() => secretFromValues(ss, values, this.deps.render));
    } catch (e) {
      const message = redactor.redact(errorMessage(e));
      this.deps.metrics?.unseals.inc({ status: "error" });
      this.deps.events?.record(withKind, "Warning", "ErrUnsealFailed", message);
      await this.#status(ss, false, "ErrUnsealFailed", message);
      return; // a new generation (or key) is needed: no retry storm
    }
    const path = resourcePath({ ...SECRETS, namespace, name });
    const existing = await this.deps.api.getOrUndefined<SecretObject>(path);
    try {
      const plan = planTarget(desiredSecret(desired, existing), existing, targetRules(ss, name));
      await this.#writer.apply(plan, existing, {
        controller: "sealedsecret",
        object: withKind,
        events: false,
      });
    } catch (e) {
      const message = redactor.redact(errorMessage(e));
      this.deps.events?.record(withKind, "Warning", "ErrUpdateFailed", message);
      await this.#status(ss, false, "ErrUpdateFailed", message);
      if (e instanceof CustosError && !e.retryable) return;
      throw e;
    }
    this.deps.metrics?.unseals.inc({ status: "success" });
    const changed = await this.#status(ss, true, "", "");
    if (changed)
      this.deps.events?.record(withKind, "Normal", "Unsealed", "SealedSecret unsealed successfully");
  }

  /** Writes the Synced condition when it changes; returns whether it did. */
  async #status(ss: SealedObj, ok: boolean, reason: string, message: string): Promise<boolean> {
    const prev =
      (ss.status as { conditions?: SyncedCondition[]; observedGeneration?: number } | undefined) ?? {};
    const old = prev.conditions?.find((c) => c.type === "Synced");
    const status = ok ? "True" : "False";
    if (
      old?.status === status &&
      (old.message ?? "") === message &&
      prev.observedGeneration === ss.metadata.generation
    )
      return false;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    const condition: SyncedCondition = {
      type: "Synced",
      status,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
      lastUpdateTime: now,
      lastTransitionTime: old?.status === status ? old.lastTransitionTime : now,
    };
    try {
      await this.deps.api.mergePatch(
        `${GROUP_PATH}/namespaces/${ss.metadata.namespace ?? ""}/sealedsecrets/${ss.metadata.name ?? ""}/status`,
        {
          status: { conditions: [condition], observedGeneration: ss.metadata.generation },
        },
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    return true;
  }

  async start(): Promise<void> {
    await this.keyring.start();
    this.port = this.deps.port >= 0 ? await this.http.listen(this.deps.port, this.deps.bindAddress) : 0;
    await this.sealed.start();
    await this.secrets.start();
    this.#queue.start();
    this.deps.log.info(
      { keys: this.keyring.keys.length, port: this.port },
      "sealedsecret controller started",
    );
  }

  async stop(): Promise<void> {
    this.keyring.stop();
    await this.#queue.shutdown();
    await this.sealed.stop();
    await this.secrets.stop();
    await this.http.close();
  }
}

/** The unsealed Secret in the engine's terms; an existing Secret keeps its type, as Bitnami's does. */
function desiredSecret(desired: SecretLike, existing: SecretObject | undefined): DesiredSecret {
  const meta = desired.metadata;
  return {
    namespace: meta.namespace ?? "",
    name: meta.name ?? "",
    type: existing?.type ?? desired.type,
    data: decodeSecretData({ metadata: {}, ...(desired.data ? { data: desired.data } : {}) }),
    labels: { ...meta.labels },
    annotations: { ...meta.annotations },
    owner: meta.ownerReferences?.[0] as OwnerReference | undefined,
    immutable: desired.immutable,
    finalizers: meta.finalizers,
  };
}

/**
 * Bitnami's adoption rule: an existing Secret is written only when this SealedSecret owns it or it
 * is annotated managed; a SealedSecret's earlier incarnation's reference is replaced. With the
 * patch annotation data and labels merge into the Secret, otherwise they replace its own.
 */
function targetRules(ss: SealedObj, name: string): TargetRules {
  const patch = ss.metadata.annotations?.[ANNOTATION_PATCH] === "true";
  return {
    mergeData: patch,
    labels: patch ? "merge" : "replace",
    mayWrite: (existing) =>
      (existing.metadata.ownerReferences ?? []).some((r) => r.uid === ss.metadata.uid) ||
      existing.metadata.annotations?.[ANNOTATION_MANAGED] === "true"
        ? undefined
        : `Resource "${name}" already exists and is not managed by SealedSecret`,
    supersedes: (ref) => ref.kind === "SealedSecret",
  };
}
