/**
 * Credentials for a store: static keys from a Secret, web identity for a ServiceAccount (IRSA:
 * role from `eks.amazonaws.com/role-arn`), else the operator's default chain (only where the context
 * grants the operator identity: a ClusterSecretStore, or with the operator flag); then `role` and
 * `additionalRoles` assumed in turn, with those credentials. The SDK clients of a session memoize these providers until
 * shortly before expiry, so STS is called once per session and expiry, never per reconcile.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@aws-sdk/types";
import type { ProviderDeps, StoreContext } from "../types.ts";
import { operatorIdentity, type OperatorIdentityUse } from "../operator.ts";
import { CustosError } from "../../util/errors.ts";
import type { AwsProviderSpec } from "./schema.ts";

export function refNamespace(ref: { namespace?: string | undefined }, ctx: StoreContext): string {
  return ctx.storeKind === "SecretStore" ? ctx.namespace : (ref.namespace ?? ctx.namespace);
}

export function endpointFor(service: "SECRETS_MANAGER" | "SSM" | "STS" | "ECR"): string | undefined {
  return process.env[`AWS_ENDPOINT_URL_${service}`] ?? process.env.AWS_ENDPOINT_URL ?? undefined;
}

async function text(
  ctx: StoreContext,
  ref: { name: string; key?: string | undefined; namespace?: string | undefined },
  what: string,
): Promise<string> {
  if (!ref.key) throw new CustosError("CUSTOS_INVALID_SPEC", `${what}.key is required`, { retryable: false });
  return new TextDecoder().decode(await ctx.kube.secretKey(refNamespace(ref, ctx), ref.name, ref.key)).trim();
}

function counted(
  provider: AwsCredentialIdentityProvider,
  call: string,
  deps: ProviderDeps,
): AwsCredentialIdentityProvider {
  return async () => {
    try {
      const c = await provider();
      deps.recordCall(call, "success");
      deps.redact(c.secretAccessKey);
      if (c.sessionToken) deps.redact(c.sessionToken);
      return c;
    } catch (e) {
      deps.recordCall(call, "error");
      throw new CustosError(
        "CUSTOS_AUTH_FAILED",
        `AWS ${call} failed: ${(e as Error).name}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  };
}

/** The names of the credential fields, for messages: the AWS store's or Vault's iam auth's. */
export interface AwsAuthFields {
  /** "auth" or "auth.iam" */
  at: string;
}

/** The use of the operator's default chain a spec makes (no keys, no web identity), if any. */
export function chainUse(
  spec: Pick<AwsProviderSpec, "auth" | "role">,
  fields: AwsAuthFields = { at: "auth" },
): OperatorIdentityUse | undefined {
  if (spec.auth?.secretRef || spec.auth?.jwt?.serviceAccountRef) return undefined;
  return {
    where: `${fields.at} has no secretRef or jwt.serviceAccountRef`,
    credential: `the operator's own AWS credentials (its default chain${spec.role ? `, to assume role ${spec.role}` : ""})`,
    instead: `${fields.at}.secretRef or ${fields.at}.jwt.serviceAccountRef`,
  };
}

export async function credentialsFor(
  spec: AwsProviderSpec,
  ctx: StoreContext,
  deps: ProviderDeps,
  region: string,
  fields: AwsAuthFields = { at: "auth" },
): Promise<AwsCredentialIdentityProvider> {
  // loaded with the first AWS store (see index.ts)
  const { fromTemporaryCredentials, fromWebToken } = await import("@aws-sdk/credential-providers");
  const stsEndpoint = endpointFor("STS");
  const clientConfig = { region, ...(stsEndpoint ? { endpoint: stsEndpoint } : {}) };
  let base: AwsCredentialIdentityProvider;
  const sr = spec.auth?.secretRef;
  const jwt = spec.auth?.jwt?.serviceAccountRef;
  if (sr) {
    if (!sr.accessKeyIDSecretRef || !sr.secretAccessKeySecretRef) {
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        "auth.secretRef needs accessKeyIDSecretRef and secretAccessKeySecretRef",
        { retryable: false },
      );
    }
    const identity: AwsCredentialIdentity = {
      accessKeyId: await text(ctx, sr.accessKeyIDSecretRef, "auth.secretRef.accessKeyIDSecretRef"),
      secretAccessKey: await text(
        ctx,
        sr.secretAccessKeySecretRef,
        "auth.secretRef.secretAccessKeySecretRef",
      ),
      ...(sr.sessionTokenSecretRef
        ? { sessionToken: await text(ctx, sr.sessionTokenSecretRef, "auth.secretRef.sessionTokenSecretRef") }
        : {}),
    };
    deps.redact(identity.secretAccessKey);
    base = async () => identity;
  } else if (jwt) {
    const ns = refNamespace(jwt, ctx);
    const roleArn = (await ctx.kube.serviceAccountAnnotations(ns, jwt.name))["eks.amazonaws.com/role-arn"];
    if (!roleArn)
      throw new CustosError(
        "CUSTOS_MISSING_CREDENTIALS",
        `ServiceAccount ${ns}/${jwt.name} has no eks.amazonaws.com/role-arn annotation`,
        { retryable: false },
      );
    const audiences = jwt.audiences?.length ? jwt.audiences : ["sts.amazonaws.com"];
    const inner = fromWebToken({
      roleArn,
      roleSessionName: `custos-${ctx.storeName}`.slice(0, 64),
      webIdentityToken: await ctx.kube.serviceAccountToken(ns, jwt.name, audiences, 3600),
      clientConfig,
    });
    base = counted(inner, "AssumeRoleWithWebIdentity", deps);
  } else {
    const use = chainUse(spec, fields);
    if (!use) throw new CustosError("CUSTOS_INTERNAL", "AWS credentials: no source");
    base = operatorIdentity(ctx, use).awsCredentials(clientConfig);
  }
  // As ESO: the additionalRoles chain first, then `role`, which alone carries the external ID
  // and the session tags.
  const chain = [
    ...(spec.additionalRoles ?? []).map((arn) => ({ arn, main: false })),
    ...(spec.role ? [{ arn: spec.role, main: true }] : []),
  ];
  for (const { arn, main } of chain) {
    const master = base;
    base = counted(
      fromTemporaryCredentials({
        masterCredentials: master,
        params: {
          RoleArn: arn,
          RoleSessionName: `custos-${ctx.storeName}`.slice(0, 64),
          ...(main && spec.externalID ? { ExternalId: spec.externalID } : {}),
          ...(main && spec.sessionTags?.length
            ? { Tags: spec.sessionTags.map((t) => ({ Key: t.key, Value: t.value })) }
            : {}),
          ...(main && spec.sessionTags?.length && spec.transitiveTagKeys?.length
            ? { TransitiveTagKeys: spec.transitiveTagKeys }
            : {}),
        },
        clientConfig,
      }),
      "AssumeRole",
      deps,
    );
  }
  return memoize(base);
}

/** Caches credentials until five minutes before they expire (static ones forever). */
function memoize(provider: AwsCredentialIdentityProvider): AwsCredentialIdentityProvider {
  let current: Promise<AwsCredentialIdentity> | undefined;
  return async () => {
    if (current) {
      const c = await current.catch(() => undefined);
      if (c && (!c.expiration || c.expiration.getTime() - Date.now() > 5 * 60_000)) return c;
    }
    current = provider();
    current.catch(() => {
      current = undefined;
    });
    return current;
  };
}
