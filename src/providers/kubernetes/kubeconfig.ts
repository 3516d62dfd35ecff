/**
 * A kubeconfig from a tenant's Secret (`authRef`), read as data only: the server, its CA and
 * inline credentials (token, client certificate and key). Anything that makes the reader act on
 * its own machine is refused — file paths (`tokenFile`, `client-certificate`,
 * `certificate-authority`: the operator's own service-account token is a file), `exec` and
 * `auth-provider` plugins (commands), proxies and disabled TLS verification — so a kubeconfig
 * cannot make Custos use its own identity or run anything.
 */
import { parse } from "yaml";
import { CustosError } from "../../util/errors.ts";

export interface KubeconfigCredentials {
  url: string;
  caPem?: string | undefined;
  token?: string | undefined;
  cert?: { cert: string; key: string } | undefined;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

function refused(why: string): CustosError {
  return new CustosError("CUSTOS_INVALID_SPEC", `authRef kubeconfig: ${why}`, { retryable: false });
}

function named(list: unknown, name: string, what: string): Obj {
  const entry: unknown = Array.isArray(list)
    ? (list as unknown[]).find((e) => isObj(e) && e.name === name)
    : undefined;
  if (!isObj(entry)) throw refused(`${what} "${name}" not found`);
  const inner = entry[what];
  if (!isObj(inner)) throw refused(`${what} "${name}" is empty`);
  return inner;
}

const ALLOWED_CLUSTER = new Set(["server", "certificate-authority-data", "tls-server-name", "extensions"]);
const ALLOWED_USER = new Set(["token", "client-certificate-data", "client-key-data", "extensions"]);

/** The current context's server and credentials; throws CUSTOS_INVALID_SPEC for anything else. */
export function parseKubeconfig(text: string): KubeconfigCredentials {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 10 }) as unknown;
  } catch {
    throw refused("not valid YAML");
  }
  if (!isObj(doc)) throw refused("not a kubeconfig");
  const contexts = doc.contexts;
  const current = typeof doc["current-context"] === "string" ? doc["current-context"] : undefined;
  let ctx: Obj;
  if (current) ctx = named(contexts, current, "context");
  else if (
    Array.isArray(contexts) &&
    contexts.length === 1 &&
    isObj(contexts[0]) &&
    isObj(contexts[0].context)
  )
    ctx = contexts[0].context;
  else throw refused("no current-context");
  const cluster = named(doc.clusters, typeof ctx.cluster === "string" ? ctx.cluster : "", "cluster");
  const user = typeof ctx.user === "string" && ctx.user ? named(doc.users, ctx.user, "user") : {};
  for (const k of Object.keys(cluster))
    if (!ALLOWED_CLUSTER.has(k))
      throw refused(`cluster field "${k}" is not allowed (only server, certificate-authority-data)`);
  for (const k of Object.keys(user))
    if (!ALLOWED_USER.has(k))
      throw refused(
        `user field "${k}" is not allowed (only token, client-certificate-data and client-key-data: ` +
          "files, exec and auth-provider plugins would run on the operator's machine)",
      );
  if (typeof cluster.server !== "string" || !cluster.server) throw refused("cluster has no server");
  const b64 = (v: unknown, what: string): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw refused(`${what} must be a base64 string`);
    return Buffer.from(v, "base64").toString("utf8");
  };
  const cert = b64(user["client-certificate-data"], "client-certificate-data");
  const key = b64(user["client-key-data"], "client-key-data");
  if ((cert === undefined) !== (key === undefined))
    throw refused("client-certificate-data and client-key-data must be set together");
  const token = user.token;
  if (token !== undefined && typeof token !== "string") throw refused("token must be a string");
  if (!token && !cert) throw refused("user has no token and no client certificate");
  return {
    url: cluster.server,
    caPem: b64(cluster["certificate-authority-data"], "certificate-authority-data"),
    ...(token ? { token } : {}),
    ...(cert && key ? { cert: { cert, key } } : {}),
  };
}
