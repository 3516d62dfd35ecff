/**
 * JSON schemas of PushSecret and ClusterPushSecret (`external-secrets.io/v1alpha1`), with ESO's
 * field names. The CRDs are generated from these (scripts/generate-crds.ts). As for the other
 * external-secrets.io kinds, nothing has a server-side default (GitOps tools see no drift): an
 * absent field means ESO's default, applied by the controller — refreshInterval 1h, updatePolicy
 * Replace, deletionPolicy None, conversionStrategy None, store kind SecretStore.
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { Condition, GeneratorRef, LabelSelector, Template } from "./externalsecrets.ts";

const Str = Type.String();
const Opt = <T extends TSchema>(t: T) => Type.Optional(t);
const Enum = (values: string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const StringMap = Type.Record(Type.String(), Type.String());
const DNS_NAME = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/** Any JSON (ESO's apiextensionsv1.JSON): provider-specific metadata. */
const AnyJson = Type.Unknown({ "x-kubernetes-preserve-unknown-fields": true });

export const PushSecretStoreRef = Type.Object({
  name: Opt(Type.String({ minLength: 1, maxLength: 253, pattern: DNS_NAME })),
  labelSelector: Opt(LabelSelector),
  kind: Opt(Enum(["SecretStore", "ClusterSecretStore"])),
});

const PushSecretRemoteRef = Type.Object({ remoteKey: Str, property: Opt(Str) });

export const PushSecretData = Type.Object({
  match: Type.Object({ secretKey: Opt(Str), remoteRef: PushSecretRemoteRef }),
  metadata: Opt(AnyJson),
  conversionStrategy: Opt(Enum(["None", "ReverseUnicode"])),
});

// ESO's dataTo (bulk push): accepted so its manifests apply; the controller reports it unsupported.
const PushSecretDataTo = Type.Object(
  {
    storeRef: Opt(PushSecretStoreRef),
    remoteKey: Opt(Str),
    match: Opt(Type.Object({ regexp: Opt(Str) })),
    rewrite: Opt(
      Type.Array(
        Type.Object(
          {
            regexp: Opt(Type.Object({ source: Str, target: Str })),
            transform: Opt(Type.Object({ template: Str })),
          },
          {
            "x-kubernetes-validations": [
              {
                rule: "(has(self.regexp) && !has(self.transform)) || (!has(self.regexp) && has(self.transform))",
                message: "exactly one of regexp or transform must be set",
              },
            ],
          },
        ),
      ),
    ),
    metadata: Opt(AnyJson),
    conversionStrategy: Opt(Enum(["None", "ReverseUnicode"])),
  },
  {
    "x-kubernetes-validations": [
      {
        rule: "has(self.storeRef) && (has(self.storeRef.name) || has(self.storeRef.labelSelector))",
        message: "storeRef must specify either name or labelSelector",
      },
      {
        rule: "!has(self.remoteKey) || !has(self.rewrite) || size(self.rewrite) == 0",
        message:
          "remoteKey and rewrite are mutually exclusive: rewrite is only supported in per-key mode (without remoteKey)",
      },
    ],
  },
);

export const PushSecretSpec = Type.Object({
  refreshInterval: Opt(Str),
  secretStoreRefs: Type.Array(PushSecretStoreRef),
  updatePolicy: Opt(Enum(["Replace", "IfNotExists"])),
  deletionPolicy: Opt(Enum(["Delete", "None"])),
  selector: Type.Object(
    {
      secret: Opt(
        Type.Object({
          name: Opt(Type.String({ minLength: 1, maxLength: 253, pattern: DNS_NAME })),
          selector: Opt(LabelSelector),
        }),
      ),
      generatorRef: Opt(GeneratorRef),
    },
    { minProperties: 1, maxProperties: 1 },
  ),
  data: Opt(Type.Array(PushSecretData)),
  dataTo: Opt(Type.Array(PushSecretDataTo)),
  template: Opt(Template),
});

export const PushSecretStatus = Type.Object({
  refreshTime: Opt(Type.Union([Type.String({ format: "date-time" }), Type.Null()])),
  syncedResourceVersion: Opt(Str),
  /** store ("Kind/name") -> entry ("remoteKey" or "remoteKey/property") -> the data entry pushed. */
  syncedPushSecrets: Opt(Type.Record(Type.String(), Type.Record(Type.String(), PushSecretData))),
  conditions: Opt(Type.Array(Condition)),
});

export const ClusterPushSecretSpec = Type.Object({
  pushSecretSpec: PushSecretSpec,
  refreshTime: Opt(Str),
  pushSecretName: Opt(Type.String({ minLength: 1, maxLength: 253, pattern: DNS_NAME })),
  pushSecretMetadata: Opt(Type.Object({ annotations: Opt(StringMap), labels: Opt(StringMap) })),
  namespaceSelectors: Opt(Type.Array(LabelSelector)),
});

export const ClusterPushSecretStatus = Type.Object({
  failedNamespaces: Opt(Type.Array(Type.Object({ namespace: Str, reason: Opt(Str) }))),
  provisionedNamespaces: Opt(Type.Array(Str)),
  pushSecretName: Opt(Str),
  conditions: Opt(Type.Array(Condition)),
});

export type PushSecretSpecT = Static<typeof PushSecretSpec>;
export type PushSecretDataT = Static<typeof PushSecretData>;
export type PushSecretStatusT = Static<typeof PushSecretStatus>;
export type PushSecretStoreRefT = Static<typeof PushSecretStoreRef>;
