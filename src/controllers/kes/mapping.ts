/**
 * From a KES ExternalSecret to the engine's inputs, and from what the engine read back to the
 * Secret KES would have written. Pure: no I/O, no clock.
 *
 *   spec (or legacy secretDescriptor / properties)  -> normalize()
 *   backendType + KES env defaults                  -> backendOf(): a provider spec for the
 *                                                      existing vault / aws providers
 *   data / dataFrom / dataFromWithOptions            -> fetchPlan(): remote keys and SSM paths
 *   results                                         -> secretData(): KES's merge order and value rules
 *   template                                        -> renderTemplate() (lodash, in a sandbox passed in),
 *                                                      desiredSecret(): name, owner, type, metadata, data
 */
import { CustosError } from "../../util/errors.ts";
import { dict } from "../../util/dict.ts";
import { specMatcher } from "../../util/regex.ts";
import type { OwnerReference } from "../../kube/api.ts";
import type { RemoteKey, RemoteSecret } from "../../providers/types.ts";
import type { DesiredSecret } from "../../engine/target.ts";
import type { VaultProviderSpec } from "../../providers/vault/schema.ts";
import type { AwsProviderSpec } from "../../providers/aws/schema.ts";
import {
  KES_API_VERSION,
  type KesDataItem,
  type KesExternalSecret,
  type KesSpec,
  type KesTemplate,
} from "./api.ts";
import type { KesOptions } from "./config.ts";

const invalid = (m: string): CustosError => new CustosError("CUSTOS_INVALID_SPEC", m, { retryable: false });

/** KES's backend names (with the legacy `secretManager`), and the ones Custos serves. */
export const SERVED_BACKENDS = ["vault", "secretsManager", "systemManager"] as const;
export type ServedBackend = (typeof SERVED_BACKENDS)[number];

/** The spec, whichever form the object uses (`spec`, or legacy `secretDescriptor`). */
export function normalize(es: KesExternalSecret): KesSpec {
  const spec = es.spec ?? es.secretDescriptor;
  if (!spec || typeof spec !== "object") throw invalid("spec is required");
  const data = spec.data ?? spec.properties;
  return { ...spec, ...(data ? { data } : {}) };
}

export function backendTypeOf(spec: KesSpec): string {
  const b = spec.backendType ?? "";
  return b === "secretManager" ? "secretsManager" : b; // KES mapped the legacy name too
}

/** Whether this instance serves the object (spec.controllerId vs INSTANCE_ID, both "" by default). */
export function isOurs(spec: KesSpec, opts: Pick<KesOptions, "instanceId">): boolean {
  return (spec.controllerId ?? "") === opts.instanceId;
}

/** Problems no retry fixes, as KES words them where it had words. */
export function specProblems(spec: KesSpec): string[] {
  const p: string[] = [];
  const backend = backendTypeOf(spec);
  if (!backend) p.push("backendType is required");
  else if (!(SERVED_BACKENDS as readonly string[]).includes(backend))
    p.push(
      `backend ${backend} is not supported by Custos (it serves ${SERVED_BACKENDS.join(", ")}); ` +
        "the object is left alone: keep KES for it or migrate it (custos migrate kes)",
    );
  const data = spec.data ?? [];
  if (!Array.isArray(data)) p.push("data must be a list");
  if (!data.length && !spec.dataFrom?.length && !spec.dataFromWithOptions?.length)
    p.push("one of data, dataFrom or dataFromWithOptions is required");
  data.forEach((d, i) => {
    if (d.path !== undefined) {
      if (backend !== "systemManager")
        p.push(`data[${i}].path is only supported by the systemManager backend`);
    } else if (!d.key || d.name === undefined) p.push(`data[${i}] needs key and name (or path)`);
  });
  (spec.dataFromWithOptions ?? []).forEach((d, i) => {
    if (!d.key) p.push(`dataFromWithOptions[${i}].key is required`);
  });
  if (spec.kvVersion !== undefined && spec.kvVersion !== 1 && spec.kvVersion !== 2)
    p.push(`kvVersion must be 1 or 2, not ${String(spec.kvVersion)}`);
  return p;
}

/**
 * KES's namespace rules (ENFORCE_NAMESPACE_ANNOTATIONS, ROLE_PERMITTED_ANNOTATION,
 * NAMING_PERMITTED_ANNOTATION): undefined when allowed, else the reason. Patterns are unanchored,
 * an empty annotation allows everything, a missing one allows everything unless enforced.
 */
export function namespaceRefusal(
  spec: KesSpec,
  nsAnnotations: Record<string, string> | undefined,
  opts: Pick<
    KesOptions,
    "enforceNamespaceAnnotations" | "rolePermittedAnnotation" | "namingPermittedAnnotation"
  >,
): string | undefined {
  const ann = nsAnnotations ?? {};
  const naming = ann[opts.namingPermittedAnnotation];
  const keys = [...(spec.data ?? []).map((d) => d.key ?? d.path ?? ""), ...(spec.dataFrom ?? [])];
  if (naming === undefined) {
    if (opts.enforceNamespaceAnnotations && keys.length)
      return `namespace does not allow any key names (annotation ${opts.namingPermittedAnnotation} is missing)`;
  } else if (naming !== "") {
    const re = specMatcher(naming, `namespace annotation ${opts.namingPermittedAnnotation}`);
    for (const k of keys) if (!re.test(k)) return `key name ${k} does not match naming convention ${naming}`;
  }
  const role = spec.roleArn ?? spec.vaultRole;
  if (role !== undefined && role !== "") {
    const rule = ann[opts.rolePermittedAnnotation];
    if (rule === undefined) {
      if (opts.enforceNamespaceAnnotations)
        return `namespace does not allow any roles (annotation ${opts.rolePermittedAnnotation} is missing)`;
    } else if (rule !== "") {
      const re = specMatcher(rule, `namespace annotation ${opts.rolePermittedAnnotation}`);
      if (!re.test(role)) return `namespace does not allow to assume role ${role}`;
    }
  }
  return undefined;
}

export type Backend =
  { provider: "vault"; spec: VaultProviderSpec } | { provider: "aws"; spec: AwsProviderSpec };

/**
 * The provider spec the existing providers take, from the object's backend fields and KES's
 * defaults. Vault: Kubernetes auth at vaultMountPoint / DEFAULT_VAULT_MOUNT_POINT / kubernetes,
 * with the configured service account's token (TokenRequest), or without one the operator's own
 * token (granted by the session pool only, see engine/operator-identity.ts). No KV mount: keys
 * are full API paths. AWS: region from the object or AWS_REGION, roleArn assumed.
 */
export function backendOf(spec: KesSpec, opts: KesOptions): Backend {
  const backend = backendTypeOf(spec);
  if (backend === "vault") {
    const role = spec.vaultRole ?? opts.defaultVaultRole;
    if (!role) throw invalid("vaultRole is required (or DEFAULT_VAULT_ROLE / --kes-default-vault-role)");
    const mountPath = spec.vaultMountPoint ?? opts.defaultVaultMountPoint ?? "kubernetes";
    const sa = opts.serviceAccount;
    return {
      provider: "vault",
      spec: {
        server: opts.vaultAddr,
        ...(opts.vaultNamespace ? { namespace: opts.vaultNamespace } : {}),
        version: spec.kvVersion === 1 ? "v1" : "v2",
        auth: {
          kubernetes: {
            mountPath,
            role,
            ...(sa
              ? {
                  serviceAccountRef: {
                    name: sa.name,
                    namespace: sa.namespace,
                    audiences: opts.tokenAudiences,
                  },
                }
              : {}),
          },
        },
      },
    };
  }
  if (backend === "secretsManager" || backend === "systemManager") {
    return {
      provider: "aws",
      spec: {
        service: backend === "secretsManager" ? "SecretsManager" : "ParameterStore",
        region: spec.region ?? opts.awsRegion,
        ...(spec.roleArn ? { role: spec.roleArn } : {}),
      },
    };
  }
  throw invalid(`backend ${backend} is not supported`);
}

/** One thing to fetch, and where its result goes. */
export type Fetch =
  | { kind: "data"; name: string; ref: RemoteKey; property?: string | undefined; isBinary: boolean }
  | { kind: "path"; path: string; recursive: boolean; isBinary: boolean }
  | { kind: "dataFrom"; ref: RemoteKey; isBinary: boolean };

function versionOf(
  backend: string,
  d: { versionStage?: string | undefined; versionId?: string | undefined },
): string | undefined {
  if (backend !== "secretsManager") return undefined;
  if (d.versionId) return `uuid/${d.versionId}`;
  // AWSCURRENT is what an unversioned read returns: the same read, so the same shared result
  return d.versionStage && d.versionStage !== "AWSCURRENT" ? d.versionStage : undefined;
}

/** Everything to fetch, in KES's merge order: dataFrom, then dataFromWithOptions, then data. */
export function fetchPlan(spec: KesSpec): Fetch[] {
  const backend = backendTypeOf(spec);
  const out: Fetch[] = [];
  const keyOf = (key: string): RemoteKey => (backend === "systemManager" ? ssmKey(key) : { key });
  for (const key of spec.dataFrom ?? []) out.push({ kind: "dataFrom", ref: keyOf(key), isBinary: false });
  for (const d of spec.dataFromWithOptions ?? []) {
    const version = versionOf(backend, d);
    out.push({
      kind: "dataFrom",
      ref: { key: d.key, ...(version ? { version } : {}) },
      isBinary: d.isBinary === true,
    });
  }
  for (const d of spec.data ?? []) out.push(dataFetch(backend, d));
  return out;
}

/**
 * SSM's `name:3` (KES passed it to GetParameter as is): the key and a version, so the read is
 * one of that version and never batched with, or mistaken for, a read of the current one.
 */
function ssmKey(key: string): RemoteKey {
  const m = /^(.+):(\d+)$/.exec(key);
  return m ? { key: m[1]!, version: m[2]! } : { key };
}

function dataFetch(backend: string, d: KesDataItem): Fetch {
  if (d.path !== undefined)
    return { kind: "path", path: d.path, recursive: d.recursive === true, isBinary: d.isBinary === true };
  const version = versionOf(backend, d);
  return {
    kind: "data",
    name: d.name ?? "",
    ref:
      backend === "systemManager"
        ? ssmKey(d.key ?? "")
        : { key: d.key ?? "", ...(version ? { version } : {}) },
    property: d.property,
    isBinary: d.isBinary === true,
  };
}

/** What a fetch got: a whole remote secret, or (SSM path) parameters by name. */
export type Fetched = RemoteSecret | Map<string, RemoteSecret>;

/** A value as KES held it after the backend: parsed JSON (object, string, number...) or bytes. */
type Value = unknown;

const utf8 = new TextDecoder();

/** The value KES's backend returned for a key: Vault's data as an object, AWS's as text/bytes. */
function backendValue(r: RemoteSecret): Value {
  return r.value;
}

function parseJson(v: Value): { ok: true; value: unknown } | { ok: false } {
  if (v instanceof Uint8Array) v = utf8.decode(v);
  if (typeof v !== "string") return { ok: true, value: v };
  try {
    return { ok: true, value: JSON.parse(v) as unknown };
  } catch {
    return { ok: false };
  }
}

/** lodash `get`: a literal key wins, else a dotted / bracketed path. */
export function lodashGet(obj: unknown, path: string): unknown {
  if (obj === null || typeof obj !== "object") return undefined;
  if (Object.prototype.hasOwnProperty.call(obj, path)) return (obj as Record<string, unknown>)[path];
  const parts = path
    .replace(/\[(\d+|"[^"]*"|'[^']*')\]/g, (_, p: string) => `.${p.replace(/^["']|["']$/g, "")}`)
    .split(".")
    .filter((s) => s !== "");
  let cur: unknown = obj;
  for (const p of parts) {
    if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, p))
      return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** KES's value-to-bytes rule: bytes as they are, strings as UTF-8, anything else as JSON / text. */
export function toBytes(v: Value): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") return Buffer.from(v, "utf8");
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return Buffer.from(String(v));
  return Buffer.from(JSON.stringify(v ?? null));
}

/** isBinary: the value is base64 text; decode it once (bytes that are not base64 stay as they are). */
function decodeBinary(b: Uint8Array): Uint8Array {
  const text = utf8.decode(b).trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) return b;
  return Buffer.from(text, "base64");
}

/** Items KES skipped with a warning (JSON it could not parse): keys only, never values. */
export interface DataResult {
  data: Record<string, Uint8Array>;
  skipped: string[];
}

/**
 * The Secret's data from the fetched results, as KES built it: dataFrom, dataFromWithOptions and
 * data merged in that order (later wins). `results[i]` answers `plan[i]`; an Error fails the sync.
 */
export function secretData(plan: Fetch[], results: (Fetched | Error)[]): DataResult {
  const data = dict<Uint8Array>();
  const skipped: string[] = [];
  plan.forEach((f, i) => {
    const r = results[i];
    if (r === undefined) throw new CustosError("CUSTOS_INTERNAL", "no result for a fetch");
    if (r instanceof Error) throw r;
    if (f.kind === "path") {
      if (!(r instanceof Map)) throw new CustosError("CUSTOS_INTERNAL", "path fetch without a listing");
      const base = f.path.endsWith("/") ? f.path : `${f.path}/`;
      for (const [name, v] of [...r.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        const rest = name.startsWith(base) ? name.slice(base.length) : name;
        if (!f.recursive && rest.includes("/")) continue;
        const bytes = toBytes(backendValue(v));
        data[name.slice(name.lastIndexOf("/") + 1)] = f.isBinary ? decodeBinary(bytes) : bytes;
      }
      return;
    }
    if (r instanceof Map) throw new CustosError("CUSTOS_INTERNAL", "listing for a key fetch");
    const value = backendValue(r);
    if (f.kind === "dataFrom") {
      const parsed = parseJson(f.isBinary && value instanceof Uint8Array ? decodeBinary(value) : value);
      if (
        !parsed.ok ||
        parsed.value === null ||
        typeof parsed.value !== "object" ||
        Array.isArray(parsed.value)
      ) {
        skipped.push(f.ref.key);
        return;
      }
      for (const [k, v] of Object.entries(parsed.value as Record<string, unknown>)) data[k] = toBytes(v);
      return;
    }
    let out: Value;
    if (f.property !== undefined && f.property !== "") {
      const parsed = parseJson(value);
      if (!parsed.ok) {
        skipped.push(f.ref.key);
        return;
      }
      out = lodashGet(parsed.value, f.property);
      if (out === undefined)
        throw new CustosError(
          "CUSTOS_PROPERTY_NOT_FOUND",
          `Could not find property ${f.property} in ${f.ref.key}`,
          { retryable: false },
        );
    } else out = value instanceof Uint8Array || typeof value === "string" ? value : JSON.stringify(value);
    const bytes = toBytes(out);
    data[f.name] = f.isBinary ? decodeBinary(bytes) : bytes;
  });
  return { data, skipped };
}

/** Lodash template syntax KES ran: `<% %>`, `<%= %>`, `<%- %>`, `${ }`. */
const LODASH = /<%|\$\{/;

function templated(v: unknown): boolean {
  if (typeof v === "string") return LODASH.test(v);
  if (v !== null && typeof v === "object" && !Array.isArray(v))
    return Object.values(v as Record<string, unknown>).some(templated);
  return false;
}

/** Runs KES's template step (lodash over every string) in a sandbox: see src/template/lodash. */
export type KesTemplateRenderer = (
  template: Record<string, unknown>,
  data: Record<string, string>,
) => Promise<Record<string, unknown>>;

/**
 * KES's template step: every non-empty string of spec.template (plain objects recursed, arrays
 * kept) through lodash's `template` with `data` (the fetched values as text) and `yaml` in scope.
 * A template without lodash syntax renders to itself, so it skips the sandbox. The values are
 * decoded as UTF-8 (KES decoded them as 'ascii', which clears the high bit of non-ASCII bytes).
 */
export async function renderTemplate(
  spec: KesSpec,
  fetched: Record<string, Uint8Array>,
  render: KesTemplateRenderer,
): Promise<KesSpec> {
  const t = spec.template;
  if (t === undefined || t === null || typeof t !== "object" || Array.isArray(t) || !templated(t))
    return spec;
  const data = dict<string>();
  for (const [k, v] of Object.entries(fetched)) data[k] = utf8.decode(v);
  return { ...spec, template: await render(t, data) };
}

const stringMap = (v: Record<string, unknown> | undefined, what: string): Record<string, string> => {
  const out = dict<string>();
  for (const [k, x] of Object.entries(v ?? {})) {
    if (x === null || x === undefined) continue;
    if (typeof x === "object") throw invalid(`${what}.${k} must be a string`);
    out[k] = typeof x === "string" ? x : JSON.stringify(x);
  }
  return out;
};

/**
 * The Secret KES would write: named as the object, controlled by it, type from template.type or
 * spec.type, template.metadata's labels and annotations, and for each key template.stringData >
 * backend value > template.data (base64). `spec` is the one renderTemplate() returned.
 */
export function desiredSecret(
  es: KesExternalSecret,
  spec: KesSpec,
  fetched: Record<string, Uint8Array>,
): DesiredSecret {
  const t: KesTemplate = spec.template ?? {};
  const data = dict<Uint8Array>();
  for (const [k, v] of Object.entries(stringMap(t.data, "template.data"))) data[k] = Buffer.from(v, "base64");
  Object.assign(data, fetched);
  for (const [k, v] of Object.entries(stringMap(t.stringData, "template.stringData")))
    data[k] = Buffer.from(v, "utf8");
  const owner: OwnerReference = {
    apiVersion: KES_API_VERSION,
    kind: "ExternalSecret",
    name: es.metadata.name ?? "",
    uid: es.metadata.uid ?? "",
    controller: true,
  };
  return {
    namespace: es.metadata.namespace ?? "",
    name: es.metadata.name ?? "",
    type: t.type ?? spec.type ?? "Opaque",
    data,
    labels: stringMap(t.metadata?.labels, "template.metadata.labels"),
    annotations: stringMap(t.metadata?.annotations, "template.metadata.annotations"),
    owner,
  };
}

/** KES's status string: `SUCCESS`, or `ERROR, <message>` on one line. */
export function statusText(error: string | undefined): string {
  return error === undefined ? "SUCCESS" : `ERROR, ${error.replace(/[\r\n]+/g, " ")}`;
}

/** While nothing else changes, `lastSync` is refreshed at most this often (KES: after every poll). */
export const LAST_SYNC_REFRESH_MS = 5 * 60_000;

/**
 * Whether a status needs writing: its text or generation changed, or lastSync is older than
 * LAST_SYNC_REFRESH_MS. KES wrote status after every poll: with 1,000 objects at 10 s, 100 API
 * writes a second that said nothing new.
 */
export function statusDue(
  current:
    | { status?: string | undefined; observedGeneration?: number | undefined; lastSync?: string | undefined }
    | undefined,
  next: { status: string; observedGeneration: number },
  now: number,
): boolean {
  if (!current || current.status !== next.status || current.observedGeneration !== next.observedGeneration)
    return true;
  const last = Date.parse(current.lastSync ?? "");
  return !Number.isFinite(last) || now - last >= LAST_SYNC_REFRESH_MS;
}
