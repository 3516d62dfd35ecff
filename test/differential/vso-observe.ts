/**
 * What a user observes of one VSO differential case, normalised so VSO's run and Custos' run (in
 * different namespaces, possibly different Vault servers for a replay) compare: admission, the
 * VaultStaticSecret's conditions, `status.secretMAC` and `lastGeneration`, and the destination
 * Secret (type, data bytes incl. `_raw`, labels with VSO's four, annotations, owner references).
 * Pure.
 *
 * Normalisations: the owner UID (label `secrets.hashicorp.com/vso-ownerRefUID` and the owner
 * reference's uid) becomes `<uid>` (and the owner's name `<self>`) when it is the
 * VaultStaticSecret's; Vault's timestamps of the seeded paths (KV v2 `created_time`, inside `_raw`
 * and `.Metadata`) become named placeholders; `secretMAC` becomes `<hmac(data)>` when it is the
 * HMAC of the Secret's data under the shared key (the raw MAC is kept too and compared when both
 * runs read the same Vault).
 */
import { createHmac } from "node:crypto";

export const OWNER_UID_LABEL = "secrets.hashicorp.com/vso-ownerRefUID";

export interface VsoSecretView {
  type: string;
  /** base64 values, with Vault timestamps replaced by placeholders. */
  data: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** "apiVersion Kind/name uid=<uid> [controller] [blockOwnerDeletion]" per owner reference. */
  owners: string[];
}

export interface VsoObservation {
  admitted: boolean;
  /** Informational: not compared. */
  admissionMessage?: string;
  /** type → "status reason" of each condition. */
  conditions?: Record<string, string>;
  /** Informational: condition messages (VSO's carry a random horizon). */
  messages?: Record<string, string>;
  /** `<hmac(data)>`, `(none)`, or the MAC when it is not the HMAC of the observed data. */
  mac?: string;
  /** The raw status.secretMAC (compared only when both runs read the same Vault). */
  rawMac?: string;
  /** status.lastGeneration equals metadata.generation. */
  generationSeen?: boolean;
  secret?: VsoSecretView;
}

export interface RawVss {
  metadata: { uid: string; name: string; generation?: number };
  status?: {
    lastGeneration?: number;
    secretMAC?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface RawSecretObj {
  metadata: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }[];
  };
  type?: string;
  data?: Record<string, string>;
}

/** VSO's MAC of Secret data as the API returns it (base64 values): HMAC-SHA256 of Go's JSON, keys sorted. */
export function macOfData(key: Uint8Array, data: Record<string, string>): string {
  const body = Object.keys(data)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(data[k])}`)
    .join(",");
  return createHmac("sha256", key).update(`{${body}}`).digest("base64");
}

/** Replaces each timestamp (key) by its placeholder (value) in base64 data, byte-exactly. */
export function replaceTimes(b64: string, times: Record<string, string>): string {
  let s = Buffer.from(b64, "base64").toString("latin1");
  for (const [t, p] of Object.entries(times)) s = s.split(t).join(p);
  return Buffer.from(s, "latin1").toString("base64");
}

export function secretView(
  raw: RawSecretObj,
  owner: { uid: string; name: string },
  times: Record<string, string>,
): VsoSecretView {
  const ownerUid = owner.uid;
  const self = (o: { uid: string; name: string }): boolean => o.uid === owner.uid && o.name === owner.name;
  const labels = { ...(raw.metadata.labels ?? {}) };
  if (labels[OWNER_UID_LABEL] === ownerUid) labels[OWNER_UID_LABEL] = "<uid>";
  const annotations = { ...(raw.metadata.annotations ?? {}) };
  delete annotations["kubectl.kubernetes.io/last-applied-configuration"];
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw.data ?? {})) data[k] = replaceTimes(v, times);
  return {
    type: raw.type ?? "Opaque",
    data,
    labels,
    annotations,
    owners: (raw.metadata.ownerReferences ?? [])
      .map(
        (o) =>
          `${o.apiVersion} ${o.kind}/${self(o) ? "<self>" : o.name} uid=${o.uid === ownerUid ? "<uid>" : o.uid}` +
          `${o.controller ? " controller" : ""}${o.blockOwnerDeletion ? " blockOwnerDeletion" : ""}`,
      )
      .sort(),
  };
}

/** The observation of an admitted VaultStaticSecret (undefined: deleted) and its Secret. */
export function observe(
  vss: RawVss | undefined,
  secret: RawSecretObj | undefined,
  key: Uint8Array,
  times: Record<string, string>,
): VsoObservation {
  const out: VsoObservation = { admitted: true };
  if (!vss) return out;
  const st = vss.status;
  if (st?.conditions?.length) {
    out.conditions = {};
    out.messages = {};
    for (const c of st.conditions) {
      out.conditions[c.type] = `${c.status} ${c.reason ?? ""}`.trim();
      if (c.message) out.messages[c.type] = c.message;
    }
  }
  if (st) {
    out.generationSeen = st.lastGeneration === vss.metadata.generation;
    out.mac = !st.secretMAC
      ? "(none)"
      : secret?.data && st.secretMAC === macOfData(key, secret.data)
        ? "<hmac(data)>"
        : st.secretMAC;
    if (st.secretMAC) out.rawMac = st.secretMAC;
  }
  if (secret) out.secret = secretView(secret, vss.metadata, times);
  return out;
}

export interface VsoDifference {
  field: string;
  vso: string;
  custos: string;
}

const show = (v: unknown): string => (v === undefined ? "(none)" : JSON.stringify(v));

function diffMaps(
  field: string,
  a: Record<string, string> | undefined,
  b: Record<string, string> | undefined,
  out: VsoDifference[],
): void {
  const x = a ?? {};
  const y = b ?? {};
  for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort())
    if (x[k] !== y[k]) out.push({ field: `${field}[${k}]`, vso: show(x[k]), custos: show(y[k]) });
}

/**
 * Field-by-field differences between VSO's observation and Custos'. `sameVault`: both read the
 * same Vault data (the live differential), so the raw MACs must be equal too.
 */
export function compareVso(vso: VsoObservation, custos: VsoObservation, sameVault = false): VsoDifference[] {
  const out: VsoDifference[] = [];
  if (vso.admitted !== custos.admitted) {
    out.push({ field: "admitted", vso: String(vso.admitted), custos: String(custos.admitted) });
    return out;
  }
  if (!vso.admitted) return out;
  diffMaps("conditions", vso.conditions, custos.conditions, out);
  if (vso.mac !== custos.mac)
    out.push({ field: "status.secretMAC", vso: show(vso.mac), custos: show(custos.mac) });
  if (sameVault && vso.rawMac !== custos.rawMac)
    out.push({ field: "status.secretMAC(raw)", vso: show(vso.rawMac), custos: show(custos.rawMac) });
  if (vso.generationSeen !== custos.generationSeen)
    out.push({
      field: "status.lastGeneration=generation",
      vso: show(vso.generationSeen),
      custos: show(custos.generationSeen),
    });
  const a = vso.secret;
  const b = custos.secret;
  if (!a || !b) {
    if (a || b) out.push({ field: "secret", vso: a ? "exists" : "(none)", custos: b ? "exists" : "(none)" });
    return out;
  }
  if (a.type !== b.type) out.push({ field: "secret.type", vso: a.type, custos: b.type });
  diffMaps("secret.data", a.data, b.data, out);
  diffMaps("secret.labels", a.labels, b.labels, out);
  diffMaps("secret.annotations", a.annotations, b.annotations, out);
  if (a.owners.join(",") !== b.owners.join(","))
    out.push({ field: "secret.owners", vso: show(a.owners), custos: show(b.owners) });
  return out;
}

/**
 * Deliberate divergences: a case title pattern and the fields it may differ in, each with its
 * reason (also in docs/migrate-from-vso.md, "Differences from VSO you may notice").
 */
export interface VsoAllowance {
  title: RegExp;
  field: RegExp;
  reason: string;
}

export const VSO_ALLOWED: readonly VsoAllowance[] = [
  {
    title: /^transformationRefs sourceTemplates define named like a template$/,
    field: /^conditions\[|^status\.secretMAC|^secret$/,
    reason:
      "VSO parses every template of a VaultStaticSecret into one Go template set, so a referenced template named like a sourceTemplates `define` replaces it and calling it recurses until `exceeded maximum template depth`; Custos renders each template with its sources, so the `define` is what is called",
  },
];

/** The differences no allowance covers. */
export function unallowedVso(
  title: string,
  diffs: VsoDifference[],
  allowed: readonly VsoAllowance[] = VSO_ALLOWED,
): VsoDifference[] {
  return diffs.filter((d) => !allowed.some((a) => a.title.test(title) && a.field.test(d.field)));
}
