/**
 * `spec.provider.vault`, with ESO's field names. No server-side defaults: defaults are applied in
 * code (`path`-less KV v2, auth mount paths), so GitOps tools see no drift.
 */
import { Type, type Static } from "@sinclair/typebox";
import { AwsJwtAuth, AwsKeysRef } from "../aws/schema.ts";

const SecretKeySelector = Type.Object({
  name: Type.String(),
  key: Type.Optional(Type.String()),
  namespace: Type.Optional(Type.String()),
});

const ServiceAccountSelector = Type.Object({
  name: Type.String(),
  namespace: Type.Optional(Type.String()),
  audiences: Type.Optional(Type.Array(Type.String())),
});

export const VaultProviderSchema = Type.Object({
  server: Type.String(),
  path: Type.Optional(Type.String()),
  version: Type.Optional(Type.Union([Type.Literal("v1"), Type.Literal("v2")])),
  namespace: Type.Optional(Type.String()),
  caBundle: Type.Optional(Type.String()),
  caProvider: Type.Optional(
    Type.Object({
      type: Type.Union([Type.Literal("Secret"), Type.Literal("ConfigMap")]),
      name: Type.String(),
      key: Type.String(),
      namespace: Type.Optional(Type.String()),
    }),
  ),
  tls: Type.Optional(
    Type.Object({
      certSecretRef: Type.Optional(SecretKeySelector),
      keySecretRef: Type.Optional(SecretKeySelector),
    }),
  ),
  readYourWrites: Type.Optional(Type.Boolean()),
  forwardInconsistent: Type.Optional(Type.Boolean()),
  headers: Type.Optional(Type.Record(Type.String(), Type.String())),
  checkAndSet: Type.Optional(Type.Object({ required: Type.Optional(Type.Boolean()) })),
  auth: Type.Optional(
    Type.Object({
      namespace: Type.Optional(Type.String()),
      tokenSecretRef: Type.Optional(SecretKeySelector),
      appRole: Type.Optional(
        Type.Object({
          path: Type.Optional(Type.String()),
          roleId: Type.Optional(Type.String()),
          roleRef: Type.Optional(SecretKeySelector),
          secretRef: SecretKeySelector,
        }),
      ),
      kubernetes: Type.Optional(
        Type.Object({
          mountPath: Type.Optional(Type.String()),
          role: Type.String(),
          serviceAccountRef: Type.Optional(ServiceAccountSelector),
          secretRef: Type.Optional(SecretKeySelector),
        }),
      ),
      jwt: Type.Optional(
        Type.Object({
          path: Type.Optional(Type.String()),
          role: Type.Optional(Type.String()),
          secretRef: Type.Optional(SecretKeySelector),
          kubernetesServiceAccountToken: Type.Optional(
            Type.Object({
              serviceAccountRef: ServiceAccountSelector,
              audiences: Type.Optional(Type.Array(Type.String())),
              expirationSeconds: Type.Optional(Type.Integer()),
            }),
          ),
        }),
      ),
      userPass: Type.Optional(
        Type.Object({
          path: Type.Optional(Type.String()),
          username: Type.String(),
          secretRef: Type.Optional(SecretKeySelector),
        }),
      ),
      ldap: Type.Optional(
        Type.Object({
          path: Type.Optional(Type.String()),
          username: Type.String(),
          secretRef: Type.Optional(SecretKeySelector),
        }),
      ),
      cert: Type.Optional(
        Type.Object(
          {
            path: Type.Optional(Type.String()),
            clientCert: Type.Optional(SecretKeySelector),
            secretRef: Type.Optional(SecretKeySelector),
          },
          { additionalProperties: true },
        ),
      ),
      iam: Type.Optional(
        Type.Object(
          {
            path: Type.Optional(Type.String()),
            region: Type.Optional(Type.String()),
            role: Type.Optional(Type.String()),
            vaultRole: Type.Optional(Type.String()),
            externalID: Type.Optional(Type.String()),
            vaultAwsIamServerID: Type.Optional(Type.String()),
            secretRef: Type.Optional(AwsKeysRef),
            jwt: Type.Optional(AwsJwtAuth),
          },
          { additionalProperties: true },
        ),
      ),
      gcp: Type.Optional(Type.Object({}, { additionalProperties: true })),
    }),
  ),
});

export type VaultProviderSpec = Static<typeof VaultProviderSchema>;
export type SecretKeyRef = Static<typeof SecretKeySelector>;
export type ServiceAccountRef = Static<typeof ServiceAccountSelector>;
