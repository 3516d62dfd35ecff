/**
 * The commands of `custos`, as data: a name and a one-line summary for `custos --help`, and the
 * module that defines the command, imported only when that command runs (or its --help is asked
 * for). So `custos seal` never loads the operator, and `custos --help` loads none of them.
 *
 * A command module (`commands/<name>.ts`, exporting `register<Name>Command(program)`) should keep its
 * top-level imports light (commander, types) and import what the command needs to run inside its
 * action: its --help then costs no more than commander.
 *
 * Adding a command: one line here.
 */
import type { Command } from "@commander-js/extra-typings";

/** What a command module may need beyond the program: every command, for `completion`. */
export interface CommandContext {
  readonly commands: readonly CommandEntry[];
}

export type RegisterCommand = (program: Command, context: CommandContext) => void;

export interface CommandEntry {
  readonly name: string;
  /** The line `custos --help` shows (the command's own --help says more). */
  readonly summary: string;
  readonly load: () => Promise<RegisterCommand>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "operator",
    summary: "Run the Custos operator (sync ExternalSecrets, unseal SealedSecrets, restart workloads)",
    load: async () => (await import("./commands/operator.ts")).registerOperatorCommand,
  },
  {
    name: "seal",
    summary: "Encrypt a Secret into a SealedSecret that is safe to commit (kubeseal-compatible)",
    load: async () => (await import("./commands/seal.ts")).registerSealCommand,
  },
  {
    name: "render",
    summary: "The Secret(s) ExternalSecrets would produce, from the live store or a values file",
    load: async () => (await import("./commands/render.ts")).registerRenderCommand,
  },
  {
    name: "completion",
    summary: "Print a shell completion script (bash, zsh, fish)",
    load: async () => (await import("./commands/completion.ts")).registerCompletionCommand,
  },
  {
    name: "status",
    summary: "Every object Custos manages with its Ready state, last sync and next refresh",
    load: async () => (await import("./commands/status.ts")).registerStatusCommand,
  },
  {
    name: "explain",
    summary: "Walk one ExternalSecret's chain and name the first broken link, with its fix",
    load: async () => (await import("./commands/explain.ts")).registerExplainCommand,
  },
  {
    name: "diff",
    summary: "What applying an ExternalSecret would change in its Secret (values hidden)",
    load: async () => (await import("./commands/diff.ts")).registerDiffCommand,
  },
  {
    name: "vault",
    summary:
      "Configure Vault for the cluster's stores: auth method, least-privilege policy, role (vault setup)",
    load: async () => (await import("./commands/vault.ts")).registerVaultCommand,
  },
  {
    name: "migrate",
    summary:
      "Convert kubernetes-external-secrets (KES) manifests to ESO ExternalSecrets and stores (migrate kes)",
    load: async () => (await import("./commands/migrate.ts")).registerMigrateCommand,
  },
  {
    name: "csi-provider",
    summary: "Serve the Secrets Store CSI driver's provider API: secrets as files, read as the pod",
    load: async () => (await import("./commands/csi-provider.ts")).registerCsiProviderCommand,
  },
];
