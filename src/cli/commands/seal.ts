/**
 * `custos seal`: kubeseal's job with kubeseal's flags. Secret in (YAML or JSON, file or stdin),
 * SealedSecret out; the certificate from a file or URL, or fetched from the controller through
 * the API server's service proxy, exactly where kubeseal looks for it. The flags are defined here;
 * the work is in ../seal/run.ts, imported when the command runs.
 */
import { Command, Option } from "@commander-js/extra-typings";

export function registerSealCommand(program: Command): void {
  program
    .command("seal")
    .description(
      "Encrypt a Secret into a SealedSecret that is safe to commit (kubeseal-compatible).\n\nExamples:\n" +
        "  custos seal --cert cert.pem -f secret.yaml > sealed.yaml\n" +
        "  kubectl create secret generic db --from-literal=k=v --dry-run=client -o yaml \\\n" +
        "    | custos seal > sealed.yaml\n" +
        "  echo -n x | custos seal --raw --namespace app --name db --from-file=/dev/stdin",
    )
    .option("-f, --file <file>", "input Secret (YAML or JSON); default: standard input")
    .addOption(
      new Option("-o, --format <format>", "output format")
        .choices(["yaml", "json"] as const)
        .default("yaml" as const),
    )
    .option(
      "--cert <file|url>",
      "certificate of the controller (file or URL; env SEALED_SECRETS_CERT); default: fetched from the controller",
    )
    .option("--controller-namespace <ns>", "namespace of the controller", "kube-system")
    .option("--controller-name <name>", "name of the controller's Service", "sealed-secrets-controller")
    .option("--kubeconfig <path>", "kubeconfig for fetching from the controller")
    .addOption(
      new Option(
        "--scope <scope>",
        "who may unseal: strict (name+namespace), namespace-wide, cluster-wide",
      ).choices(["strict", "namespace-wide", "cluster-wide"] as const),
    )
    .option("--fetch-cert", "print the controller's certificate and exit", false)
    .option(
      "--raw",
      "encrypt one value and print it as base64 (with --name, --namespace, --from-file)",
      false,
    )
    .option("--name <name>", "name of the Secret (with --raw)")
    .option("--namespace <ns>", "namespace of the Secret (with --raw, or when the Secret has none)")
    .option("--from-file <file>", "file holding the value to encrypt (with --raw)")
    .option(
      "--merge-into <file>",
      "add the input Secret's keys to this SealedSecret file, keeping its formatting and comments",
    )
    .option("--re-encrypt", "re-encrypt the input SealedSecret with the controller's newest key", false)
    .option("--validate", "check that the controller can unseal the input SealedSecret", false)
    .option(
      "--recovery-unseal",
      "decrypt the input SealedSecret with private keys (disaster recovery)",
      false,
    )
    .option(
      "--recovery-private-key <files...>",
      "private keys for --recovery-unseal: PEM files or key Secrets, comma separated or repeated",
    )
    .option("--allow-empty-data", "allow sealing a Secret without data", false)
    .action(async (o) => {
      const { runSeal } = await import("../seal/run.ts");
      await runSeal(o);
    });
}
