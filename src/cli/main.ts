#!/usr/bin/env node
/**
 * The `custos` command line. Commands are thin: they parse flags and call library functions.
 * Errors are mapped to exit codes once, here.
 */
import { Command } from "@commander-js/extra-typings";
import { registerOperatorCommand } from "./commands/operator.ts";
import { registerSealCommand } from "./commands/seal.ts";
import { CustosError } from "../util/errors.ts";
import { redactor } from "../util/redact.ts";
import { VERSION } from "../version.ts";

export function buildProgram(): Command {
  const program = new Command()
    .name("custos")
    .description(
      "Secrets into Kubernetes safely: sync from Vault/OpenBao and AWS with the External Secrets API,\n" +
        "seal Secrets for git in the Sealed Secrets format, and restart workloads when their Secrets change.",
    )
    .version(VERSION)
    .showHelpAfterError();
  registerOperatorCommand(program);
  registerSealCommand(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  const message = redactor.redact(e instanceof Error ? e.message : String(e));
  process.stderr.write(`custos: ${message}\n`);
  process.exitCode = e instanceof CustosError && !e.retryable ? 2 : 1;
}
