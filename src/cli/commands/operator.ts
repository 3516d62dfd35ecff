/**
 * `custos operator`: runs the controllers against a cluster until SIGINT/SIGTERM. The operator
 * (Kubernetes client, providers, metrics) is imported when the command runs, not for its --help.
 */
import type { Command } from "@commander-js/extra-typings";
import { hostname } from "node:os";
import { Option } from "@commander-js/extra-typings";
import { logFormatOption, logLevelOption } from "../log-options.ts";
import type { OperatorOptions } from "../../manager/index.ts";
import { parseDuration } from "../../util/duration.ts";
import { runUntilSignalled } from "../until-signal.ts";
import { hardenIntrinsics } from "../../util/harden.ts";
import { kesOptions } from "../../controllers/kes/config.ts";

function int(v: string): number {
  const n = Number.parseInt(v, 10);
  if (!Number.isFinite(n) || n < 0) throw new Error(`not a non-negative integer: ${v}`);
  return n;
}

export function registerOperatorCommand(program: Command): void {
  program
    .command("operator")
    .description(
      "Run the Custos operator: syncs ExternalSecrets, unseals SealedSecrets and restarts workloads " +
        "when their Secrets change. Uses $KUBECONFIG / ~/.kube/config, or the in-cluster service account.",
    )
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)")
    .option("--namespace <ns>", "watch only this namespace (default: all namespaces)")
    .option(
      "--controller-class <name>",
      "serve stores whose spec.controller is empty or equals this",
      "default",
    )
    .option("--concurrent <n>", "ExternalSecrets reconciled in parallel", int, 4)
    .option("--enable-leader-election", "run active/standby: only the Lease holder reconciles", false)
    .option(
      "--leader-election-namespace <ns>",
      "namespace of the leader election Lease (and of the sharding Leases)",
      "custos-system",
    )
    .option("--leader-election-id <name>", "name of the leader election Lease", "custos-leader")
    .option("--lease-duration <duration>", "leader election / sharding lease duration (Go duration)", "15s")
    .option(
      "--sharding",
      "run several active replicas that split the namespaces between them (Leases; replaces --enable-leader-election)",
      false,
    )
    .option("--shards <n>", "number of namespace shards (the same on every replica)", int, 32)
    .option("--sharding-id <name>", "prefix of the sharding Leases (one group of replicas)", "custos")
    .option(
      "--replica-id <id>",
      "this replica's identity for sharding (default: $POD_NAME, else the hostname)",
    )
    .option(
      "--lease-renew-period <duration>",
      "how often sharding Leases are renewed (default: lease duration / 3)",
    )
    .option("--metrics-port <port>", "port of /metrics, /healthz and /readyz (0 = disabled)", int, 8080)
    .option("--sealing-port <port>", "port of the Sealed Secrets HTTP API (/v1/cert.pem, ...)", int, 8081)
    .option(
      "--sealing-bind-address <address>",
      "address the Sealed Secrets HTTP API listens on (kubeseal reaches it through the service proxy: the pod's address)",
      "0.0.0.0",
    )
    .addOption(
      new Option("--controllers <list>", "comma-separated controllers to run").default(
        "externalsecret,sealedsecret,rollout,kes,vso,pushsecret,generatorstate",
      ),
    )
    .option("--sealed-secrets-namespace <ns>", "namespace holding the sealing keys", "kube-system")
    .option("--key-renew-period <duration>", "sealing key rotation period (Go duration, 0 = never)", "720h")
    .option("--key-cn <cn>", "common name of new sealing certificates", "")
    .addOption(
      new Option("--reload-strategy <strategy>", "how workloads are restarted")
        .choices(["env-vars", "annotations"] as const)
        .default("env-vars" as const),
    )
    .addOption(
      new Option(
        "--resources-to-ignore <kinds>",
        "sources the rollout controller does not follow, as Reloader's flag: configMaps, secrets",
      ).choices(["configMaps", "secrets", "configMaps,secrets", "secrets,configMaps"] as const),
    )
    .option(
      "--auto-reload-all",
      'restart every workload that uses a changed Secret/ConfigMap, unless it is annotated reloader.stakater.com/auto: "false" (Reloader\'s flag)',
      false,
    )
    .option(
      "--reload-on-create",
      "a Secret/ConfigMap created while running restarts its workloads (Reloader's flag)",
      false,
    )
    .option(
      "--reload-on-delete",
      "a deleted Secret/ConfigMap restarts its workloads (Reloader's flag)",
      false,
    )
    .option("--store-requeue-interval <duration>", "how often stores are re-validated", "5m")
    .option(
      "--allow-operator-identity-for-namespaced-stores",
      "let namespaced SecretStores authenticate as the operator itself (its service-account token, its AWS default credentials); by default only ClusterSecretStores may",
      false,
    )
    .option(
      "--operator-namespace <ns>",
      "namespace of VSO's default VaultConnection/VaultAuth and HMAC key (default: $OPERATOR_NAMESPACE, the pod's namespace, custos-system)",
    )
    .option(
      "--min-refresh-interval <duration>",
      "floor for ExternalSecret refreshInterval: a shorter positive interval is raised to this (0 = no floor)",
      "5s",
    )
    // kubernetes-client.io (KES) objects; each flag wins over KES's environment variable named after it
    .option(
      "--kes-service-account <namespace/name>",
      "KES objects log in to Vault with this ServiceAccount's token (TokenRequest); default: the operator's own token in a cluster",
    )
    .option("--kes-token-audiences <list>", "audiences of the --kes-service-account token", "vault")
    .option("--kes-vault-addr <url>", "Vault address for KES objects (VAULT_ADDR)")
    .option("--kes-vault-namespace <ns>", "Vault Enterprise namespace for KES objects (VAULT_NAMESPACE)")
    .option(
      "--kes-default-vault-mount-point <path>",
      "auth mount when a KES object has no vaultMountPoint (DEFAULT_VAULT_MOUNT_POINT)",
    )
    .option("--kes-default-vault-role <role>", "role when a KES object has no vaultRole (DEFAULT_VAULT_ROLE)")
    .option(
      "--kes-poller-interval-ms <ms>",
      "poll period of KES objects (POLLER_INTERVAL_MILLISECONDS, default 10000)",
    )
    .option("--kes-disable-polling", "sync KES objects only when they change (DISABLE_POLLING)")
    .option(
      "--kes-watched-namespaces <list>",
      "namespaces of KES objects to serve (WATCHED_NAMESPACES; default all)",
    )
    .option("--kes-instance-id <id>", "serve KES objects whose spec.controllerId equals this (INSTANCE_ID)")
    .option(
      "--kes-enforce-namespace-annotations",
      "KES objects need their namespace's permitted annotations (ENFORCE_NAMESPACE_ANNOTATIONS)",
    )
    .option(
      "--kes-role-permitted-annotation <name>",
      "namespace annotation with the roles KES objects may use (ROLE_PERMITTED_ANNOTATION)",
    )
    .option(
      "--kes-naming-permitted-annotation <name>",
      "namespace annotation with the key names KES objects may read (NAMING_PERMITTED_ANNOTATION)",
    )
    .option(
      "--kes-aws-region <region>",
      "AWS region of KES objects without spec.region (AWS_REGION, default us-west-2)",
    )
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (o) => {
      const options: OperatorOptions = {
        ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
        ...(o.namespace ? { namespace: o.namespace } : {}),
        controllerClass: o.controllerClass,
        concurrent: Math.max(1, o.concurrent),
        sharding: o.sharding
          ? {
              namespace: o.leaderElectionNamespace,
              group: o.shardingId,
              shards: Math.max(1, o.shards),
              replicaId: o.replicaId ?? process.env.POD_NAME ?? hostname(),
              leaseDurationMs: parseDuration(o.leaseDuration),
              renewPeriodMs: o.leaseRenewPeriod ? parseDuration(o.leaseRenewPeriod) : undefined,
            }
          : undefined,
        leaderElection:
          o.enableLeaderElection && !o.sharding
            ? {
                namespace: o.leaderElectionNamespace,
                name: o.leaderElectionId,
                leaseDurationMs: parseDuration(o.leaseDuration),
              }
            : undefined,
        metricsPort: o.metricsPort,
        sealingPort: o.sealingPort,
        sealingBindAddress: o.sealingBindAddress,
        controllers: new Set(
          o.controllers
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean),
        ),
        sealedSecrets: {
          namespace: o.sealedSecretsNamespace,
          keyRenewPeriodMs: parseDuration(o.keyRenewPeriod),
          keyCn: o.keyCn,
        },
        reloadStrategy: o.reloadStrategy,
        reloadSwitches: {
          autoReloadAll: o.autoReloadAll,
          onCreate: o.reloadOnCreate,
          onDelete: o.reloadOnDelete,
        },
        ...(o.resourcesToIgnore
          ? { reloadIgnore: new Set(o.resourcesToIgnore.split(",") as ("secrets" | "configMaps")[]) }
          : {}),
        storeRequeueMs: parseDuration(o.storeRequeueInterval),
        allowOperatorIdentityForNamespacedStores: o.allowOperatorIdentityForNamespacedStores,
        minRefreshIntervalMs: parseDuration(o.minRefreshInterval),
        kes: kesOptions({
          serviceAccount: o.kesServiceAccount,
          tokenAudiences: o.kesTokenAudiences,
          vaultAddr: o.kesVaultAddr,
          vaultNamespace: o.kesVaultNamespace,
          defaultVaultMountPoint: o.kesDefaultVaultMountPoint,
          defaultVaultRole: o.kesDefaultVaultRole,
          pollerIntervalMs: o.kesPollerIntervalMs,
          disablePolling: o.kesDisablePolling,
          watchedNamespaces: o.kesWatchedNamespaces,
          instanceId: o.kesInstanceId,
          enforceNamespaceAnnotations: o.kesEnforceNamespaceAnnotations,
          rolePermittedAnnotation: o.kesRolePermittedAnnotation,
          namingPermittedAnnotation: o.kesNamingPermittedAnnotation,
          awsRegion: o.kesAwsRegion,
        }),
        ...(o.operatorNamespace ? { operatorNamespace: o.operatorNamespace } : {}),
        logLevel: o.logLevel,
        logFormat: o.logFormat,
      };
      const { runOperator } = await import("../../manager/index.ts");
      // the second wall against prototype pollution (the first: templates never reach a prototype);
      // every module the operator uses is loaded by now
      hardenIntrinsics();
      const op = await runOperator(options);
      await runUntilSignalled(() => op.stop());
    });
}
