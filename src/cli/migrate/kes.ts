/**
 * `custos migrate kes`: KES (`kubernetes-client.io/v1`) ExternalSecrets to `external-secrets.io/v1`
 * ExternalSecrets and the SecretStores / ClusterSecretStores they need. Pure: objects in, objects
 * and refusals out (the command reads files and prints).
 *
 * Where the meaning is certain it converts; where it is not, it refuses the object with the path
 * of the field and the reason, and converts nothing of it. Unlike external-secrets' kes-to-eso:
 * current API version, whole-JSON reads kept whole (no property = the whole secret, as in both),
 * lodash templates converted only in the forms whose Go meaning is the same (`<%= data.x %>`,
 * `${data.x}`), never copied, and refreshInterval from KES's poll settings.
 */
import { createHash } from "node:crypto";
import { quoteMeta } from "../../util/regex.ts";
import type { KesDataItem, KesExternalSecret, KesSpec } from "../../controllers/kes/api.ts";
import { backendTypeOf, normalize } from "../../controllers/kes/mapping.ts";

export interface MigrateOptions {
  vaultAddr?: string | undefined;
  vaultNamespace?: string | undefined;
  defaultVaultMountPoint?: string | undefined;
  defaultVaultRole?: string | undefined;
  awsRegion: string;
  /** KES's service account: Vault Kubernetes auth logs in with its token (serviceAccountRef). */
  serviceAccount?: { namespace: string; name: string } | undefined;
  tokenAudiences: string[];
  storeKind: "ClusterSecretStore" | "SecretStore";
  /** From POLLER_INTERVAL_MILLISECONDS ("10s"), or "0s" with DISABLE_POLLING. */
  refreshInterval: string;
}

/** A field path in the KES object (for line numbers) and why it cannot be converted. */
export interface Refusal {
  path: (string | number)[];
  reason: string;
}

export type Manifest = Record<string, unknown>;

export interface ObjectResult {
  externalSecret?: Manifest;
  store?: Manifest;
  refusals: Refusal[];
  warnings: string[];
}

class Refused extends Error {
  constructor(
    readonly path: (string | number)[],
    reason: string,
  ) {
    super(reason);
  }
}

const refuse = (path: (string | number)[], reason: string): never => {
  throw new Refused(path, reason);
};

/** KES environment → options, as read from a KES Deployment manifest (flags win over it). */
export function deploymentDefaults(deployment: Manifest): {
  env: Record<string, string>;
  serviceAccount?: { namespace: string; name: string };
} {
  const spec = (deployment.spec as Manifest | undefined)?.template as Manifest | undefined;
  const pod = spec?.spec as Manifest | undefined;
  const containers = (pod?.containers as Manifest[] | undefined) ?? [];
  const env: Record<string, string> = {};
  for (const c of containers)
    for (const e of (c.env as { name?: string; value?: unknown }[] | undefined) ?? [])
      if (e.name && e.value !== undefined && e.value !== null)
        env[e.name] = typeof e.value === "string" ? e.value : JSON.stringify(e.value);
  const meta = deployment.metadata as { namespace?: string } | undefined;
  const sa = (pod?.serviceAccountName ?? pod?.serviceAccount) as string | undefined;
  return { env, ...(sa ? { serviceAccount: { namespace: meta?.namespace ?? "default", name: sa } } : {}) };
}

/** `POLLER_INTERVAL_MILLISECONDS` / `DISABLE_POLLING` → an ESO refreshInterval. */
export function refreshIntervalOf(env: Record<string, string | undefined>): string {
  if (env.DISABLE_POLLING !== undefined) return "0s";
  const ms = Number(env.POLLER_INTERVAL_MILLISECONDS ?? "10000");
  if (!Number.isFinite(ms) || ms <= 0) return "10s";
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

const hash = (v: unknown): string => createHash("sha256").update(JSON.stringify(v)).digest("hex").slice(0, 8);

/** The KV mount and the path below it of a KES Vault key (a full API path). */
function vaultKey(key: string, v2: boolean, at: (string | number)[]): { mount: string; rest: string } {
  const segs = key.replace(/^\/+/, "").split("/");
  if (segs.some((s) => s === "" || s === "." || s === ".."))
    refuse(at, `key ${JSON.stringify(key)} has an empty, "." or ".." segment`);
  if (v2) {
    const i = segs.indexOf("data", 1);
    if (i < 1 || i === segs.length - 1)
      refuse(
        at,
        `key ${JSON.stringify(key)} is not a KV v2 data path (<mount>/data/<path>); KES read it as given, ` +
          "which a KV v2 engine answers with no data: set kvVersion: 1 if it is another engine",
      );
    return { mount: segs.slice(0, i).join("/"), rest: segs.slice(i + 1).join("/") };
  }
  if (segs.length < 2) refuse(at, `key ${JSON.stringify(key)} names no path below a mount`);
  return { mount: segs[0]!, rest: segs.slice(1).join("/") };
}

const LODASH_PIECE = /<%([=-]?)([\s\S]*?)%>|\$\{([\s\S]*?)\}/g;
const DATA_REF = /^\s*data(?:\.([A-Za-z_$][\w$]*)|\[\s*(?:"([^"\\]*)"|'([^'\\]*)')\s*\])\s*$/;

/**
 * A KES template string as a Go template with the same output, or a refusal. Literal text is
 * kept (a `{{` in it is escaped); `<%= data.x %>`, `<%= data["x"] %>` and `${data.x}` become
 * `{{ .x }}` / `{{ index . "x" }}`; anything else (expressions, `<%- %>`, statements) is refused.
 */
export function goTemplate(s: string, at: (string | number)[]): string {
  let out = "";
  let last = 0;
  const literal = (t: string): string => t.replaceAll("{{", '{{ "{{" }}');
  for (const m of s.matchAll(LODASH_PIECE)) {
    out += literal(s.slice(last, m.index));
    last = m.index + m[0].length;
    const kind = m[3] !== undefined ? "=" : m[1];
    const expr = m[3] ?? m[2] ?? "";
    const ref = kind === "=" ? DATA_REF.exec(expr) : null;
    if (!ref)
      refuse(
        at,
        `template expression ${JSON.stringify(m[0].length > 60 ? `${m[0].slice(0, 60)}...` : m[0])} has no certain Go template equivalent (only <%= data.KEY %> and \${data.KEY} convert); rewrite it as an ESO template by hand`,
      );
    const name = ref![1] ?? ref![2] ?? ref![3] ?? "";
    out += /^[A-Za-z_]\w*$/.test(name) ? `{{ .${name} }}` : `{{ index . ${JSON.stringify(name)} }}`;
  }
  if (s.slice(last).includes("<%")) refuse(at, "template has an unterminated <% block");
  return out + literal(s.slice(last));
}

function stringsOf(v: unknown, at: (string | number)[]): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) return refuse(at, "must be a map of strings");
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === null || x === undefined) continue;
    if (typeof x === "object") refuse([...at, k], "must be a string");
    out[k] = typeof x === "string" ? x : JSON.stringify(x);
  }
  return out;
}

interface Target {
  template?: Manifest;
  warnings: string[];
}

function convertTemplate(
  spec: KesSpec,
  base: (string | number)[],
  fetchedNames: Set<string>,
  openKeys: boolean,
): Target {
  const t = spec.template ?? {};
  const at = [...base, "template"];
  const warnings: string[] = [];
  for (const k of Object.keys(t))
    if (!["metadata", "type", "data", "stringData"].includes(k))
      refuse([...at, k], `template.${k} has no ESO equivalent (ESO templates metadata, type and data)`);
  const meta = (t.metadata ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(meta))
    if (k !== "labels" && k !== "annotations")
      refuse([...at, "metadata", k], `template.metadata.${k} has no ESO equivalent`);
  const conv = (m: Record<string, string>, path: (string | number)[]): Record<string, string> =>
    Object.fromEntries(Object.entries(m).map(([k, v]) => [k, goTemplate(v, [...path, k])]));
  const labels = conv(stringsOf(meta.labels, [...at, "metadata", "labels"]), [...at, "metadata", "labels"]);
  const annotations = conv(stringsOf(meta.annotations, [...at, "metadata", "annotations"]), [
    ...at,
    "metadata",
    "annotations",
  ]);
  const data: Record<string, string> = {};
  const tplData = stringsOf(t.data, [...at, "data"]);
  for (const [k, b64] of Object.entries(tplData)) {
    if (/<%|\$\{/.test(b64))
      refuse([...at, "data", k], "template.data holds base64: a template there cannot be converted");
    if (fetchedNames.has(k)) {
      warnings.push(
        `template.data.${k} dropped: the backend value of the same key always won over it in KES`,
      );
      continue;
    }
    if (openKeys)
      refuse(
        [...at, "data", k],
        "template.data with dataFrom or path: KES let a fetched key of the same name win, and the fetched keys are not known here",
      );
    const bytes = Buffer.from(b64, "base64");
    const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    if (Buffer.from(text, "utf8").toString("base64") !== bytes.toString("base64"))
      refuse([...at, "data", k], "template.data value is not UTF-8 text: ESO template data is text");
    data[k] = text.replaceAll("{{", '{{ "{{" }}');
  }
  Object.assign(data, conv(stringsOf(t.stringData, [...at, "stringData"]), [...at, "stringData"]));
  const type = t.type ?? spec.type;
  if (!Object.keys(labels).length && !Object.keys(annotations).length && !Object.keys(data).length && !type)
    return { warnings };
  return {
    warnings,
    template: {
      engineVersion: "v2",
      // KES merged its template under the fetched data: keep the fetched keys
      mergePolicy: "Merge",
      ...(type ? { type } : {}),
      ...(Object.keys(labels).length || Object.keys(annotations).length
        ? {
            metadata: {
              ...(Object.keys(labels).length ? { labels } : {}),
              ...(Object.keys(annotations).length ? { annotations } : {}),
            },
          }
        : {}),
      ...(Object.keys(data).length ? { data } : {}),
    },
  };
}

function storeRef(kind: string, provider: Manifest, prefix: string): { name: string; provider: Manifest } {
  return { name: `kes-${prefix}-${hash({ kind, provider })}`, provider };
}

function vaultAuth(spec: KesSpec, opts: MigrateOptions, at: (string | number)[]): Manifest {
  const role = spec.vaultRole ?? opts.defaultVaultRole;
  if (!role)
    refuse(
      [...at, "vaultRole"],
      "no vaultRole, and no DEFAULT_VAULT_ROLE (--default-vault-role or --kes-deployment)",
    );
  const sa = opts.serviceAccount;
  return {
    kubernetes: {
      mountPath: spec.vaultMountPoint ?? opts.defaultVaultMountPoint ?? "kubernetes",
      role,
      ...(sa
        ? {
            serviceAccountRef: {
              name: sa.name,
              ...(opts.storeKind === "ClusterSecretStore" ? { namespace: sa.namespace } : {}),
              audiences: opts.tokenAudiences,
            },
          }
        : {}),
    },
  };
}

/** One KES object → an ESO ExternalSecret and its store, or refusals. */
export function convertKes(es: KesExternalSecret, opts: MigrateOptions): ObjectResult {
  const base = es.spec ? ["spec"] : ["secretDescriptor"];
  try {
    return convert(es, opts, base);
  } catch (e) {
    if (e instanceof Refused) return { refusals: [{ path: e.path, reason: e.message }], warnings: [] };
    return { refusals: [{ path: base, reason: (e as Error).message }], warnings: [] };
  }
}

function convert(es: KesExternalSecret, opts: MigrateOptions, base: (string | number)[]): ObjectResult {
  const spec = normalize(es);
  const dataPath = es.spec?.data || es.secretDescriptor?.data ? [...base, "data"] : [...base, "properties"];
  const backend = backendTypeOf(spec);
  const warnings: string[] = [];
  if (spec.controllerId)
    warnings.push(
      `controllerId ${spec.controllerId} dropped: ESO stores choose their operator (spec.controller)`,
    );
  const items = spec.data ?? [];
  const data: Manifest[] = [];
  const dataFrom: Manifest[] = [];
  let provider: Manifest;
  let prefix: string;

  const versionOf = (d: { versionStage?: string | undefined; versionId?: string | undefined }): Manifest =>
    d.versionId
      ? { version: `uuid/${d.versionId}` }
      : d.versionStage && d.versionStage !== "AWSCURRENT"
        ? { version: d.versionStage }
        : {};

  if (backend === "vault") {
    const v2 = spec.kvVersion !== 1;
    const mounts = new Set<string>();
    const rel = (key: string, at: (string | number)[]): string => {
      const k = vaultKey(key, v2, at);
      mounts.add(k.mount);
      if (mounts.size > 1)
        refuse(at, `keys of more than one KV mount (${[...mounts].join(", ")}): split the object`);
      return k.rest;
    };
    (spec.dataFrom ?? []).forEach((k, i) =>
      dataFrom.push({ extract: { key: rel(k, [...base, "dataFrom", i]) } }),
    );
    (spec.dataFromWithOptions ?? []).forEach((d, i) => {
      const at = [...base, "dataFromWithOptions", i];
      if (d.isBinary)
        refuse(
          [...at, "isBinary"],
          "isBinary on dataFrom decoded the whole value in KES; ESO decodes each key",
        );
      dataFrom.push({ extract: { key: rel(d.key, [...at, "key"]) } });
    });
    items.forEach((d: KesDataItem, i) => {
      const at = [...dataPath, i];
      if (d.path !== undefined) refuse([...at, "path"], "path is only read by the systemManager backend");
      data.push({
        secretKey: d.name,
        remoteRef: {
          key: rel(d.key ?? "", [...at, "key"]),
          ...(d.property ? { property: d.property } : {}),
          ...(d.isBinary ? { decodingStrategy: "Base64" } : {}),
        },
      });
    });
    if (!opts.vaultAddr)
      refuse(
        [...base, "backendType"],
        "no Vault address: give --vault-addr or --kes-deployment (VAULT_ADDR)",
      );
    prefix = "vault";
    provider = {
      vault: {
        server: opts.vaultAddr,
        ...(opts.vaultNamespace ? { namespace: opts.vaultNamespace } : {}),
        path: [...mounts][0] ?? "secret",
        version: v2 ? "v2" : "v1",
        auth: vaultAuth(spec, opts, base),
      },
    };
  } else if (backend === "secretsManager" || backend === "systemManager") {
    const ssm = backend === "systemManager";
    (spec.dataFrom ?? []).forEach((k) => dataFrom.push({ extract: { key: k } }));
    (spec.dataFromWithOptions ?? []).forEach((d, i) => {
      const at = [...base, "dataFromWithOptions", i];
      if (d.isBinary)
        refuse(
          [...at, "isBinary"],
          "isBinary on dataFrom decoded the whole value in KES; ESO decodes each key",
        );
      dataFrom.push({ extract: { key: d.key, ...(ssm ? {} : versionOf(d)) } });
    });
    let sawKey = false;
    items.forEach((d, i) => {
      const at = [...dataPath, i];
      if (d.path !== undefined) {
        if (!ssm) refuse([...at, "path"], "path is only read by the systemManager backend");
        if (d.isBinary) refuse([...at, "isBinary"], "isBinary on a path has no ESO equivalent");
        if (sawKey)
          warnings.push(
            `data[${i}].path comes after key entries: in ESO, data entries win over it on a name clash`,
          );
        const path = d.path.replace(/\/+$/, "");
        dataFrom.push({
          find: {
            path,
            name: { regexp: d.recursive ? `^${quoteMeta(path)}/` : `^${quoteMeta(path)}/[^/]+$` },
          },
          // KES named each key by the parameter's last path segment
          rewrite: [{ regexp: { source: ".*/", target: "" } }],
        });
        return;
      }
      sawKey = true;
      const m = ssm ? /^(.+):(\d+)$/.exec(d.key ?? "") : null;
      data.push({
        secretKey: d.name,
        remoteRef: {
          key: m ? m[1] : d.key,
          ...(d.property ? { property: d.property } : {}),
          ...(m ? { version: m[2] } : ssm ? {} : versionOf(d)),
          ...(d.isBinary ? { decodingStrategy: "Auto" } : {}),
        },
      });
    });
    prefix = ssm ? "ssm" : "secretsmanager";
    provider = {
      aws: {
        service: ssm ? "ParameterStore" : "SecretsManager",
        region: spec.region ?? opts.awsRegion,
        ...(spec.roleArn ? { role: spec.roleArn } : {}),
      },
    };
  } else {
    return refuse(
      [...base, "backendType"],
      backend
        ? `backend ${backend} is not converted (Custos serves vault, secretsManager and systemManager)`
        : "backendType is required",
    );
  }
  if (!data.length && !dataFrom.length)
    refuse(base, "one of data, dataFrom or dataFromWithOptions is required");

  const fetchedNames = new Set(
    items.flatMap((d) => (d.name !== undefined && d.path === undefined ? [d.name] : [])),
  );
  const open = dataFrom.length > 0;
  const target = convertTemplate(spec, base, fetchedNames, open);
  warnings.push(...target.warnings);

  const store = storeRef(opts.storeKind, provider, prefix);
  const name = es.metadata.name ?? "";
  const namespace = es.metadata.namespace;
  const externalSecret: Manifest = {
    apiVersion: "external-secrets.io/v1",
    kind: "ExternalSecret",
    metadata: { name, ...(namespace ? { namespace } : {}) },
    spec: {
      refreshInterval: opts.refreshInterval,
      secretStoreRef: { kind: opts.storeKind, name: store.name },
      target: {
        name,
        creationPolicy: "Owner",
        ...(target.template ? { template: target.template } : {}),
      },
      ...(dataFrom.length ? { dataFrom } : {}),
      ...(data.length ? { data } : {}),
    },
  };
  const storeManifest: Manifest = {
    apiVersion: "external-secrets.io/v1",
    kind: opts.storeKind,
    metadata: {
      name: store.name,
      ...(opts.storeKind === "SecretStore" && namespace ? { namespace } : {}),
    },
    spec: { provider: store.provider },
  };
  return { externalSecret, store: storeManifest, refusals: [], warnings };
}

/** Every converted object and the stores they need (deduplicated), stores first. */
export function migrate(
  objects: KesExternalSecret[],
  opts: MigrateOptions,
): { manifests: Manifest[]; results: ObjectResult[] } {
  const stores = new Map<string, Manifest>();
  const ess: Manifest[] = [];
  const results = objects.map((o) => convertKes(o, opts));
  for (const r of results) {
    if (!r.externalSecret || !r.store) continue;
    const m = r.store.metadata as { name: string; namespace?: string };
    stores.set(`${m.namespace ?? ""}/${m.name}`, r.store);
    ess.push(r.externalSecret);
  }
  return { manifests: [...stores.values(), ...ess], results };
}
