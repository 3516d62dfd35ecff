/**
 * Go text/template with Sprig and ESO functions, for ExternalSecret and SealedSecret templates.
 *
 *   renderTemplate("password", "{{ .user }}:{{ .pass | b64enc }}", { user: "a", pass: "b" })
 *
 * Errors are CustosError("CUSTOS_TEMPLATE") with Go's `template: name:line:col: ...` text; they
 * never carry data values. Every render runs in a sandbox: data becomes null-prototype maps read
 * through own properties (maps.ts), and work is charged to a per-render budget (steps, bytes,
 * cost; budget.ts) that fails with CUSTOS_TEMPLATE_BUDGET when exhausted. Numbers in data are
 * float64, as in JSON-decoded data in Go.
 */
import { builtinFuncs } from "./funcs.ts";
import { DEFAULT_LIMITS, execute, type TemplateLimits } from "./exec.ts";
import { withSessionBudget } from "./budget.ts";
import { TemplateBudgetError } from "./errors.ts";
import { parseTemplate, type ParsedTemplate } from "./parser.ts";

export type { TemplateLimits } from "./exec.ts";
export { DEFAULT_LIMITS } from "./exec.ts";
export { TemplateError, TemplateBudgetError } from "./errors.ts";
export { lastRenderUsage, type Usage } from "./budget.ts";

/**
 * Runs fn (synchronous) with one template budget shared by every render inside it: wrap the
 * rendering of all templates of one object, so that many keys do not multiply the budget.
 *
 *   const plan = withTemplateBudget(() => planSecret({ ... render ... }));
 */
export function withTemplateBudget<T>(fn: () => T, limits: Partial<TemplateLimits> = {}): T {
  return withSessionBudget({ ...DEFAULT_LIMITS, ...limits }, fn);
}

/** The names of the template functions (for tooling and fuzzing). */
export function templateFunctionNames(): string[] {
  return [...FUNCS.keys()];
}

export interface TemplateOptions {
  leftDelim?: string;
  rightDelim?: string;
  /** Go's `missingkey` option; ESO uses "error". */
  missingKey?: "error" | "zero" | "default";
  limits?: Partial<TemplateLimits>;
}

const FUNCS = builtinFuncs();

export interface CompiledTemplate {
  readonly name: string;
  /** The output as text (binary values decoded as UTF-8). */
  execute(data: unknown): string;
  /** The output as exact bytes (binary values copied as they are, as Go writes them). */
  executeBytes(data: unknown): Uint8Array;
}

/**
 * Largest template source parsed (parsing is linear, ~3 us per token: this bounds it to a few
 * hundred milliseconds; real ESO templates are a few KiB).
 */
export const MAX_TEMPLATE_SOURCE = 512 * 1024;

export function compileTemplate(name: string, text: string, opts: TemplateOptions = {}): CompiledTemplate {
  if (text.length > MAX_TEMPLATE_SOURCE)
    throw new TemplateBudgetError(name, "", 0, `template source larger than ${MAX_TEMPLATE_SOURCE} bytes`);
  const parsed: ParsedTemplate = parseTemplate(name, text, {
    ...(opts.leftDelim ? { leftDelim: opts.leftDelim } : {}),
    ...(opts.rightDelim ? { rightDelim: opts.rightDelim } : {}),
    isFunction: (n) => FUNCS.has(n),
  });
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const run = (data: unknown): (string | Uint8Array)[] =>
    execute(name, text, parsed, data, { missingKey: opts.missingKey ?? "default", funcs: FUNCS, limits });
  return {
    name,
    execute: (data) =>
      run(data)
        .map((c) => (typeof c === "string" ? c : Buffer.from(c).toString("utf8")))
        .join(""),
    executeBytes: (data) =>
      new Uint8Array(
        Buffer.concat(run(data).map((c) => (typeof c === "string" ? Buffer.from(c, "utf8") : c))),
      ),
  };
}

export function renderTemplate(
  name: string,
  text: string,
  data: unknown,
  opts: TemplateOptions = {},
): string {
  return compileTemplate(name, text, opts).execute(data);
}

/** ESO's engine v2: data is a map of key -> string value; missing keys are errors. */
export function renderEsoTemplate(name: string, text: string, data: unknown): string {
  return renderTemplate(name, text, data, { missingKey: "error" });
}

/** As renderEsoTemplate, with the output's exact bytes (for Secret data). */
export function renderEsoTemplateBytes(name: string, text: string, data: unknown): Uint8Array {
  return compileTemplate(name, text, { missingKey: "error" }).executeBytes(data);
}
