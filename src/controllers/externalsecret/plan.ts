/**
 * The desired target Secret and what to do about it. Pure: a function of the ExternalSecret, the
 * data built from the stores, the current Secret and the template sources.
 *
 * Actions: `create`, `update` (only when something we manage differs), `delete` (deletionPolicy
 * Delete after the remote secret is gone), `none`. The condition carries the real cause.
 */
import { createHash } from "node:crypto";
import { parse as parseYaml } from "yaml";
import { CustosError, errorMessage } from "../../util/errors.ts";
import { esoDataHash } from "../../util/eso-hash.ts";
import { redactor } from "../../util/redact.ts";
import { utf8OrBytes } from "../../template/values.ts";
import type { BuiltData, RenderFn } from "./data.ts";
import { DATA_HASH_ANNOTATION, type ReadyInput } from "./status.ts";
import { dict } from "../../util/dict.ts";
import { decodeSecretData, planTarget, type TargetPlan } from "../../engine/target.ts";
import {
  GROUP,
  VERSION_STORAGE,
  type ExternalSecret,
  type SecretObject,
  type TemplateFrom,
} from "./types.ts";

export const MANAGED_LABEL = "reconcile.external-secrets.io/managed";
export const OWNER_LABEL = "reconcile.external-secrets.io/created-by";

/** ESO's owner label value: SHA3-224 of "namespace/name" (Go's ObjectHash of that string). */
export function ownerLabelValue(es: ExternalSecret): string {
  const id = `${es.metadata.namespace ?? ""}/${es.metadata.name ?? ""}`;
  const memo = ownerLabels.get(es.metadata);
  if (memo?.id === id) return memo.value;
  const value = createHash("sha3-224").update(id).digest("hex");
  ownerLabels.set(es.metadata, { id, value });
  return value;
}
/** Per cached object's metadata (its name and namespace checked: metadata may be a copy). */
const ownerLabels = new WeakMap<object, { id: string; value: string }>();
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

export interface TemplateSources {
  configMaps: Map<string, Record<string, string>>;
  secrets: Map<string, Record<string, string>>;
}

export interface PlanInput {
  es: ExternalSecret;
  data: BuiltData;
  existing: SecretObject | undefined;
  templateSources: TemplateSources;
  render: RenderFn;
  /** The same templates rendered to exact bytes, for Secret data (optional: else UTF-8 text). */
  renderBytes?: (name: string, text: string, data: unknown) => Uint8Array;
  now: Date;
}

export type Plan = (TargetPlan | { action: "delete"; secret?: undefined }) & { condition: ReadyInput };

const SYNCED: ReadyInput = { ok: true, reason: "SecretSynced", message: "secret synced" };

export function targetNameOf(es: ExternalSecret): string {
  return es.spec?.target?.name || es.metadata.name || "";
}

export function planSecret(input: PlanInput): Plan {
  const { es, data, existing } = input;
  const creation = es.spec?.target?.creationPolicy ?? "Owner";
  const deletion = es.spec?.target?.deletionPolicy ?? "Retain";
  const name = targetNameOf(es);

  // ESO's semantics for remote secrets that do not exist: with deletionPolicy Retain that is an
  // error (the Secret is kept as it is); with Delete and Merge the missing entries are skipped,
  // and when nothing at all is left, Delete deletes the Secret and Retain keeps it.
  if (data.anyMissing && deletion === "Retain") {
    throw new CustosError(
      "CUSTOS_SECRET_NOT_FOUND",
      data.missingRemote?.length
        ? `remote secret ${data.missingRemote.map((k) => `"${k}"`).join(", ")} not found (for ${data.missingKeys.join(", ")})`
        : "remote secret not found for dataFrom",
      { retryable: false },
    );
  }
  const hasSources = (es.spec?.data ?? []).length > 0 || (es.spec?.dataFrom ?? []).length > 0;
  if (hasSources && Object.keys(data.data).length === 0) {
    if (deletion === "Delete" && creation !== "Owner") {
      // ESO deletes only Secrets it owns; Orphan with Delete passes admission and fails here
      return {
        action: "none",
        condition: {
          ok: false,
          reason: "SecretSyncedError",
          message: `could not delete secret: unable to delete secret ${name}: creationPolicy=${creation} is not Owner`,
        },
      };
    }
    if (deletion === "Delete") {
      // only a Secret this ExternalSecret manages is ever deleted
      const ours = existing && existing.metadata.labels?.[MANAGED_LABEL] === "true";
      return {
        action: ours ? "delete" : "none",
        // ESO marks the ExternalSecret done: Ready=True, reason SecretDeleted
        condition: {
          ok: true,
          reason: "SecretDeleted",
          message: "secret deleted due to DeletionPolicy=Delete",
        },
      };
    }
    if (deletion === "Retain") {
      return {
        action: "none",
        condition: {
          ok: true,
          reason: "SecretSynced",
          message: "secret retained due to DeletionPolicy=Retain",
        },
      };
    }
  }

  if (creation === "None") return { action: "none", condition: SYNCED };
  // ESO reports a partial sync as plainly synced (#3879): say what was left out (names only)
  const synced: ReadyInput = data.anyMissing
    ? {
        ok: true,
        reason: "SecretSynced",
        message: data.missingRemote?.length
          ? `secret synced; not found at the provider and left out: ${data.missingRemote.map((k) => `"${k}"`).join(", ")}`
          : "secret synced; a dataFrom entry was not found at the provider and left out",
      }
    : SYNCED;
  // ESO marks this done (Ready=True) and waits for the next refresh rather than retrying.
  if (creation === "Merge" && !existing) {
    return {
      action: "none",
      condition: {
        ok: true,
        reason: "SecretMissing",
        message: "secret will not be created due to CreationPolicy=Merge",
      },
    };
  }

  const rendered = renderTarget(input);
  const desiredData =
    creation === "Merge" ? { ...decodeSecretData(existing), ...rendered.data } : rendered.data;
  // deletionPolicy Merge: keys whose remote secret is gone are dropped.
  // A key another entry still provides (a duplicate secretKey, a dataFrom key) keeps that value, as in ESO.
  for (const k of data.missingKeys) if (!(k in data.data)) delete desiredData[k];
  const hash = esoDataHash(desiredData);

  const labels: Record<string, string> = { ...rendered.labels };
  const annotations: Record<string, string> = { ...rendered.annotations, [DATA_HASH_ANNOTATION]: hash };
  // ESO labels every Secret it writes, the one it merges into included.
  labels[MANAGED_LABEL] = "true";
  if (creation === "Owner") labels[OWNER_LABEL] = ownerLabelValue(es);
  const owner =
    creation === "Owner"
      ? {
          apiVersion: `${GROUP}/${VERSION_STORAGE}`,
          kind: "ExternalSecret",
          name: es.metadata.name ?? "",
          uid: es.metadata.uid ?? "",
          controller: true,
          blockOwnerDeletion: true,
        }
      : undefined;
  const target = planTarget(
    {
      namespace: es.metadata.namespace ?? "",
      name,
      type: es.spec?.target?.template?.type,
      data: desiredData,
      labels,
      annotations,
      owner,
      immutable: es.spec?.target?.immutable,
    },
    existing,
  );
  return { ...target, condition: synced };
}

export interface Rendered {
  data: Record<string, Uint8Array>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const enc = new TextEncoder();

export function renderTarget(input: PlanInput): Rendered {
  const { es, data, render, templateSources } = input;
  const tpl = es.spec?.target?.template;
  if (!tpl) {
    return {
      data: Object.assign(dict<Uint8Array>(), data.data),
      labels: copyMeta(es.metadata.labels),
      annotations: copyMeta(es.metadata.annotations),
    };
  }
  // Text values are strings; binary ones (a PKCS#12 archive, a keystore) stay bytes, so functions
  // that take bytes (pkcs12*, b64enc, sha256sum) see exactly what the store holds, as in Go.
  const values = dict<string | Uint8Array>();
  for (const [k, v] of Object.entries(data.data)) values[k] = utf8OrBytes(v);
  const out: Rendered = { data: dict(), labels: dict(), annotations: dict() };
  const hasDataTemplates =
    Object.keys(tpl.data ?? {}).length > 0 ||
    (tpl.templateFrom ?? []).some((f) => (f.target ?? "Data") === "Data");
  if (!hasDataTemplates || (tpl.mergePolicy ?? "Replace") === "Merge") Object.assign(out.data, data.data);

  const guarded = <T extends string | Uint8Array>(fn: () => T): T => {
    try {
      const result = fn();
      redactor.add(result);
      return result;
    } catch (e) {
      throw new CustosError("CUSTOS_TEMPLATE", `template ${redactor.redact(errorMessage(e))}`, {
        retryable: false,
        cause: e,
      });
    }
  };
  const run = (tname: string, text: string): string => guarded(() => render(tname, text, values));
  // Secret data keeps the exact bytes of binary values (`{{ .keystore }}`, `{{ .p12 | b64dec }}`)
  const runBytes = (tname: string, text: string): Uint8Array =>
    input.renderBytes ? guarded(() => input.renderBytes!(tname, text, values)) : enc.encode(run(tname, text));
  const put = (target: TemplateFrom["target"], key: string, value: string): void => {
    if ((target ?? "Data") === "Data") out.data[key] = enc.encode(value);
    else if (target === "Labels") out.labels[key] = value;
    else out.annotations[key] = value;
  };
  const putMap = (target: TemplateFrom["target"], text: string, where: string): void => {
    let parsed: unknown;
    try {
      // "error": parse warnings (which quote the rendered text) are never logged; aliases bounded
      parsed = parseYaml(text, { logLevel: "error", maxAliasCount: 100 });
    } catch (e) {
      throw new CustosError(
        "CUSTOS_TEMPLATE",
        `${where}: rendered output is not a YAML map: ${(e as Error).message.split("\n")[0] ?? ""}`,
        { retryable: false },
      );
    }
    if (parsed === null || parsed === undefined) return;
    if (typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new CustosError("CUSTOS_TEMPLATE", `${where}: rendered output is not a YAML map`, {
        retryable: false,
      });
    }
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>))
      put(target, k, typeof v === "string" ? v : JSON.stringify(v));
  };

  for (const [i, from] of (tpl.templateFrom ?? []).entries()) {
    const target = from.target ?? "Data";
    if (from.literal !== undefined) {
      putMap(target, run(`templateFrom[${i}].literal`, from.literal), `templateFrom[${i}].literal`);
      continue;
    }
    const source = from.configMap ?? from.secret;
    if (!source) continue;
    const content = from.configMap
      ? templateSources.configMaps.get(source.name)
      : templateSources.secrets.get(source.name);
    if (!content)
      throw new CustosError("CUSTOS_INVALID_SPEC", `template source "${source.name}" not found`, {
        retryable: false,
      });
    for (const item of source.items ??
      Object.keys(content).map((key) => ({ key, templateAs: "Values" as const }))) {
      const text = content[item.key];
      if (text === undefined)
        throw new CustosError(
          "CUSTOS_INVALID_SPEC",
          `template source "${source.name}" has no key "${item.key}"`,
          { retryable: false },
        );
      const where = `${source.name}/${item.key}`;
      if ((item.templateAs ?? "Values") === "KeysAndValues") putMap(target, run(where, text), where);
      else if (target === "Data") out.data[item.key] = runBytes(where, text);
      else put(target, item.key, run(where, text));
    }
  }
  for (const [k, text] of Object.entries(tpl.data ?? {})) out.data[k] = runBytes(k, text);
  for (const [k, text] of Object.entries(tpl.metadata?.labels ?? {}))
    out.labels[k] = run(`metadata.labels.${k}`, text);
  for (const [k, text] of Object.entries(tpl.metadata?.annotations ?? {}))
    out.annotations[k] = run(`metadata.annotations.${k}`, text);
  return out;
}

function copyMeta(m: Record<string, string> | undefined): Record<string, string> {
  const out = { ...(m ?? {}) };
  delete out[LAST_APPLIED];
  return out;
}
