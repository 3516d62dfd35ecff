/**
 * `provider: custos` parameters. Pure.
 *
 *   parameters:
 *     secretStoreRef: '{name: vault, kind: SecretStore}'   # or ClusterSecretStore
 *     audience: vault                                      # optional: which pod token logs in
 *     objects: |
 *       - fileName: db/password                            # one file: an ExternalSecret data[] entry
 *         mode: "0400"
 *         remoteRef: { key: app/db, property: password, version: "3", decodingStrategy: Base64 }
 *       - fileName: app                                    # a directory: dataFrom.extract, one file a key
 *         extract: { key: app/config, conversionStrategy: Default }
 *       - fileName: app.env                                # a template (ESO's engine v2) over the values
 *         template: "USER={{ .user }}"                     # of data[] and dataFrom[].extract, by key
 *         data: [ { secretKey: user, remoteRef: { key: app/db, property: user } } ]
 *         dataFrom: [ { extract: { key: app/config } } ]
 *
 * Each object becomes a one-entry ExternalSecret and its bytes come from the ExternalSecret
 * controller's own extraction (data.ts: properties, gjson paths, decoding, key conversion), so a
 * file holds exactly what the same remoteRef puts into a Secret.
 */
import { parse as parseYaml } from "yaml";
import type { RemoteSecret } from "../providers/types.ts";
import { CustosError, errorMessage, isCustosError } from "../util/errors.ts";
import {
  buildSecretData,
  refId,
  remoteRefsOf,
  type FetchResults,
} from "../controllers/externalsecret/data.ts";
import {
  renderBytesForExternalSecret,
  renderForExternalSecret,
} from "../controllers/externalsecret/render.ts";
import { utf8OrBytes } from "../template/values.ts";
import { dict } from "../util/dict.ts";
import { redactor } from "../util/redact.ts";
import type { ExternalSecret, RemoteRef, StoreRef } from "../controllers/externalsecret/types.ts";
import { checkFilePath, invalid, parseMode } from "./files.ts";
import type { PlannedFile } from "./plan.ts";
import { checkName } from "./attributes.ts";

export interface CustosObject {
  fileName: string;
  mode: number;
  remoteRef?: RemoteRef;
  extract?: RemoteRef;
  /** A Go template (ESO's engine v2) over the values of `data` and `dataFrom`. */
  template?: string;
  data?: { secretKey: string; remoteRef: RemoteRef }[];
  dataFrom?: { extract: RemoteRef }[];
}

export interface CustosParams {
  storeRef: { name: string; kind: "SecretStore" | "ClusterSecretStore" };
  audience?: string | undefined;
  objects: CustosObject[];
}

const MAX_OBJECTS = 500;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const REF_FIELDS = new Set([
  "key",
  "property",
  "version",
  "metadataPolicy",
  "conversionStrategy",
  "decodingStrategy",
  "nullBytePolicy",
]);
const ENUMS: Record<string, readonly string[]> = {
  metadataPolicy: ["None", "Fetch"],
  conversionStrategy: ["Default", "Unicode"],
  decodingStrategy: ["Auto", "Base64", "Base64URL", "None"],
  nullBytePolicy: ["Ignore", "Fail"],
};

export function parseYamlParam(text: string | undefined, what: string): unknown {
  if (text === undefined || text.trim() === "") return undefined;
  try {
    return parseYaml(text, { maxAliasCount: 0 }) as unknown;
  } catch {
    throw invalid(`parameter ${what} is not valid YAML`);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

function remoteRef(v: unknown, what: string): RemoteRef {
  if (!isObj(v)) throw invalid(`${what} must be an object`);
  for (const k of Object.keys(v)) if (!REF_FIELDS.has(k)) throw invalid(`${what}: unknown field "${k}"`);
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== "string") throw invalid(`${what}.${k} must be a string`);
    const allowed = ENUMS[k];
    if (allowed && !allowed.includes(val)) throw invalid(`${what}.${k} must be one of ${allowed.join(", ")}`);
  }
  if (!v.key) throw invalid(`${what}.key is required`);
  return v as unknown as RemoteRef;
}

export function parseCustosParams(parameters: Record<string, string>, defaultMode: number): CustosParams {
  const ref = parseYamlParam(parameters.secretStoreRef, "secretStoreRef");
  if (!isObj(ref) || typeof ref.name !== "string" || !ref.name)
    throw invalid("parameter secretStoreRef must name a store: {name: my-store, kind: SecretStore}");
  const kind = ref.kind ?? "SecretStore";
  if (kind !== "SecretStore" && kind !== "ClusterSecretStore")
    throw invalid("parameter secretStoreRef.kind must be SecretStore or ClusterSecretStore");
  checkName(ref.name, "secretStoreRef.name");
  const list = parseYamlParam(parameters.objects, "objects");
  if (!Array.isArray(list) || list.length === 0)
    throw invalid("parameter objects must be a non-empty YAML list");
  if (list.length > MAX_OBJECTS) throw invalid(`parameter objects has more than ${MAX_OBJECTS} entries`);
  const objects: CustosObject[] = [];
  const names = new Set<string>();
  list.forEach((o: unknown, i) => {
    const what = `objects[${i}]`;
    if (!isObj(o)) throw invalid(`${what} must be an object`);
    for (const k of Object.keys(o))
      if (!["fileName", "mode", "remoteRef", "extract", "template", "data", "dataFrom"].includes(k))
        throw invalid(`${what}: unknown field "${k}"`);
    if (typeof o.fileName !== "string") throw invalid(`${what}.fileName is required`);
    const fileName = checkFilePath(o.fileName, what);
    if (names.has(fileName)) throw invalid(`${what}: fileName "${fileName}" is used twice`);
    names.add(fileName);
    const kinds = [o.remoteRef, o.extract, o.template].filter((v) => v !== undefined).length;
    if (kinds !== 1) throw invalid(`${what} must set exactly one of remoteRef, extract and template`);
    if (o.template === undefined && (o.data !== undefined || o.dataFrom !== undefined))
      throw invalid(`${what}: data and dataFrom go with a template`);
    const base = { fileName, mode: parseMode(o.mode, defaultMode, what) };
    if (o.template !== undefined) {
      if (typeof o.template !== "string") throw invalid(`${what}.template must be a string`);
      const data: unknown = o.data ?? [];
      const dataFrom: unknown = o.dataFrom ?? [];
      if (!Array.isArray(data) || !Array.isArray(dataFrom))
        throw invalid(`${what}: data and dataFrom must be lists`);
      if (data.length + dataFrom.length === 0) throw invalid(`${what}: a template needs data or dataFrom`);
      objects.push({
        ...base,
        template: o.template,
        data: data.map((d: unknown, j) => {
          const w = `${what}.data[${j}]`;
          if (!isObj(d) || typeof d.secretKey !== "string" || !SECRET_KEY.test(d.secretKey))
            throw invalid(`${w}.secretKey must match ${SECRET_KEY.source}`);
          for (const k of Object.keys(d))
            if (k !== "secretKey" && k !== "remoteRef") throw invalid(`${w}: unknown field "${k}"`);
          return { secretKey: d.secretKey, remoteRef: remoteRef(d.remoteRef, `${w}.remoteRef`) };
        }),
        dataFrom: dataFrom.map((d: unknown, j) => {
          const w = `${what}.dataFrom[${j}]`;
          if (!isObj(d) || Object.keys(d).some((k) => k !== "extract"))
            throw invalid(`${w} must be { extract: ... }`);
          return { extract: remoteRef(d.extract, `${w}.extract`) };
        }),
      });
      return;
    }
    objects.push({
      ...base,
      ...(o.remoteRef !== undefined ? { remoteRef: remoteRef(o.remoteRef, `${what}.remoteRef`) } : {}),
      ...(o.extract !== undefined ? { extract: remoteRef(o.extract, `${what}.extract`) } : {}),
    });
  });
  // one file may not be another's directory
  for (const n of names)
    for (const m of names)
      if (m.startsWith(`${n}/`)) throw invalid(`fileName "${n}" is both a file and the directory of "${m}"`);
  const audience = parameters.audience;
  return { storeRef: { name: ref.name, kind }, audience, objects };
}

/** The one-entry ExternalSecret an object stands for. */
export function objectExternalSecret(o: CustosObject, store: StoreRef, namespace: string): ExternalSecret {
  return {
    metadata: { name: "csi", namespace },
    spec: {
      secretStoreRef: store,
      ...(o.remoteRef ? { data: [{ secretKey: "file", remoteRef: o.remoteRef }] } : {}),
      ...(o.extract ? { dataFrom: [{ extract: o.extract }] } : {}),
      ...(o.template !== undefined ? { data: o.data ?? [], dataFrom: o.dataFrom ?? [] } : {}),
    },
  };
}

/** The files of an object from its read results (in the order of `remoteRefsOf(es).reads`). */
export function objectFiles(o: CustosObject, es: ExternalSecret, results: RemoteSecret[]): PlannedFile[] {
  const store = es.spec!.secretStoreRef!;
  const reads = remoteRefsOf(es).reads;
  const fetched: FetchResults = { reads: new Map(), finds: new Map() };
  reads.forEach((r, i) => fetched.reads.set(refId(r.storeRef ?? store, r.ref), results[i]!));
  let built;
  try {
    built = buildSecretData(es, fetched, renderForExternalSecret(es));
  } catch (e) {
    if (isCustosError(e)) throw e;
    throw new CustosError("CUSTOS_INTERNAL", `file "${o.fileName}": ${(e as Error).message}`);
  }
  if (built.anyMissing)
    throw new CustosError(
      "CUSTOS_SECRET_NOT_FOUND",
      `file "${o.fileName}": secret "${built.missingRemote?.[0] ?? (o.remoteRef ?? o.extract)?.key ?? ""}" not found`,
      {
        retryable: false,
      },
    );
  if (o.remoteRef) return [{ path: o.fileName, mode: o.mode, contents: built.data.file! }];
  if (o.template !== undefined) {
    // as an ExternalSecret's template: text values as strings, binary ones as their bytes
    const values = dict<string | Uint8Array>();
    for (const [k, v] of Object.entries(built.data)) values[k] = utf8OrBytes(v);
    let contents: Uint8Array;
    try {
      contents = renderBytesForExternalSecret(es)(o.fileName, o.template, values);
    } catch (e) {
      throw new CustosError(
        "CUSTOS_TEMPLATE",
        `file "${o.fileName}": template ${redactor.redact(errorMessage(e))}`,
        {
          retryable: false,
          cause: e,
        },
      );
    }
    return [{ path: o.fileName, mode: o.mode, contents }];
  }
  return Object.entries(built.data)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => ({
      path: checkFilePath(`${o.fileName}/${k}`, `file "${o.fileName}"`),
      mode: o.mode,
      contents: v,
    }));
}
