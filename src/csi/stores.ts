/**
 * The store a `provider: custos` SecretProviderClass names, resolved for the pod's namespace by the
 * ExternalSecret controller's own rules (controllers/externalsecret/stores.ts: a SecretStore only
 * in the pod's namespace, controller class, ClusterSecretStore conditions), from objects read
 * with GET and kept for a few seconds (a burst of pods costs one GET per store).
 */
import type { KubeApi, KubeObject } from "../kube/api.ts";
import { NAMESPACES, resourcePath } from "../kube/api.ts";
import { resolveStore, type StoreLookup } from "../controllers/externalsecret/stores.ts";
import type { SecretStoreObject } from "../controllers/externalsecret/types.ts";
import type { CustosParams } from "./custos-params.ts";

const GROUP = { group: "external-secrets.io", version: "v1" } as const;

export interface ObjectSource {
  get<T extends KubeObject>(path: string): Promise<T | undefined>;
}

/** GETs shared for `ttlMs` (concurrent ones share one request). */
export class CachedGets implements ObjectSource {
  readonly #cache = new Map<string, { at: number; value: Promise<KubeObject | undefined> }>();
  gets = 0;

  constructor(
    readonly api: KubeApi,
    readonly ttlMs = 5_000,
    readonly now: () => number = Date.now,
  ) {}

  get<T extends KubeObject>(path: string): Promise<T | undefined> {
    const now = this.now();
    const hit = this.#cache.get(path);
    if (hit && now - hit.at <= this.ttlMs) return hit.value as Promise<T | undefined>;
    this.gets++;
    const value = this.api.getOrUndefined<KubeObject>(path);
    const entry = { at: now, value };
    this.#cache.set(path, entry);
    value.catch(() => {
      if (this.#cache.get(path) === entry) this.#cache.delete(path);
    });
    if (this.#cache.size > 10_000) this.#cache.delete(this.#cache.keys().next().value!);
    return value as Promise<T | undefined>;
  }
}

export async function resolvePodStore(
  source: ObjectSource,
  params: Pick<CustosParams, "storeRef">,
  namespace: string,
  controllerClass: string,
): Promise<{ store: SecretStoreObject; kind: "SecretStore" | "ClusterSecretStore" }> {
  const { name, kind } = params.storeRef;
  const store =
    kind === "SecretStore"
      ? await source.get<SecretStoreObject>(
          resourcePath({ ...GROUP, plural: "secretstores", namespace, name }),
        )
      : await source.get<SecretStoreObject>(resourcePath({ ...GROUP, plural: "clustersecretstores", name }));
  const nsObj =
    kind === "ClusterSecretStore"
      ? await source.get(resourcePath({ ...NAMESPACES, name: namespace }))
      : undefined;
  const one = <T>(key: string, v: T | undefined) => ({
    get: (k: string): T | undefined => (k === key ? v : undefined),
  });
  const lookup: StoreLookup = {
    controllerClass,
    secretStores: one(`${namespace}/${name}`, kind === "SecretStore" ? store : undefined),
    clusterSecretStores: one(name, kind === "ClusterSecretStore" ? store : undefined),
    namespaces: one(namespace, nsObj),
  };
  return resolveStore(lookup, { metadata: { namespace } }, { name, kind });
}
