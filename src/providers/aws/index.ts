/**
 * The AWS provider (`spec.provider.aws`): Secrets Manager and SSM Parameter Store, with cached
 * (assumed-role) credentials and batched reads. Endpoints follow the SDK's standard variables
 * (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL_STS)
 * set on the operator: emulators and private endpoints need no change to the manifests.
 */
import type { ProviderDefinition, StoreContext } from "../types.ts";
import { CustosError } from "../../util/errors.ts";
import { chainUse, credentialsFor, refNamespace } from "./credentials.ts";
import { assertIdentityAllowed, identityProblems, type OperatorIdentityUse } from "../operator.ts";
import { AwsProviderSchema, type AwsProviderSpec } from "./schema.ts";

function regionOf(spec: AwsProviderSpec): string {
  const region = spec.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region)
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      "spec.provider.aws.region is required (or AWS_REGION on the operator)",
      { retryable: false },
    );
  return region;
}

function identity(spec: AwsProviderSpec, ctx: StoreContext): string {
  const sr = spec.auth?.secretRef;
  const ref = (
    r: { name: string; key?: string | undefined; namespace?: string | undefined } | undefined,
  ): string => (r ? `${refNamespace(r, ctx)}/${r.name}/${r.key ?? ""}` : "");
  const jwt = spec.auth?.jwt?.serviceAccountRef;
  const source = sr
    ? `keys:${ref(sr.accessKeyIDSecretRef)}:${ref(sr.secretAccessKeySecretRef)}:${ref(sr.sessionTokenSecretRef)}`
    : jwt
      ? `irsa:${refNamespace(jwt, ctx)}/${jwt.name}/${(jwt.audiences ?? []).join(",")}`
      : "default-chain";
  return [
    spec.region ?? "",
    spec.role ?? "",
    (spec.additionalRoles ?? []).join(">"),
    spec.externalID ?? "",
    source,
  ].join("|");
}

const operatorUses = (spec: AwsProviderSpec): OperatorIdentityUse[] => {
  const use = spec && typeof spec === "object" ? chainUse(spec) : undefined;
  return use ? [use] : [];
};

export const awsProvider: ProviderDefinition<AwsProviderSpec> = {
  name: "aws",
  schema: AwsProviderSchema,
  validate(spec, ctx) {
    if (!spec || typeof spec !== "object") return ["spec.provider.aws must be an object"];
    const problems: string[] = ctx ? identityProblems(operatorUses(spec), ctx) : [];
    if (spec.service !== "SecretsManager" && spec.service !== "ParameterStore")
      problems.push(`service must be SecretsManager or ParameterStore, not "${String(spec.service)}"`);
    if (
      spec.auth?.secretRef &&
      (!spec.auth.secretRef.accessKeyIDSecretRef || !spec.auth.secretRef.secretAccessKeySecretRef)
    ) {
      problems.push("auth.secretRef needs accessKeyIDSecretRef and secretAccessKeySecretRef");
    }
    return problems;
  },
  identity,
  async connect(spec, ctx, deps) {
    // before anything else: no request may leave with the operator's credentials
    assertIdentityAllowed(operatorUses(spec), ctx);
    const problems = awsProvider.validate(spec);
    if (problems.length)
      throw new CustosError("CUSTOS_INVALID_SPEC", problems.join("; "), { retryable: false });
    const region = regionOf(spec);
    const credentials = await credentialsFor(spec, ctx, deps, region);
    await credentials(); // fail early, with the cause, when the credentials do not work
    // the SDK clients load with the first AWS store, not with every operator (tens of MiB)
    const { AwsSession } = await import("./session.ts");
    return new AwsSession(spec, region, credentials, deps);
  },
};
