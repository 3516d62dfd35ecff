/**
 * The least-privilege policy of a store: exactly the Vault paths its ExternalSecrets read, computed
 * with the provider's own path functions (src/providers/vault/path.ts), so a path in the policy is
 * the path the operator requests, byte for byte.
 */
import { CustosError } from "../../util/errors.ts";
import { findPathSegments, kvPath, kvPathOf, storeMount, quoteKey } from "../../providers/vault/path.ts";
import type { VaultProviderSpec } from "../../providers/vault/schema.ts";
import {
  usesStore,
  type ExternalSecretLike,
  type FindLike,
  type RemoteRefLike,
  type VaultStore,
} from "./manifests.ts";

export type Capability = "read" | "list";

export interface PolicyRule {
  path: string;
  capabilities: Capability[];
}

function invalid(message: string): CustosError {
  return new CustosError("CUSTOS_INVALID_SPEC", message, { retryable: false });
}

/**
 * Vault policy paths treat `*` (prefix) and `+` (one segment) as wildcards, and HCL would read
 * `"`/`${` specially: a key with them would widen the policy or break it, so it is refused.
 */
function policyPath(path: string, what: string): string {
  if (/[*+"${}]/.test(path))
    throw invalid(
      `${what} ${quoteKey(path)}: "*", "+", "\\"", "$", "{" and "}" have a meaning in Vault policies; custos vault setup will not write a broader policy`,
    );
  return path;
}

function remoteRefRules(ref: RemoteRefLike, spec: VaultProviderSpec, what: string): PolicyRule[] {
  const version = spec.version ?? "v2";
  if (ref.metadataPolicy === "Fetch") {
    if (version !== "v2") throw invalid(`${what}: metadataPolicy Fetch needs a KV v2 store`);
    // the provider reads only the metadata for Fetch (session.ts #readMetadata)
    return [
      {
        path: policyPath(kvPath(ref.key, spec.path, "v2", "metadata").toString(), what),
        capabilities: ["read"],
      },
    ];
  }
  return [{ path: policyPath(kvPath(ref.key, spec.path, version).toString(), what), capabilities: ["read"] }];
}

/** find: LIST on the metadata folder and below, read of data below (and of metadata for tags). */
function findRules(find: FindLike, spec: VaultProviderSpec, what: string): PolicyRule[] {
  const version = spec.version ?? "v2";
  const path = findPathSegments(find.path);
  const [mount, prefix] = spec.path ? [storeMount(spec.path), path] : [path.slice(0, 1), path.slice(1)];
  if (!mount.length) throw invalid(`${what}: dataFrom.find needs spec.provider.vault.path or find.path`);
  const tags = find.tags && Object.keys(find.tags).length > 0;
  if (tags && version !== "v2") throw invalid(`${what}: dataFrom.find.tags needs a KV v2 store`);
  // `<folder>/*` also matches `<folder>/`, the path a LIST of the folder is checked against
  const below = (kind: "data" | "metadata"): string => {
    const p = policyPath(kvPathOf(mount, prefix, version, kind).toString(), what);
    return `${p}/*`;
  };
  if (version === "v1") return [{ path: below("data"), capabilities: ["read", "list"] }];
  return [
    { path: below("metadata"), capabilities: tags ? ["read", "list"] : ["list"] },
    { path: below("data"), capabilities: ["read"] },
  ];
}

/** The rules for every read of `store` by the given ExternalSecrets. */
export function storeRules(store: VaultStore, externalSecrets: readonly ExternalSecretLike[]): PolicyRule[] {
  const rules: PolicyRule[] = [];
  for (const es of externalSecrets) {
    const at = `ExternalSecret ${es.namespace}/${es.name}`;
    (es.spec.data ?? []).forEach((d, i) => {
      if (!usesStore(es, d.sourceRef?.storeRef, store)) return;
      rules.push(...remoteRefRules(d.remoteRef, store.vault, `${at} data[${i}]`));
    });
    (es.spec.dataFrom ?? []).forEach((d, i) => {
      if (d.sourceRef?.generatorRef || !usesStore(es, d.sourceRef?.storeRef, store)) return;
      if (d.extract) rules.push(...remoteRefRules(d.extract, store.vault, `${at} dataFrom[${i}].extract`));
      if (d.find) rules.push(...findRules(d.find, store.vault, `${at} dataFrom[${i}].find`));
    });
  }
  return rules;
}

const ORDER: Capability[] = ["read", "list"];

/** Rules merged per path (union of capabilities), sorted by path: the same input, the same text. */
export function mergeRules(rules: readonly PolicyRule[]): PolicyRule[] {
  const byPath = new Map<string, Set<Capability>>();
  for (const r of rules) {
    const caps = byPath.get(r.path) ?? new Set<Capability>();
    for (const c of r.capabilities) caps.add(c);
    byPath.set(r.path, caps);
  }
  return [...byPath.keys()]
    .sort()
    .map((path) => ({ path, capabilities: ORDER.filter((c) => byPath.get(path)!.has(c)) }));
}

/** The policy as HCL, as `vault policy write` takes it. */
export function policyHcl(rules: readonly PolicyRule[], header: string): string {
  const blocks = mergeRules(rules).map(
    (r) =>
      `path ${JSON.stringify(r.path)} {\n  capabilities = [${r.capabilities.map((c) => JSON.stringify(c)).join(", ")}]\n}\n`,
  );
  // the header is one comment line whatever it holds
  return `# ${header.replace(/[\r\n]+/g, " ")}\n${blocks.join("")}`;
}
