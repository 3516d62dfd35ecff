/**
 * The Secret an ExternalSecret would produce, from what its stores returned: the controller's own
 * pure steps in the controller's order (validate, buildSecretData, planSecret, each data and
 * rewrite pass under one template budget), so `custos render` fails exactly where a sync would and
 * with the message the Ready condition would carry. Pure.
 */
import { errorMessage } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";
import type { FetchResults } from "../../controllers/externalsecret/data.ts";
import type { TemplateSources } from "../../controllers/externalsecret/plan.ts";
import { planFromResults } from "../../controllers/externalsecret/outcome.ts";
import { validateExternalSecret } from "../../controllers/externalsecret/validate.ts";
import type { ExternalSecret, SecretObject } from "../../controllers/externalsecret/types.ts";

export type RenderResult =
  | { ok: true; secret: SecretObject; message: string }
  /** `secret` absent: nothing would be written (creationPolicy None, retained, ...). */
  | { ok: true; secret?: undefined; message: string }
  | { ok: false; message: string };

/** The ExternalSecret's spec problems, as the condition reports them; undefined when valid. */
export function specProblem(es: ExternalSecret): string | undefined {
  const problems = validateExternalSecret(es);
  return problems.length ? `invalid ExternalSecret: ${problems.join("; ")}` : undefined;
}

export function renderExternalSecret(input: {
  es: ExternalSecret;
  results: FetchResults;
  templateSources: TemplateSources;
  /** The target Secret as it is (creationPolicy Merge merges into it); undefined: none. */
  existing?: SecretObject | undefined;
  now: Date;
}): RenderResult {
  const { es } = input;
  const invalid = specProblem(es);
  if (invalid) return { ok: false, message: invalid };
  try {
    const { plan } = planFromResults({
      es,
      results: input.results,
      templateSources: input.templateSources,
      existing: input.existing,
      now: input.now,
    });
    if (!plan.condition.ok) return { ok: false, message: plan.condition.message };
    return plan.secret
      ? { ok: true, secret: plan.secret, message: plan.condition.message }
      : { ok: true, message: plan.condition.message };
  } catch (e) {
    return { ok: false, message: failureMessage(e) };
  }
}

/** A failure as the Ready condition carries it (reconcile.ts): the error's message, redacted. */
export function failureMessage(e: unknown): string {
  return redactor.redact(errorMessage(e));
}
