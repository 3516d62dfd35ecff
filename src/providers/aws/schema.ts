/** `spec.provider.aws`, with ESO's field names and no server-side defaults. */
import { Type, type Static } from "@sinclair/typebox";

const SecretKeySelector = Type.Object({
  name: Type.String(),
  key: Type.Optional(Type.String()),
  namespace: Type.Optional(Type.String()),
});

/** Static keys in a Secret; also used by Vault's aws (IAM) auth method. */
export const AwsKeysRef = Type.Object({
  accessKeyIDSecretRef: Type.Optional(SecretKeySelector),
  secretAccessKeySecretRef: Type.Optional(SecretKeySelector),
  sessionTokenSecretRef: Type.Optional(SecretKeySelector),
});

/** Web identity for a ServiceAccount (IRSA); also used by Vault's aws (IAM) auth method. */
export const AwsJwtAuth = Type.Object({
  serviceAccountRef: Type.Optional(
    Type.Object({
      name: Type.String(),
      namespace: Type.Optional(Type.String()),
      audiences: Type.Optional(Type.Array(Type.String())),
    }),
  ),
});

export const AwsProviderSchema = Type.Object({
  service: Type.Union([Type.Literal("SecretsManager"), Type.Literal("ParameterStore")]),
  region: Type.Optional(Type.String()),
  role: Type.Optional(Type.String()),
  additionalRoles: Type.Optional(Type.Array(Type.String())),
  externalID: Type.Optional(Type.String()),
  sessionTags: Type.Optional(Type.Array(Type.Object({ key: Type.String(), value: Type.String() }))),
  transitiveTagKeys: Type.Optional(Type.Array(Type.String())),
  prefix: Type.Optional(Type.String()),
  secretsManager: Type.Optional(
    Type.Object({
      forceDeleteWithoutRecovery: Type.Optional(Type.Boolean()),
      recoveryWindowInDays: Type.Optional(Type.Integer()),
    }),
  ),
  auth: Type.Optional(Type.Object({ secretRef: Type.Optional(AwsKeysRef), jwt: Type.Optional(AwsJwtAuth) })),
});

export type AwsProviderSpec = Static<typeof AwsProviderSchema>;
