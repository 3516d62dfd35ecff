/**
 * SealedSecret <-> Secret, pure: what kubeseal produces from a Secret, and the Secret the
 * controller produces from a SealedSecret.
 */
import type { KeyObject } from "node:crypto";
import { CustosError, errorMessage } from "../util/errors.ts";
import { redactor } from "../util/redact.ts";
import { hybridDecrypt, hybridEncrypt, scopeAnnotations, scopeLabel, scopeOf, type Scope } from "./crypto.ts";

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

/** Decrypts every value of a SealedSecret (legacy `spec.data` included). Values are registered with the redactor. */
export function unsealValues(ss: SealedSecret, privateKeys: KeyObject[]): Record<string, Buffer> {
  const name = ss.metadata.name ?? "";
  const namespace = ss.metadata.namespace ?? "";
  const label = scopeLabel(scopeOf(ss.metadata.annotations), namespace, name);
  const out: Record<string, Buffer> = {};
  if (ss.spec.data) {
    const plain = hybridDecrypt(privateKeys, Buffer.from(ss.spec.data, "base64"), label);
    const legacy = JSON.parse(plain.toString("utf8")) as SecretLike;
    for (const [k, v] of Object.entries(legacy.data ?? {})) out[k] = Buffer.from(v, "base64");
  }
  for (const [k, v] of Object.entries(ss.spec.encryptedData ?? {})) {
    try {
      out[k] = hybridDecrypt(privateKeys, Buffer.from(v, "base64"), label);
    } catch (e) {
      throw new CustosError("CUSTOS_UNSEAL_FAILED", `${errorMessage(e)} (key "${k}")`, {
        retryable: false,
        cause: e,
      });
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
  const values = unsealValues(ss, privateKeys);
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
