/**
 * The only module that reaches the operator's own credentials (its in-cluster service-account
 * token, the AWS SDK's default chain), and the only place a StoreContext is granted them: for a
 * ClusterSecretStore (created by a cluster admin), or for a namespaced SecretStore when the
 * platform admin started Custos with --allow-operator-identity-for-namespaced-stores. Everything
 * else sees a context without `operator`, so a tenant's store cannot make Custos act as itself.
 * (ESO lets namespaced stores use the controller's identity; that is a known weakness.)
 */
import { readFile } from "node:fs/promises";
import type { OperatorIdentity, StoreContext } from "../providers/types.ts";
import { redactor } from "../util/redact.ts";

const IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export interface OperatorIdentityPolicy {
  /** --allow-operator-identity-for-namespaced-stores (default off). */
  allowForNamespacedStores: boolean;
}

/** The identity of this process. */
export function processOperatorIdentity(): OperatorIdentity {
  return {
    async kubernetesToken() {
      try {
        const token = (await readFile(IN_CLUSTER_TOKEN, "utf8")).trim();
        redactor.add(token);
        return token;
      } catch {
        return undefined;
      }
    },
    awsCredentials(clientConfig) {
      // the SDK's chain loads on first use: most operators never need it (tens of MiB)
      const chain = import("@aws-sdk/credential-providers").then((m) =>
        m.fromNodeProviderChain({ clientConfig }),
      );
      chain.catch(() => undefined); // reported by the first call, never as an unhandled rejection
      return async (props) => (await chain)(props);
    },
  };
}

export function mayUseOperatorIdentity(
  storeKind: StoreContext["storeKind"],
  policy: OperatorIdentityPolicy,
): boolean {
  return storeKind === "ClusterSecretStore" || policy.allowForNamespacedStores;
}

/**
 * The context handed to a provider: the operator identity is added when allowed and removed
 * otherwise (whatever the caller put there).
 */
export function grantOperatorIdentity(
  ctx: StoreContext,
  policy: OperatorIdentityPolicy,
  identity: OperatorIdentity,
): StoreContext {
  const rest: StoreContext = { ...ctx };
  delete rest.operator;
  return mayUseOperatorIdentity(ctx.storeKind, policy) ? { ...rest, operator: identity } : rest;
}
