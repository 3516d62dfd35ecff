/**
 * Shell completion: the bash script, run by bash itself, completes commands, nested commands,
 * option values from their choices and command arguments, and leaves other values to bash's
 * default (files); the zsh and fish scripts carry the same commands, options and values, quoted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { Argument, Command, Option } from "@commander-js/extra-typings";
import { completionModel } from "../../../src/cli/completion/model.ts";
import { bashScript, fishScript, zshScript } from "../../../src/cli/completion/scripts.ts";
import { buildFullProgram } from "../../../src/cli/program.ts";
import { COMMANDS } from "../../../src/cli/table.ts";

function fakeProgram(): Command {
  const program = new Command().name("custos").version("1.0.0");
  const vault = program.command("vault").description("Vault helpers");
  vault
    .command("setup")
    .description("Configure Vault's auth for the cluster")
    .option("--dry-run", "print the vault commands")
    .addOption(new Option("--auth <method>", "the auth method").choices(["jwt", "kubernetes"]));
  program
    .command("render")
    .description("Render what it's going to produce")
    .option("-f, --file <file>", "the manifest")
    .addOption(new Option("-o, --output <format>", "output").choices(["yaml", "json"]));
  program.command("completion").addArgument(new Argument("<shell>").choices(["bash", "zsh", "fish"]));
  return program;
}

/** What bash completes for the words typed so far (the last word is being completed). */
function bashComplete(script: string, typed: string[]): string[] {
  const words = typed.map((w) => `'${w}'`).join(" ");
  const out = execFileSync(
    "bash",
    [
      "-c",
      `${script}\nCOMP_WORDS=(${words}); COMP_CWORD=${typed.length - 1}; _custos; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: "utf8" },
  );
  return out.split("\n").filter(Boolean);
}

test("bash: commands, nested commands, option choices, argument choices; other values left to bash", () => {
  const script = bashScript(completionModel(fakeProgram()), "custos");
  assert.deepEqual(bashComplete(script, ["custos", ""]).slice(0, 3), ["vault", "render", "completion"]);
  assert.deepEqual(bashComplete(script, ["custos", "re"]), ["render"]);
  assert.deepEqual(bashComplete(script, ["custos", "vault", ""]).slice(0, 1), ["setup"]);
  assert.deepEqual(bashComplete(script, ["custos", "vault", "setup", "--"]), [
    "--dry-run",
    "--auth",
    "--help",
  ]);
  assert.deepEqual(bashComplete(script, ["custos", "vault", "setup", "--auth", ""]), ["jwt", "kubernetes"]);
  assert.deepEqual(bashComplete(script, ["custos", "render", "-o", "j"]), ["json"]);
  // a file name is bash's default completion (complete -o default): the script offers nothing
  assert.deepEqual(bashComplete(script, ["custos", "render", "-f", ""]), []);
  // an option's value is not a command: "render -f vault" stays in render
  assert.deepEqual(bashComplete(script, ["custos", "render", "-f", "vault", "--o"]), ["--output"]);
  assert.deepEqual(bashComplete(script, ["custos", "completion", ""]).slice(0, 3), ["bash", "zsh", "fish"]);
});

test("bash: the real program's script completes its commands and seal's output formats", async () => {
  const script = bashScript(completionModel(await buildFullProgram(COMMANDS)), "custos");
  assert.ok(bashComplete(script, ["custos", ""]).includes("seal"));
  assert.deepEqual(bashComplete(script, ["custos", "seal", "--format", ""]), ["yaml", "json"]);
  assert.deepEqual(bashComplete(script, ["custos", "seal", "--scope", "n"]), ["namespace-wide"]);
});

test("zsh: one arm per command path, descriptions quoted", () => {
  const script = zshScript(completionModel(fakeProgram()), "custos");
  assert.match(script, /^#compdef custos\n/);
  assert.ok(script.includes(`(" vault setup")`));
  assert.ok(script.includes("(--auth) compadd -- jwt kubernetes; return ;;"));
  assert.ok(script.includes("(-f|--file) _files; return ;;"));
  assert.ok(script.includes(`'render:Render what it'\\''s going to produce'`));
  assert.ok(script.includes(`'setup:Configure Vault'\\''s auth for the cluster'`));
});

test("fish: completions conditioned on the command path, values and files", () => {
  const script = fishScript(completionModel(fakeProgram()), "custos");
  assert.ok(
    script.includes(
      `complete -c custos -n '__custos_at \\'root\\'' -a 'render' -d 'Render what it\\'s going to produce'`,
    ),
  );
  assert.ok(script.includes(`complete -c custos -n '__custos_at \\'root vault\\'' -a 'setup'`));
  assert.ok(
    script.includes(
      `complete -c custos -n '__custos_at \\'root render\\'' -s o -l output -x -a 'yaml json' -d 'output'`,
    ),
  );
  assert.ok(
    script.includes(
      `complete -c custos -n '__custos_at \\'root render\\'' -s f -l file -r -F -d 'the manifest'`,
    ),
  );
  assert.ok(script.includes(`complete -c custos -n '__custos_at \\'root completion\\'' -a 'bash zsh fish'`));
});
