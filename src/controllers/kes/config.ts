/**
 * The KES controller's settings. KES read them from its environment; Custos honours the same
 * variables as defaults, and each has an operator flag (`--kes-*`) that wins over the variable.
 */
import { CustosError } from "../../util/errors.ts";

export interface KesOptions {
  /** VAULT_ADDR (KES's default http://127.0.0.1:8200). */
  vaultAddr: string;
  /** VAULT_NAMESPACE: Vault Enterprise namespace header. */
  vaultNamespace?: string | undefined;
  /** DEFAULT_VAULT_MOUNT_POINT: auth mount when an object has no vaultMountPoint (else "kubernetes"). */
  defaultVaultMountPoint?: string | undefined;
  /** DEFAULT_VAULT_ROLE: role when an object has no vaultRole. */
  defaultVaultRole?: string | undefined;
  /** --kes-service-account NAMESPACE/NAME: whose token logs in to Vault (TokenRequest). */
  serviceAccount?: { namespace: string; name: string } | undefined;
  /** --kes-token-audiences (default ["vault"]). */
  tokenAudiences: string[];
  /** POLLER_INTERVAL_MILLISECONDS (default 10000). */
  pollIntervalMs: number;
  /** DISABLE_POLLING: sync only when the object changes. */
  disablePolling: boolean;
  /** WATCHED_NAMESPACES: empty = all. */
  watchedNamespaces: string[];
  /** INSTANCE_ID: objects are served only when spec.controllerId equals it ("" = default instance). */
  instanceId: string;
  /** ENFORCE_NAMESPACE_ANNOTATIONS: a namespace without the permitted annotations may use nothing. */
  enforceNamespaceAnnotations: boolean;
  /** ROLE_PERMITTED_ANNOTATION. */
  rolePermittedAnnotation: string;
  /** NAMING_PERMITTED_ANNOTATION. */
  namingPermittedAnnotation: string;
  /** AWS_REGION (KES's default us-west-2). */
  awsRegion: string;
  /** How often to look for the CRD while it is not installed. */
  crdPollMs: number;
}

/** The flags, as given (undefined: not given). */
export interface KesFlags {
  serviceAccount?: string | undefined;
  tokenAudiences?: string | undefined;
  vaultAddr?: string | undefined;
  vaultNamespace?: string | undefined;
  defaultVaultMountPoint?: string | undefined;
  defaultVaultRole?: string | undefined;
  pollerIntervalMs?: string | undefined;
  disablePolling?: boolean | undefined;
  watchedNamespaces?: string | undefined;
  instanceId?: string | undefined;
  enforceNamespaceAnnotations?: boolean | undefined;
  rolePermittedAnnotation?: string | undefined;
  namingPermittedAnnotation?: string | undefined;
  awsRegion?: string | undefined;
}

const invalid = (m: string): CustosError => new CustosError("CUSTOS_INVALID_SPEC", m, { retryable: false });

export function parseServiceAccount(v: string): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(v);
  if (!m) throw invalid(`--kes-service-account must be NAMESPACE/NAME, not ${JSON.stringify(v)}`);
  return { namespace: m[1]!, name: m[3]! };
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === "" ? undefined : v);
/** KES tests these variables for presence (any value, even empty, turns them on). */
const present = (v: string | undefined): boolean => v !== undefined;

export function kesOptions(flags: KesFlags, env: NodeJS.ProcessEnv = process.env): KesOptions {
  const interval = flags.pollerIntervalMs ?? env.POLLER_INTERVAL_MILLISECONDS ?? "10000";
  const pollIntervalMs = Number(interval);
  if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 1)
    throw invalid(
      `poller interval must be a positive number of milliseconds, not ${JSON.stringify(interval)}`,
    );
  const sa = nonEmpty(flags.serviceAccount);
  const audiences = (flags.tokenAudiences ?? "vault")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    vaultAddr: nonEmpty(flags.vaultAddr) ?? nonEmpty(env.VAULT_ADDR) ?? "http://127.0.0.1:8200",
    vaultNamespace: nonEmpty(flags.vaultNamespace) ?? nonEmpty(env.VAULT_NAMESPACE),
    defaultVaultMountPoint: nonEmpty(flags.defaultVaultMountPoint) ?? nonEmpty(env.DEFAULT_VAULT_MOUNT_POINT),
    defaultVaultRole: nonEmpty(flags.defaultVaultRole) ?? nonEmpty(env.DEFAULT_VAULT_ROLE),
    serviceAccount: sa ? parseServiceAccount(sa) : undefined,
    tokenAudiences: audiences.length ? audiences : ["vault"],
    pollIntervalMs,
    disablePolling: flags.disablePolling === true || present(env.DISABLE_POLLING),
    watchedNamespaces: (flags.watchedNamespaces ?? env.WATCHED_NAMESPACES ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    instanceId: flags.instanceId ?? env.INSTANCE_ID ?? "",
    enforceNamespaceAnnotations:
      flags.enforceNamespaceAnnotations === true || present(env.ENFORCE_NAMESPACE_ANNOTATIONS),
    rolePermittedAnnotation:
      nonEmpty(flags.rolePermittedAnnotation) ??
      nonEmpty(env.ROLE_PERMITTED_ANNOTATION) ??
      "iam.amazonaws.com/permitted",
    namingPermittedAnnotation:
      nonEmpty(flags.namingPermittedAnnotation) ??
      nonEmpty(env.NAMING_PERMITTED_ANNOTATION) ??
      "externalsecrets.kubernetes-client.io/permitted-key-name",
    awsRegion: nonEmpty(flags.awsRegion) ?? nonEmpty(env.AWS_REGION) ?? "us-west-2",
    crdPollMs: 30_000,
  };
}
