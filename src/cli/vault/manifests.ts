/**
 * The objects `custos vault setup` plans from: Vault SecretStores/ClusterSecretStores and the
 * ExternalSecrets that use them, picked out of any number of YAML/JSON documents (other kinds,
 * such as ServiceAccounts in the same files, are skipped). Pure: texts in, objects out.
 */
import { parseAllDocuments } from "yaml";
import { CustosError } from "../../util/errors.ts";
import type { VaultProviderSpec } from "../../providers/vault/schema.ts";

export type StoreKind = "SecretStore" | "ClusterSecretStore";

export interface VaultStore {
  kind: StoreKind;
  name: string;
  /** The store's namespace (a ClusterSecretStore has none). */
  namespace: string | undefined;
  vault: VaultProviderSpec;
}

export interface RemoteRefLike {
  key: string;
  metadataPolicy?: string | undefined;
}

export interface FindLike {
  path?: string | undefined;
  tags?: Record<string, string> | undefined;
}

interface StoreRefLike {
  name: string;
  kind?: string | undefined;
}

/** The parts of an ExternalSecret that decide what it reads. */
export interface ExternalSecretLike {
  name: string;
  namespace: string;
  spec: {
    secretStoreRef?: StoreRefLike | undefined;
    data?: { remoteRef: RemoteRefLike; sourceRef?: { storeRef?: StoreRefLike } | undefined }[] | undefined;
    dataFrom?:
      | {
          extract?: RemoteRefLike | undefined;
          find?: FindLike | undefined;
          sourceRef?: { storeRef?: StoreRefLike; generatorRef?: unknown } | undefined;
        }[]
      | undefined;
  };
}

export interface Manifests {
  stores: VaultStore[];
  externalSecrets: ExternalSecretLike[];
}

const GROUP = "external-secrets.io/";

function invalid(message: string): CustosError {
  return new CustosError("CUSTOS_INVALID_SPEC", message, { retryable: false });
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function metaOf(obj: Record<string, unknown>, source: string): { name: string; namespace?: string } {
  const meta = obj.metadata;
  if (!isObject(meta) || typeof meta.name !== "string" || !meta.name)
    throw invalid(`${source}: a ${String(obj.kind)} without metadata.name`);
  return {
    name: meta.name,
    ...(typeof meta.namespace === "string" && meta.namespace ? { namespace: meta.namespace } : {}),
  };
}

/** Every object of a text, `kind: List` items included. */
function objectsOf(text: string, source: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length)
      throw invalid(`${source}: not valid YAML or JSON (${doc.errors[0]?.message ?? "parse error"})`);
    const obj: unknown = doc.toJS();
    if (!isObject(obj)) continue;
    if (obj.kind === "List" && Array.isArray(obj.items)) out.push(...obj.items.filter(isObject));
    else out.push(obj);
  }
  return out;
}

const optStr = (v: unknown): boolean => v === undefined || typeof v === "string";
const optObj = (v: unknown): boolean => v === undefined || isObject(v);

/** The fields that decide reads, checked for shape so a malformed file fails with its name. */
function esSpec(spec: Record<string, unknown>, at: string): ExternalSecretLike["spec"] {
  const ref = (r: unknown): boolean => isObject(r) && typeof r.key === "string" && optStr(r.metadataPolicy);
  const storeRef = (r: unknown): boolean =>
    r === undefined || (isObject(r) && typeof r.name === "string" && optStr(r.kind));
  const sourceRef = (r: unknown): boolean => r === undefined || (isObject(r) && storeRef(r.storeRef));
  const ok =
    storeRef(spec.secretStoreRef) &&
    (spec.data === undefined ||
      (Array.isArray(spec.data) &&
        spec.data.every((d) => isObject(d) && ref(d.remoteRef) && sourceRef(d.sourceRef)))) &&
    (spec.dataFrom === undefined ||
      (Array.isArray(spec.dataFrom) &&
        spec.dataFrom.every(
          (d) =>
            isObject(d) &&
            (d.extract === undefined || ref(d.extract)) &&
            optObj(d.find) &&
            (!isObject(d.find) || (optStr(d.find.path) && optObj(d.find.tags))) &&
            sourceRef(d.sourceRef),
        )));
  if (!ok) throw invalid(`${at}: spec.secretStoreRef, data or dataFrom is not an ExternalSecret's`);
  return spec;
}

/**
 * Stores and ExternalSecrets of the given texts. Objects without a namespace take
 * `defaultNamespace`, as `kubectl apply -n` would place them.
 */
export function collectManifests(
  inputs: readonly { source: string; text: string }[],
  defaultNamespace: string,
): Manifests {
  const stores: VaultStore[] = [];
  const externalSecrets: ExternalSecretLike[] = [];
  for (const { source, text } of inputs) {
    for (const obj of objectsOf(text, source)) {
      const apiVersion = typeof obj.apiVersion === "string" ? obj.apiVersion : "";
      if (!apiVersion.startsWith(GROUP)) continue;
      const spec = isObject(obj.spec) ? obj.spec : {};
      if (obj.kind === "SecretStore" || obj.kind === "ClusterSecretStore") {
        const meta = metaOf(obj, source);
        const provider = isObject(spec.provider) ? spec.provider : {};
        // stores of other providers are not Vault's business
        if (!isObject(provider.vault)) continue;
        const vault = provider.vault as unknown as VaultProviderSpec;
        if (typeof vault.server !== "string")
          throw invalid(`${source}: ${obj.kind} ${meta.name}: spec.provider.vault.server is required`);
        stores.push({
          kind: obj.kind,
          name: meta.name,
          namespace: obj.kind === "SecretStore" ? (meta.namespace ?? defaultNamespace) : undefined,
          vault,
        });
      } else if (obj.kind === "ExternalSecret") {
        const meta = metaOf(obj, source);
        externalSecrets.push({
          name: meta.name,
          namespace: meta.namespace ?? defaultNamespace,
          spec: esSpec(spec, `${source}: ExternalSecret ${meta.name}`),
        });
      }
    }
  }
  return { stores, externalSecrets };
}

/** The store an ExternalSecret's item reads from (its own sourceRef, else the ExternalSecret's). */
export function usesStore(
  es: ExternalSecretLike,
  ref: StoreRefLike | undefined,
  store: Pick<VaultStore, "kind" | "name" | "namespace">,
): boolean {
  const r = ref ?? es.spec.secretStoreRef;
  if (!r || r.name !== store.name) return false;
  const kind = r.kind ?? "SecretStore";
  if (kind !== store.kind) return false;
  // a SecretStore serves only ExternalSecrets of its own namespace
  return kind === "ClusterSecretStore" || store.namespace === es.namespace;
}
