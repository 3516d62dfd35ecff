/**
 * `custos migrate kes`: kubernetes-external-secrets manifests to ESO ExternalSecrets and stores.
 * Flags here; the work in ../migrate/, imported when the command runs.
 */
import { Command, Option } from "@commander-js/extra-typings";

export function registerMigrateCommand(program: Command): void {
  const migrate = program
    .command("migrate")
    .description("Convert manifests of other secret operators to the External Secrets Operator API");
  migrate
    .command("kes")
    .description(
      "Print external-secrets.io/v1 ExternalSecrets, with the ClusterSecretStores (or SecretStores) they need, " +
        "for the kubernetes-client.io/v1 (kubernetes-external-secrets) ExternalSecrets in FILE, in every " +
        "*.yaml/*.yml/*.json under DIR, or on standard input (-).\n\n" +
        "Backends vault, secretsManager and systemManager are converted; keys keep their meaning (a Vault key's " +
        "mount becomes the store's path, a read without property stays the whole JSON), merge order and " +
        "versions are kept, and refreshInterval follows KES's poll settings. Templates convert only where the " +
        "Go template means the same (literal text, <%= data.KEY %>, ${data.KEY}). Anything else is refused on " +
        "stderr as FILE:LINE: ExternalSecret NAME: not converted: REASON, and exits 1; the rest is still printed.\n\n" +
        "Settings come from flags, else from the KES Deployment given with --kes-deployment (VAULT_ADDR, " +
        "VAULT_NAMESPACE, DEFAULT_VAULT_MOUNT_POINT, DEFAULT_VAULT_ROLE, AWS_REGION, POLLER_INTERVAL_MILLISECONDS, " +
        "DISABLE_POLLING, and its service account for Vault's Kubernetes auth).\n\n" +
        "Custos can also serve the KES objects as they are (operator --controllers ...,kes); see " +
        "docs/migrate-from-kes.md.\n\n" +
        "Examples:\n" +
        "  custos migrate kes manifests/ --kes-deployment kes-deployment.yaml > eso.yaml\n" +
        "  custos migrate kes es.yaml --vault-addr https://vault:8200 --service-account external-secrets/kes\n" +
        "  kubectl get externalsecrets.kubernetes-client.io -A -o yaml | custos migrate kes -",
    )
    .argument("[input]", "FILE, DIR or - (standard input)", "-")
    .option(
      "--kes-deployment <file>",
      "KES's Deployment manifest: its environment and service account are the defaults",
    )
    .option("--vault-addr <url>", "Vault address of the stores (VAULT_ADDR)")
    .option("--vault-namespace <ns>", "Vault Enterprise namespace (VAULT_NAMESPACE)")
    .option(
      "--default-vault-mount-point <path>",
      "auth mount for objects without vaultMountPoint (DEFAULT_VAULT_MOUNT_POINT)",
    )
    .option("--default-vault-role <role>", "role for objects without vaultRole (DEFAULT_VAULT_ROLE)")
    .option("--aws-region <region>", "region for objects without spec.region (AWS_REGION, default us-west-2)")
    .option(
      "--service-account <namespace/name>",
      "KES's service account: Vault Kubernetes auth logs in with its token (auth.kubernetes.serviceAccountRef)",
    )
    .option("--token-audiences <list>", "audiences of that token", "vault")
    .addOption(
      new Option("--store-kind <kind>", "kind of the stores printed")
        .choices(["ClusterSecretStore", "SecretStore"] as const)
        .default("ClusterSecretStore" as const),
    )
    .option(
      "--refresh-interval <duration>",
      "refreshInterval of the ExternalSecrets (default: from KES's poll settings, 10s)",
    )
    .action(async (input, o) => {
      const { runMigrateKes } = await import("../migrate/run.ts");
      process.exitCode = runMigrateKes(input, o);
    });
}
