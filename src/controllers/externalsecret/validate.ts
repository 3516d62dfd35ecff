/**
 * The checks ESO's admission webhook makes, reported as a condition instead (Custos runs no
 * webhook, so applies never fail because the operator is down). Pure.
 */
import { parseDuration } from "../../util/duration.ts";
import type { ExternalSecret } from "./types.ts";
import { generatorRefProblem } from "../../generators/index.ts";

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
/** A Secret's name: a DNS-1123 subdomain, as the API server requires for every object name. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Undefined when `name` may name a Secret; else why not. Checked before any API path is built from it. */
export function secretNameProblem(name: string): string | undefined {
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
    return `target.name "${name.slice(0, 253)}" must be a DNS subdomain (lowercase letters, digits, '-' and '.', at most 253 characters)`;
  return undefined;
}

const validatedObjects = new WeakMap<ExternalSecret, readonly string[]>();

/**
 * The problems of an ExternalSecret, remembered per object of the informer's cache (a changed
 * object arrives as a new one): every refresh of an unchanged object validates nothing again.
 */
export function validateExternalSecret(es: ExternalSecret): string[] {
  let problems = validatedObjects.get(es);
  if (!problems) {
    problems = validate(es);
    validatedObjects.set(es, problems);
  }
  return [...problems];
}

function validate(es: ExternalSecret): string[] {
  const problems: string[] = [];
  const spec = es.spec ?? {};
  const target = spec.target ?? {};
  const creation = target.creationPolicy ?? "Owner";
  const deletion = target.deletionPolicy ?? "Retain";
  // a store is needed by every entry that reads (generators need none, as in ESO)
  const needsMainStore =
    (spec.data ?? []).some((d) => !d.sourceRef?.storeRef?.name) ||
    (spec.dataFrom ?? []).some((d) => !d.sourceRef?.generatorRef && !d.sourceRef?.storeRef?.name);
  if (!spec.secretStoreRef?.name && needsMainStore) {
    problems.push("spec.secretStoreRef.name is required");
  }
  if ((spec.data ?? []).length === 0 && (spec.dataFrom ?? []).length === 0 && !target.template) {
    problems.push("either data or dataFrom should be specified");
  }
  // ESO's webhook (and the CRD's rules, src/api/externalsecrets.ts) refuse these, with these
  // words; Orphan with Delete is accepted and fails only when a deletion is due (plan.ts).
  if (deletion === "Delete" && (creation === "Merge" || creation === "None"))
    problems.push(
      "deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner",
    );
  if (deletion === "Merge" && creation === "None")
    problems.push(
      "deletionPolicy=Merge must not be used with creationPolicy=None. There is no Secret to merge with",
    );
  if (target.name !== undefined && target.name !== "") {
    const problem = secretNameProblem(target.name);
    if (problem) problems.push(problem);
  }
  const seen = new Set<string>();
  for (const [i, d] of (spec.data ?? []).entries()) {
    if (!d.secretKey || !SECRET_KEY.test(d.secretKey))
      problems.push(`data[${i}].secretKey "${d.secretKey ?? ""}" must match ${SECRET_KEY.source}`);
    // As ESO's webhook: duplicates only matter under Retain; otherwise the last entry wins.
    if (deletion === "Retain" && seen.has(d.secretKey))
      problems.push(`duplicate secretKey found: ${d.secretKey}`);
    seen.add(d.secretKey);
    if (!d.remoteRef?.key) problems.push(`data[${i}].remoteRef.key is required`);
  }
  for (const [i, d] of (spec.dataFrom ?? []).entries()) {
    const set = [d.extract, d.find, d.sourceRef?.generatorRef].filter(Boolean).length;
    if (set !== 1)
      problems.push(`dataFrom[${i}] must set exactly one of extract, find or sourceRef.generatorRef`);
    if (d.sourceRef?.generatorRef) {
      const problem = generatorRefProblem(d.sourceRef.generatorRef);
      if (problem) problems.push(`dataFrom[${i}].sourceRef.${problem}`);
    }
    if (d.extract && !d.extract.key) problems.push(`dataFrom[${i}].extract.key is required`);
  }
  if (spec.refreshInterval !== undefined) {
    try {
      if (parseDuration(spec.refreshInterval) < 0) problems.push("refreshInterval must not be negative");
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  return problems;
}
