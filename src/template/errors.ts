/** Template errors in Go's form: `template: <name>:<line>:<col>: <what>`. Never include data. */
import { CustosError } from "../util/errors.ts";

export class TemplateError extends CustosError {
  constructor(name: string, input: string, pos: number, what: string) {
    const before = input.slice(0, pos);
    const line = before.split("\n").length;
    const col = pos - before.lastIndexOf("\n");
    super("CUSTOS_TEMPLATE", `template: ${name}:${line}:${col}: ${what}`, { retryable: false });
  }
}
