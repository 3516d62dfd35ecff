/**
 * `custos diff`, pure: what writing the planned Secret would change in the cluster's Secret — keys
 * added, removed and changed (values only when asked), labels, annotations, owner, type — and which
 * workloads would be restarted for it (Reloader's rules, src/controllers/rollout/match.ts).
 */
import { reloaderHash, shouldRestart, type Workload } from "../../controllers/rollout/match.ts";
import { DATA_HASH_ANNOTATION } from "../../controllers/externalsecret/status.ts";
import type { SecretObject } from "../../controllers/externalsecret/types.ts";

export interface MapDiff {
  added: Record<string, string>;
  removed: Record<string, string>;
  changed: Record<string, { from: string; to: string }>;
}

export interface SecretDiff {
  namespace: string;
  name: string;
  /** What happens to the Secret as a whole. */
  action: "create" | "update" | "delete" | "none";
  keys: { added: string[]; removed: string[]; changed: string[] };
  labels: MapDiff;
  annotations: MapDiff;
  owners: { from: string[]; to: string[] } | undefined;
  type: { from: string; to: string } | undefined;
  /** Workloads ("Deployment/name") a rollout would restart. */
  rollouts: string[];
}

function mapDiff(from: Record<string, string> = {}, to: Record<string, string> = {}): MapDiff {
  const d: MapDiff = { added: {}, removed: {}, changed: {} };
  for (const [k, v] of Object.entries(to)) {
    if (!Object.hasOwn(from, k)) d.added[k] = v;
    else if (from[k] !== v) d.changed[k] = { from: from[k]!, to: v };
  }
  for (const [k, v] of Object.entries(from)) if (!Object.hasOwn(to, k)) d.removed[k] = v;
  return d;
}

const owners = (s: SecretObject | undefined): string[] =>
  (s?.metadata.ownerReferences ?? []).map((r) => `${r.kind}/${r.name}${r.controller ? " (controller)" : ""}`);

/**
 * `desired` is what the operator would write (undefined with action "delete" or "none"). Labels and
 * annotations are compared only for what the operator sets (it merges into the existing ones).
 */
export function diffSecret(
  target: { namespace: string; name: string },
  action: SecretDiff["action"],
  existing: SecretObject | undefined,
  desired: SecretObject | undefined,
  workloads: Workload[],
): SecretDiff {
  const after = action === "delete" ? undefined : action === "none" ? existing : desired;
  const fromData = existing?.data ?? {};
  const toData = after?.data ?? {};
  const keys = {
    added: Object.keys(toData)
      .filter((k) => !Object.hasOwn(fromData, k))
      .sort(),
    removed: Object.keys(fromData)
      .filter((k) => !Object.hasOwn(toData, k))
      .sort(),
    changed: Object.keys(toData)
      .filter((k) => Object.hasOwn(fromData, k) && fromData[k] !== toData[k])
      .sort(),
  };
  const ownersFrom = owners(existing);
  const ownersTo = owners(after);
  const typeFrom = existing ? (existing.type ?? "Opaque") : "";
  const typeTo = after ? (after.type ?? "Opaque") : "";
  // Reloader restarts on a change of the data hash of an existing Secret (a new Secret is a first
  // sight, and a deleted one restarts nothing)
  const dataChanges =
    existing !== undefined && after !== undefined && reloaderHash(fromData) !== reloaderHash(toData);
  const rollouts = dataChanges
    ? workloads
        .filter((w) =>
          shouldRestart(w, {
            name: target.name,
            namespace: target.namespace,
            annotations: after.metadata.annotations,
          }),
        )
        .map((w) => `${w.kind}/${w.metadata.name ?? ""}`)
        .sort()
    : [];
  return {
    ...target,
    action,
    keys,
    labels: mapDiff(existing?.metadata.labels, after?.metadata.labels),
    annotations: mapDiff(existing?.metadata.annotations, after?.metadata.annotations),
    owners: ownersFrom.join() === ownersTo.join() ? undefined : { from: ownersFrom, to: ownersTo },
    type: typeFrom === typeTo ? undefined : { from: typeFrom, to: typeTo },
    rollouts,
  };
}

export function hasChanges(d: SecretDiff): boolean {
  const m = (x: MapDiff): number =>
    Object.keys(x.added).length + Object.keys(x.removed).length + Object.keys(x.changed).length;
  return (
    d.action === "create" ||
    d.action === "delete" ||
    d.keys.added.length + d.keys.removed.length + d.keys.changed.length > 0 ||
    m(d.labels) + m(d.annotations) > 0 ||
    d.owners !== undefined ||
    d.type !== undefined
  );
}

/** Decoded values of a Secret's data, for --show-values only. */
export type Values = { from: Record<string, string>; to: Record<string, string> } | undefined;

function decoded(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data ?? {}).map(([k, v]) => [
      k,
      JSON.stringify(Buffer.from(v, "base64").toString("utf8")),
    ]),
  );
}

/** The values for `formatDiff` when the user asked for them. */
export function valuesOf(existing: SecretObject | undefined, desired: SecretObject | undefined): Values {
  return { from: decoded(existing?.data), to: decoded(desired?.data) };
}

/**
 * kubectl-diff-like text: `+` added, `-` removed, `~` changed. The data-hash annotation is a hash
 * of the values: shown as changed, never by its value.
 */
export function formatDiff(d: SecretDiff, values: Values): string {
  const out: string[] = [];
  const head = `Secret ${d.namespace}/${d.name}`;
  if (d.action === "create") out.push(`${head}: would be created`);
  else if (d.action === "delete") out.push(`${head}: would be deleted`);
  else if (!hasChanges(d)) return `${head}: no changes\n`;
  else out.push(`${head}: would be updated`);
  const val = (side: "from" | "to", k: string): string => (values ? `: ${values[side][k] ?? ""}` : "");
  if (d.keys.added.length + d.keys.removed.length + d.keys.changed.length) {
    out.push("  data:");
    for (const k of d.keys.added) out.push(`    + ${k}${val("to", k)}`);
    for (const k of d.keys.removed) out.push(`    - ${k}${val("from", k)}`);
    for (const k of d.keys.changed)
      out.push(
        values
          ? `    ~ ${k}: ${values.from[k] ?? ""} -> ${values.to[k] ?? ""}`
          : `    ~ ${k} (value changed)`,
      );
  }
  const meta = (title: string, m: MapDiff): void => {
    const lines: string[] = [];
    const show = (k: string, v: string): string => (k === DATA_HASH_ANNOTATION ? k : `${k}: ${v}`);
    for (const [k, v] of Object.entries(m.added).sort()) lines.push(`    + ${show(k, v)}`);
    for (const [k, v] of Object.entries(m.removed).sort()) lines.push(`    - ${show(k, v)}`);
    for (const [k, c] of Object.entries(m.changed).sort())
      lines.push(k === DATA_HASH_ANNOTATION ? `    ~ ${k}` : `    ~ ${k}: ${c.from} -> ${c.to}`);
    if (lines.length) out.push(`  ${title}:`, ...lines);
  };
  meta("labels", d.labels);
  meta("annotations", d.annotations);
  if (d.owners)
    out.push(
      `  owner: ${d.owners.from.length ? d.owners.from.join(", ") : "(none)"} -> ${d.owners.to.length ? d.owners.to.join(", ") : "(none)"}`,
    );
  if (d.type) out.push(`  type: ${d.type.from || "(none)"} -> ${d.type.to || "(none)"}`);
  out.push(d.rollouts.length ? `  rollout: would restart ${d.rollouts.join(", ")}` : "  rollout: none");
  return out.join("\n") + "\n";
}
