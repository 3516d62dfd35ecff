/**
 * `custos vault setup`: configures Vault for the cluster from SecretStore/ClusterSecretStore and
 * ExternalSecret manifests — the auth method at the store's mount (JWT with the cluster's issuer
 * and keys, or Kubernetes with host, CA and a token reviewer), a policy for exactly the paths the
 * ExternalSecrets read, and the role bound to the store's service account and audience.
 * The decisions are in ../vault/ (pure); this module reads files, the API server and Vault, and
 * writes only what differs.
 */
import type { Command } from "@commander-js/extra-typings";
import { Option } from "@commander-js/extra-typings";
import type { StoreFlags } from "../vault/flags.ts";

const HELP_EXAMPLES = `
Examples:
  # what it would do, as vault CLI commands (nothing is changed)
  custos vault setup -f secretstore.yaml -f externalsecret.yaml --dry-run

  # configure Vault (VAULT_ADDR/VAULT_TOKEN or --vault-addr/--vault-token); safe to run again
  custos vault setup -f manifests/ -n team-a

  # without manifests: the store and the keys it reads as flags
  custos vault setup --auth kubernetes --role app --service-account team-a/app --kv-path secret --key app/db

Auth methods: jwt (auth.jwt.kubernetesServiceAccountToken) with the cluster's OIDC discovery when
Vault can reach the issuer, else the API server's keys (/openid/v1/jwks) as jwt_validation_pubkeys;
kubernetes (auth.kubernetes) with the kubeconfig's server and CA and a token reviewer. Other methods
(appRole, userPass, token, ...) are refused: their credentials are not the cluster's to give.`;

interface SetupOptions extends StoreFlags {
  filename?: string[] | undefined;
  namespace?: string | undefined;
  kubeconfig?: string | undefined;
  vaultAddr?: string | undefined;
  vaultToken?: string | undefined;
  vaultCaCert?: string | undefined;
  policy?: string | undefined;
  serviceAccount?: string | undefined;
  jwtKeys: "auto" | "discovery" | "jwks";
  reviewer: string;
  dryRun: boolean;
  replace: boolean;
  kubernetesHost?: string | undefined;
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

export function registerVaultCommand(program: Command): void {
  const vault = program
    .command("vault")
    .description("Configure Vault for the cluster's stores")
    .addHelpText(
      "after",
      "\nExamples:\n  custos vault setup -f secretstore.yaml -f externalsecret.yaml --dry-run",
    );
  vault
    .command("setup")
    .summary("Auth method, least-privilege policy and role for the given stores and ExternalSecrets")
    .description(
      "Enable and configure the auth method a Vault SecretStore/ClusterSecretStore uses, write a " +
        "least-privilege policy for exactly the paths the given ExternalSecrets read, and create the " +
        "role bound to the store's service account. Changes only what differs; --dry-run prints the " +
        "equivalent vault commands. No token or secret value is printed.",
    )
    .option(
      "-f, --filename <path>",
      "manifests (stores and ExternalSecrets): a file, a directory, or - for stdin; repeatable",
      collect,
    )
    .option("-n, --namespace <ns>", "namespace of objects without one (default: the kubeconfig context's)")
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    .option("--vault-addr <url>", "Vault address (default: $VAULT_ADDR, then the store's server)")
    .option(
      "--vault-token <token>",
      "Vault token with rights on sys/auth, sys/policies and auth/* (default: $VAULT_TOKEN, ~/.vault-token)",
    )
    .option("--vault-ca-cert <file>", "CA certificate of Vault's TLS (default: $VAULT_CACERT)")
    .option("--policy <name>", "name of the policy (default: custos-<auth mount>-<role>)")
    .option(
      "--service-account <ns/name>",
      "the store's service account: without -f, the one to bind; with -f, for a kubernetes store without serviceAccountRef",
    )
    .addOption(
      new Option(
        "--jwt-keys <source>",
        "how Vault checks JWTs: the issuer's OIDC discovery, or the API server's keys",
      )
        .choices(["auto", "discovery", "jwks"] as const)
        .default("auto" as const),
    )
    .option(
      "--reviewer <self|ns/name>",
      "kubernetes auth token reviewer: a ServiceAccount (created with system:auth-delegator) or self (Vault's own token)",
      "kube-system/custos-vault-reviewer",
    )
    .option("--dry-run", "print the vault commands instead of running them", false)
    .option(
      "--kubernetes-host <url>",
      "the API server address Vault's kubernetes auth calls (default: the kubeconfig's server)",
    )
    .option(
      "--replace",
      "overwrite an auth config, role or policy that someone else set (refused otherwise: it may serve other clients)",
      false,
    )
    .option("--auth <jwt|kubernetes>", "without -f: the store's auth method")
    .option("--auth-path <mount>", "without -f: the auth method's mount (default: jwt, kubernetes)")
    .option("--role <name>", "without -f: the role to create")
    .option("--audience <aud>", "without -f: an audience the store requests tokens for; repeatable", collect)
    .option("--kv-path <mount>", "without -f: the KV mount (the store's spec.provider.vault.path)")
    .option("--kv-version <v1|v2>", "without -f: the KV version (default: v2)")
    .option(
      "--key <key>",
      "without -f: a remote key the ExternalSecrets read (as in remoteRef.key); repeatable",
      collect,
    )
    .addHelpText("after", HELP_EXAMPLES)
    .action(async (opts: SetupOptions) => {
      const { runVaultSetup } = await import("../vault/run.ts");
      await runVaultSetup(opts, (text) => process.stdout.write(text));
    });
}

export type { SetupOptions };
