/**
 * Template errors in Go's form: `template: <name>:<line>:<col>: <what>`. They quote the template
 * source (the tenant's own manifest) but never a data value: the executor builds them from the
 * source, from types, and from messages functions raise as FuncError (written without values).
 */
import { CustosError, type CustosErrorCode } from "../util/errors.ts";

export class TemplateError extends CustosError {
  constructor(
    name: string,
    input: string,
    pos: number,
    what: string,
    code: CustosErrorCode = "CUSTOS_TEMPLATE",
  ) {
    const before = input.slice(0, pos);
    const line = before.split("\n").length;
    const col = pos - before.lastIndexOf("\n");
    super(code, `template: ${name}:${line}:${col}: ${what}`, { retryable: false });
  }
}

/** A render stopped by its budget (steps, bytes, cost, nesting): CUSTOS_TEMPLATE_BUDGET. */
export class TemplateBudgetError extends TemplateError {
  constructor(name: string, input: string, pos: number, what: string) {
    super(name, input, pos, what, "CUSTOS_TEMPLATE_BUDGET");
  }
}
