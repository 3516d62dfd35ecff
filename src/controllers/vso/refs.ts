/**
 * VSO's reference rules, pure (reference §2 and §4):
 * - `vaultAuthRef` / `vaultConnectionRef`: empty → `default` in the operator namespace; a bare
 *   name → the referring object's namespace; `ns/name` as written;
 * - `allowedNamespaces` of a VaultAuth (and VaultAuthGlobal): its own namespace always; the
 *   operator namespace's `default` VaultAuth from every namespace; unset → nobody else; `*` → all;
 *   else the listed namespaces;
 * - VaultAuthGlobal merging: the VaultAuth's non-empty values win; headers and params by merge
 *   strategy (`none`, the default: the VaultAuth's only; `union`: both, the VaultAuth's winning;
 *   `replace`: the first non-empty of VaultAuth, global method block, global defaults).
 */
import type { VaultAuthGlobalSpecT, VaultAuthSpecT } from "../../api/vso.ts";
import { CustosError } from "../../util/errors.ts";

export interface ObjRef {
  namespace: string;
  name: string;
}

export const DEFAULT_NAME = "default";

export function resolveRef(
  ref: string | undefined,
  referringNamespace: string,
  operatorNamespace: string,
): ObjRef {
  const r = (ref ?? "").trim();
  if (!r) return { namespace: operatorNamespace, name: DEFAULT_NAME };
  const slash = r.indexOf("/");
  if (slash < 0) return { namespace: referringNamespace, name: r };
  const namespace = r.slice(0, slash);
  const name = r.slice(slash + 1);
  if (!namespace || !name || name.includes("/"))
    throw new CustosError("CUSTOS_INVALID_SPEC", `invalid reference "${r}": use "name" or "namespace/name"`, {
      retryable: false,
    });
  return { namespace, name };
}

/**
 * Whether an object in `targetNamespace` may use the VaultAuth (or VaultAuthGlobal) `auth`; the
 * refusal in VSO's words (NamespaceNotAllowedError), or undefined.
 */
export function namespaceRefusal(
  kind: "VaultAuth" | "VaultAuthGlobal",
  auth: ObjRef & { allowedNamespaces?: string[] | undefined },
  targetNamespace: string,
  operatorNamespace: string,
): string | undefined {
  if (auth.namespace === targetNamespace) return undefined;
  if (kind === "VaultAuth" && auth.namespace === operatorNamespace && auth.name === DEFAULT_NAME)
    return undefined;
  const allowed = auth.allowedNamespaces;
  if (allowed && (allowed.includes("*") || allowed.includes(targetNamespace))) return undefined;
  return `target namespace "${targetNamespace}" is not allowed for ${kind} ${auth.namespace}/${auth.name}`;
}

type Method = NonNullable<VaultAuthSpecT["method"]>;
type Strategy = "union" | "replace" | "none";

function nonEmpty<T>(v: T | undefined): v is T {
  if (v === undefined || v === null || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

function first<T>(...vs: (T | undefined)[]): T | undefined {
  return vs.find((v) => nonEmpty(v));
}

function mergeMap(
  strategy: Strategy,
  own: Record<string, string> | undefined,
  method: Record<string, string> | undefined,
  defaults: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (strategy === "union") {
    const out = { ...(defaults ?? {}), ...(method ?? {}), ...(own ?? {}) };
    return Object.keys(out).length ? out : undefined;
  }
  if (strategy === "replace") return first(own, method, defaults);
  return own;
}

/** A VaultAuth spec with its VaultAuthGlobal's defaults applied (the global's own ref is resolved by the caller). */
export function mergeGlobal(
  auth: VaultAuthSpecT,
  global: VaultAuthGlobalSpecT | undefined,
): VaultAuthSpecT & { connectionFromGlobal?: boolean } {
  if (!global) return auth;
  const method: Method | undefined = auth.method ?? global.defaultAuthMethod;
  if (!method) return auth;
  const g = global[method] as
    | (Record<string, unknown> & {
        namespace?: string;
        mount?: string;
        params?: Record<string, string>;
        headers?: Record<string, string>;
      })
    | undefined;
  const { namespace: gNs, mount: gMount, params: gParams, headers: gHeaders, ...gMethod } = g ?? {};
  const ownMethod = (auth[method] ?? {}) as Record<string, unknown>;
  const block: Record<string, unknown> = { ...gMethod };
  for (const [k, v] of Object.entries(ownMethod)) if (nonEmpty(v)) block[k] = v;
  const strategy = auth.vaultAuthGlobalRef?.mergeStrategy ?? {};
  const connection = first(auth.vaultConnectionRef, global.vaultConnectionRef);
  const out: VaultAuthSpecT & { connectionFromGlobal?: boolean } = {
    ...auth,
    method,
    [method]: block,
  };
  const mount = first(auth.mount, gMount, global.defaultMount);
  if (mount) out.mount = mount;
  const ns = first(auth.namespace, gNs, global.defaultVaultNamespace);
  if (ns) out.namespace = ns;
  if (connection) out.vaultConnectionRef = connection;
  if (!nonEmpty(auth.vaultConnectionRef) && connection) out.connectionFromGlobal = true;
  const headers = mergeMap(strategy.headers ?? "none", auth.headers, gHeaders, global.headers);
  const params = mergeMap(strategy.params ?? "none", auth.params, gParams, global.params);
  if (headers) out.headers = headers;
  else delete out.headers;
  if (params) out.params = params;
  else delete out.params;
  return out;
}

/**
 * Where a VaultAuth's VaultAuthGlobal is looked up, in order: an explicit name (in the ref's
 * namespace, else the VaultAuth's); with `allowDefault` (and the operator's allow-default-globals),
 * `default` in the VaultAuth's namespace, then in the operator's. Empty: no global.
 */
export function globalCandidates(
  auth: ObjRef & { spec: VaultAuthSpecT },
  operatorNamespace: string,
  allowDefaultGlobals = true,
): { refs: ObjRef[]; required: boolean } {
  const ref = auth.spec.vaultAuthGlobalRef;
  if (!ref) return { refs: [], required: false };
  if (ref.name)
    return { refs: [{ namespace: ref.namespace || auth.namespace, name: ref.name }], required: true };
  if (ref.allowDefault && allowDefaultGlobals) {
    const refs = [{ namespace: ref.namespace || auth.namespace, name: DEFAULT_NAME }];
    if (!ref.namespace && auth.namespace !== operatorNamespace)
      refs.push({ namespace: operatorNamespace, name: DEFAULT_NAME });
    return { refs, required: false };
  }
  return { refs: [], required: false };
}
