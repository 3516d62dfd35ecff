/**
 * What a user observes of one differential case, normalised so ESO's run and Custos' run (in
 * different namespaces) compare: admission, the Ready condition, and the target Secret (type, data
 * bytes, labels, annotations with the data-hash, owner references, immutability). Pure.
 */
import { createHash } from "node:crypto";

export const MANAGED_PREFIX = "reconcile.external-secrets.io/";
const OWNER_LABEL = "reconcile.external-secrets.io/created-by";

export interface SecretView {
  type: string;
  /** base64 values, as the API server returns them. */
  data: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** "Kind/name controller" of each owner reference. */
  owners: string[];
  immutable: boolean;
}

export interface Observation {
  admitted: boolean;
  /** Informational: not compared (ESO's webhook and CRD messages differ in wording). */
  admissionMessage?: string;
  ready?: { status: string; reason: string };
  /** Informational: not compared (Custos puts the real cause where ESO is generic). */
  readyMessage?: string;
  secret?: SecretView;
}

interface RawSecret {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  };
  type?: string;
  data?: Record<string, string>;
  immutable?: boolean;
}

/** ESO's owner label value for an ExternalSecret: SHA3-224 of "namespace/name". */
export function ownerHash(namespace: string, name: string): string {
  return createHash("sha3-224").update(`${namespace}/${name}`).digest("hex");
}

/** The Secret as observed, with the namespace-dependent owner label made comparable. */
export function secretView(raw: RawSecret, namespace: string, esName: string): SecretView {
  const labels = { ...(raw.metadata.labels ?? {}) };
  if (labels[OWNER_LABEL] !== undefined && labels[OWNER_LABEL] === ownerHash(namespace, esName))
    labels[OWNER_LABEL] = "<sha3-224(namespace/name)>";
  const annotations = { ...(raw.metadata.annotations ?? {}) };
  delete annotations["kubectl.kubernetes.io/last-applied-configuration"];
  return {
    type: raw.type ?? "Opaque",
    data: raw.data ?? {},
    labels,
    annotations,
    owners: (raw.metadata.ownerReferences ?? [])
      .map((o) => `${o.kind}/${o.name}${o.controller ? " controller" : ""}`)
      .sort(),
    immutable: raw.immutable === true,
  };
}

export interface Difference {
  field: string;
  eso: string;
  custos: string;
}

const show = (v: unknown): string => (v === undefined ? "(none)" : JSON.stringify(v));

function diffMaps(
  field: string,
  a: Record<string, string>,
  b: Record<string, string>,
  out: Difference[],
): void {
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort())
    if (a[k] !== b[k]) out.push({ field: `${field}[${k}]`, eso: show(a[k]), custos: show(b[k]) });
}

/** Field-by-field differences between ESO's observation and Custos'. */
export function compare(eso: Observation, custos: Observation): Difference[] {
  const out: Difference[] = [];
  if (eso.admitted !== custos.admitted) {
    out.push({
      field: "admitted",
      eso: `${eso.admitted}${eso.admissionMessage ? ` (${eso.admissionMessage})` : ""}`,
      custos: `${custos.admitted}${custos.admissionMessage ? ` (${custos.admissionMessage})` : ""}`,
    });
    return out;
  }
  if (!eso.admitted) return out;
  if (eso.ready?.status !== custos.ready?.status)
    out.push({
      field: "ready.status",
      eso: `${show(eso.ready?.status)} ${eso.readyMessage ?? ""}`.trim(),
      custos: `${show(custos.ready?.status)} ${custos.readyMessage ?? ""}`.trim(),
    });
  if (eso.ready?.reason !== custos.ready?.reason)
    out.push({ field: "ready.reason", eso: show(eso.ready?.reason), custos: show(custos.ready?.reason) });
  const es = eso.secret;
  const cs = custos.secret;
  if (!es || !cs) {
    if (es || cs)
      out.push({ field: "secret", eso: es ? "exists" : "(none)", custos: cs ? "exists" : "(none)" });
    return out;
  }
  if (es.type !== cs.type) out.push({ field: "secret.type", eso: es.type, custos: cs.type });
  diffMaps("secret.data", es.data, cs.data, out);
  diffMaps("secret.labels", es.labels, cs.labels, out);
  diffMaps("secret.annotations", es.annotations, cs.annotations, out);
  if (es.owners.join(",") !== cs.owners.join(","))
    out.push({ field: "secret.owners", eso: show(es.owners), custos: show(cs.owners) });
  if (es.immutable !== cs.immutable)
    out.push({ field: "secret.immutable", eso: String(es.immutable), custos: String(cs.immutable) });
  return out;
}

/**
 * Deliberate divergences: a case title pattern and the fields it may differ in. Each has its
 * reason in docs/migrate-from-eso.md ("Differences you may notice (on purpose)").
 */
export interface Allowance {
  title: RegExp;
  field: RegExp;
  reason: string;
}

export const ALLOWED: readonly Allowance[] = [
  {
    title: /^policy creation=None .* existing=true$|^policy missing remote /,
    field: /^secret\.labels\[reconcile\.external-secrets\.io\/managed\]$/,
    reason:
      "ESO labels any existing Secret named by the target at the start of each reconcile (its label-filtered cache needs it), even with creationPolicy None or when the sync then fails; Custos labels only a Secret it writes",
  },
  {
    title: /^policy missing remote creation=Owner deletion=Delete$/,
    field: /^secret$/,
    reason:
      "with deletionPolicy Delete and the remote secret gone, ESO deletes a Secret it did not create (it labelled it managed a moment before); Custos deletes only a Secret it manages",
  },
  {
    title: /^ssm find path /,
    field: /^ready\.|^secret$/,
    reason: "ESO refuses a Parameter Store find with a path but no name or tags; Custos lists the path",
  },
  {
    title: /^duplicate secretKey deletion=(\(unset\)|Retain)$/,
    field: /^admitted$/,
    reason:
      "ESO's webhook refuses duplicate secretKeys under Retain; Custos has no webhook and refuses them in the Ready condition (a linear CEL check needs Kubernetes 1.33)",
  },
];

/** The differences no allowance covers. */
export function unallowed(
  title: string,
  diffs: Difference[],
  allowed: readonly Allowance[] = ALLOWED,
): Difference[] {
  return diffs.filter((d) => !allowed.some((a) => a.title.test(title) && a.field.test(d.field)));
}
