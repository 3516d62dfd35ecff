/**
 * The contract between the sync controller and a secret store provider. A provider folder
 * (`src/providers/<name>/`) exports one `ProviderDefinition` from its index.ts; the registry keys it
 * by its `spec.provider.<name>` field. Nothing outside the folder changes when a provider is added.
 */
import type { TSchema } from "@sinclair/typebox";
import type { AwsCredentialIdentityProvider } from "@aws-sdk/types";

/** What a provider may ask of Kubernetes: reads scoped by the caller, never arbitrary access. */
export interface KubeAccess {
  /** The bytes of `data[key]` of a Secret; throws CUSTOS_MISSING_CREDENTIALS when absent. */
  secretKey(namespace: string, name: string, key: string): Promise<Uint8Array>;
  /** The value of `data[key]` of a ConfigMap; throws CUSTOS_MISSING_CREDENTIALS when absent. */
  configMapKey(namespace: string, name: string, key: string): Promise<string>;
  /** A token from TokenRequest for a ServiceAccount. */
  serviceAccountToken(
    namespace: string,
    name: string,
    audiences: string[],
    expirationSeconds: number,
  ): Promise<string>;
  /** Annotations of a ServiceAccount (for IRSA-style role annotations). */
  serviceAccountAnnotations(namespace: string, name: string): Promise<Record<string, string>>;
  /**
   * Every key of a Secret and its labels (the webhook provider's `secrets[]`, which ESO passes
   * whole to templates, and checks for the label `external-secrets.io/type: webhook`). Throws
   * CUSTOS_MISSING_CREDENTIALS when absent.
   */
  secret?(
    namespace: string,
    name: string,
  ): Promise<{ data: Record<string, Uint8Array>; labels: Record<string, string> }>;
  /**
   * The API server this process talks to and its CA: where ESO's default `kubernetes.default`
   * points in-cluster (the `kubernetes` provider without `server.url`). Not a credential.
   */
  apiServer?(): { url: string; caPem?: string | undefined };
}

/**
 * The operator's own identity: its Kubernetes service-account token and its cloud default
 * credential chains (environment, IMDS, the pod's IRSA). It can read every Secret in the cluster,
 * so it is reachable only through `StoreContext.operator`, which only the session pool sets (see
 * src/engine/operator-identity.ts), and only for stores allowed to act as the operator.
 */
export interface OperatorIdentity {
  /** The operator's own service-account token (in-cluster), if it has one. */
  kubernetesToken(): Promise<string | undefined>;
  /** The AWS SDK's default credential chain of the operator process. */
  awsCredentials(clientConfig: { region: string; endpoint?: string }): AwsCredentialIdentityProvider;
}

/** Where a store is being used from: needed to resolve referent credentials. */
export interface StoreContext {
  storeKind: "SecretStore" | "ClusterSecretStore";
  storeName: string;
  /** The store's uid: sessions never outlive a re-created store. */
  storeUid: string;
  /** Namespace of the SecretStore; for a ClusterSecretStore, the namespace of the using ExternalSecret. */
  namespace: string;
  kube: KubeAccess;
  /**
   * The operator's own identity: set for ClusterSecretStores, and for SecretStores only when the
   * platform admin allowed it (--allow-operator-identity-for-namespaced-stores). Absent: refused.
   */
  operator?: OperatorIdentity | undefined;
}

/** A reference to one remote secret, without the property (extracted by the caller). */
export interface RemoteKey {
  key: string;
  version?: string | undefined;
  metadataPolicy?: "None" | "Fetch" | undefined;
}

/**
 * A remote secret as the store returned it. `map`: a structured secret (Vault KV data, metadata);
 * `bytes`: an opaque value (AWS SecretString/SecretBinary, a parameter) that may hold JSON.
 */
export type RemoteSecret =
  | {
      kind: "map";
      value: Record<string, unknown>;
      /** The version metadata the store returned with the value (Vault KV v2), when it has any. */
      metadata?: Record<string, unknown> | undefined;
      /**
       * The exact bytes of each top-level value when `value` holds them as (possibly lossy) UTF-8
       * strings: a Kubernetes Secret's data. With it, `property` follows ESO's kubernetes provider:
       * an exact key gives its bytes, else `key.path` is a gjson path inside that key's JSON value.
       */
      raw?: Record<string, Uint8Array>;
    }
  | { kind: "bytes"; value: Uint8Array };

export interface FindQuery {
  path?: string | undefined;
  name?: { regexp: string } | undefined;
  tags?: Record<string, string> | undefined;
}

/** An authenticated connection to a store for one identity. Long-lived and shared. */
export interface Session {
  /** Reads one whole remote secret. Throws CustosError (CUSTOS_SECRET_NOT_FOUND, ...). */
  read(ref: RemoteKey): Promise<RemoteSecret>;
  /** Reads several; providers with a batch API override this (default: one read each). */
  readMany?(refs: RemoteKey[]): Promise<Map<string, RemoteSecret | Error>>;
  /** Finds secrets; returns remote key -> whole secret. */
  find(query: FindQuery): Promise<Map<string, RemoteSecret>>;
  /** Releases background work (token renewal). */
  close(): Promise<void>;
}

export interface ProviderDefinition<Spec = unknown> {
  /** The key under `spec.provider` (e.g. `vault`, `aws`). */
  readonly name: string;
  /** JSON schema of `spec.provider.<name>` for the CRD. */
  readonly schema: TSchema;
  /**
   * Problems with the spec that no retry will fix; empty when valid. With a context, also a use of
   * the operator's own identity that the context does not grant.
   */
  validate(spec: Spec, ctx?: Pick<StoreContext, "storeKind" | "operator">): string[];
  /**
   * A string naming the identity the store's credentials resolve to in this context. Two contexts
   * with the same identity share one session (one login); different identities never share
   * anything. Must include the credential-bearing namespace for referent auth.
   */
  identity(spec: Spec, ctx: StoreContext): string;
  /**
   * What gives a remote key its meaning under this spec (Vault: server, namespace, mount, KV
   * version, headers). Reads by the same identity in the same scope are shared across stores and
   * kinds (an ESO SecretStore, a KES backend, a VSO VaultAuth, a CSI volume). Absent: reads are
   * shared only within one store and spec.
   */
  readScope?(spec: Spec): string;
  /**
   * What else of the spec a session depends on besides its identity and read scope (Vault: client
   * consistency options, the login's own parameters). With readScope and sessionScope, one session
   * (one login) serves every store and kind of the same identity and scopes; without, a session
   * belongs to one store and spec.
   */
  sessionScope?(spec: Spec): string;
  /** Logs in (or prepares credentials) and returns a session. */
  connect(spec: Spec, ctx: StoreContext, deps: ProviderDeps): Promise<Session>;
}

export interface ProviderDeps {
  /** Counts calls to the store for metrics: call name and outcome. */
  recordCall(call: string, status: "success" | "error"): void;
  /** Registers a fetched secret value so no output can leak it, for as long as `owner` lives (default: the ambient owner). */
  redact(value: string | Uint8Array, owner?: object): void;
}

/**
 * One entry of a PushSecret (ESO's PushSecretData), as a provider receives it. The controller has
 * already resolved the source Secret (or generator), applied conversion and decided which entries
 * exist; the provider only writes, checks and deletes remote data.
 */
export interface PushEntry {
  /** `remoteRef.remoteKey`: the remote secret's name/path in the provider's terms. */
  remoteKey: string;
  /** `remoteRef.property`: write only this key of the remote secret (a Vault map key, a JSON field). */
  property?: string | undefined;
  /**
   * The value: one Secret key's bytes (`match.secretKey` set), or the whole Secret's data map
   * (`secretKey` absent: ESO pushes every key as one remote secret).
   */
  value: { kind: "bytes"; value: Uint8Array } | { kind: "map"; value: Record<string, Uint8Array> };
  /** `data[].metadata` as written (Vault KV v2 custom metadata, AWS tags/description, ...). */
  metadata?: unknown;
  /**
   * Replace: write when different. IfNotExists: leave an existing remote key (or property) alone.
   * Either way a remote secret that another owner manages is never overwritten (ESO's
   * `managed-by: external-secrets` marker) and a concurrent remote change is detected, not
   * clobbered (Vault KV v2 check-and-set, AWS version ids): CUSTOS_PUSH_CONFLICT.
   */
  updatePolicy: "Replace" | "IfNotExists";
}

/** What a push did. `unchanged`: the remote already held these bytes (nothing written). */
export type PushOutcome = "created" | "updated" | "unchanged" | "skipped";

/** The remote reference of a pushed entry, for existence checks and remote cleanup. */
export interface PushRef {
  remoteKey: string;
  property?: string | undefined;
}

/**
 * The write side of a session, for providers that support PushSecret. Same session, same login:
 * a store used both to read and to push logs in once.
 */
export interface PushSession {
  push(entry: PushEntry): Promise<PushOutcome>;
  /**
   * Removes what was pushed (deletionPolicy: Delete): the property, or the whole remote secret when
   * no property (or the last property) remains. Absent remote data is not an error. Never deletes
   * a remote secret this operator does not manage.
   */
  deletePushed(ref: PushRef): Promise<void>;
  /** Whether the remote key (and property, when given) exists. */
  exists(ref: PushRef): Promise<boolean>;
}

/** A session that can push. */
export function canPush(s: Session): s is Session & PushSession {
  const p = s as Partial<PushSession>;
  return (
    typeof p.push === "function" && typeof p.deletePushed === "function" && typeof p.exists === "function"
  );
}
