/**
 * Vault credentials per auth method, resolved in the right namespace:
 * - on a SecretStore, every credential reference resolves in the store's own namespace (a
 *   namespace written in the reference is ignored: a store never reads another namespace);
 * - on a ClusterSecretStore, a reference without namespace resolves in the namespace of the
 *   ExternalSecret that uses it ("referent" auth);
 * - the operator's own identity (its service-account token for `kubernetes`, its AWS chain for
 *   `iam`) only where the context grants it (see ../operator.ts).
 */
import { createHash } from "node:crypto";
import type { ProviderDeps, StoreContext } from "../types.ts";
import { chainUse, credentialsFor } from "../aws/credentials.ts";
import { operatorIdentity, type OperatorIdentityUse } from "../operator.ts";
import { authPath, fixedPath } from "./path.ts";
import { iamLoginBody } from "./iam.ts";
import { CustosError } from "../../util/errors.ts";
import type { AuthInfo, VaultClient } from "./client.ts";
import type { SecretKeyRef, ServiceAccountRef, VaultProviderSpec } from "./schema.ts";

export type AuthMethod = "token" | "appRole" | "kubernetes" | "jwt" | "userPass" | "ldap" | "cert" | "iam";

export function refNamespace(ref: { namespace?: string | undefined }, ctx: StoreContext): string {
  return ctx.storeKind === "SecretStore" ? ctx.namespace : (ref.namespace ?? ctx.namespace);
}

export function authMethod(spec: VaultProviderSpec): AuthMethod {
  const a = spec.auth ?? {};
  if (a.tokenSecretRef) return "token";
  if (a.appRole) return "appRole";
  if (a.kubernetes) return "kubernetes";
  if (a.jwt) return "jwt";
  if (a.userPass) return "userPass";
  if (a.ldap) return "ldap";
  if (a.cert) return "cert";
  if (a.iam) return "iam";
  if (a.gcp) {
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      "Vault auth method gcp is not supported yet; use token, appRole, kubernetes, jwt, userPass, ldap, cert or iam",
      { retryable: false },
    );
  }
  throw new CustosError("CUSTOS_INVALID_SPEC", "spec.provider.vault.auth must set one auth method", {
    retryable: false,
  });
}

const OWN_TOKEN: OperatorIdentityUse = {
  where: "auth.kubernetes has no serviceAccountRef or secretRef",
  credential: "the operator's own service-account token",
  instead: "auth.kubernetes.serviceAccountRef or auth.kubernetes.secretRef",
};

const iamAsAws = (i: NonNullable<NonNullable<VaultProviderSpec["auth"]>["iam"]>) => ({
  ...(i.role ? { role: i.role } : {}),
  auth: {
    ...(i.secretRef ? { secretRef: i.secretRef } : {}),
    ...(i.jwt?.serviceAccountRef ? { jwt: { serviceAccountRef: i.jwt.serviceAccountRef } } : {}),
  },
});

/** Where this spec would act as the operator (checked before any request). */
export function operatorUses(spec: VaultProviderSpec): OperatorIdentityUse[] {
  let method: AuthMethod;
  try {
    method = authMethod(spec);
  } catch {
    return []; // no usable auth method: validation reports it
  }
  const a = spec.auth ?? {};
  if (method === "kubernetes" && !a.kubernetes?.serviceAccountRef && !a.kubernetes?.secretRef)
    return [OWN_TOKEN];
  if (method === "iam" && a.iam) {
    const use = chainUse(iamAsAws(a.iam), { at: "auth.iam" });
    return use ? [use] : [];
  }
  return [];
}

const ref = (r: SecretKeyRef | undefined, ctx: StoreContext): string =>
  r ? `${refNamespace(r, ctx)}/${r.name}/${r.key ?? ""}` : "";
const sa = (r: ServiceAccountRef | undefined, ctx: StoreContext, aud: string[] | undefined): string =>
  r ? `sa:${refNamespace(r, ctx)}/${r.name}/${(aud ?? r.audiences ?? []).join(",")}` : "";

/** Who the credentials are: equal strings may share a session; never contains a value. */
export function identityOf(spec: VaultProviderSpec, ctx: StoreContext): string {
  const a = spec.auth ?? {};
  let who: string;
  switch (authMethod(spec)) {
    case "token":
      who = `token:${ref(a.tokenSecretRef, ctx)}`;
      break;
    case "appRole":
      who = `approle:${a.appRole!.path ?? "approle"}:${a.appRole!.roleId ?? ""}:${ref(a.appRole!.roleRef, ctx)}:${ref(a.appRole!.secretRef, ctx)}`;
      break;
    case "kubernetes": {
      const k = a.kubernetes!;
      const source = k.serviceAccountRef
        ? sa(k.serviceAccountRef, ctx, undefined)
        : k.secretRef
          ? ref(k.secretRef, ctx)
          : "own";
      who = `kubernetes:${k.mountPath ?? "kubernetes"}:${k.role}:${source}`;
      break;
    }
    case "jwt": {
      const j = a.jwt!;
      const t = j.kubernetesServiceAccountToken;
      const source = t ? sa(t.serviceAccountRef, ctx, t.audiences) : ref(j.secretRef, ctx);
      who = `jwt:${j.path ?? "jwt"}:${j.role ?? ""}:${source}`;
      break;
    }
    case "userPass":
      who = `userpass:${a.userPass!.path ?? "userpass"}:${a.userPass!.username}:${ref(a.userPass!.secretRef, ctx)}`;
      break;
    case "ldap":
      who = `ldap:${a.ldap!.path ?? "ldap"}:${a.ldap!.username}:${ref(a.ldap!.secretRef, ctx)}`;
      break;
    case "cert":
      who = `cert:${a.cert!.path ?? "cert"}:${ref(a.cert!.clientCert, ctx)}:${ref(a.cert!.secretRef, ctx)}`;
      break;
    case "iam": {
      const i = a.iam!;
      const keys = i.secretRef
        ? `${ref(i.secretRef.accessKeyIDSecretRef, ctx)}:${ref(i.secretRef.sessionTokenSecretRef, ctx)}`
        : i.jwt?.serviceAccountRef
          ? sa(i.jwt.serviceAccountRef, ctx, undefined)
          : "chain";
      who = `iam:${i.path ?? "aws"}:${i.vaultRole ?? ""}:${i.role ?? ""}:${i.externalID ?? ""}:${i.region ?? ""}:${keys}`;
      break;
    }
  }
  const where = `${spec.server}|${spec.namespace ?? ""}|${spec.auth?.namespace ?? ""}|${createHash("sha256")
    .update(JSON.stringify([spec.caBundle ?? "", spec.caProvider ?? {}, spec.headers ?? {}, spec.tls ?? {}]))
    .digest("hex")
    .slice(0, 16)}`;
  return `${where}|${who}`;
}

async function secretValue(r: SecretKeyRef | undefined, ctx: StoreContext, what: string): Promise<string> {
  if (!r)
    throw new CustosError("CUSTOS_INVALID_SPEC", `${what}: secretRef is required`, { retryable: false });
  if (!r.key)
    throw new CustosError("CUSTOS_INVALID_SPEC", `${what}: secretRef.key is required`, { retryable: false });
  const bytes = await ctx.kube.secretKey(refNamespace(r, ctx), r.name, r.key);
  return new TextDecoder().decode(bytes).trim();
}

async function serviceAccountJwt(
  r: ServiceAccountRef,
  audiences: string[] | undefined,
  seconds: number,
  ctx: StoreContext,
): Promise<string> {
  return ctx.kube.serviceAccountToken(refNamespace(r, ctx), r.name, audiences ?? r.audiences ?? [], seconds);
}

/**
 * Logs in and returns the token with its lease. A static token is looked up instead (validating
 * it and learning its TTL).
 */
export async function login(
  client: VaultClient,
  spec: VaultProviderSpec,
  ctx: StoreContext,
  deps: ProviderDeps,
): Promise<AuthInfo> {
  const a = spec.auth ?? {};
  const ns = a.namespace ?? spec.namespace;
  const post = async (
    mount: string,
    what: string,
    rest: string[],
    body: Record<string, unknown>,
  ): Promise<AuthInfo> => {
    const res = await client.call<{ auth?: AuthInfo }>("Login", "POST", authPath(mount, what, ...rest), {
      body,
      namespace: ns,
    });
    if (!res.body.auth?.client_token)
      throw new CustosError("CUSTOS_AUTH_FAILED", `Vault login at auth/${mount} returned no token`);
    return res.body.auth;
  };
  switch (authMethod(spec)) {
    case "token": {
      const token = await secretValue(a.tokenSecretRef, ctx, "auth.tokenSecretRef");
      const res = await client.call<{ data?: { ttl?: number; renewable?: boolean } }>(
        "LookupSelf",
        "GET",
        fixedPath("auth/token/lookup-self"),
        { token },
      );
      return { client_token: token, lease_duration: res.body.data?.ttl ?? 0, renewable: false };
    }
    case "appRole": {
      const r = a.appRole!;
      const roleId =
        r.roleId ?? (r.roleRef ? await secretValue(r.roleRef, ctx, "auth.appRole.roleRef") : undefined);
      if (!roleId)
        throw new CustosError("CUSTOS_INVALID_SPEC", "auth.appRole needs roleId or roleRef", {
          retryable: false,
        });
      return post(r.path ?? "approle", "auth.appRole.path", ["login"], {
        role_id: roleId,
        secret_id: await secretValue(r.secretRef, ctx, "auth.appRole.secretRef"),
      });
    }
    case "kubernetes": {
      const k = a.kubernetes!;
      let jwt: string | undefined;
      if (k.serviceAccountRef)
        jwt = await serviceAccountJwt(k.serviceAccountRef, k.serviceAccountRef.audiences, 600, ctx);
      else if (k.secretRef)
        jwt = await secretValue(
          { ...k.secretRef, key: k.secretRef.key ?? "token" },
          ctx,
          "auth.kubernetes.secretRef",
        );
      else jwt = await operatorIdentity(ctx, OWN_TOKEN).kubernetesToken();
      if (!jwt)
        throw new CustosError(
          "CUSTOS_MISSING_CREDENTIALS",
          "auth.kubernetes: no serviceAccountRef or secretRef, and the operator has no service-account token of its own",
        );
      return post(k.mountPath ?? "kubernetes", "auth.kubernetes.mountPath", ["login"], { role: k.role, jwt });
    }
    case "jwt": {
      const j = a.jwt!;
      const t = j.kubernetesServiceAccountToken;
      const jwt = t
        ? await serviceAccountJwt(
            t.serviceAccountRef,
            t.audiences ?? t.serviceAccountRef.audiences ?? ["vault"],
            t.expirationSeconds ?? 600,
            ctx,
          )
        : await secretValue(j.secretRef, ctx, "auth.jwt.secretRef");
      return post(j.path ?? "jwt", "auth.jwt.path", ["login"], { ...(j.role ? { role: j.role } : {}), jwt });
    }
    case "userPass": {
      const u = a.userPass!;
      return post(u.path ?? "userpass", "auth.userPass.path", ["login", u.username], {
        password: await secretValue(u.secretRef, ctx, "auth.userPass.secretRef"),
      });
    }
    case "ldap": {
      const l = a.ldap!;
      return post(l.path ?? "ldap", "auth.ldap.path", ["login", l.username], {
        password: await secretValue(l.secretRef, ctx, "auth.ldap.secretRef"),
      });
    }
    case "cert":
      // the client certificate travels in the TLS handshake (see clientTls)
      return post(a.cert!.path ?? "cert", "auth.cert.path", ["login"], {});
    case "iam": {
      const i = a.iam!;
      const region = i.region ?? "us-east-1";
      const provider = await credentialsFor(
        {
          service: "SecretsManager",
          region,
          ...(i.externalID ? { externalID: i.externalID } : {}),
          ...iamAsAws(i),
        },
        ctx,
        deps,
        region,
        { at: "auth.iam" },
      );
      return post(
        i.path ?? "aws",
        "auth.iam.path",
        ["login"],
        await iamLoginBody(await provider(), region, i.vaultRole, i.vaultAwsIamServerID),
      );
    }
  }
}

/**
 * The client certificate and key the connection presents: the cert auth method's, else
 * `spec.tls` (mutual TLS to Vault), as ESO reads them (keys default to tls.crt / tls.key).
 */
export async function clientTls(
  spec: VaultProviderSpec,
  ctx: StoreContext,
): Promise<{ cert: string; key: string } | undefined> {
  const c = spec.auth?.cert;
  const pair = c
    ? { cert: c.clientCert, key: c.secretRef, what: "auth.cert" }
    : spec.tls?.certSecretRef || spec.tls?.keySecretRef
      ? { cert: spec.tls.certSecretRef, key: spec.tls.keySecretRef, what: "tls" }
      : undefined;
  if (!pair) return undefined;
  if (!pair.cert || !pair.key)
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      pair.what === "auth.cert"
        ? "auth.cert needs clientCert and secretRef (the private key)"
        : "tls needs certSecretRef and keySecretRef",
      { retryable: false },
    );
  const read = async (r: SecretKeyRef, key: string): Promise<string> =>
    new TextDecoder().decode(await ctx.kube.secretKey(refNamespace(r, ctx), r.name, r.key ?? key));
  return { cert: await read(pair.cert, "tls.crt"), key: await read(pair.key, "tls.key") };
}
