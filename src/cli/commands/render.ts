/**
 * `custos render -f FILE`: the Secret(s) an ExternalSecret would produce, through the controller's
 * own pipeline, from the live store or from a values file. Flags here; the work in ../render/run.ts,
 * imported when the command runs.
 */
import { Command, Option } from "@commander-js/extra-typings";

export function registerRenderCommand(program: Command): void {
  program
    .command("render")
    .description(
      "Show the Secret(s) ExternalSecrets would produce, through the same provider code and pipeline as the " +
        "operator: keys, sizes, type, labels and annotations; values only with --show-values. When an " +
        "ExternalSecret would fail, exits 1 with the message its Ready condition would carry.\n\n" +
        "Live (default): stores, credentials and template sources are read with your kubeconfig. Where the " +
        "operator would act as itself (a ClusterSecretStore without credentials), this process's identity is " +
        "used (your AWS default credentials), under the operator's rule for which stores may do so.\n\n" +
        "Offline (--values FILE): a map of remote key to value (string) or object; no cluster or store needed.\n\n" +
        "Takes ExternalSecrets, with the ConfigMaps and Secrets their templates use; KES and VSO objects are " +
        "not supported yet.\n\n" +
        "Examples:\n" +
        "  custos render -f externalsecret.yaml\n" +
        "  custos render -f externalsecret.yaml --values values.yaml -o yaml\n" +
        "  custos render -f externalsecret.yaml --show-values",
    )
    .requiredOption(
      "-f, --file <file>",
      "manifests with ExternalSecrets (YAML or JSON; - for standard input)",
    )
    .option(
      "--values <file>",
      "remote values (YAML or JSON map: remote key -> string or object) instead of the store",
    )
    .addOption(
      new Option("-o, --output <format>", "summary, or the Secret manifest")
        .choices(["summary", "yaml", "json"] as const)
        .default("summary" as const),
    )
    .option("--show-values", "print the values (default: sizes only)", false)
    .option("-n, --namespace <ns>", "namespace of ExternalSecrets that name none (default: the kubeconfig's)")
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    .option(
      "--controller-class <name>",
      "the operator's --controller-class (which stores it serves)",
      "default",
    )
    .option(
      "--allow-operator-identity-for-namespaced-stores",
      "as the operator flag: namespaced SecretStores may use the operator's (here: this process's) identity",
      false,
    )
    .action(async (o) => {
      const { runRender } = await import("../render/run.ts");
      process.exitCode = await runRender(o);
    });
}
