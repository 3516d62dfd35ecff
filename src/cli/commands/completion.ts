/** `custos completion bash|zsh|fish`: prints a completion script for every command of the table. */
import { Argument, type Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../table.ts";

export function registerCompletionCommand(program: Command, context: CommandContext): void {
  program
    .command("completion")
    .description(
      "Print a shell completion script for custos (commands, options, option values).\n\n" +
        "  source <(custos completion bash)          # bash: add to ~/.bashrc\n" +
        "  source <(custos completion zsh)           # zsh: add to ~/.zshrc (after compinit)\n" +
        "  custos completion fish > ~/.config/fish/completions/custos.fish",
    )
    .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh", "fish"] as const))
    .action(async (shell) => {
      const [{ buildFullProgram }, { completionModel }, { completionScript }] = await Promise.all([
        import("../program.ts"),
        import("../completion/model.ts"),
        import("../completion/scripts.ts"),
      ]);
      // every command's flags: the command modules define them without loading what they run
      const full = await buildFullProgram(context.commands);
      process.stdout.write(completionScript(shell, completionModel(full), "custos"));
    });
}
