/**
 * Drop-in for hashicorp/vault-csi-provider: its SecretProviderClass parameters, answered on
 * `vault.sock`, logged in with Vault's Kubernetes auth as the pod (the token the driver passes for
 * `audience`, default `vault`).
 *
 *   roleName (required), vaultAddress (else --vault-addr / VAULT_ADDR), vaultNamespace,
 *   vaultKubernetesMountPath or vaultAuthMountPath (else --vault-mount, default kubernetes),
 *   vaultCACertPath, audience, objects: [{objectName, secretPath, secretKey, encoding, filePermission}]
 *
 * `secretPath` is Vault's API path (`secret/data/app` for KV v2, a `?version=N` query kept).
 * `secretKey` is looked up in `data.data` when present (KV v2), else in `data`; strings as they
 * are, other values as JSON. Without `secretKey` the file holds the secret's data as JSON (the
 * upstream provider writes Vault's whole response, lease fields included). Requests other than
 * GET (`method`, `secretArgs`: dynamic secrets, PKI) and the client-TLS parameters are refused
 * with a message rather than ignored.
 */
import type { RemoteKey, RemoteSecret } from "../../providers/types.ts";
import { CustosError } from "../../util/errors.ts";
import { goJsonMarshal } from "../../util/gojson.ts";
import { pickAudience } from "../attributes.ts";
import { checkFilePath, invalid } from "../files.ts";
import { podIdentitySpec } from "../identity.ts";
import type { BindingPlan, ObjectPlan, PlannedFile } from "../plan.ts";
import { fileMode, goBool, goYaml, isObj, str } from "./common.ts";
import type { Dialect, DialectEnv } from "./types.ts";
import type { MountInput } from "../attributes.ts";

export interface VaultObject {
  objectName: string;
  /** Path without `/v1/` and query. */
  path: string;
  version?: string | undefined;
  kv2: boolean;
  secretKey?: string | undefined;
  encoding: "utf-8" | "base64" | "hex";
  mode: number;
}

export interface VaultParams {
  roleName: string;
  vaultAddress: string;
  vaultNamespace?: string | undefined;
  mountPath: string;
  caCertPath?: string | undefined;
  audience: string;
  objects: VaultObject[];
}

const UNSUPPORTED = [
  "vaultCADirectory",
  "vaultTLSServerName",
  "vaultTLSClientCertPath",
  "vaultTLSClientKeyPath",
] as const;

export function parseVaultParams(
  p: Record<string, string>,
  defaultMode: number,
  env: Pick<DialectEnv, "vaultAddress" | "vaultMount">,
): VaultParams {
  const roleName = p.roleName;
  if (!roleName) throw invalid("parameter roleName is required");
  const vaultAddress = p.vaultAddress || env.vaultAddress;
  if (!vaultAddress) throw invalid("parameter vaultAddress is required (the provider has no --vault-addr)");
  if (!/^https?:\/\//.test(vaultAddress)) throw invalid("parameter vaultAddress must be an http(s) URL");
  if (p.vaultKubernetesMountPath && p.vaultAuthMountPath)
    throw invalid("set only one of vaultKubernetesMountPath and vaultAuthMountPath");
  if (goBool(p.vaultSkipTLSVerify, "vaultSkipTLSVerify"))
    throw invalid("vaultSkipTLSVerify: true is not supported: give the CA with vaultCACertPath");
  for (const k of UNSUPPORTED)
    if (p[k]) throw invalid(`parameter ${k} is not supported by the Custos vault drop-in`);
  const list = goYaml(p.objects, "objects");
  if (!Array.isArray(list) || list.length === 0)
    throw invalid("parameter objects must be a non-empty YAML list");
  const names = new Set<string>();
  const objects = list.map((o: unknown, i): VaultObject => {
    const what = `objects[${i}]`;
    if (!isObj(o)) throw invalid(`${what} must be an object`);
    const objectName = str(o, "objectName", what);
    if (!objectName) throw invalid(`${what}.objectName is required`);
    checkFilePath(objectName, what);
    if (names.has(objectName)) throw invalid(`${what}: objectName "${objectName}" is used twice`);
    names.add(objectName);
    const method = (str(o, "method", what) ?? "GET").toUpperCase();
    if (method !== "GET" || o.secretArgs !== undefined)
      throw invalid(
        `${what}: method ${method}${o.secretArgs !== undefined ? " with secretArgs" : ""} is not supported by the Custos vault drop-in (reads only)`,
      );
    let raw = str(o, "secretPath", what);
    if (!raw) throw invalid(`${what}.secretPath is required`);
    raw = raw.replace(/^\/+/, "").replace(/^v1\//, "");
    const [path = "", query] = raw.split("?", 2);
    let version: string | undefined;
    if (query !== undefined) {
      const q = new URLSearchParams(query);
      version = q.get("version") ?? undefined;
      if ([...q.keys()].some((k) => k !== "version") || (version !== undefined && !/^\d+$/.test(version)))
        throw invalid(`${what}.secretPath: only a ?version=N query is supported`);
    }
    const segs = path.split("/");
    const kv2 = segs.length > 2 && segs.indexOf("data") > 0 && segs.indexOf("data") < segs.length - 1;
    if (version !== undefined && !kv2)
      throw invalid(`${what}.secretPath: ?version needs a KV v2 path (<mount>/data/<name>)`);
    const encoding = (str(o, "encoding", what) ?? "utf-8").toLowerCase();
    if (encoding !== "utf-8" && encoding !== "base64" && encoding !== "hex")
      throw invalid(`${what}.encoding must be utf-8, base64 or hex`);
    return {
      objectName,
      path,
      version,
      kv2,
      secretKey: str(o, "secretKey", what),
      encoding,
      mode: fileMode(o.filePermission, defaultMode, what),
    };
  });
  return {
    roleName,
    vaultAddress,
    vaultNamespace: p.vaultNamespace || undefined,
    mountPath: p.vaultKubernetesMountPath || p.vaultAuthMountPath || env.vaultMount || "kubernetes",
    caCertPath: p.vaultCACertPath || undefined,
    audience: p.audience || "vault",
    objects,
  };
}

/** The bytes of one object from what Vault returned. Pure. */
export function vaultObjectBytes(o: VaultObject, secret: RemoteSecret): Uint8Array {
  if (secret.kind !== "map")
    throw new CustosError("CUSTOS_INTERNAL", `Vault returned no map for "${o.path}"`);
  let m: Record<string, unknown> = secret.value;
  // a KV v2 read through its data path is already the inner data; any other read is Vault's `data`,
  // descended into `data.data` when present as the upstream provider does
  if (!o.kv2 && isObj(m.data)) m = m.data;
  let value: Uint8Array;
  if (o.secretKey === undefined) value = Buffer.from(goJsonMarshal(m));
  else {
    if (!Object.hasOwn(m, o.secretKey))
      throw new CustosError(
        "CUSTOS_PROPERTY_NOT_FOUND",
        `${o.objectName}: key "${o.secretKey}" does not exist at the secret path ${o.path}`,
        {
          retryable: false,
        },
      );
    const v = m[o.secretKey];
    value = Buffer.from(typeof v === "string" ? v : goJsonMarshal(v));
  }
  if (o.encoding === "utf-8") return value;
  const text = Buffer.from(value).toString("utf8").trim();
  const ok =
    o.encoding === "base64"
      ? /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0
      : /^(?:[0-9a-fA-F]{2})*$/.test(text);
  if (!ok)
    throw new CustosError("CUSTOS_DECODE", `${o.objectName}: value is not valid ${o.encoding}`, {
      retryable: false,
    });
  return Buffer.from(text, o.encoding === "base64" ? "base64" : "hex");
}

export async function vaultPlan(
  input: MountInput,
  env: DialectEnv,
): Promise<{ objects: ObjectPlan[]; audiences: string[] }> {
  const params = parseVaultParams(input.parameters, input.defaultMode, env);
  const audience = pickAudience(input.tokens, params.audience, []);
  const caBundle =
    params.caCertPath && env.readFile
      ? Buffer.from(await env.readFile(params.caCertPath)).toString("base64")
      : undefined;
  if (params.caCertPath && !caBundle) throw invalid("parameter vaultCACertPath cannot be read");
  const binding = (kv2: boolean): BindingPlan => {
    const spec = {
      server: params.vaultAddress,
      version: kv2 ? "v2" : "v1",
      ...(params.vaultNamespace ? { namespace: params.vaultNamespace } : {}),
      ...(caBundle ? { caBundle } : {}),
      auth: { kubernetes: { mountPath: params.mountPath, role: params.roleName } },
    };
    return {
      provider: "vault",
      spec: podIdentitySpec("vault", spec, input.pod, audience),
      storeKind: "SecretStore",
      storeName: "vault-csi-provider",
      storeUid: "csi:vault",
    };
  };
  const bindings = { v1: binding(false), v2: binding(true) };
  const objects = params.objects.map((o): ObjectPlan => {
    const ref: RemoteKey = { key: o.path, ...(o.version ? { version: o.version } : {}) };
    return {
      id: o.objectName,
      binding: o.kv2 ? bindings.v2 : bindings.v1,
      reads: [ref],
      config: o,
      files: (results): PlannedFile[] => [
        { path: o.objectName, mode: o.mode, contents: vaultObjectBytes(o, results[0]!) },
      ],
    };
  });
  return { objects, audiences: [audience] };
}

export const vaultDialect: Dialect = {
  name: "vault",
  async plan(input, env) {
    const { objects, audiences } = await vaultPlan(input, env);
    return { plan: { objects }, audiences };
  },
};
