/**
 * Which stores this operator serves, and which namespaces may use a store. Pure.
 *
 * - Controller class: a store whose `spec.controller` is empty or equals `--controller-class` is ours.
 * - A SecretStore serves only its own namespace.
 * - A ClusterSecretStore serves every namespace unless `spec.conditions` is set; then a namespace
 *   must match at least one condition, and a condition matches when any of its `namespaces`,
 *   `namespaceRegexes` or `namespaceSelector` matches (ESO's semantics).
 */
import { errorMessage } from "../../util/errors.ts";
import { compileRegex } from "../../util/regex.ts";

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    values?: string[];
  }[];
}

export interface StoreCondition {
  namespaceSelector?: LabelSelector;
  namespaces?: string[];
  namespaceRegexes?: string[];
}

/**
 * ESO's admission check of `spec.conditions` (there is no webhook here, so the store reports it):
 * every namespace regex must compile as Go's regexp would.
 */
export function conditionProblems(conditions: StoreCondition[] | undefined): string[] {
  const out: string[] = [];
  (conditions ?? []).forEach((c, ci) => {
    (c.namespaceRegexes ?? []).forEach((re, ri) => {
      try {
        compileRegex(re);
      } catch (e) {
        out.push(`spec.conditions[${ci}].namespaceRegexes[${ri}]: ${errorMessage(e)}`);
      }
    });
  });
  return out;
}

export function isOurStore(spec: { controller?: string } | undefined, controllerClass: string): boolean {
  const c = spec?.controller ?? "";
  return c === "" || c === controllerClass;
}

export function matchesSelector(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const v = labels[e.key];
    switch (e.operator) {
      case "In":
        if (!has || !(e.values ?? []).includes(v!)) return false;
        break;
      case "NotIn":
        if (has && (e.values ?? []).includes(v!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/**
 * Undefined when `namespace` may use a ClusterSecretStore with these conditions, else the reason.
 * `namespaceLabels` is needed only for selectors; pass undefined when the namespace is unknown.
 */
export function clusterStoreDenial(
  storeName: string,
  conditions: StoreCondition[] | undefined,
  namespace: string,
  namespaceLabels: Record<string, string> | undefined,
): string | undefined {
  if (!conditions || conditions.length === 0) return undefined;
  for (const c of conditions) {
    if (c.namespaces?.includes(namespace)) return undefined;
    for (const re of c.namespaceRegexes ?? []) {
      try {
        // Go's regexp.MatchString on RE2, as ESO: linear time whatever the pattern
        if (compileRegex(re).test(namespace)) return undefined;
      } catch {
        /* an invalid (or over-limit) regex matches nothing; the store's own validation reports it */
      }
    }
    if (c.namespaceSelector && namespaceLabels && matchesSelector(c.namespaceSelector, namespaceLabels))
      return undefined;
  }
  // ESO's wording, so alerts and tests written for ESO match
  return `using cluster store "${storeName}" is not allowed from namespace "${namespace}": denied by spec.condition`;
}
