/**
 * JSON schemas of the external-secrets.io resources, with ESO's field names. The CRDs in
 * deploy/crds/ are generated from these (scripts/generate-crds.ts). Enumerations are validated;
 * nothing has a server-side default, so GitOps tools never see drift from injected values.
 */
import { Type, type TSchema } from "@sinclair/typebox";
import { allProviders } from "../providers/registry.ts";

const Str = Type.String();
const Opt = <T extends TSchema>(t: T) => Type.Optional(t);
const Enum = (values: string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const StringMap = Type.Record(Type.String(), Type.String());

const StoreRef = Type.Object({
  name: Type.String({ maxLength: 253 }),
  kind: Opt(Enum(["SecretStore", "ClusterSecretStore"])),
});

export const GeneratorRef = Type.Object({ apiVersion: Opt(Str), kind: Str, name: Str });
// ESO's schema: exactly one of its fields (maxProperties/minProperties 1)
const SourceRef = Type.Object(
  { storeRef: Opt(StoreRef), generatorRef: Opt(GeneratorRef) },
  { maxProperties: 1, minProperties: 1 },
);

const RemoteRef = Type.Object({
  key: Str,
  property: Opt(Str),
  version: Opt(Str),
  metadataPolicy: Opt(Enum(["None", "Fetch"])),
  conversionStrategy: Opt(Enum(["Default", "Unicode"])),
  decodingStrategy: Opt(Enum(["Auto", "Base64", "Base64URL", "None"])),
  nullBytePolicy: Opt(Enum(["Ignore", "Fail"])),
});

const Find = Type.Object({
  path: Opt(Str),
  name: Opt(Type.Object({ regexp: Opt(Str) })),
  tags: Opt(StringMap),
  conversionStrategy: Opt(Enum(["Default", "Unicode"])),
  decodingStrategy: Opt(Enum(["Auto", "Base64", "Base64URL", "None"])),
});

// ESO's schema: exactly one operation per entry (maxProperties/minProperties 1)
const Rewrite = Type.Object(
  {
    regexp: Opt(Type.Object({ source: Str, target: Str })),
    transform: Opt(Type.Object({ template: Str })),
    merge: Opt(Type.Object({}, { "x-kubernetes-preserve-unknown-fields": true })),
  },
  { maxProperties: 1, minProperties: 1 },
);

const TemplateItems = Type.Array(
  Type.Object({ key: Str, templateAs: Opt(Enum(["Values", "KeysAndValues"])) }),
);
const TemplateRef = Type.Object({ name: Str, items: Opt(TemplateItems) });

export const Template = Type.Object({
  type: Opt(Str),
  engineVersion: Opt(Enum(["v1", "v2"])),
  mergePolicy: Opt(Enum(["Replace", "Merge"])),
  metadata: Opt(
    Type.Object({ annotations: Opt(StringMap), labels: Opt(StringMap), finalizers: Opt(Type.Array(Str)) }),
  ),
  data: Opt(StringMap),
  templateFrom: Opt(
    Type.Array(
      Type.Object({
        configMap: Opt(TemplateRef),
        secret: Opt(TemplateRef),
        target: Opt(Enum(["Data", "Annotations", "Labels"])),
        literal: Opt(Str),
      }),
    ),
  ),
});

export const Condition = Type.Object({
  type: Str,
  status: Str,
  reason: Opt(Str),
  message: Opt(Str),
  lastTransitionTime: Opt(Type.String({ format: "date-time" })),
});

/**
 * What ESO's validating webhook refuses, refused by the API server itself (CRD validation rules,
 * CEL) with ESO's messages: nothing extra has to run, and an apply never fails because an
 * operator is down. validate.ts keeps the same checks for objects stored before these rules.
 * No server-side defaults: an absent deletionPolicy is ESO's default, Retain.
 */
const rule = (r: string, message: string) => ({ rule: r, message });
const TARGET_RULES = [
  rule(
    "!(has(self.deletionPolicy) && self.deletionPolicy == 'Delete' && has(self.creationPolicy) && (self.creationPolicy == 'Merge' || self.creationPolicy == 'None'))",
    "deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner",
  ),
  rule(
    "!(has(self.deletionPolicy) && self.deletionPolicy == 'Merge' && has(self.creationPolicy) && self.creationPolicy == 'None')",
    "deletionPolicy=Merge must not be used with creationPolicy=None. There is no Secret to merge with",
  ),
];
const DATA_FROM_RULES = [
  rule(
    "(has(self.extract) ? 1 : 0) + (has(self.find) ? 1 : 0) + (has(self.sourceRef) && has(self.sourceRef.generatorRef) ? 1 : 0) <= 1",
    "extract, find, or generatorRef cannot be set at the same time",
  ),
  rule(
    "has(self.extract) || has(self.find) || has(self.sourceRef)",
    "either extract, find, or sourceRef must be set to dataFrom",
  ),
  rule(
    "!has(self.sourceRef) || has(self.sourceRef.generatorRef) || has(self.sourceRef.storeRef)",
    "generatorRef or storeRef must be set when using sourceRef in dataFrom",
  ),
];
const SPEC_RULES = [
  rule(
    "(has(self.data) && size(self.data) > 0) || (has(self.dataFrom) && size(self.dataFrom) > 0)",
    "either data or dataFrom should be specified",
  ),
  // Duplicate secretKeys (refused by ESO's webhook under Retain) are reported in status only
  // (validate.ts): a linear CEL check needs two-variable comprehensions (transformMapEntry), which
  // API servers before 1.33 do not have, and they would refuse the whole CRD; a pairwise check
  // exceeds CEL's cost budget on long lists.
];

export const ExternalSecretSpec = Type.Object(
  {
    secretStoreRef: Opt(StoreRef),
    target: Opt(
      Type.Object(
        {
          name: Opt(Type.String({ maxLength: 253 })),
          creationPolicy: Opt(Enum(["Owner", "Orphan", "Merge", "None"])),
          deletionPolicy: Opt(Enum(["Delete", "Merge", "Retain"])),
          template: Opt(Template),
          immutable: Opt(Type.Boolean()),
          manifest: Opt(Type.Object({}, { "x-kubernetes-preserve-unknown-fields": true })),
        },
        { "x-kubernetes-validations": TARGET_RULES },
      ),
    ),
    refreshInterval: Opt(Str),
    refreshPolicy: Opt(Enum(["CreatedOnce", "Periodic", "OnChange"])),
    data: Opt(
      Type.Array(
        Type.Object({
          secretKey: Type.String({ pattern: "^[-._a-zA-Z0-9]+$", maxLength: 253 }),
          remoteRef: RemoteRef,
          sourceRef: Opt(SourceRef),
        }),
      ),
    ),
    dataFrom: Opt(
      Type.Array(
        Type.Object(
          {
            extract: Opt(RemoteRef),
            find: Opt(Find),
            rewrite: Opt(Type.Array(Rewrite)),
            sourceRef: Opt(SourceRef),
          },
          { "x-kubernetes-validations": DATA_FROM_RULES },
        ),
      ),
    ),
  },
  { "x-kubernetes-validations": SPEC_RULES },
);

export const ExternalSecretStatus = Type.Object({
  refreshTime: Opt(Type.Union([Type.String({ format: "date-time" }), Type.Null()])),
  syncedResourceVersion: Opt(Str),
  binding: Opt(Type.Object({ name: Opt(Str) })),
  conditions: Opt(Type.Array(Condition)),
});

export const LabelSelector = Type.Object({
  matchLabels: Opt(StringMap),
  matchExpressions: Opt(Type.Array(Type.Object({ key: Str, operator: Str, values: Opt(Type.Array(Str)) }))),
});

/** `spec.provider`: the registered providers' schemas; other providers' fields are kept as is. */
export function providerSchema(): TSchema {
  const props: Record<string, TSchema> = {};
  for (const p of allProviders()) props[p.name] = Type.Optional(p.schema);
  return Type.Object(props, {
    "x-kubernetes-preserve-unknown-fields": true,
    description:
      "Exactly one provider. Providers Custos does not support are accepted and reported in the store's Ready condition.",
  });
}

export function storeSpec(cluster: boolean): TSchema {
  return Type.Object({
    controller: Opt(Str),
    provider: providerSchema(),
    retrySettings: Opt(Type.Object({ maxRetries: Opt(Type.Integer()), retryInterval: Opt(Str) })),
    refreshInterval: Opt(Type.Integer()),
    ...(cluster
      ? {
          conditions: Opt(
            Type.Array(
              Type.Object({
                namespaceSelector: Opt(LabelSelector),
                namespaces: Opt(Type.Array(Str)),
                namespaceRegexes: Opt(Type.Array(Str)),
              }),
            ),
          ),
        }
      : {}),
  });
}

export const StoreStatus = Type.Object({
  conditions: Opt(Type.Array(Condition)),
  capabilities: Opt(Str),
});

/** ClusterExternalSecret: one ExternalSecret per selected namespace (ESO's fields). */
export const ClusterExternalSecretSpec = Type.Object({
  externalSecretSpec: ExternalSecretSpec,
  externalSecretName: Opt(Str),
  externalSecretMetadata: Opt(Type.Object({ labels: Opt(StringMap), annotations: Opt(StringMap) })),
  namespaceSelector: Opt(LabelSelector),
  namespaceSelectors: Opt(Type.Array(LabelSelector)),
  namespaces: Opt(Type.Array(Str)),
  refreshTime: Opt(Str),
});

export const ClusterExternalSecretStatus = Type.Object({
  externalSecretName: Opt(Str),
  failedNamespaces: Opt(Type.Array(Type.Object({ namespace: Str, reason: Opt(Str) }))),
  provisionedNamespaces: Opt(Type.Array(Str)),
  conditions: Opt(Type.Array(Condition)),
});
