/**
 * Where a `kubernetes` store connects and as whom. Every credential is the tenant's own: a token
 * or a client certificate from a Secret, a TokenRequest for a ServiceAccount, or a kubeconfig
 * (data only, see kubeconfig.ts). References resolve as for every provider: in the store's own
 * namespace for a SecretStore (a namespace written in the reference is ignored), in the reference's
 * namespace or else the ExternalSecret's for a ClusterSecretStore. There is no fallback to the
 * operator's own token: a store without auth is refused, as in ESO.
 */
import { createHash } from "node:crypto";
import type { StoreContext } from "../types.ts";
import { CustosError } from "../../util/errors.ts";
import { parseKubeconfig } from "./kubeconfig.ts";
import type { KubeSecretKeyRef, KubernetesProviderSpec } from "./schema.ts";

export const DEFAULT_REMOTE_NAMESPACE = "default";
/** ESO asks for one-hour service-account tokens; a new one is requested after two thirds. */
export const SA_TOKEN_SECONDS = 3600;

export type AuthKind = "token" | "serviceAccount" | "cert" | "authRef";

export function refNamespace(
  ref: { namespace?: string | undefined },
  ctx: Pick<StoreContext, "storeKind" | "namespace">,
): string {
  return ctx.storeKind === "SecretStore" ? ctx.namespace : (ref.namespace ?? ctx.namespace);
}

export function authKind(spec: KubernetesProviderSpec): AuthKind {
  const a = spec.auth ?? {};
  const set = [a.token && "token", a.serviceAccount && "serviceAccount", a.cert && "cert"].filter(Boolean);
  if (spec.authRef && set.length)
    throw new CustosError("CUSTOS_INVALID_SPEC", "authRef and inline auth cannot both be set", {
      retryable: false,
    });
  if (spec.authRef) return "authRef";
  if (set.length > 1)
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      "multiple auth methods provided: set exactly one of token, serviceAccount or cert",
      { retryable: false },
    );
  if (!set.length)
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      "no auth provider given: set auth.token, auth.serviceAccount, auth.cert or authRef",
      { retryable: false },
    );
  return set[0] as AuthKind;
}

/** `https://host[:port][/path]`, or a bare host as client-go reads it. */
export function normalizeServer(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`;
}

export function serverProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(normalizeServer(url));
  } catch {
    return `server.url "${url}" is not a URL`;
  }
  if (u.protocol !== "https:") return `server.url "${url}" must be https (credentials are sent to it)`;
  if (u.username || u.password || u.search || u.hash)
    return `server.url "${url}" must have no user, query or fragment`;
  return undefined;
}

const refId = (r: KubeSecretKeyRef | undefined, ctx: StoreContext): string =>
  r ? `${refNamespace(r, ctx)}/${r.name}/${r.key ?? ""}` : "";

/** Who the store acts as: equal strings may share a session; never contains a value. */
export function identityOf(spec: KubernetesProviderSpec, ctx: StoreContext): string {
  const a = spec.auth ?? {};
  let who: string;
  switch (authKind(spec)) {
    case "token":
      who = `token:${refId(a.token!.bearerToken, ctx)}`;
      break;
    case "serviceAccount": {
      const s = a.serviceAccount!;
      who = `sa:${refNamespace(s, ctx)}/${s.name}/${(s.audiences ?? []).join(",")}`;
      break;
    }
    case "cert":
      who = `cert:${refId(a.cert!.clientCert, ctx)}:${refId(a.cert!.clientKey, ctx)}`;
      break;
    case "authRef":
      who = `kubeconfig:${refId(spec.authRef, ctx)}`;
      break;
  }
  const where = createHash("sha256")
    .update(
      JSON.stringify([
        spec.server ?? {},
        spec.server?.caProvider ? refNamespace(spec.server.caProvider, ctx) : "",
      ]),
    )
    .digest("hex")
    .slice(0, 16);
  return `kubernetes|${where}|${spec.remoteNamespace ?? DEFAULT_REMOTE_NAMESPACE}|${who}`;
}

const dec = new TextDecoder();

async function secretText(r: KubeSecretKeyRef, ctx: StoreContext, what: string): Promise<string> {
  if (!r.key) throw new CustosError("CUSTOS_INVALID_SPEC", `${what} needs a key`, { retryable: false });
  return dec.decode(await ctx.kube.secretKey(refNamespace(r, ctx), r.name, r.key));
}

export interface Connection {
  url: string;
  caPem?: string | undefined;
  cert?: { cert: string; key: string } | undefined;
  /** A static token, or one to request (and renew) from TokenRequest. */
  token?:
    | { static: string }
    | { serviceAccount: { namespace: string; name: string; audiences: string[] } }
    | undefined;
}

async function caPem(spec: KubernetesProviderSpec, ctx: StoreContext): Promise<string | undefined> {
  const s = spec.server ?? {};
  if (s.caBundle) return Buffer.from(s.caBundle, "base64").toString("utf8");
  const p = s.caProvider;
  if (p) {
    if (!p.key)
      throw new CustosError("CUSTOS_INVALID_SPEC", "server.caProvider needs a key", { retryable: false });
    const ns = refNamespace(p, ctx);
    return p.type === "Secret"
      ? dec.decode(await ctx.kube.secretKey(ns, p.name, p.key))
      : ctx.kube.configMapKey(ns, p.name, p.key);
  }
  // ESO's default server is kubernetes.default: the API server this process uses, with its CA
  if (!s.url) return ctx.kube.apiServer?.().caPem;
  return undefined;
}

/** The server, CA and credentials, read from the tenant's Secrets. */
export async function resolveConnection(
  spec: KubernetesProviderSpec,
  ctx: StoreContext,
): Promise<Connection> {
  const kind = authKind(spec);
  if (kind === "authRef") {
    const ref = spec.authRef!;
    const k = parseKubeconfig(await secretText(ref, ctx, "authRef"));
    const problem = serverProblem(k.url);
    if (problem)
      throw new CustosError("CUSTOS_INVALID_SPEC", `authRef kubeconfig: ${problem}`, { retryable: false });
    return {
      url: normalizeServer(k.url),
      caPem: k.caPem,
      cert: k.cert,
      ...(k.token ? { token: { static: k.token } } : {}),
    };
  }
  let url = spec.server?.url;
  if (!url) {
    const own = ctx.kube.apiServer?.();
    if (!own)
      throw new CustosError("CUSTOS_INVALID_SPEC", "server.url is required here (no default API server)", {
        retryable: false,
      });
    url = own.url;
  }
  const conn: Connection = { url: normalizeServer(url), caPem: await caPem(spec, ctx) };
  const a = spec.auth!;
  if (kind === "token")
    conn.token = { static: (await secretText(a.token!.bearerToken, ctx, "auth.token.bearerToken")).trim() };
  else if (kind === "cert")
    conn.cert = {
      cert: await secretText(a.cert!.clientCert, ctx, "auth.cert.clientCert"),
      key: await secretText(a.cert!.clientKey, ctx, "auth.cert.clientKey"),
    };
  else {
    const s = a.serviceAccount!;
    conn.token = {
      serviceAccount: { namespace: refNamespace(s, ctx), name: s.name, audiences: s.audiences ?? [] },
    };
  }
  return conn;
}
