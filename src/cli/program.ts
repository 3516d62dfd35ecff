/**
 * The commander program over the command table: only the command being run (or asked about) is
 * loaded; the others appear in `--help` by their table summary.
 */
import { Command } from "@commander-js/extra-typings";
import { VERSION } from "../version.ts";
import type { CommandEntry } from "./table.ts";

const DESCRIPTION =
  "Secrets into Kubernetes safely: sync from Vault/OpenBao and AWS with the External Secrets API, " +
  "seal Secrets for git in the Sealed Secrets format, and restart workloads when their Secrets change.";

/**
 * The command named by the arguments (after node and the script): the first operand, or the one
 * after `help`. The program's own options (--help, --version) take no value, so the first word not
 * starting with "-" is the command.
 */
export function commandNameIn(args: readonly string[]): string | undefined {
  const operands = args.filter((a) => !a.startsWith("-"));
  return operands[0] === "help" ? operands[1] : operands[0];
}

/** The program name: `kubectl custos` when run as the kubectl plugin (kubectl-custos on PATH). */
export function programNameFor(scriptPath: string | undefined): string {
  const base = (scriptPath ?? "").split(/[\\/]/).pop() ?? "";
  return base.startsWith("kubectl-custos") ? "kubectl custos" : "custos";
}

function root(name: string): Command {
  return new Command().name(name).description(DESCRIPTION).version(VERSION).showHelpAfterError();
}

/** The program for these arguments: the named command loaded, the others as summaries. */
export async function buildProgram(
  commands: readonly CommandEntry[],
  args: readonly string[],
  name = "custos",
): Promise<Command> {
  const program = root(name);
  const wanted = commandNameIn(args);
  for (const entry of commands) {
    if (entry.name === wanted) await load(program, entry, commands);
    else program.command(entry.name).description(entry.summary);
  }
  return program;
}

/** The program with every command loaded (shell completion, tests of the table). */
export async function buildFullProgram(commands: readonly CommandEntry[], name = "custos"): Promise<Command> {
  const program = root(name);
  for (const entry of commands) await load(program, entry, commands);
  return program;
}

/** Registers the entry's command; the program's listing shows the table's summary either way. */
async function load(program: Command, entry: CommandEntry, commands: readonly CommandEntry[]): Promise<void> {
  (await entry.load())(program, { commands });
  const cmd = program.commands.find((c) => c.name() === entry.name);
  if (cmd && !cmd.summary()) cmd.summary(entry.summary);
}
