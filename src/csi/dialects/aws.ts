/**
 * Drop-in for aws/secrets-store-csi-driver-provider-aws: its SecretProviderClass parameters,
 * answered on `aws.sock`, with the pod's IRSA identity (the token the driver passes for
 * `sts.amazonaws.com`, the role in the ServiceAccount's `eks.amazonaws.com/role-arn` annotation).
 *
 *   region (else AWS_REGION of the provider), pathTranslation (default "_"; "False" keeps "/"),
 *   objects: [{objectName, objectType, objectAlias, objectVersion, objectVersionLabel,
 *              filePermission, jmesPath: [{path, objectAlias, filePermission}]}]
 *
 * Refused with a message: usePodIdentity (EKS Pod Identity), failoverRegion/failoverObject, and
 * JMESPath beyond plain paths (jmespath.ts).
 */
import type { RemoteKey, RemoteSecret } from "../../providers/types.ts";
import { CustosError } from "../../util/errors.ts";
import { parseJson } from "../../util/json.ts";
import { pickAudience, type MountInput } from "../attributes.ts";
import { checkFilePath, invalid } from "../files.ts";
import { podIdentitySpec } from "../identity.ts";
import type { BindingPlan, ObjectPlan, PlannedFile } from "../plan.ts";
import { fileMode, goBool, goYaml, isObj, str } from "./common.ts";
import { evalJmesPath, parseJmesPath } from "./jmespath.ts";
import type { Dialect } from "./types.ts";

export interface AwsJmes {
  path: string;
  alias: string;
  mode: number;
}

export interface AwsObject {
  /** The name or ARN asked for. */
  objectName: string;
  service: "SecretsManager" | "ParameterStore";
  /** The file name (alias, or the name with "/" translated). */
  fileName: string;
  mode: number;
  version?: string | undefined;
  jmes: AwsJmes[];
}

export interface AwsParams {
  region: string;
  objects: AwsObject[];
}

function typeOf(objectType: string | undefined, name: string, what: string): AwsObject["service"] {
  const arn = /^arn:[^:]+:(secretsmanager|ssm):/.exec(name)?.[1];
  const t = objectType?.toLowerCase();
  const given =
    t === undefined
      ? undefined
      : t === "secretsmanager"
        ? "secretsmanager"
        : t === "ssmparameter" || t === "ssm"
          ? "ssm"
          : "bad";
  if (given === "bad") throw invalid(`${what}.objectType must be secretsmanager or ssmparameter`);
  if (arn && given && arn !== given) throw invalid(`${what}: objectType does not match the ARN`);
  const kind = arn ?? given;
  if (!kind) throw invalid(`${what}.objectType is required unless objectName is an ARN`);
  return kind === "secretsmanager" ? "SecretsManager" : "ParameterStore";
}

export function parseAwsParams(
  p: Record<string, string>,
  defaultMode: number,
  fallbackRegion?: string,
): AwsParams {
  if (goBool(p.usePodIdentity, "usePodIdentity"))
    throw invalid(
      "usePodIdentity is not supported by the Custos aws drop-in: use IRSA (sts.amazonaws.com tokens)",
    );
  if (p.failoverRegion) throw invalid("parameter failoverRegion is not supported by the Custos aws drop-in");
  const region = p.region || fallbackRegion;
  if (!region) throw invalid("parameter region is required");
  const translation = p.pathTranslation ?? "_";
  const translate = ["false", "False", "FALSE"].includes(translation) ? undefined : translation;
  if (translate !== undefined && translate.length !== 1)
    throw invalid("parameter pathTranslation must be one character or False");
  const list = goYaml(p.objects, "objects");
  if (!Array.isArray(list) || list.length === 0)
    throw invalid("parameter objects must be a non-empty YAML list");
  const files = new Set<string>();
  const claim = (name: string, what: string): string => {
    checkFilePath(name, what);
    if (files.has(name)) throw invalid(`${what}: file name "${name}" is used twice`);
    files.add(name);
    return name;
  };
  const objects = list.map((o: unknown, i): AwsObject => {
    const what = `objects[${i}]`;
    if (!isObj(o)) throw invalid(`${what} must be an object`);
    if (o.failoverObject !== undefined)
      throw invalid(`${what}.failoverObject is not supported by the Custos aws drop-in`);
    const objectName = str(o, "objectName", what);
    if (!objectName) throw invalid(`${what}.objectName is required`);
    const service = typeOf(str(o, "objectType", what), objectName, what);
    const alias = str(o, "objectAlias", what);
    const fileName = claim(
      alias ?? (translate === undefined ? objectName : objectName.replaceAll("/", translate)),
      what,
    );
    const versionId = str(o, "objectVersion", what);
    const label = str(o, "objectVersionLabel", what);
    if (versionId && label) throw invalid(`${what}: set only one of objectVersion and objectVersionLabel`);
    const version =
      service === "SecretsManager" ? (versionId ? `uuid/${versionId}` : label) : (versionId ?? label);
    const jmesRaw = o.jmesPath ?? [];
    if (!Array.isArray(jmesRaw)) throw invalid(`${what}.jmesPath must be a list`);
    const jmes = jmesRaw.map((j: unknown, k): AwsJmes => {
      const jw = `${what}.jmesPath[${k}]`;
      if (!isObj(j)) throw invalid(`${jw} must be an object`);
      const path = str(j, "path", jw);
      const jAlias = str(j, "objectAlias", jw);
      if (!path || !jAlias) throw invalid(`${jw} needs path and objectAlias`);
      parseJmesPath(path, jw);
      return { path, alias: claim(jAlias, jw), mode: fileMode(j.filePermission, defaultMode, jw) };
    });
    return {
      objectName,
      service,
      fileName,
      mode: fileMode(o.filePermission, defaultMode, what),
      version,
      jmes,
    };
  });
  return { region, objects };
}

const dec = new TextDecoder();

/** The files of one object: the value, and each jmesPath result (which must be a string). Pure. */
export function awsObjectFiles(o: AwsObject, secret: RemoteSecret): PlannedFile[] {
  const bytes = secret.kind === "bytes" ? secret.value : Buffer.from(JSON.stringify(secret.value));
  const out: PlannedFile[] = [{ path: o.fileName, mode: o.mode, contents: bytes }];
  if (o.jmes.length === 0) return out;
  let doc: unknown;
  try {
    doc = parseJson(dec.decode(bytes));
  } catch {
    throw new CustosError("CUSTOS_DECODE", `${o.objectName}: jmesPath needs a JSON value`, {
      retryable: false,
    });
  }
  for (const j of o.jmes) {
    const v = evalJmesPath(doc, parseJmesPath(j.path, o.objectName));
    if (typeof v !== "string")
      throw new CustosError(
        "CUSTOS_PROPERTY_NOT_FOUND",
        `${o.objectName}: jmesPath "${j.path}" is not a string`,
        { retryable: false },
      );
    out.push({ path: j.alias, mode: j.mode, contents: Buffer.from(v) });
  }
  return out;
}

export const awsDialect: Dialect = {
  name: "aws",
  plan(input: MountInput) {
    const params = parseAwsParams(input.parameters, input.defaultMode, process.env.AWS_REGION);
    const audience = pickAudience(input.tokens, undefined, ["sts.amazonaws.com"]);
    const binding = (service: AwsObject["service"]): BindingPlan => ({
      provider: "aws",
      spec: podIdentitySpec(
        "aws",
        {
          service,
          region: params.region,
          auth: { jwt: { serviceAccountRef: { name: input.pod.serviceAccountName } } },
        },
        input.pod,
        audience,
      ),
      storeKind: "SecretStore",
      storeName: "aws-csi-provider",
      storeUid: "csi:aws",
    });
    const bindings = { SecretsManager: binding("SecretsManager"), ParameterStore: binding("ParameterStore") };
    const objects = params.objects.map((o): ObjectPlan => {
      const ref: RemoteKey = { key: o.objectName, ...(o.version ? { version: o.version } : {}) };
      return {
        id: o.fileName,
        binding: bindings[o.service],
        reads: [ref],
        config: o,
        files: (results) => awsObjectFiles(o, results[0]!),
      };
    });
    return Promise.resolve({ plan: { objects }, audiences: [audience] });
  },
};
