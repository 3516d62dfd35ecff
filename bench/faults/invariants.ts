/**
 * The pure part of the fault suite: what a scenario's observations mean (lost, corrupted and
 * spuriously rewritten Secrets, wrong deletions) and the table they are reported in.
 */
import type { AuditEvent } from "./audit.ts";

/** Secret contents by "namespace/name", values decoded. */
export type SecretContents = Map<string, Record<string, string>>;

export interface StateCheck {
  /** Expected Secrets that do not exist. */
  missing: string[];
  /** Expected Secrets whose data differs from what their source says (including emptied ones). */
  wrong: string[];
}

function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/** Compares the cluster's Secrets with what their sources say they should hold. */
export function checkState(expected: SecretContents, actual: SecretContents): StateCheck {
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const [key, want] of expected) {
    const got = actual.get(key);
    if (!got) missing.push(key);
    else if (!sameData(want, got)) wrong.push(key);
  }
  return { missing: missing.sort(), wrong: wrong.sort() };
}

const secretKey = (e: AuditEvent): string => `${e.namespace ?? ""}/${e.name ?? ""}`;

/**
 * Secret writes beyond those the scenario caused: `allowed` maps a Secret to the number of writes
 * its changes justify (a changed source value, a Secret deleted by the scenario and re-created).
 * A create that fails with 409 is not a write (the audit events passed are successful ones).
 */
export function spuriousWrites(
  writes: readonly AuditEvent[],
  allowed: ReadonlyMap<string, number>,
): string[] {
  const seen = new Map<string, number>();
  for (const w of writes) seen.set(secretKey(w), (seen.get(secretKey(w)) ?? 0) + 1);
  const out: string[] = [];
  for (const [key, n] of seen) if (n > (allowed.get(key) ?? 0)) out.push(`${key} (${n} writes)`);
  return out.sort();
}

/** Deletions of Secrets by the operator that no source asked for. */
export function wrongDeletions(deletes: readonly AuditEvent[], allowed: ReadonlySet<string>): string[] {
  return [...new Set(deletes.map(secretKey))].filter((k) => !allowed.has(k)).sort();
}

/**
 * Two writers: between two leader kills (`kills`, ms) only one replica may write. A replica that
 * writes again after a later kill (it was restarted and won the lease back) is a new term, not an
 * overlap. Returns the number of terms with more than one writer.
 */
export function overlappingWriters(writes: readonly AuditEvent[], kills: readonly number[] = []): number {
  const bounds = [...kills].sort((a, b) => a - b);
  const terms = new Map<number, Set<string>>();
  for (const w of writes) {
    const term = bounds.filter((k) => k <= w.time).length;
    const set = terms.get(term) ?? new Set<string>();
    set.add(w.user);
    terms.set(term, set);
  }
  return [...terms.values()].filter((s) => s.size > 1).length;
}

export interface Row {
  scenario: string;
  load: string;
  faults: string;
  lost: number;
  corrupted: number;
  spurious: number;
  wrongDeletions: number;
  /** seconds from the end of the fault until every object is Ready with its expected data; undefined: never */
  convergeSeconds: number | undefined;
  /** store requests during the fault / during recovery / peak per second after the store's return */
  storeCalls: string;
  operatorRestarts: number;
  lists: number;
  /** scenario-specific invariants that failed (empty: all held) */
  failed: string[];
  notes: string[];
}

export function verdict(r: Row): boolean {
  return (
    r.lost === 0 &&
    r.corrupted === 0 &&
    r.spurious === 0 &&
    r.wrongDeletions === 0 &&
    r.convergeSeconds !== undefined &&
    r.failed.length === 0
  );
}

const HEAD = [
  "scenario",
  "load",
  "faults injected",
  "lost",
  "corrupted",
  "spurious rewrites",
  "wrong deletions",
  "converged in",
  "store calls (fault / recovery / peak per s)",
  "operator restarts",
  "LIST calls",
  "invariants",
];

function cells(r: Row): string[] {
  return [
    r.scenario,
    r.load,
    r.faults,
    String(r.lost),
    String(r.corrupted),
    String(r.spurious),
    String(r.wrongDeletions),
    r.convergeSeconds === undefined ? "never" : `${r.convergeSeconds.toFixed(1)} s`,
    r.storeCalls,
    String(r.operatorRestarts),
    String(r.lists),
    verdict(r) ? "held" : `FAILED: ${[...r.failed, ...failedCounts(r)].join("; ")}`,
  ];
}

function failedCounts(r: Row): string[] {
  const out: string[] = [];
  if (r.lost) out.push(`${r.lost} lost`);
  if (r.corrupted) out.push(`${r.corrupted} corrupted`);
  if (r.spurious) out.push(`${r.spurious} spurious rewrites`);
  if (r.wrongDeletions) out.push(`${r.wrongDeletions} wrong deletions`);
  if (r.convergeSeconds === undefined) out.push("did not converge");
  return out;
}

const esc = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** A Markdown table, one row per scenario. */
export function formatTable(rows: readonly Row[]): string {
  const lines = [`| ${HEAD.join(" | ")} |`, `| ${HEAD.map(() => "---").join(" | ")} |`];
  for (const r of rows) lines.push(`| ${cells(r).map(esc).join(" | ")} |`);
  return lines.join("\n") + "\n";
}

/** The notes under the table: what each scenario observed beyond the counts. */
export function formatNotes(rows: readonly Row[]): string {
  return rows
    .filter((r) => r.notes.length)
    .map((r) => `- **${r.scenario}**: ${r.notes.map(esc).join("; ")}`)
    .join("\n");
}

/**
 * The most reads a down store should see per remote secret during an outage of `ms`: one, then one
 * probe per back-off step of the read cache (2 s doubling to 30 s, src/engine/reads.ts).
 */
export function probeBound(ms: number): number {
  let t = 0;
  let d = 2000;
  let n = 1;
  while (t < ms) {
    t += d;
    n++;
    d = Math.min(2 * d, 30_000);
  }
  return n;
}

/**
 * The report with one run's block in place: each run replaces only its own section (between
 * marker comments), so runs of different scenarios and the hand-written reading of them coexist.
 * A section not there yet is appended.
 */
export function withSection(doc: string, section: string, block: string): string {
  const begin = `<!-- npm run faults --section ${section}: generated, do not edit -->`;
  const end = `<!-- end of section ${section} -->`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  const body = `${begin}\n${block.trim()}\n${end}`;
  if (i >= 0 && j > i) return doc.slice(0, i) + body + doc.slice(j + end.length);
  const head = doc.trim() ? doc.trimEnd() : "# Reliability: faults survived, measured";
  return `${head}\n\n${body}\n`;
}

/** The report as the repository's prettier writes it, so `npm test`'s format check passes after a run. */
export async function formatMarkdown(doc: string, file: string): Promise<string> {
  const prettier = await import("prettier");
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(doc, { ...options, parser: "markdown" });
}
