/**
 * Logins as the pod: a store's credentials are replaced by the pod's own service-account token,
 * which the driver passes in the MountRequest. Never the provider's own identity, never a Secret
 * the store names: a pod reads exactly what its own identity may read.
 *
 * - `podIdentitySpec`: the store's provider spec with its auth rewritten to the pod's service
 *   account (Vault `kubernetes` and `jwt` auth; AWS web identity). Other auth methods carry
 *   credentials of their own and are refused.
 * - `PodTokens`: the latest token seen per (namespace, service account, audience). A session
 *   (shared by the pods of one service account) logs in and re-logs in with it through a
 *   `KubeAccess` whose TokenRequest is answered from here, so a re-login after the first pod is
 *   gone uses a live token of the same identity.
 */
import type { KubeAccess } from "../providers/types.ts";
import { CustosError } from "../util/errors.ts";
import { redactor } from "../util/redact.ts";
import type { PodInfo } from "./attributes.ts";

function denied(message: string): CustosError {
  return new CustosError("CUSTOS_OPERATOR_IDENTITY_DENIED", message, { retryable: false });
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** The audiences the store itself names for its service-account login (preferred for the pod's token). */
export function storeAudiences(provider: string, spec: unknown): string[] {
  const auth = isObj(spec) && isObj(spec.auth) ? spec.auth : {};
  if (provider === "vault") {
    if (isObj(auth.kubernetes)) {
      const aud = (auth.kubernetes.serviceAccountRef as { audiences?: unknown } | undefined)?.audiences;
      return Array.isArray(aud) && aud.length ? aud.map(String) : ["vault"];
    }
    if (isObj(auth.jwt)) {
      const t = auth.jwt.kubernetesServiceAccountToken as
        { audiences?: unknown; serviceAccountRef?: { audiences?: unknown } } | undefined;
      const aud = t?.audiences ?? t?.serviceAccountRef?.audiences;
      return Array.isArray(aud) && aud.length ? aud.map(String) : ["vault"];
    }
  }
  if (provider === "aws") {
    const aud = (
      isObj(auth.jwt) ? (auth.jwt.serviceAccountRef as { audiences?: unknown } | undefined) : undefined
    )?.audiences;
    return Array.isArray(aud) && aud.length ? aud.map(String) : ["sts.amazonaws.com"];
  }
  return [];
}

/**
 * The spec with its login replaced by the pod's service account (token for `audience`). Throws
 * CUSTOS_OPERATOR_IDENTITY_DENIED for a store whose auth is not a service-account login.
 */
export function podIdentitySpec(provider: string, spec: unknown, pod: PodInfo, audience: string): unknown {
  if (!isObj(spec)) throw denied(`the ${provider} store has no provider spec`);
  const auth = isObj(spec.auth) ? spec.auth : {};
  const sa = { name: pod.serviceAccountName, audiences: [audience] };
  if (provider === "vault") {
    const base: Obj = { ...(typeof auth.namespace === "string" ? { namespace: auth.namespace } : {}) };
    if (isObj(auth.kubernetes)) {
      const k = auth.kubernetes;
      return {
        ...spec,
        auth: {
          ...base,
          kubernetes: {
            ...(typeof k.mountPath === "string" ? { mountPath: k.mountPath } : {}),
            role: k.role,
            serviceAccountRef: sa,
          },
        },
      };
    }
    if (isObj(auth.jwt)) {
      const j = auth.jwt;
      return {
        ...spec,
        auth: {
          ...base,
          jwt: {
            ...(typeof j.path === "string" ? { path: j.path } : {}),
            ...(typeof j.role === "string" ? { role: j.role } : {}),
            kubernetesServiceAccountToken: { serviceAccountRef: sa, audiences: [audience] },
          },
        },
      };
    }
  }
  if (provider === "aws" && isObj(auth.jwt)) {
    return { ...spec, auth: { jwt: { serviceAccountRef: sa } } };
  }
  throw denied(
    `the CSI provider logs in with the pod's own service-account token: the ${provider} store must use ` +
      (provider === "vault"
        ? "auth.kubernetes or auth.jwt"
        : provider === "aws"
          ? "auth.jwt (web identity)"
          : "a service-account login") +
      ", whose role then decides what the pod may read",
  );
}

const MAX_TOKENS = 10_000;

/** The latest token of each pod identity, and the KubeAccess sessions log in through. */
export class PodTokens {
  readonly #tokens = new Map<string, string>();

  static key(namespace: string, serviceAccount: string, audience: string): string {
    return JSON.stringify([namespace, serviceAccount, audience]);
  }

  set(pod: PodInfo, audience: string, token: string): void {
    const k = PodTokens.key(pod.namespace, pod.serviceAccountName, audience);
    this.#tokens.delete(k); // most recent last: the oldest identity goes first past the cap
    this.#tokens.set(k, token);
    // kept for later logins: redacted for as long as this holder lives, not just during the mount
    redactor.add(token, this);
    if (this.#tokens.size > MAX_TOKENS) this.#tokens.delete(this.#tokens.keys().next().value!);
  }

  get size(): number {
    return this.#tokens.size;
  }

  /**
   * Answers TokenRequests with the pods' tokens only; reads no Secret (a store's own credentials
   * are never used here). ConfigMaps (CA bundles) and ServiceAccount annotations (the IRSA role)
   * are read through `kube`.
   */
  kubeAccess(kube: Pick<KubeAccess, "configMapKey" | "serviceAccountAnnotations">): KubeAccess {
    return {
      secretKey: (namespace, name) =>
        Promise.reject(
          denied(
            `the CSI provider reads no Secret (${namespace}/${name}): use the store's caBundle or a ConfigMap caProvider`,
          ),
        ),
      configMapKey: (namespace, name, key) => kube.configMapKey(namespace, name, key),
      serviceAccountAnnotations: (namespace, name) => kube.serviceAccountAnnotations(namespace, name),
      serviceAccountToken: async (namespace, name, audiences) => {
        const token =
          audiences.length === 1
            ? this.#tokens.get(PodTokens.key(namespace, name, audiences[0]!))
            : undefined;
        if (!token)
          throw new CustosError(
            "CUSTOS_MISSING_CREDENTIALS",
            `no token of a pod of ServiceAccount ${namespace}/${name} for audience ${JSON.stringify(audiences)}`,
          );
        return token;
      },
    };
  }
}
