/**
 * `custos render` against the live store: the stores, namespaces and template sources read from
 * the cluster with the user's kubeconfig, then the controller's own steps — store resolution
 * (controller class, ClusterSecretStore conditions), the provider's validation, a session per
 * store identity (the SessionPool, where the operator-identity rule is applied), the shared reads.
 * This mirrors the fetch loop of controllers/externalsecret/reconcile.ts step for step.
 *
 * Whose identity: every Kubernetes call (stores, credentials Secrets, TokenRequests for the
 * service accounts a store names) is the user's, so render can read nothing the user could not.
 * Where the operator would act as itself (a ClusterSecretStore without credentials, or a
 * SecretStore when the operator runs with --allow-operator-identity-for-namespaced-stores), the
 * same rule decides whether that is allowed, and "itself" is this process: its AWS default
 * credentials and, run inside a pod, its service-account token. The result can then differ from
 * the operator's, whose identity is another; a refusal is the operator's refusal.
 */
import {
  KubeApi,
  KubeApiError,
  isNotFound,
  resourcePath,
  SECRETS,
  CONFIGMAPS,
  NAMESPACES,
} from "../../kube/api.ts";
import type { KubeObject } from "../../kube/api.ts";
import { createKubeAccess } from "../../kube/access.ts";
import { SessionPool } from "../../engine/sessions.ts";
import { ReadCache } from "../../engine/reads.ts";
import { CustosError } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";
import { refId, remoteRefsOf, type FetchResults } from "../../controllers/externalsecret/data.ts";
import {
  bindStore,
  groupByStore,
  resolveStore,
  runFinds,
  type StoreLookup,
} from "../../controllers/externalsecret/stores.ts";
import {
  GROUP,
  VERSION_STORAGE,
  type ExternalSecret,
  type SecretObject,
  type SecretStoreObject,
} from "../../controllers/externalsecret/types.ts";
import type { TemplateSourceLookup } from "./input.ts";

export interface LiveOptions {
  kubeconfig?: string | undefined;
  controllerClass: string;
  allowOperatorIdentityForNamespacedStores: boolean;
}

/** A cluster read that names what could not be read, never the object's content. */
async function read<T>(api: KubeApi, path: string, what: string): Promise<T | undefined> {
  try {
    return await api.get<T>(path);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    if (e instanceof KubeApiError && (e.status === 401 || e.status === 403))
      throw new CustosError(
        "CUSTOS_ACCESS_DENIED",
        `cannot read ${what} with your kubeconfig (HTTP ${e.status})`,
        {
          retryable: false,
          cause: e,
        },
      );
    throw e;
  }
}

export class LiveStores {
  readonly api: KubeApi;
  readonly #sessions: SessionPool;
  readonly #reads = new ReadCache();
  readonly #kube;
  readonly #options: LiveOptions;

  constructor(options: LiveOptions) {
    this.#options = options;
    this.api = KubeApi.fromDefault(options.kubeconfig);
    this.#kube = createKubeAccess(this.api);
    this.#sessions = new SessionPool(
      {
        recordCall: () => undefined,
        redact: (v, owner) => {
          redactor.add(v, owner);
        },
      },
      { operatorIdentity: { allowForNamespacedStores: options.allowOperatorIdentityForNamespacedStores } },
    );
  }

  /** The namespace of the kubeconfig's current context (kubectl's default). */
  currentNamespace(): string {
    const kc = this.api.kubeConfig;
    return kc.getContextObject(kc.getCurrentContext())?.namespace || "default";
  }

  /** The stores and the namespace an ExternalSecret may use, fetched once, as the informers hold them. */
  async #lookup(es: ExternalSecret): Promise<StoreLookup> {
    const namespace = es.metadata.namespace ?? "";
    const stores = new Map<string, SecretStoreObject>();
    const clusterStores = new Map<string, SecretStoreObject>();
    const { reads, finds } = remoteRefsOf(es);
    for (const g of groupByStore(es, reads, finds)) {
      const name = g.storeRef.name;
      if (g.storeRef.kind === "ClusterSecretStore") {
        const s = await read<SecretStoreObject>(
          this.api,
          resourcePath({ group: GROUP, version: VERSION_STORAGE, plural: "clustersecretstores", name }),
          `ClusterSecretStore "${name}"`,
        );
        if (s) clusterStores.set(name, s);
      } else {
        const s = await read<SecretStoreObject>(
          this.api,
          resourcePath({ group: GROUP, version: VERSION_STORAGE, plural: "secretstores", namespace, name }),
          `SecretStore "${name}" in namespace "${namespace}"`,
        );
        if (s) stores.set(`${namespace}/${name}`, s);
      }
    }
    // a user who may not read namespaces still gets namespace/regex conditions evaluated; a
    // selector then waits on "namespace not known", as the operator does before its cache fills
    let nsObj: KubeObject | undefined;
    try {
      nsObj = await read<KubeObject>(
        this.api,
        resourcePath({ ...NAMESPACES, name: namespace }),
        `namespace "${namespace}"`,
      );
    } catch {
      nsObj = undefined;
    }
    return {
      controllerClass: this.#options.controllerClass,
      secretStores: stores,
      clusterSecretStores: clusterStores,
      namespaces: { get: (k: string) => (k === namespace ? nsObj : undefined) },
    };
  }

  /** What the stores return for this ExternalSecret; throws as the reconcile would (store, login). */
  async fetch(es: ExternalSecret): Promise<FetchResults> {
    const namespace = es.metadata.namespace ?? "";
    const { reads, finds } = remoteRefsOf(es);
    const lookup = await this.#lookup(es);
    const results: FetchResults = { reads: new Map(), finds: new Map() };
    for (const group of groupByStore(es, reads, finds)) {
      const { store, kind } = resolveStore(lookup, es, group.storeRef);
      const found = bindStore(store, kind, namespace, this.#kube);
      const { key, session } = await this.#sessions.get(found.def, found.spec, found.ctx);
      const got = await this.#reads.readAll(key, session, group.reads, 0);
      for (const ref of group.reads) {
        const r = got.get(ReadCache.refKey(key, ref));
        if (r !== undefined) results.reads.set(refId(group.storeRef, ref), r);
      }
      await runFinds(session, group, results);
    }
    return results;
  }

  /** Template sources from the cluster, in the ExternalSecret's namespace. */
  templateSources(es: ExternalSecret): TemplateSourceLookup {
    const namespace = es.metadata.namespace ?? "";
    return {
      configMap: async (name) =>
        (
          await read<{ data?: Record<string, string> }>(
            this.api,
            resourcePath({ ...CONFIGMAPS, namespace, name }),
            `ConfigMap "${name}"`,
          )
        )?.data ?? (undefined as Record<string, string> | undefined),
      secret: async (name) => {
        const s = await read<{ data?: Record<string, string> }>(
          this.api,
          resourcePath({ ...SECRETS, namespace, name }),
          `Secret "${name}"`,
        );
        if (!s) return undefined;
        const decoded: Record<string, string> = {};
        for (const [k, v] of Object.entries(s.data ?? {}))
          decoded[k] = Buffer.from(v, "base64").toString("utf8");
        return decoded;
      },
    };
  }

  /** The target Secret as it is, for creationPolicy Merge (merged into); undefined when absent. */
  async existing(es: ExternalSecret, name: string): Promise<SecretObject | undefined> {
    const namespace = es.metadata.namespace ?? "";
    const s = await read<SecretObject>(
      this.api,
      resourcePath({ ...SECRETS, namespace, name }),
      `Secret "${name}"`,
    );
    for (const v of Object.values(s?.data ?? {})) redactor.add(Buffer.from(v, "base64"));
    return s;
  }

  async close(): Promise<void> {
    await this.#sessions.close();
  }
}
