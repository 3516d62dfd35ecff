/**
 * Which store an ExternalSecret reads through: resolution with controller class and
 * ClusterSecretStore conditions, grouping of an ExternalSecret's reads by store, and the reads
 * of other ExternalSecrets sharing the session (what a batching provider fetches together).
 */
import type { KubeObject } from "../../kube/api.ts";
import type {
  KubeAccess,
  ProviderDefinition,
  RemoteKey,
  Session,
  StoreContext,
} from "../../providers/types.ts";
import { providerFor } from "../../providers/registry.ts";
import { SessionPool } from "../../engine/sessions.ts";
import { CustosError } from "../../util/errors.ts";
import { clusterStoreDenial, isOurStore, type StoreCondition } from "../secretstore/access.ts";
import {
  findId,
  registerRemoteSecret,
  remoteRefsOf,
  type FetchResults,
  type RefFind,
  type RefRead,
} from "./data.ts";
import type { ReconcileContext } from "./reconcile.ts";
import type { ExternalSecret, SecretStoreObject } from "./types.ts";

export interface StoreRef {
  name: string;
  kind?: string | undefined;
}

/** What store resolution reads: the reconcile's informers, or (custos render) objects fetched once. */
export interface StoreLookup {
  controllerClass: string;
  secretStores: { get(key: string): SecretStoreObject | undefined };
  clusterSecretStores: { get(key: string): SecretStoreObject | undefined };
  namespaces: { get(key: string): KubeObject | undefined };
}

export function resolveStore(
  ctx: StoreLookup,
  es: ExternalSecret,
  ref: StoreRef,
): { store: SecretStoreObject; kind: "SecretStore" | "ClusterSecretStore" } {
  const namespace = es.metadata.namespace ?? "";
  const kind = ref.kind === "ClusterSecretStore" ? "ClusterSecretStore" : "SecretStore";
  const store =
    kind === "SecretStore"
      ? ctx.secretStores.get(`${namespace}/${ref.name}`)
      : ctx.clusterSecretStores.get(ref.name);
  if (!store) {
    throw new CustosError(
      "CUSTOS_STORE_NOT_FOUND",
      kind === "SecretStore"
        ? `SecretStore "${ref.name}" not found in namespace "${namespace}"`
        : `ClusterSecretStore "${ref.name}" not found`,
      { retryable: false },
    );
  }
  if (!isOurStore(store.spec, ctx.controllerClass)) {
    // Another operator (another controller class) serves this store: as ESO, leave the
    // ExternalSecret to it entirely; the reconcile writes no status and no event.
    throw new CustosError(
      "CUSTOS_STORE_NOT_OURS",
      `${kind} "${ref.name}" belongs to controller class "${store.spec?.controller ?? ""}", not "${ctx.controllerClass}"`,
      { retryable: false },
    );
  }
  if (kind === "ClusterSecretStore") {
    const conditions = store.spec?.conditions as StoreCondition[] | undefined;
    const nsObj = ctx.namespaces.get(namespace);
    // A namespace not (yet) in the cache has unknown labels, not "no labels": NotIn/DoesNotExist
    // selectors would match it. Wait for the namespace instead of deciding on missing data.
    if (!nsObj && conditions?.some((c) => c.namespaceSelector)) {
      throw new CustosError(
        "CUSTOS_NAMESPACE_UNKNOWN",
        `namespace "${namespace}" is not known yet; cannot evaluate the namespaceSelector of ClusterSecretStore "${ref.name}"`,
      );
    }
    const denial = clusterStoreDenial(ref.name, conditions, namespace, nsObj?.metadata.labels ?? {});
    if (denial) throw new CustosError("CUSTOS_STORE_DENIED", denial, { retryable: false });
  }
  return { store, kind };
}

export interface StoreGroup {
  storeRef: StoreRef;
  reads: RefRead["ref"][];
  finds: RefFind["query"][];
}

export function groupByStore(es: ExternalSecret, reads: RefRead[], finds: RefFind[]): StoreGroup[] {
  const main: StoreRef = { name: es.spec?.secretStoreRef?.name ?? "", kind: es.spec?.secretStoreRef?.kind };
  const groups = new Map<string, StoreGroup>();
  const group = (ref: StoreRef | undefined): StoreGroup => {
    const r = ref?.name ? ref : main;
    const k = `${r.kind ?? "SecretStore"}/${r.name}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { storeRef: r, reads: [], finds: [] }));
    return g;
  };
  for (const r of reads) group(r.storeRef).reads.push(r.ref);
  for (const f of finds) group(f.storeRef).finds.push(f.query);
  // nothing to read: the main store is still resolved (its errors reported), if there is one
  if (groups.size === 0 && main.name) group(undefined);
  return [...groups.values()];
}

/**
 * The reads of every other ExternalSecret that uses the same store through the same session,
 * for batching providers. Computed only on a cache miss (about once per store and cycle).
 */
export function siblingReads(
  ctx: ReconcileContext,
  self: ExternalSecret,
  storeRef: StoreRef,
  sessionKey: string,
  def: ProviderDefinition,
  spec: unknown,
  kind: "SecretStore" | "ClusterSecretStore",
  store: SecretStoreObject,
): RemoteKey[] {
  const out: RemoteKey[] = [];
  const keyFor = new Map<string, string>(); // namespace -> read key (referent credentials differ)
  for (const other of ctx.externalSecrets.list()) {
    if (other === self) continue;
    const ns = other.metadata.namespace ?? "";
    if (kind === "SecretStore" && ns !== store.metadata.namespace) continue;
    let k = keyFor.get(ns);
    if (k === undefined) {
      try {
        k = SessionPool.readKey(def, spec, {
          storeKind: kind,
          storeName: store.metadata.name ?? "",
          storeUid: store.metadata.uid ?? "",
          namespace: kind === "SecretStore" ? (store.metadata.namespace ?? ns) : ns,
          kube: ctx.kube,
        });
      } catch {
        k = "";
      }
      keyFor.set(ns, k);
    }
    if (k !== sessionKey) continue;
    for (const r of remoteRefsOf(other).reads) {
      if (
        r.storeRef?.name === storeRef.name &&
        (r.storeRef.kind ?? "SecretStore") === (storeRef.kind ?? "SecretStore")
      )
        out.push(r.ref);
    }
  }
  return out;
}

export interface StoreBinding {
  def: ProviderDefinition;
  spec: unknown;
  /** The context the provider connects in (credentials read from `namespace`). */
  ctx: StoreContext;
}

/**
 * The provider of a resolved store, its checked spec, and the context an ExternalSecret in
 * `namespace` uses it in: a SecretStore's credentials come from its own namespace, a
 * ClusterSecretStore's referents from the ExternalSecret's. The operator and the CLI both bind
 * stores here, so both fail with the same message on a bad store.
 */
export function bindStore(
  store: SecretStoreObject,
  kind: "SecretStore" | "ClusterSecretStore",
  namespace: string,
  kube: KubeAccess,
): StoreBinding {
  const found = providerFor(store.spec?.provider);
  if ("error" in found)
    throw new CustosError("CUSTOS_INVALID_SPEC", `${kind} "${store.metadata.name ?? ""}": ${found.error}`);
  const problems = validated(found.def, found.spec);
  if (problems.length)
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      `${kind} "${store.metadata.name ?? ""}" is invalid: ${problems.join("; ")}`,
    );
  return {
    def: found.def,
    spec: found.spec,
    ctx: {
      storeKind: kind,
      storeName: store.metadata.name ?? "",
      storeUid: store.metadata.uid ?? "",
      namespace: kind === "SecretStore" ? (store.metadata.namespace ?? namespace) : namespace,
      kube,
    },
  };
}

const validations = new WeakMap<object, string[]>();

/**
 * A provider's validation of a store spec, remembered per spec object (the informer replaces a
 * store's object when it changes, never edits it): every ExternalSecret of the store binds it on
 * every sync, and validating once per store version is enough.
 */
export function validated(def: ProviderDefinition, spec: unknown): string[] {
  if (typeof spec !== "object" || spec === null) return def.validate(spec);
  let problems = validations.get(spec);
  if (!problems) {
    problems = def.validate(spec);
    validations.set(spec, problems);
  }
  return problems;
}

/** Runs a group's finds on its session into `results`; a failed find is kept as its result. */
export async function runFinds(session: Session, group: StoreGroup, results: FetchResults): Promise<void> {
  for (const q of group.finds) {
    try {
      const m = await session.find(q);
      for (const v of m.values()) registerRemoteSecret(v);
      results.finds.set(findId(group.storeRef, q), m);
    } catch (e) {
      results.finds.set(findId(group.storeRef, q), e instanceof Error ? e : new Error(String(e)));
    }
  }
}
