/** `spec.provider.webhook`, with ESO's field names; no server-side defaults. */
import { Type, type Static } from "@sinclair/typebox";

const SecretKeySelector = Type.Object({
  name: Type.String(),
  key: Type.Optional(Type.String()),
  namespace: Type.Optional(Type.String()),
});

export const WebhookProviderSchema = Type.Object({
  method: Type.Optional(Type.String()),
  url: Type.String(),
  headers: Type.Optional(Type.Record(Type.String(), Type.String())),
  auth: Type.Optional(
    Type.Object({
      ntlm: Type.Optional(
        Type.Object({ usernameSecret: SecretKeySelector, passwordSecret: SecretKeySelector }),
      ),
    }),
  ),
  body: Type.Optional(Type.String()),
  timeout: Type.Optional(Type.String()),
  result: Type.Optional(Type.Object({ jsonPath: Type.Optional(Type.String()) })),
  secrets: Type.Optional(Type.Array(Type.Object({ name: Type.String(), secretRef: SecretKeySelector }))),
  caBundle: Type.Optional(Type.String()),
  caProvider: Type.Optional(
    Type.Object({
      type: Type.Union([Type.Literal("Secret"), Type.Literal("ConfigMap")]),
      name: Type.String(),
      key: Type.Optional(Type.String()),
      namespace: Type.Optional(Type.String()),
    }),
  ),
});

export type WebhookProviderSpec = Static<typeof WebhookProviderSchema>;
