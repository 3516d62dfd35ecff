/**
 * `generators.external-secrets.io/v1alpha1` kinds Custos serves, with ESO's field names. ESO's
 * CRD defaults (`length: 24`, `encoding: raw`, ...) are applied in code: no server-side defaults.
 */
import { Type, type Static } from "@sinclair/typebox";
import { WebhookProviderSchema } from "../providers/webhook/schema.ts";
import { VaultProviderSchema } from "../providers/vault/schema.ts";
import { AwsProviderSchema } from "../providers/aws/schema.ts";

export const GENERATOR_GROUP = "generators.external-secrets.io";
export const GENERATOR_VERSION = "v1alpha1";

export const PasswordSpec = Type.Object({
  length: Type.Optional(Type.Integer()),
  digits: Type.Optional(Type.Integer()),
  symbols: Type.Optional(Type.Integer()),
  symbolCharacters: Type.Optional(Type.String()),
  noUpper: Type.Optional(Type.Boolean()),
  allowRepeat: Type.Optional(Type.Boolean()),
  secretKeys: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
  encoding: Type.Optional(
    Type.Union([
      Type.Literal("base64"),
      Type.Literal("base64url"),
      Type.Literal("base32"),
      Type.Literal("hex"),
      Type.Literal("raw"),
    ]),
  ),
});

export const UUIDSpec = Type.Object({}, { additionalProperties: true });

export const SSHKeySpecSchema = Type.Object({
  keyType: Type.Optional(Type.Union([Type.Literal("rsa"), Type.Literal("ecdsa"), Type.Literal("ed25519")])),
  keySize: Type.Optional(Type.Integer({ minimum: 256, maximum: 8192 })),
  comment: Type.Optional(Type.String()),
});

export const VaultDynamicSecretSpecSchema = Type.Object({
  controller: Type.Optional(Type.String()),
  method: Type.Optional(Type.String()),
  parameters: Type.Optional(Type.Object({}, { additionalProperties: true })),
  resultType: Type.Optional(Type.Union([Type.Literal("Data"), Type.Literal("Auth"), Type.Literal("Raw")])),
  provider: VaultProviderSchema,
  path: Type.String(),
  allowEmptyResponse: Type.Optional(Type.Boolean()),
  retrySettings: Type.Optional(Type.Object({}, { additionalProperties: true })),
});

export const STSSessionTokenSpecSchema = Type.Object({
  region: Type.String(),
  role: Type.Optional(Type.String()),
  auth: Type.Optional(AwsProviderSchema.properties.auth),
  requestParameters: Type.Optional(
    Type.Object({
      sessionDuration: Type.Optional(Type.Integer()),
      serialNumber: Type.Optional(Type.String()),
      tokenCode: Type.Optional(Type.String()),
    }),
  ),
});

export const ECRAuthorizationTokenSpecSchema = Type.Object({
  region: Type.String(),
  role: Type.Optional(Type.String()),
  auth: Type.Optional(AwsProviderSchema.properties.auth),
  scope: Type.Optional(Type.String()),
});

export const FakeSpec = Type.Object({
  controller: Type.Optional(Type.String()),
  data: Type.Optional(Type.Record(Type.String(), Type.String())),
});

/** ClusterGenerator: a kind and that kind's spec under `generator.<kind>Spec`. */
export const ClusterGeneratorSpec = Type.Object({
  kind: Type.String(),
  generator: Type.Object(
    {
      passwordSpec: Type.Optional(PasswordSpec),
      uuidSpec: Type.Optional(UUIDSpec),
      fakeSpec: Type.Optional(FakeSpec),
      webhookSpec: Type.Optional(WebhookProviderSchema),
      sshKeySpec: Type.Optional(SSHKeySpecSchema),
      vaultDynamicSecretSpec: Type.Optional(VaultDynamicSecretSpecSchema),
      stsSessionTokenSpec: Type.Optional(STSSessionTokenSpecSchema),
      ecrAuthorizationTokenSpec: Type.Optional(ECRAuthorizationTokenSpecSchema),
    },
    // ESO's other generator kinds are accepted and reported as unsupported when used
    { additionalProperties: true },
  ),
});

export type PasswordSpecT = Static<typeof PasswordSpec>;
export type FakeSpecT = Static<typeof FakeSpec>;
export type ClusterGeneratorSpecT = Static<typeof ClusterGeneratorSpec>;

/** Namespaced kinds served, by kind: plural and spec schema (for CRDs and RBAC). */
export const GENERATOR_KINDS = {
  Password: { plural: "passwords", spec: PasswordSpec },
  UUID: { plural: "uuids", spec: UUIDSpec },
  Fake: { plural: "fakes", spec: FakeSpec },
  // ESO's WebhookSpec is the webhook provider's spec
  Webhook: { plural: "webhooks", spec: WebhookProviderSchema },
  SSHKey: { plural: "sshkeys", spec: SSHKeySpecSchema },
  VaultDynamicSecret: { plural: "vaultdynamicsecrets", spec: VaultDynamicSecretSpecSchema },
  STSSessionToken: { plural: "stssessiontokens", spec: STSSessionTokenSpecSchema },
  ECRAuthorizationToken: { plural: "ecrauthorizationtokens", spec: ECRAuthorizationTokenSpecSchema },
} as const;
export type GeneratorKind = keyof typeof GENERATOR_KINDS;
