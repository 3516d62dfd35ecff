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
  return out;
}
