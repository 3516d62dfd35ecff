/**
 * Shell completion scripts for bash, zsh and fish, generated from the completion model: commands
 * (nested), options, option values (listed choices; files for other values). Pure.
 *
 * Each script finds the command path the same way: the words typed so far that name a command at
 * their level, so an option's value never counts as a command.
 */
import { commandPaths, type CompletionCommand, type CompletionOption } from "./model.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** Names and values outside this set are left out rather than quoted into shell code. */
const WORD = /^[A-Za-z0-9][A-Za-z0-9_.:/=+-]*$|^--?[A-Za-z0-9][A-Za-z0-9_-]*$/;

function words(list: readonly string[]): string[] {
  return list.filter((w) => WORD.test(w));
}

function functionName(program: string): string {
  return `_${program.replace(/[^A-Za-z0-9]/g, "_")}`;
}

/** The path as the scripts spell it: " seal", " vault setup" ("" for the root). */
function pathKey(path: string[]): string {
  return path.map((p) => ` ${p}`).join("");
}

function valueOptions(c: CompletionCommand): { flags: string[]; choices: string[] | undefined }[] {
  return c.options
    .filter((o) => o.takesValue)
    .map((o) => ({ flags: words(o.flags), choices: o.choices ? words(o.choices) : undefined }))
    .filter((o) => o.flags.length > 0);
}

function candidates(c: CompletionCommand): string[] {
  return words([
    ...c.commands.map((s) => s.name),
    ...c.argumentChoices,
    ...c.options.flatMap((o) => o.flags),
  ]);
}

function knownPaths(root: CompletionCommand): string[] {
  return commandPaths(root)
    .filter((p) => p.path.length > 0 && p.path.every((w) => WORD.test(w)))
    .map((p) => `"${pathKey(p.path)}"`);
}

export function bashScript(root: CompletionCommand, program: string): string {
  const fn = functionName(program);
  const arms = commandPaths(root).map(({ path, command }) => {
    const opts = valueOptions(command);
    const values = opts
      .filter((o) => o.choices)
      .map(
        (o) =>
          `        ${o.flags.join("|")}) COMPREPLY=($(compgen -W "${o.choices!.join(" ")}" -- "$cur")); return ;;`,
      );
    // any other value: bash's default completion (file names), from `complete -o default`
    const free = opts.filter((o) => !o.choices).flatMap((o) => o.flags);
    if (free.length) values.push(`        ${free.join("|")}) return ;;`);
    return [
      `    "${pathKey(path)}")`,
      ...(values.length ? ['      case "$prev" in', ...values, "      esac"] : []),
      `      words="${candidates(command).join(" ")}" ;;`,
    ].join("\n");
  });
  const paths = knownPaths(root);
  return `# bash completion for ${program}. Load it with:  source <(${program} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local path="" words="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$path $w" in
      ${paths.length ? paths.join("|") : '" "'}) path="$path $w" ;;
    esac
  done
  case "$path" in
${arms.join("\n")}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F ${fn} ${program}
`;
}

/** zsh single-quoted string. */
function zq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function describeItems(c: CompletionCommand): string[] {
  const items = [
    ...c.commands.filter((s) => WORD.test(s.name)).map((s) => [s.name, s.description] as const),
    ...words(c.argumentChoices).map((v) => [v, ""] as const),
    ...c.options.flatMap((o: CompletionOption) => words(o.flags).map((f) => [f, o.description] as const)),
  ];
  return items.map(([name, description]) => zq(`${name.replace(/:/g, "\\:")}:${description}`));
}

export function zshScript(root: CompletionCommand, program: string): string {
  const fn = functionName(program);
  const arms = commandPaths(root).map(({ path, command }) => {
    const opts = valueOptions(command);
    const values = opts
      .filter((o) => o.choices)
      .map((o) => `        (${o.flags.join("|")}) compadd -- ${o.choices!.join(" ")}; return ;;`);
    const free = opts.filter((o) => !o.choices).flatMap((o) => o.flags);
    if (free.length) values.push(`        (${free.join("|")}) _files; return ;;`);
    return [
      `    ("${pathKey(path)}")`,
      ...(values.length ? ['      case "$prev" in', ...values, "      esac"] : []),
      `      items=(${describeItems(command).join(" ")}) ;;`,
    ].join("\n");
  });
  const paths = knownPaths(root);
  return `#compdef ${program}
# zsh completion for ${program}. Load it with:  source <(${program} completion zsh)
# or save it as _${program} in a directory of $fpath.
${fn}() {
  local p="" prev="\${words[CURRENT-1]}" i w
  local -a items
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    case "$p $w" in
      (${paths.length ? paths.join("|") : '" "'}) p="$p $w" ;;
    esac
  done
  case "$p" in
${arms.join("\n")}
  esac
  _describe -t commands ${zq(program)} items
}
if [ "$funcstack[1]" = "${fn}" ]; then
  ${fn} "$@"
else
  compdef ${fn} ${program}
fi
`;
}

/** fish single-quoted string. */
function fq(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

export function fishScript(root: CompletionCommand, program: string): string {
  const fn = `__${program.replace(/[^A-Za-z0-9]/g, "_")}`;
  const lines: string[] = [];
  for (const { path, command } of commandPaths(root)) {
    const at = `-n ${fq(`${fn}_at 'root${pathKey(path)}'`)}`;
    for (const sub of command.commands.filter((s) => WORD.test(s.name)))
      lines.push(`complete -c ${program} ${at} -a ${fq(sub.name)} -d ${fq(sub.description)}`);
    const values = words(command.argumentChoices);
    if (values.length) lines.push(`complete -c ${program} ${at} -a ${fq(values.join(" "))}`);
    for (const o of command.options) {
      const flags = words(o.flags);
      if (!flags.length) continue;
      const spelled = flags
        .map((f) =>
          f.startsWith("--") ? `-l ${f.slice(2)}` : f.length === 2 ? `-s ${f.slice(1)}` : `-o ${f.slice(1)}`,
        )
        .join(" ");
      const value = !o.takesValue ? "" : o.choices ? ` -x -a ${fq(words(o.choices).join(" "))}` : " -r -F";
      lines.push(`complete -c ${program} ${at} ${spelled}${value} -d ${fq(o.description)}`);
    }
  }
  const paths = commandPaths(root)
    .filter((p) => p.path.length > 0 && p.path.every((w) => WORD.test(w)))
    .map((p) => fq(pathKey(p.path)));
  return `# fish completion for ${program}. Load it with:  ${program} completion fish | source
# or save it as ~/.config/fish/completions/${program}.fish
function ${fn}_path
  set -l p ''
  for w in (commandline -opc)[2..-1]
    switch "$p $w"
      case ${paths.length ? paths.join(" ") : "' '"}
        set p "$p $w"
    end
  end
  echo "root$p"
end
function ${fn}_at
  test (${fn}_path) = $argv[1]
end
complete -c ${program} -f
${lines.join("\n")}
`;
}

export function completionScript(shell: Shell, root: CompletionCommand, program: string): string {
  switch (shell) {
    case "bash":
      return bashScript(root, program);
    case "zsh":
      return zshScript(root, program);
    case "fish":
      return fishScript(root, program);
  }
}
