/**
 * TypeBox schemas into Kubernetes structural OpenAPI v3 schemas: literal unions become enums,
 * nullable unions become `nullable: true`, records become `additionalProperties`, TypeBox's own
 * markers are dropped, and `x-kubernetes-*` extensions pass through.
 */
import type { TSchema } from "@sinclair/typebox";

export type JsonSchema = Record<string, unknown>;

export function toStructural(schema: TSchema | JsonSchema): JsonSchema {
  const s = schema as JsonSchema;
  const out: JsonSchema = {};
  const anyOf = s.anyOf as JsonSchema[] | undefined;
  if (anyOf) {
    const nonNull = anyOf.filter((a) => a.type !== "null");
    const nullable = nonNull.length !== anyOf.length;
    if (nonNull.every((a) => a.const !== undefined)) {
      Object.assign(out, {
        type: typeof nonNull[0]?.const === "number" ? "integer" : "string",
        enum: nonNull.map((a) => a.const),
      });
    } else if (nonNull.length === 1) {
      Object.assign(out, toStructural(nonNull[0]!));
    } else {
      Object.assign(out, { "x-kubernetes-preserve-unknown-fields": true });
    }
    if (nullable) out.nullable = true;
    copyExtras(s, out);
    return out;
  }
  if (s.const !== undefined)
    return { type: typeof s.const === "number" ? "integer" : "string", enum: [s.const] };
  if (s.type) out.type = s.type;
  copyExtras(s, out);
  if (s.type === "object") {
    const props = s.properties as Record<string, JsonSchema> | undefined;
    const pattern = s.patternProperties as Record<string, JsonSchema> | undefined;
    if (props && Object.keys(props).length) {
      out.properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, toStructural(v)]));
      if (Array.isArray(s.required) && s.required.length) out.required = s.required;
    } else if (pattern) {
      out.additionalProperties = toStructural(Object.values(pattern)[0]!);
    } else if (typeof s.additionalProperties === "object") {
      out.additionalProperties = toStructural(s.additionalProperties as JsonSchema);
    } else if (!out["x-kubernetes-preserve-unknown-fields"]) {
      out["x-kubernetes-preserve-unknown-fields"] = true;
    }
  }
  if (s.type === "array" && s.items) out.items = toStructural(s.items as JsonSchema);
  return out;
}

const EXTRAS = [
  "description",
  "format",
  "pattern",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "enum",
  "nullable",
];

function copyExtras(from: JsonSchema, to: JsonSchema): void {
  for (const k of EXTRAS) if (from[k] !== undefined) to[k] = from[k];
  for (const [k, v] of Object.entries(from)) if (k.startsWith("x-kubernetes-")) to[k] = v;
}

export interface CrdOptions {
  group: string;
  kind: string;
  plural: string;
  singular?: string;
  shortNames?: string[];
  categories?: string[];
  scope: "Namespaced" | "Cluster";
  /** Served versions; the first is stored. All share one schema. */
  versions: string[];
  spec: TSchema | JsonSchema;
  status?: TSchema | JsonSchema;
  printerColumns?: {
    name: string;
    type: string;
    jsonPath: string;
    priority?: number;
    description?: string;
  }[];
  extraProperties?: Record<string, JsonSchema>;
}

export function crd(o: CrdOptions): JsonSchema {
  const schema: JsonSchema = {
    type: "object",
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      spec: toStructural(o.spec),
      ...(o.status ? { status: toStructural(o.status) } : {}),
      ...(o.extraProperties ?? {}),
    },
  };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${o.plural}.${o.group}`, labels: { "app.kubernetes.io/part-of": "custos" } },
    spec: {
      group: o.group,
      names: {
        kind: o.kind,
        listKind: `${o.kind}List`,
        plural: o.plural,
        singular: o.singular ?? o.kind.toLowerCase(),
        ...(o.shortNames ? { shortNames: o.shortNames } : {}),
        ...(o.categories ? { categories: o.categories } : {}),
      },
      scope: o.scope,
      versions: o.versions.map((name, i) => ({
        name,
        served: true,
        storage: i === 0,
        schema: { openAPIV3Schema: schema },
        ...(o.status ? { subresources: { status: {} } } : {}),
        ...(o.printerColumns ? { additionalPrinterColumns: o.printerColumns } : {}),
      })),
    },
  };
}
