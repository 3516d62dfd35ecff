/**
 * SealedSecret <-> Secret, pure: what kubeseal produces from a Secret, and the Secret the
 * controller produces from a SealedSecret.
 */
import type { KeyObject } from "node:crypto";
import { CustosError, errorMessage } from "../util/errors.ts";
import { redactor } from "../util/redact.ts";
import {
  hybridDecrypt,
  hybridDecryptAsync,
  hybridEncrypt,
  scopeAnnotations,
  scopeLabel,
  scopeOf,
  type Scope,
} from "./crypto.ts";

export const ANNOTATION_MANAGED = "sealedsecrets.bitnami.com/managed";
export const ANNOTATION_PATCH = "sealedsecrets.bitnami.com/patch";
export const ANNOTATION_SKIP_OWNER = "sealedsecrets.bitnami.com/skip-set-owner-references";
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: unknown[];
  creationTimestamp?: string | null;
  resourceVersion?: string;
  [k: string]: unknown;
}

export interface SecretLike {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  type?: string;
  immutable?: boolean;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export interface SealedSecret {
  apiVersion: "bitnami.com/v1alpha1";
  kind: "SealedSecret";
  metadata: ObjectMeta;
  spec: {
    encryptedData?: Record<string, string>;
    data?: string;
    template?: { metadata?: ObjectMeta; type?: string; immutable?: boolean; data?: Record<string, string> };
  };
  status?: unknown;
}

/** Seals a Secret the way kubeseal does; server-set fields are dropped from the template. */
export function sealSecret(
  secret: SecretLike,
  publicKey: KeyObject,
  scope: Scope,
  opts: { allowEmptyData?: boolean } = {},
): SealedSecret {
  const name = secret.metadata.name ?? "";
  const namespace = secret.metadata.namespace ?? "";
  if (scope !== "cluster-wide" && !namespace)
    throw new CustosError(
      "CUSTOS_SEAL_FAILED",
      "the Secret has no namespace: set metadata.namespace or use --namespace (or --scope cluster-wide)",
      { retryable: false },
    );
  if (scope === "strict" && !name)
    throw new CustosError("CUSTOS_SEAL_FAILED", "the Secret has no name (needed for strict scope)", {
      retryable: false,
    });
  const values: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) values[k] = Buffer.from(v, "base64");
  for (const [k, v] of Object.entries(secret.stringData ?? {})) values[k] = Buffer.from(v, "utf8");
  if (Object.keys(values).length === 0 && !opts.allowEmptyData)
    throw new CustosError(
      "CUSTOS_SEAL_FAILED",
      "the Secret has no data (use --allow-empty-data to seal it anyway)",
      { retryable: false },
    );
  const label = scopeLabel(scope, namespace, name);
  const encryptedData: Record<string, string> = {};
  for (const k of Object.keys(values).sort())
    encryptedData[k] = hybridEncrypt(publicKey, values[k]!, label).toString("base64");
  const annotations = { ...cleanAnnotations(secret.metadata.annotations), ...scopeAnnotations(scope) };
  const templateMeta: ObjectMeta = {
    ...(name ? { name } : {}),
    ...(namespace ? { namespace } : {}),
    ...(secret.metadata.labels && Object.keys(secret.metadata.labels).length
      ? { labels: secret.metadata.labels }
      : {}),
    ...(Object.keys(cleanAnnotations(secret.metadata.annotations)).length
      ? { annotations: cleanAnnotations(secret.metadata.annotations) }
      : {}),
  };
  return {
    apiVersion: "bitnami.com/v1alpha1",
    kind: "SealedSecret",
    metadata: {
      ...(name ? { name } : {}),
      ...(namespace ? { namespace } : {}),
      creationTimestamp: null,
      ...(Object.keys(annotations).length ? { annotations } : {}),
    },
    spec: {
      encryptedData,
      template: {
        metadata: { ...templateMeta, creationTimestamp: null },
        ...(secret.type ? { type: secret.type } : {}),
        ...(secret.immutable ? { immutable: true } : {}),
      },
    },
  };
}

function cleanAnnotations(a: Record<string, string> | undefined): Record<string, string> {
  const out = { ...(a ?? {}) };
  delete out[LAST_APPLIED];
  return out;
}

/** Limits on what one unseal may cost (the sealing API applies them to anonymous callers). */
export interface UnsealLimits {
  /** Most values (encryptedData entries + legacy entries) one SealedSecret may carry. */
  maxEntries?: number;
}

interface UnsealPlan {
  label: Buffer;
  legacy: Buffer | undefined;
  entries: [string, Buffer][];
}

function planUnseal(ss: SealedSecret, limits: UnsealLimits): UnsealPlan {
  const label = scopeLabel(
    scopeOf(ss.metadata.annotations),
    ss.metadata.namespace ?? "",
    ss.metadata.name ?? "",
  );
  const encrypted = ss.spec.encryptedData;
  if (
    encrypted !== undefined &&
    (typeof encrypted !== "object" || encrypted === null || Array.isArray(encrypted))
  )
    throw new CustosError("CUSTOS_UNSEAL_FAILED", "spec.encryptedData is not a map", { retryable: false });
  const entries = Object.entries(encrypted ?? {});
  if (limits.maxEntries !== undefined && entries.length > limits.maxEntries)
    throw new CustosError("CUSTOS_UNSEAL_FAILED", `more than ${limits.maxEntries} encrypted values`, {
      retryable: false,
    });
  return {
    label,
    legacy:
      typeof ss.spec.data === "string" && ss.spec.data ? Buffer.from(ss.spec.data, "base64") : undefined,
    entries: entries.map(([k, v]) => [k, Buffer.from(typeof v === "string" ? v : "", "base64")]),
  };
}

/**
 * The values of a decrypted legacy `spec.data` (a whole Secret as JSON). The errors are fixed
 * texts: the plaintext is a secret, and a parser's message quotes its input (a decryption oracle
 * through /v1/rotate, before).
 */
function legacyValues(plain: Buffer, out: Record<string, Buffer>): void {
  let legacy: unknown;
  try {
    legacy = JSON.parse(plain.toString("utf8"));
  } catch {
    throw new CustosError("CUSTOS_UNSEAL_FAILED", "legacy spec.data does not decrypt to a Secret", {
      retryable: false,
    });
  }
  const data = (legacy as { data?: unknown } | null)?.data;
  if (data === undefined || data === null) return;
  if (typeof data !== "object" || Array.isArray(data))
    throw new CustosError("CUSTOS_UNSEAL_FAILED", "legacy spec.data does not decrypt to a Secret", {
      retryable: false,
    });
  for (const [k, v] of Object.entries(data)) out[k] = Buffer.from(typeof v === "string" ? v : "", "base64");
}

function entryFailed(e: unknown, k: string): CustosError {
  return new CustosError("CUSTOS_UNSEAL_FAILED", `${errorMessage(e)} (key "${k}")`, {
    retryable: false,
    cause: e,
  });
}

/** Decrypts every value of a SealedSecret (legacy `spec.data` included). Values are registered with the redactor. */
export function unsealValues(
  ss: SealedSecret,
  privateKeys: KeyObject[],
  limits: UnsealLimits = {},
): Record<string, Buffer> {
  const plan = planUnseal(ss, limits);
  const out: Record<string, Buffer> = {};
  if (plan.legacy) legacyValues(hybridDecrypt(privateKeys, plan.legacy, plan.label), out);
  for (const [k, ct] of plan.entries) {
    try {
      out[k] = hybridDecrypt(privateKeys, ct, plan.label);
    } catch (e) {
      throw entryFailed(e, k);
    }
  }
  for (const v of Object.values(out)) redactor.add(v);
  return out;
}

/**
 * unsealValues without blocking the event loop: the decryption runs on the thread pool, one
 * value at a time. The controller and the sealing API use this one.
 */
export async function unsealValuesAsync(
  ss: SealedSecret,
  privateKeys: readonly KeyObject[],
  limits: UnsealLimits = {},
): Promise<Record<string, Buffer>> {
  const plan = planUnseal(ss, limits);
  const out: Record<string, Buffer> = {};
  if (plan.legacy) legacyValues(await hybridDecryptAsync(privateKeys, plan.legacy, plan.label), out);
  for (const [k, ct] of plan.entries) {
    try {
      out[k] = await hybridDecryptAsync(privateKeys, ct, plan.label);
    } catch (e) {
      throw entryFailed(e, k);
    }
  }
  for (const v of Object.values(out)) redactor.add(v);
  return out;
}

export type TemplateRenderer = (name: string, text: string, data: Record<string, string>) => string;

/** The Secret a SealedSecret unseals into (name and namespace forced to the SealedSecret's). */
export function unsealToSecret(
  ss: SealedSecret,
  privateKeys: KeyObject[],
  render?: TemplateRenderer,
): SecretLike {
  return secretFromValues(ss, unsealValues(ss, privateKeys), render);
}

/** The Secret made of a SealedSecret's decrypted values (its template applied). */
export function secretFromValues(
  ss: SealedSecret,
  values: Record<string, Buffer>,
  render?: TemplateRenderer,
): SecretLike {
  const tpl = ss.spec.template ?? {};
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) data[k] = v.toString("base64");
  if (tpl.data && Object.keys(tpl.data).length) {
    if (!render)
      throw new CustosError("CUSTOS_TEMPLATE", "spec.template.data needs the template engine", {
        retryable: false,
      });
    const strings: Record<string, string> = {};
    for (const [k, v] of Object.entries(values)) strings[k] = v.toString("utf8");
    for (const [k, text] of Object.entries(tpl.data)) {
      const rendered = render(k, text, strings);
      redactor.add(rendered);
      data[k] = Buffer.from(rendered).toString("base64");
    }
  }
  const meta = tpl.metadata ?? {};
  const skipOwner = ss.metadata.annotations?.[ANNOTATION_SKIP_OWNER] === "true";
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      ...(meta.labels ? { labels: meta.labels } : {}),
      ...(meta.annotations ? { annotations: meta.annotations } : {}),
      ...(meta.finalizers ? { finalizers: meta.finalizers } : {}),
      name: ss.metadata.name ?? "",
      namespace: ss.metadata.namespace ?? "",
      ...(skipOwner
        ? {}
        : {
            ownerReferences: [
              {
                apiVersion: "bitnami.com/v1alpha1",
                kind: "SealedSecret",
                name: ss.metadata.name ?? "",
                uid: ss.metadata.uid ?? "",
                controller: true,
              },
            ],
          }),
    },
    type: tpl.type ?? "Opaque",
    ...(tpl.immutable ? { immutable: true } : {}),
    data,
  };
}
