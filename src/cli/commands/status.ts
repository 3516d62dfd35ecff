/**
 * `custos status`: every object Custos manages, in one table, with the user's kubeconfig. Kinds
 * whose CRD is not served are skipped; cluster-scoped kinds are listed with -A only (a namespace
 * view shows that namespace's objects). Exit code 1 when any listed object is not Ready.
 */
import { Command, Option } from "@commander-js/extra-typings";
import { withExitCodes } from "./kube-cli.ts";

export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description(
      "Every ExternalSecret, ClusterExternalSecret, SecretStore, ClusterSecretStore and SealedSecret with its Ready condition, last sync and next refresh. Exit code 1 when any is not Ready.",
    )
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    .option("-n, --namespace <ns>", "namespace (default: the kubeconfig context's)")
    .option("-A, --all-namespaces", "every namespace, and the cluster-scoped kinds", false)
    .addOption(
      new Option("-o, --output <format>", "output format")
        .choices(["table", "json", "yaml"] as const)
        .default("table" as const),
    )
    .option("-w, --watch", "print again whenever something changes (polls the API server)", false)
    .option("--interval <seconds>", "polling interval of --watch", (v) => Number(v), 2)
    .addHelpText(
      "after",
      "\nExamples:\n  custos status -A\n  custos status -n team-a -o json\n  custos status -n team-a --watch\n",
    )
    .action(async (opts) => {
      await withExitCodes(async () => (await import("../status/live.ts")).runStatus(opts));
    });
}
