/**
 * What shell completion needs from the program, read off commander: commands (nested), their
 * options, which options take a value and the values they accept. Pure.
 */
import type { Command } from "@commander-js/extra-typings";

export interface CompletionOption {
  /** Every spelling: `-f`, `--file`. */
  flags: string[];
  description: string;
  takesValue: boolean;
  /** The accepted values, when the option lists them (`-o yaml|json`). */
  choices?: readonly string[] | undefined;
}

export interface CompletionCommand {
  name: string;
  description: string;
  options: CompletionOption[];
  /** Values the command's arguments accept, when listed (`completion bash|zsh|fish`). */
  argumentChoices: string[];
  commands: CompletionCommand[];
}

/** The structural view of commander's Command that completion reads. */
interface CommandLike {
  name(): string;
  summary(): string;
  description(): string;
  readonly options: readonly {
    short?: string | undefined;
    long?: string | undefined;
    description: string;
    required: boolean;
    optional: boolean;
    argChoices?: string[] | undefined;
    hidden?: boolean;
  }[];
  readonly commands: readonly CommandLike[];
  readonly registeredArguments: readonly { argChoices?: string[] | undefined }[];
}

const HELP: CompletionOption = { flags: ["-h", "--help"], description: "display help", takesValue: false };

export function completionModel(program: Command): CompletionCommand {
  return modelOf(program);
}

function modelOf(cmd: CommandLike): CompletionCommand {
  const options: CompletionOption[] = cmd.options
    .filter((o) => !o.hidden)
    .map((o) => ({
      flags: [o.short, o.long].filter((f): f is string => !!f),
      description: o.description,
      takesValue: o.required || o.optional,
      choices: o.argChoices,
    }));
  options.push(HELP);
  return {
    name: cmd.name(),
    description: cmd.summary() || firstLine(cmd.description()),
    options,
    argumentChoices: cmd.registeredArguments.flatMap((a) => a.argChoices ?? []),
    commands: cmd.commands.map((c) => modelOf(c)),
  };
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? "";
}

/** Every command with its path from the root (the root has the empty path). */
export function commandPaths(root: CompletionCommand): { path: string[]; command: CompletionCommand }[] {
  const out: { path: string[]; command: CompletionCommand }[] = [];
  const walk = (c: CompletionCommand, path: string[]): void => {
    out.push({ path, command: c });
    for (const sub of c.commands) walk(sub, [...path, sub.name]);
  };
  walk(root, []);
  return out;
}
