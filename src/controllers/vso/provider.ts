/**
 * A VaultConnection and an (effective) VaultAuth as a spec of the one Vault provider
 * (src/providers/vault): the same client, auth methods, path checks and session rules as ESO's
 * stores. Pure. Every credential reference resolves in the namespace of the secret being synced
 * (the session context's namespace, as VSO mints tokens there), never in the VaultAuth's.
 */
import type { VaultAuthSpecT, VaultConnectionSpecT } from "../../api/vso.ts";
import type { VaultProviderSpec } from "../../providers/vault/schema.ts";
import { CustosError } from "../../util/errors.ts";

const invalid = (message: string): CustosError =>
  new CustosError("CUSTOS_INVALID_SPEC", message, { retryable: false });

export interface ProviderInput {
  connection: VaultConnectionSpecT;
  /** PEM of the VaultConnection's CA (read by the caller from caCertSecretRef / caCertPath). */
  caPem?: string | undefined;
  auth: VaultAuthSpecT;
  /** The secret's `spec.namespace` (Vault namespace), which wins over the VaultAuth's. */
  vaultNamespace?: string | undefined;
  /** The KV mount (VaultStaticSecret) and version; absent for other engines. */
  kv?: { mount: string; version: "v1" | "v2" } | undefined;
}

export function providerSpec(i: ProviderInput): VaultProviderSpec {
  const c = i.connection;
  if (c.skipTLSVerify)
    throw invalid(
      "VaultConnection skipTLSVerify: true is not supported by Custos (TLS is always verified); give caCertSecretRef instead",
    );
  const a = i.auth;
  const mount = a.mount;
  const headers = { ...(c.headers ?? {}), ...(a.headers ?? {}) };
  const vaultNs = i.vaultNamespace || a.namespace;
  const base: VaultProviderSpec = {
    server: c.address,
    ...(i.kv ? { path: i.kv.mount, version: i.kv.version } : {}),
    ...(vaultNs ? { namespace: vaultNs } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(i.caPem ? { caBundle: Buffer.from(i.caPem).toString("base64") } : {}),
  };
  if (!mount) throw invalid("VaultAuth spec.mount is required");
  const auth: NonNullable<VaultProviderSpec["auth"]> = a.namespace ? { namespace: a.namespace } : {};
  switch (a.method) {
    case "kubernetes": {
      const k = a.kubernetes;
      if (!k?.role || !k.serviceAccount)
        throw invalid("VaultAuth method kubernetes needs kubernetes.role and kubernetes.serviceAccount");
      // ESO's Kubernetes auth: the same login (auth/<mount>/login with role and a token minted
      // for the ServiceAccount), so a SecretStore of the same role and ServiceAccount is the same
      // identity and shares the session and the reads. The token is for the login only, so its
      // lifetime (VSO's tokenExpirationSeconds, at least 600 s) does not matter: it is 600 s.
      auth.kubernetes = {
        mountPath: mount,
        role: k.role,
        serviceAccountRef: {
          name: k.serviceAccount,
          ...(k.audiences?.length ? { audiences: k.audiences } : {}),
        },
      };
      break;
    }
    case "jwt": {
      const j = a.jwt;
      if (!j?.role) throw invalid("VaultAuth method jwt needs jwt.role");
      if (j.secretRef) auth.jwt = { path: mount, role: j.role, secretRef: { name: j.secretRef, key: "jwt" } };
      else if (j.serviceAccount)
        auth.jwt = {
          path: mount,
          role: j.role,
          kubernetesServiceAccountToken: {
            serviceAccountRef: { name: j.serviceAccount },
            audiences: j.audiences ?? [],
            expirationSeconds: Math.max(600, j.tokenExpirationSeconds ?? 600),
          },
        };
      else throw invalid("VaultAuth method jwt needs jwt.secretRef or jwt.serviceAccount");
      break;
    }
    case "appRole": {
      const r = a.appRole;
      if (!r?.roleId) throw invalid("VaultAuth method appRole needs appRole.roleId");
      if (!r.secretRef)
        throw invalid(
          "VaultAuth appRole: only secretRef (a Secret with key `id`) is supported, not secretIDPath",
        );
      auth.appRole = { path: mount, roleId: r.roleId, secretRef: { name: r.secretRef, key: "id" } };
      break;
    }
    case "aws": {
      const w = a.aws;
      if (!w?.role) throw invalid("VaultAuth method aws needs aws.role");
      if (w.stsEndpoint || w.iamEndpoint || w.sessionName)
        throw invalid("VaultAuth aws: stsEndpoint, iamEndpoint and sessionName are not supported yet");
      auth.iam = {
        path: mount,
        vaultRole: w.role,
        ...(w.region ? { region: w.region } : {}),
        ...(w.headerValue ? { vaultAwsIamServerID: w.headerValue } : {}),
        ...(w.secretRef
          ? {
              secretRef: {
                accessKeyIDSecretRef: { name: w.secretRef, key: "access_key_id" },
                secretAccessKeySecretRef: { name: w.secretRef, key: "secret_access_key" },
              },
            }
          : w.irsaServiceAccount
            ? { jwt: { serviceAccountRef: { name: w.irsaServiceAccount } } }
            : {}),
      };
      break;
    }
    case "gcp":
      throw invalid("VaultAuth method gcp is not supported by Custos; use kubernetes, jwt, appRole or aws");
    case undefined:
      throw invalid("VaultAuth spec.method is required (kubernetes, jwt, appRole or aws)");
  }
  return { ...base, auth };
}
