/**
 * What `custos vault setup` reads from the cluster (with the user's kubeconfig): the service-account
 * issuer and keys, the API server's address and CA, and the token reviewer account, created when
 * missing (ServiceAccount, ClusterRoleBinding to system:auth-delegator, a long-lived token Secret).
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "undici";
import { KubeApi } from "../../kube/api.ts";
import { CustosError } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";
import { jwksToPems } from "./jwks.ts";
import type { JwtKeys, Subject } from "./plan.ts";

/** The kubeconfig cluster's CA (PEM), if it names one. */
export function clusterCa(api: KubeApi): string | undefined {
  const c = api.kubeConfig.getCurrentCluster();
  if (c?.caData) return Buffer.from(c.caData, "base64").toString("utf8");
  if (c?.caFile) return readFileSync(c.caFile, "utf8");
  return undefined;
}

/**
 * Can the issuer's discovery document be fetched without credentials, as Vault would fetch it?
 * Judged from where custos runs (Vault's own view is not observable before a config write).
 */
async function discoveryReachable(issuer: string, ca: string | undefined): Promise<boolean> {
  const dispatcher = ca ? new Agent({ connect: { ca } }) : undefined;
  try {
    const res = await request(`${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`, {
      ...(dispatcher ? { dispatcher } : {}),
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) return false;
    return (JSON.parse(text) as { issuer?: unknown }).issuer === issuer;
  } catch {
    return false;
  } finally {
    await dispatcher?.close();
  }
}

/** How Vault's JWT auth should check the cluster's tokens. */
export async function jwtKeys(api: KubeApi, mode: "auto" | "discovery" | "jwks"): Promise<JwtKeys> {
  const doc = await api.get<{ issuer?: string; jwks_uri?: string }>("/.well-known/openid-configuration");
  const issuer = doc.issuer;
  if (!issuer)
    throw new CustosError("CUSTOS_INVALID_SPEC", "the API server's OIDC discovery document names no issuer", {
      retryable: false,
    });
  // the kubeconfig's CA is the issuer's only when the issuer is the API server itself
  const ca = new URL(issuer).origin === new URL(api.server).origin ? clusterCa(api) : undefined;
  if (mode === "discovery" || (mode === "auto" && (await discoveryReachable(issuer, ca))))
    return { mode: "discovery", url: issuer, caPem: ca };
  return {
    mode: "keys",
    issuer,
    pems: jwksToPems(await api.request("GET", "/openid/v1/jwks", { accept: "application/jwk-set+json" })),
  };
}

const CRB = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";

export const reviewerBindingName = (sa: Subject): string =>
  `custos:vault-reviewer:${sa.namespace}:${sa.name}`;

interface Binding {
  roleRef?: { kind?: string; name?: string };
  subjects?: { kind?: string; name?: string; namespace?: string }[];
}

/** Which reviewer objects are missing (read only). */
export async function reviewerMissing(
  api: KubeApi,
  sa: Subject,
): Promise<{ serviceAccount: boolean; binding: boolean }> {
  const ns = encodeURIComponent(sa.namespace);
  const account = await api.getOrUndefined(
    `/api/v1/namespaces/${ns}/serviceaccounts/${encodeURIComponent(sa.name)}`,
  );
  const binding = await api.getOrUndefined<Binding>(`${CRB}/${encodeURIComponent(reviewerBindingName(sa))}`);
  if (
    binding &&
    (binding.roleRef?.name !== "system:auth-delegator" ||
      !binding.subjects?.some(
        (s) => s.kind === "ServiceAccount" && s.name === sa.name && s.namespace === sa.namespace,
      ))
  )
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      `ClusterRoleBinding ${reviewerBindingName(sa)} exists but does not bind ${sa.namespace}/${sa.name} to system:auth-delegator`,
      { retryable: false },
    );
  return { serviceAccount: !account, binding: !binding };
}

/** The kubectl commands that create the missing reviewer objects (--dry-run). */
export function reviewerCommands(
  sa: Subject,
  missing: { serviceAccount: boolean; binding: boolean },
): string[] {
  const out: string[] = [];
  if (missing.serviceAccount) out.push(`kubectl -n ${sa.namespace} create serviceaccount ${sa.name}`);
  if (missing.binding)
    out.push(
      `kubectl create clusterrolebinding ${reviewerBindingName(sa)} --clusterrole=system:auth-delegator --serviceaccount=${sa.namespace}:${sa.name}`,
    );
  return out;
}

/** Creates the missing reviewer objects; returns what it created, for the report. */
export async function ensureReviewer(
  api: KubeApi,
  sa: Subject,
  missing: { serviceAccount: boolean; binding: boolean },
): Promise<string[]> {
  const done: string[] = [];
  const ns = encodeURIComponent(sa.namespace);
  if (missing.serviceAccount) {
    await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: sa.name } });
    done.push(`serviceaccount ${sa.namespace}/${sa.name}: created`);
  }
  if (missing.binding) {
    await api.create(CRB, {
      metadata: { name: reviewerBindingName(sa) },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
      subjects: [{ kind: "ServiceAccount", name: sa.name, namespace: sa.namespace }],
    });
    done.push(`clusterrolebinding ${reviewerBindingName(sa)}: created`);
  }
  return done;
}

const YEAR = 365 * 24 * 3600;

/**
 * The reviewer's long-lived token: a `kubernetes.io/service-account-token` Secret (`<name>-token`),
 * filled by the cluster's token controller. A cluster without that controller leaves it empty:
 * then a TokenRequest token valid for a year (re-run to renew it).
 */
export async function reviewerToken(api: KubeApi, sa: Subject): Promise<string> {
  const ns = encodeURIComponent(sa.namespace);
  const name = `${sa.name}-token`;
  const path = `/api/v1/namespaces/${ns}/secrets/${encodeURIComponent(name)}`;
  if (!(await api.getOrUndefined(path)))
    await api.create(`/api/v1/namespaces/${ns}/secrets`, {
      metadata: { name, annotations: { "kubernetes.io/service-account.name": sa.name } },
      type: "kubernetes.io/service-account-token",
    });
  for (let i = 0; i < 20; i++) {
    const s = await api.getOrUndefined<{ data?: { token?: string } }>(path);
    const token = s?.data?.token ? Buffer.from(s.data.token, "base64").toString("utf8") : "";
    if (token) {
      redactor.add(token);
      return token;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const res = await api.create<{ status?: { token?: string } }>(
    `/api/v1/namespaces/${ns}/serviceaccounts/${encodeURIComponent(sa.name)}/token`,
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: YEAR } },
  );
  const token = res.status?.token;
  if (!token)
    throw new CustosError(
      "CUSTOS_MISSING_CREDENTIALS",
      `no token for the reviewer ${sa.namespace}/${sa.name}`,
      {
        retryable: false,
      },
    );
  redactor.add(token);
  return token;
}
