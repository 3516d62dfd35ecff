#!/usr/bin/env node
/**
 * The `custos` command line (also `kubectl custos`). The commands are listed in ./table.ts and
 * loaded only when they run. Errors are mapped to exit codes once, here.
 */
import { buildProgram, programNameFor } from "./program.ts";
import { COMMANDS } from "./table.ts";
import { CustosError } from "../util/errors.ts";
import { redactor } from "../util/redact.ts";

try {
  const program = await buildProgram(COMMANDS, process.argv.slice(2), programNameFor(process.argv[1]));
  await program.parseAsync(process.argv);
} catch (e) {
  const message = redactor.redact(e instanceof Error ? e.message : String(e));
  process.stderr.write(`custos: ${message}\n`);
  process.exitCode = e instanceof CustosError && !e.retryable ? 2 : 1;
}
