/**
 * `spec.provider.kubernetes`, with ESO's field names. ESO's CRD defaults (`server.url:
 * kubernetes.default`, `remoteNamespace: default`) are applied in code, not by the API server, so
 * GitOps tools see no drift.
 */
import { Type, type Static } from "@sinclair/typebox";

const SecretKeySelector = Type.Object({
  name: Type.String(),
  key: Type.Optional(Type.String()),
  namespace: Type.Optional(Type.String()),
});

export const KubernetesProviderSchema = Type.Object({
  server: Type.Optional(
    Type.Object({
      url: Type.Optional(Type.String()),
      caBundle: Type.Optional(Type.String()),
      caProvider: Type.Optional(
        Type.Object({
          type: Type.Union([Type.Literal("Secret"), Type.Literal("ConfigMap")]),
          name: Type.String(),
          key: Type.Optional(Type.String()),
          namespace: Type.Optional(Type.String()),
        }),
      ),
    }),
  ),
  auth: Type.Optional(
    Type.Object(
      {
        cert: Type.Optional(Type.Object({ clientCert: SecretKeySelector, clientKey: SecretKeySelector })),
        token: Type.Optional(Type.Object({ bearerToken: SecretKeySelector })),
        serviceAccount: Type.Optional(
          Type.Object({
            name: Type.String(),
            namespace: Type.Optional(Type.String()),
            audiences: Type.Optional(Type.Array(Type.String())),
          }),
        ),
      },
      { minProperties: 1, maxProperties: 1 },
    ),
  ),
  authRef: Type.Optional(SecretKeySelector),
  remoteNamespace: Type.Optional(
    Type.String({ minLength: 1, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" }),
  ),
});

export type KubernetesProviderSpec = Static<typeof KubernetesProviderSchema>;
export type KubeSecretKeyRef = Static<typeof SecretKeySelector>;
