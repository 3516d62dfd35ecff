/**
 * How `custos render` prints a rendered Secret. Without --show-values no value leaves the process:
 * data values are shown as their size, and so are label and annotation values that a template
 * produced (templates see the secret values) and the data-hash annotation (a hash of the values,
 * which would allow guessing a weak value offline). Pure.
 */
import { stringify } from "yaml";
import { MANAGED_LABEL, OWNER_LABEL } from "../../controllers/externalsecret/plan.ts";
import { DATA_HASH_ANNOTATION } from "../../controllers/externalsecret/status.ts";
import type { ExternalSecret, SecretObject } from "../../controllers/externalsecret/types.ts";

export type RenderFormat = "summary" | "yaml" | "json";

export interface Rendered {
  es: ExternalSecret;
  secret: SecretObject;
}

const CONTROLLER_LABELS = new Set([MANAGED_LABEL, OWNER_LABEL]);

function bytes(b64: string): number {
  return Buffer.from(b64, "base64").length;
}

function hidden(size: number): string {
  return `<hidden: ${size} bytes>`;
}

/**
 * Whether a label or annotation value may be printed without --show-values: the controller's own
 * labels, and, when the ExternalSecret has no template, values copied from its own metadata.
 */
function metaVisible(
  es: ExternalSecret,
  which: "labels" | "annotations",
  key: string,
  value: string,
): boolean {
  if (which === "labels" && CONTROLLER_LABELS.has(key)) return true;
  if (which === "annotations" && key === DATA_HASH_ANNOTATION) return false;
  return !es.spec?.target?.template && es.metadata[which]?.[key] === value;
}

function shownMeta(
  es: ExternalSecret,
  which: "labels" | "annotations",
  meta: Record<string, string> | undefined,
  showValues: boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(meta ?? {}).sort()) {
    const v = meta![k]!;
    out[k] = showValues || metaVisible(es, which, k, v) ? v : hidden(Buffer.byteLength(v));
  }
  return out;
}

/** The Secret manifest as printed: values (and value-derived metadata) hidden unless asked for. */
export function printedManifest(r: Rendered, showValues: boolean): SecretObject {
  const s = r.secret;
  const data: Record<string, string> = {};
  for (const k of Object.keys(s.data ?? {}).sort())
    data[k] = showValues ? s.data![k]! : hidden(bytes(s.data![k]!));
  // the operator sets the ExternalSecret's uid; a manifest from a file has none to show
  const owners = s.metadata.ownerReferences?.map((o) => {
    if (o.uid) return o;
    const rest: Partial<typeof o> = { ...o };
    delete rest.uid;
    return rest;
  });
  return {
    ...s,
    metadata: {
      ...s.metadata,
      ...(owners ? { ownerReferences: owners as typeof s.metadata.ownerReferences } : {}),
      labels: shownMeta(r.es, "labels", s.metadata.labels, showValues),
      annotations: shownMeta(r.es, "annotations", s.metadata.annotations, showValues),
    },
    data,
  };
}

/** A value for the summary: quoted text, or base64 for bytes that are not UTF-8 text. */
function shownValue(b64: string): string {
  const buf = Buffer.from(b64, "base64");
  const text = buf.toString("utf8");
  return Buffer.from(text, "utf8").equals(buf) ? JSON.stringify(text) : `base64:${b64}`;
}

function table(rows: [string, string][], indent: string): string[] {
  const width = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`.trimEnd());
}

/** The default output: what the Secret would be, keys and sizes. */
export function summary(r: Rendered, showValues: boolean): string {
  const s = r.secret;
  const where = (o: { metadata: { namespace?: string; name?: string } }): string =>
    `${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`;
  const lines = [
    `Secret ${where(s)} (type ${s.type ?? "Opaque"}) from ExternalSecret ${where(r.es)}${s.immutable ? ", immutable" : ""}`,
  ];
  for (const which of ["labels", "annotations"] as const) {
    const meta = shownMeta(r.es, which, s.metadata[which], showValues);
    const keys = Object.keys(meta);
    lines.push(`  ${which}:${keys.length ? "" : " none"}`);
    lines.push(
      ...table(
        keys.map((k) => [k, meta[k]!]),
        "    ",
      ),
    );
  }
  const keys = Object.keys(s.data ?? {}).sort();
  lines.push(`  data: ${keys.length} ${keys.length === 1 ? "key" : "keys"}`);
  lines.push(
    ...table(
      keys.map((k) => {
        const b64 = s.data![k]!;
        return [k, `${bytes(b64)} bytes${showValues ? `  ${shownValue(b64)}` : ""}`];
      }),
      "    ",
    ),
  );
  return `${lines.join("\n")}\n`;
}

export function formatRendered(rendered: Rendered[], format: RenderFormat, showValues: boolean): string {
  if (format === "summary") return rendered.map((r) => summary(r, showValues)).join("\n");
  const manifests = rendered.map((r) => printedManifest(r, showValues));
  if (format === "json") {
    const doc = manifests.length === 1 ? manifests[0] : { apiVersion: "v1", kind: "List", items: manifests };
    return `${JSON.stringify(doc, null, 2)}\n`;
  }
  return manifests.map((m) => stringify(m)).join("---\n");
}
