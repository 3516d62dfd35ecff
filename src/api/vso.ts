/**
 * The Vault Secrets Operator resources (`secrets.hashicorp.com/v1beta1`) with VSO's field names,
 * so existing VaultConnection / VaultAuth / VaultStaticSecret ... manifests apply unchanged.
 * Defaults are applied in code (src/controllers/vso/), not by the API server, so GitOps tools see
 * no drift.
 */
import { Type, type Static, type TObject, type TSchema } from "@sinclair/typebox";
import { crd, type JsonSchema } from "./crd.ts";

export const VSO_GROUP = "secrets.hashicorp.com";
export const VSO_VERSION = "v1beta1";

const S = Type.String();
const opt = <T extends TSchema>(t: T) => Type.Optional(t);
const strMap = Type.Record(Type.String(), Type.String());
const strList = Type.Array(Type.String());

const Condition = Type.Object({
  type: S,
  status: S,
  reason: opt(S),
  message: opt(S),
  lastTransitionTime: opt(S),
  observedGeneration: opt(Type.Integer()),
});

export const VaultConnectionSpec = Type.Object({
  address: S,
  headers: opt(strMap),
  tlsServerName: opt(S),
  caCertSecretRef: opt(S),
  caCertPath: opt(S),
  skipTLSVerify: opt(Type.Boolean()),
  timeout: opt(S),
});

const KubernetesAuth = Type.Object({
  role: S,
  serviceAccount: S,
  audiences: opt(strList),
  tokenExpirationSeconds: opt(Type.Integer({ minimum: 600 })),
});
const JwtAuth = Type.Object({
  role: S,
  secretRef: opt(S),
  serviceAccount: opt(S),
  audiences: opt(strList),
  tokenExpirationSeconds: opt(Type.Integer({ minimum: 600 })),
});
const AppRoleAuth = Type.Object({ roleId: S, secretRef: opt(S), secretIDPath: opt(S) });
const AwsAuth = Type.Object({
  role: S,
  region: opt(S),
  headerValue: opt(S),
  sessionName: opt(S),
  stsEndpoint: opt(S),
  iamEndpoint: opt(S),
  secretRef: opt(S),
  irsaServiceAccount: opt(S),
});
const GcpAuth = Type.Object({
  role: S,
  workloadIdentityServiceAccount: S,
  region: opt(S),
  clusterName: opt(S),
  projectID: opt(S),
});
const MergeStrategy = Type.Object({
  headers: opt(Type.Union([Type.Literal("union"), Type.Literal("replace"), Type.Literal("none")])),
  params: opt(Type.Union([Type.Literal("union"), Type.Literal("replace"), Type.Literal("none")])),
});
const Method = Type.Union([
  Type.Literal("kubernetes"),
  Type.Literal("jwt"),
  Type.Literal("appRole"),
  Type.Literal("aws"),
  Type.Literal("gcp"),
]);

const methodBlocks = {
  kubernetes: opt(KubernetesAuth),
  jwt: opt(JwtAuth),
  appRole: opt(AppRoleAuth),
  aws: opt(AwsAuth),
  gcp: opt(GcpAuth),
};

export const VaultAuthSpec = Type.Object({
  vaultConnectionRef: opt(S),
  vaultAuthGlobalRef: opt(
    Type.Object({
      name: opt(S),
      namespace: opt(S),
      allowDefault: opt(Type.Boolean()),
      mergeStrategy: opt(MergeStrategy),
    }),
  ),
  namespace: opt(S),
  allowedNamespaces: opt(strList),
  method: opt(Method),
  mount: opt(S),
  params: opt(strMap),
  headers: opt(strMap),
  storageEncryption: opt(Type.Object({ mount: S, keyName: S })),
  ...methodBlocks,
});

/** A method block of a VaultAuthGlobal: the method's fields plus its own namespace, mount, params, headers. */
const globalBlock = (t: TObject) =>
  opt(
    Type.Object({
      ...Type.Partial(t).properties,
      namespace: opt(S),
      mount: opt(S),
      params: opt(strMap),
      headers: opt(strMap),
    }),
  );

export const VaultAuthGlobalSpec = Type.Object({
  allowedNamespaces: opt(strList),
  vaultConnectionRef: opt(S),
  defaultVaultNamespace: opt(S),
  defaultAuthMethod: opt(Method),
  defaultMount: opt(S),
  params: opt(strMap),
  headers: opt(strMap),
  kubernetes: globalBlock(KubernetesAuth),
  jwt: globalBlock(JwtAuth),
  appRole: globalBlock(AppRoleAuth),
  aws: globalBlock(AwsAuth),
  gcp: globalBlock(GcpAuth),
});

const Transformation = Type.Object({
  templates: opt(Type.Record(Type.String(), Type.Object({ name: opt(S), text: S }))),
  transformationRefs: opt(
    Type.Array(
      Type.Object({
        namespace: opt(S),
        name: S,
        templateRefs: opt(Type.Array(Type.Object({ name: S, keyOverride: opt(S) }))),
        ignoreIncludes: opt(Type.Boolean()),
        ignoreExcludes: opt(Type.Boolean()),
      }),
    ),
  ),
  includes: opt(strList),
  excludes: opt(strList),
  excludeRaw: opt(Type.Boolean()),
});

const Destination = Type.Object({
  name: S,
  create: opt(Type.Boolean()),
  overwrite: opt(Type.Boolean()),
  labels: opt(strMap),
  annotations: opt(strMap),
  type: opt(S),
  transformation: opt(Transformation),
});

const RolloutTarget = Type.Object({
  kind: Type.Union([
    Type.Literal("Deployment"),
    Type.Literal("DaemonSet"),
    Type.Literal("StatefulSet"),
    Type.Literal("argo.Rollout"),
  ]),
  name: S,
});

export const VaultStaticSecretSpec = Type.Object({
  vaultAuthRef: opt(S),
  namespace: opt(S),
  mount: S,
  path: S,
  version: opt(Type.Integer({ minimum: 0 })),
  type: Type.Union([Type.Literal("kv-v1"), Type.Literal("kv-v2")]),
  refreshAfter: opt(Type.String({ pattern: "^([0-9]+(\\.[0-9]+)?(s|m|h))$" })),
  hmacSecretData: opt(Type.Boolean()),
  rolloutRestartTargets: opt(Type.Array(RolloutTarget)),
  destination: Destination,
  syncConfig: opt(Type.Object({ instantUpdates: opt(Type.Boolean()) })),
});

export const VaultDynamicSecretSpec = Type.Object({
  vaultAuthRef: opt(S),
  namespace: opt(S),
  mount: S,
  path: S,
  requestHTTPMethod: opt(Type.Union([Type.Literal("GET"), Type.Literal("POST"), Type.Literal("PUT")])),
  params: opt(strMap),
  renewalPercent: opt(Type.Integer({ minimum: 0, maximum: 90 })),
  revoke: opt(Type.Boolean()),
  allowStaticCreds: opt(Type.Boolean()),
  refreshAfter: opt(S),
  rolloutRestartTargets: opt(Type.Array(RolloutTarget)),
  destination: Destination,
});

export const VaultPKISecretSpec = Type.Object({
  vaultAuthRef: opt(S),
  namespace: opt(S),
  mount: S,
  role: S,
  revoke: opt(Type.Boolean()),
  clear: opt(Type.Boolean()),
  expiryOffset: opt(S),
  issuerRef: opt(S),
  commonName: opt(S),
  altNames: opt(strList),
  ipSans: opt(strList),
  uriSans: opt(strList),
  otherSans: opt(strList),
  userIDs: opt(strList),
  ttl: opt(S),
  format: opt(S),
  privateKeyFormat: opt(S),
  notAfter: opt(S),
  excludeCNFromSans: opt(Type.Boolean()),
  rolloutRestartTargets: opt(Type.Array(RolloutTarget)),
  destination: Destination,
});

export const SecretTransformationSpec = Type.Object({
  templates: opt(Type.Record(Type.String(), Type.Object({ name: opt(S), text: S }))),
  sourceTemplates: opt(Type.Array(Type.Object({ name: opt(S), text: S }))),
  includes: opt(strList),
  excludes: opt(strList),
});

const validStatus = Type.Object({
  valid: opt(Type.Boolean()),
  error: opt(S),
  specHash: opt(S),
  conditions: opt(Type.Array(Condition)),
});

export const VaultStaticSecretStatus = Type.Object({
  lastGeneration: opt(Type.Integer()),
  secretMAC: opt(S),
  vaultClientMeta: opt(Type.Object({ cacheKey: opt(S), id: opt(S) })),
  conditions: opt(Type.Array(Condition)),
});

export const VaultDynamicSecretStatus = Type.Object({
  lastGeneration: opt(Type.Integer()),
  lastRenewalTime: opt(Type.Integer()),
  lastRuntimePodUID: opt(S),
  secretMAC: opt(S),
  secretLease: opt(
    Type.Object({
      id: opt(S),
      duration: opt(Type.Integer()),
      renewable: opt(Type.Boolean()),
      requestID: opt(S),
    }),
  ),
  staticCredsMetaData: opt(Type.Object({}, { additionalProperties: true })),
  vaultClientMeta: opt(Type.Object({ cacheKey: opt(S), id: opt(S) })),
  conditions: opt(Type.Array(Condition)),
});

export const VaultPKISecretStatus = Type.Object({
  lastGeneration: opt(Type.Integer()),
  lastRotation: opt(Type.Integer()),
  secretMAC: opt(S),
  serialNumber: opt(S),
  valid: opt(Type.Boolean()),
  error: opt(S),
  conditions: opt(Type.Array(Condition)),
});

export type VaultConnectionSpecT = Static<typeof VaultConnectionSpec>;
export type VaultAuthSpecT = Static<typeof VaultAuthSpec>;
export type VaultAuthGlobalSpecT = Static<typeof VaultAuthGlobalSpec>;
export type VaultStaticSecretSpecT = Static<typeof VaultStaticSecretSpec>;
export type VaultDynamicSecretSpecT = Static<typeof VaultDynamicSecretSpec>;
export type VaultPKISecretSpecT = Static<typeof VaultPKISecretSpec>;
export type SecretTransformationSpecT = Static<typeof SecretTransformationSpec>;
export type VsoCondition = Static<typeof Condition>;

const statusCols = [
  { name: "Synced", type: "string", jsonPath: `.status.conditions[?(@.type=="SecretSynced")].status` },
  { name: "Healthy", type: "string", jsonPath: `.status.conditions[?(@.type=="Healthy")].status` },
  { name: "Ready", type: "string", jsonPath: `.status.conditions[?(@.type=="Ready")].status` },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

const kinds: [string, string, TSchema, TSchema][] = [
  ["VaultConnection", "vaultconnections", VaultConnectionSpec, validStatus],
  ["VaultAuth", "vaultauths", VaultAuthSpec, validStatus],
  ["VaultAuthGlobal", "vaultauthglobals", VaultAuthGlobalSpec, validStatus],
  ["VaultStaticSecret", "vaultstaticsecrets", VaultStaticSecretSpec, VaultStaticSecretStatus],
  ["VaultDynamicSecret", "vaultdynamicsecrets", VaultDynamicSecretSpec, VaultDynamicSecretStatus],
  ["VaultPKISecret", "vaultpkisecrets", VaultPKISecretSpec, VaultPKISecretStatus],
  ["SecretTransformation", "secrettransformations", SecretTransformationSpec, validStatus],
];

/** File name -> CRD, for scripts/generate-crds.ts. */
export const VSO_CRDS: Record<string, JsonSchema> = Object.fromEntries(
  kinds.map(([kind, plural, spec, status]) => [
    `${VSO_GROUP}_${plural}.yaml`,
    crd({
      group: VSO_GROUP,
      kind,
      plural,
      scope: "Namespaced",
      versions: [VSO_VERSION],
      spec,
      status,
      printerColumns: statusCols,
    }),
  ]),
);
