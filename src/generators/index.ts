/**
 * Generators (`generators.external-secrets.io/v1alpha1`) used from an ExternalSecret's
 * `dataFrom[].sourceRef.generatorRef`: Password, UUID and Fake, namespaced (in the
 * ExternalSecret's namespace) or through a ClusterGenerator. Each sync that is due generates new
 * values (ESO's behaviour; `refreshPolicy: CreatedOnce` keeps the first). Every generated value
 * is registered with the redactor before it leaves this module.
 */
import { randomUUID } from "node:crypto";
import type { KubeApi, KubeObject } from "../kube/api.ts";
import { isNotFound, resourcePath } from "../kube/api.ts";
import { CustosError } from "../util/errors.ts";
import { redactor } from "../util/redact.ts";
import { passwords } from "./password.ts";
import {
  GENERATOR_GROUP,
  GENERATOR_KINDS,
  GENERATOR_VERSION,
  type ClusterGeneratorSpecT,
  type FakeSpecT,
  type GeneratorKind,
} from "./schema.ts";

export interface GeneratorRef {
  apiVersion?: string | undefined;
  kind: string;
  name: string;
}

/** The `generator.<x>Spec` field of a ClusterGenerator for a kind. */
const CLUSTER_FIELD: Record<GeneratorKind, string> = {
  Password: "passwordSpec",
  UUID: "uuidSpec",
  Fake: "fakeSpec",
};

const isKind = (k: string): k is GeneratorKind => Object.hasOwn(GENERATOR_KINDS, k);

function unsupported(kind: string): CustosError {
  return new CustosError(
    "CUSTOS_INVALID_SPEC",
    `generator kind "${kind}" is not supported yet (supported: ${Object.keys(GENERATOR_KINDS).join(", ")}, and ClusterGenerator of these)`,
    { retryable: false },
  );
}

/** Problems with a generatorRef that no retry fixes (for the ExternalSecret's validation). */
export function generatorRefProblem(ref: GeneratorRef | undefined): string | undefined {
  if (!ref?.name) return "generatorRef.name is required";
  if (ref.apiVersion && ref.apiVersion !== `${GENERATOR_GROUP}/${GENERATOR_VERSION}`)
    return `generatorRef.apiVersion must be ${GENERATOR_GROUP}/${GENERATOR_VERSION}`;
  if (ref.kind !== "ClusterGenerator" && !isKind(ref.kind)) return unsupported(ref.kind).message;
  return undefined;
}

/** Generates the values of one kind's spec. */
export function generate(kind: string, spec: unknown): Record<string, Uint8Array> {
  let out: Record<string, Uint8Array>;
  switch (kind) {
    case "Password":
      out = passwords(spec ?? {});
      break;
    case "UUID":
      out = { uuid: new TextEncoder().encode(randomUUID()) };
      break;
    case "Fake": {
      out = Object.create(null) as Record<string, Uint8Array>;
      for (const [k, v] of Object.entries((spec as FakeSpecT | undefined)?.data ?? {}))
        out[k] = new TextEncoder().encode(v);
      break;
    }
    default:
      throw unsupported(kind);
  }
  for (const v of Object.values(out)) if (v.length >= 4) redactor.add(v);
  return out;
}

interface GeneratorObject extends KubeObject {
  spec?: unknown;
}

/** Reads the referenced generator (namespaced ones in `namespace`) and generates its values. */
export async function runGenerator(
  api: KubeApi,
  namespace: string,
  ref: GeneratorRef,
): Promise<Record<string, Uint8Array>> {
  const problem = generatorRefProblem(ref);
  if (problem) throw new CustosError("CUSTOS_INVALID_SPEC", problem, { retryable: false });
  const cluster = ref.kind === "ClusterGenerator";
  const path = resourcePath({
    group: GENERATOR_GROUP,
    version: GENERATOR_VERSION,
    plural: cluster ? "clustergenerators" : GENERATOR_KINDS[ref.kind as GeneratorKind].plural,
    namespace: cluster ? undefined : namespace,
    name: ref.name,
  });
  let obj: GeneratorObject;
  try {
    obj = await api.get<GeneratorObject>(path);
  } catch (e) {
    if (isNotFound(e))
      throw new CustosError(
        "CUSTOS_STORE_NOT_FOUND",
        `${ref.kind} ${cluster ? "" : `${namespace}/`}${ref.name} not found`,
        { retryable: false },
      );
    throw new CustosError("CUSTOS_INTERNAL", `reading ${ref.kind} ${ref.name}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (!cluster) return generate(ref.kind, obj.spec);
  const spec = (obj.spec ?? {}) as ClusterGeneratorSpecT;
  if (!isKind(spec.kind)) throw unsupported(spec.kind);
  const inner = (spec.generator as Record<string, unknown> | undefined)?.[CLUSTER_FIELD[spec.kind]];
  if (inner === undefined && spec.kind !== "UUID")
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      `ClusterGenerator ${ref.name} of kind ${spec.kind} has no generator.${CLUSTER_FIELD[spec.kind]}`,
      { retryable: false },
    );
  return generate(spec.kind, inner);
}
