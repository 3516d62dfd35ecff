/**
 * `custos csi-provider`: serves the Secrets Store CSI driver's provider API on unix sockets
 * (src/csi/). Runs as a DaemonSet next to the driver; the heavy modules load only when it runs.
 */
import { runUntilSignalled } from "../until-signal.ts";
import type { Command } from "@commander-js/extra-typings";
import { logFormatOption, logLevelOption } from "../log-options.ts";
import { parseDuration } from "../../util/duration.ts";
import { hardenIntrinsics } from "../../util/harden.ts";

function int(v: string): number {
  const n = Number.parseInt(v, 10);
  if (!Number.isFinite(n) || n < 0) throw new Error(`not a non-negative integer: ${v}`);
  return n;
}

export function registerCsiProviderCommand(program: Command): void {
  program
    .command("csi-provider")
    .description(
      "Serve the Secrets Store CSI driver's provider API (v1alpha1.CSIDriverProvider) on <socket-dir>/custos.sock: " +
        "SecretProviderClasses with `provider: custos` mount secrets of a SecretStore or ClusterSecretStore as files, " +
        "read with the pod's own service-account token. With --drop-in vault,aws the same server also answers on " +
        "vault.sock and aws.sock for existing vault-csi-provider and AWS provider SecretProviderClasses.",
    )
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)")
    .option("--socket-dir <dir>", "the driver's provider directory", "/var/run/secrets-store-csi-providers")
    .option(
      "--controller-class <name>",
      "serve stores whose spec.controller is empty or equals this",
      "default",
    )
    .option("--drop-in <list>", "also answer as these providers (comma-separated: vault, aws)", "")
    .option(
      "--vault-addr <url>",
      "vault drop-in: Vault address when a class sets no vaultAddress (default $VAULT_ADDR)",
    )
    .option(
      "--vault-mount <path>",
      "vault drop-in: Kubernetes auth mount when a class sets none",
      "kubernetes",
    )
    .option(
      "--read-window <duration>",
      "a value read for one pod is reused by pods of the same identity for this long",
      "30s",
    )
    .option(
      "--store-cache <duration>",
      "how long store and namespace objects are reused between mounts",
      "5s",
    )
    .option("--version-key-file <path>", "HMAC key of object versions (default: a random key per process)")
    .option("--metrics-port <port>", "port of /metrics, /healthz and /readyz (0 = disabled)", int, 8080)
    .option("--metrics-bind-address <address>", "address of the metrics port", "0.0.0.0")
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (o) => {
      const { runCsiProvider } = await import("../../csi/run.ts");
      hardenIntrinsics();
      const running = await runCsiProvider({
        kubeconfig: o.kubeconfig,
        socketDir: o.socketDir,
        controllerClass: o.controllerClass,
        dropIns: o.dropIn
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
        vaultAddress: o.vaultAddr ?? process.env.VAULT_ADDR,
        vaultMount: o.vaultMount,
        readWindowMs: parseDuration(o.readWindow),
        storeCacheMs: parseDuration(o.storeCache),
        versionKeyFile: o.versionKeyFile,
        metricsPort: o.metricsPort,
        metricsBindAddress: o.metricsBindAddress,
        logLevel: o.logLevel,
        logFormat: o.logFormat,
      });
      await runUntilSignalled(() => running.stop());
    });
}
