/**
 * The pure half of a sync: from what the stores returned (and the template sources and the target
 * Secret as it is) to the data and the Secret plan. Data building (rewrites) and the Secret's
 * templates each run under one template budget for the whole object, so many keys do not multiply
 * it. The operator, `custos render` and `custos explain` all come through here.
 */
import { withTemplateBudget } from "../../template/index.ts";
import { buildSecretData, type BuiltData, type FetchResults } from "./data.ts";
import { planSecret, type Plan, type TemplateSources } from "./plan.ts";
import { renderBytesForExternalSecret, renderForExternalSecret } from "./render.ts";
import type { ExternalSecret, SecretObject } from "./types.ts";

export interface OutcomeInput {
  es: ExternalSecret;
  results: FetchResults;
  templateSources: TemplateSources;
  /** The target Secret as it is; undefined when there is none. */
  existing: SecretObject | undefined;
  now: Date;
}

export function planFromResults(input: OutcomeInput): { built: BuiltData; plan: Plan } {
  const { es } = input;
  const render = renderForExternalSecret(es);
  const built = withTemplateBudget(() => buildSecretData(es, input.results, render));
  const plan = withTemplateBudget(() =>
    planSecret({
      es,
      data: built,
      existing: input.existing,
      templateSources: input.templateSources,
      render,
      renderBytes: renderBytesForExternalSecret(es),
      now: input.now,
    }),
  );
  return { built, plan };
}
