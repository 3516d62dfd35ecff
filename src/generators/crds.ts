/** The generator CRDs (`npm run crds`), one file per kind as ESO names them. */
import { crd, type JsonSchema } from "../api/crd.ts";
import { ClusterGeneratorSpec, GENERATOR_GROUP, GENERATOR_KINDS, GENERATOR_VERSION } from "./schema.ts";

const categories = ["external-secrets", "external-secrets-generators"];

export function generatorCrds(): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const [kind, { plural, spec }] of Object.entries(GENERATOR_KINDS))
    out[`${GENERATOR_GROUP}_${plural}.yaml`] = crd({
      group: GENERATOR_GROUP,
      kind,
      plural,
      categories,
      scope: "Namespaced",
      versions: [GENERATOR_VERSION],
      spec,
    });
  out[`${GENERATOR_GROUP}_clustergenerators.yaml`] = crd({
    group: GENERATOR_GROUP,
    kind: "ClusterGenerator",
    plural: "clustergenerators",
    categories,
    scope: "Cluster",
    versions: [GENERATOR_VERSION],
    spec: ClusterGeneratorSpec,
  });
  // ESO's record of a generator's output kept for cleanup; written by ESO's controllers, garbage
  // collected by Custos's generatorstate controller (src/controllers/generatorstate)
  out[`${GENERATOR_GROUP}_generatorstates.yaml`] = crd({
    group: GENERATOR_GROUP,
    kind: "GeneratorState",
    plural: "generatorstates",
    shortNames: ["gs"],
    categories,
    scope: "Namespaced",
    versions: [GENERATOR_VERSION],
    spec: {
      type: "object",
      required: ["resource", "state"],
      properties: {
        garbageCollectionDeadline: { type: "string", format: "date-time" },
        resource: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        state: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
      },
    },
    status: {
      type: "object",
      properties: {
        conditions: {
          type: "array",
          items: {
            type: "object",
            required: ["status", "type"],
            properties: {
              lastTransitionTime: { type: "string", format: "date-time" },
              message: { type: "string" },
              reason: { type: "string" },
              status: { type: "string" },
              type: { type: "string" },
            },
          },
        },
      },
    },
    printerColumns: [
      { name: "GC Deadline", type: "string", jsonPath: ".spec.garbageCollectionDeadline" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
    ],
  });
  return out;
}
