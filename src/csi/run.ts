/**
 * The running CSI provider: Kubernetes client, session pool and read cache (the engine), the
 * gRPC sockets, and /healthz, /readyz, /metrics like the operator.
 *
 * The session pool is given an operator identity that refuses everything: whatever a store says,
 * this process never logs in as itself (stores are rewritten to the pod's identity, identity.ts;
 * this is the second wall).
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { KubeApi } from "../kube/api.ts";
import { createKubeAccess } from "../kube/access.ts";
import { HttpEndpoints } from "../manager/http.ts";
import { Metrics } from "../manager/metrics.ts";
import { SessionPool } from "../engine/sessions.ts";
import { ReadCache } from "../engine/reads.ts";
import type { OperatorIdentity } from "../providers/types.ts";
import { CustosError } from "../util/errors.ts";
import { createLogger, type LogFormat, type Logger } from "../util/log.ts";
import { redactor } from "../util/redact.ts";
import { PodTokens } from "./identity.ts";
import { CachedGets } from "./stores.ts";
import { CsiProviderServer, csiMetrics } from "./server.ts";
import { dialectsFor } from "./dialects/all.ts";
import type { MountEngine } from "./mount.ts";

export interface CsiProviderOptions {
  kubeconfig?: string | undefined;
  socketDir: string;
  controllerClass: string;
  /** Drop-in dialects to serve besides `custos` (vault, aws). */
  dropIns: string[];
  vaultAddress?: string | undefined;
  vaultMount?: string | undefined;
  readWindowMs: number;
  storeCacheMs: number;
  /** File holding the HMAC key of object versions (default: a random key per process). */
  versionKeyFile?: string | undefined;
  metricsPort: number;
  metricsBindAddress?: string | undefined;
  logLevel?: string | undefined;
  logFormat?: LogFormat | undefined;
  logger?: Logger | undefined;
}

export interface RunningCsiProvider {
  server: CsiProviderServer;
  engine: MountEngine;
  metrics: Metrics;
  metricsPort: number | undefined;
  gets: CachedGets;
  stop(): Promise<void>;
}

/** An operator identity that is never granted anything. */
const NO_IDENTITY: OperatorIdentity = {
  kubernetesToken: () => Promise.resolve(undefined),
  awsCredentials: () => () =>
    Promise.reject(
      new CustosError(
        "CUSTOS_OPERATOR_IDENTITY_DENIED",
        "the CSI provider never uses its own AWS credentials",
      ),
    ),
};

export async function runCsiProvider(o: CsiProviderOptions): Promise<RunningCsiProvider> {
  const log = o.logger ?? createLogger({ level: o.logLevel, format: o.logFormat });
  const api = KubeApi.fromDefault(o.kubeconfig);
  const metrics = new Metrics();
  const sessions = new SessionPool(
    {
      recordCall: (call, status) => {
        const [provider, name] = call.includes(":")
          ? (call.split(":", 2) as [string, string])
          : ["unknown", call];
        metrics.providerCalls.inc({ provider, call: name, status });
      },
      redact: (v, owner) => {
        redactor.add(v, owner);
      },
    },
    { operatorIdentity: { allowForNamespacedStores: false }, identity: NO_IDENTITY },
  );
  const tokens = new PodTokens();
  const realKube = createKubeAccess(api);
  const engine: MountEngine = {
    sessions,
    reads: new ReadCache(),
    tokens,
    kube: tokens.kubeAccess(realKube),
    readWindowMs: o.readWindowMs,
    versionKey: o.versionKeyFile ? await readFile(o.versionKeyFile) : randomBytes(32),
    log,
  };
  const gets = new CachedGets(api, o.storeCacheMs);
  const server = new CsiProviderServer({
    socketDir: o.socketDir,
    dialects: dialectsFor(o.dropIns),
    engine,
    env: {
      source: gets,
      controllerClass: o.controllerClass,
      kube: engine.kube,
      vaultAddress: o.vaultAddress,
      vaultMount: o.vaultMount,
      readFile: (p) => readFile(p, "utf8"),
    },
    metrics: csiMetrics(metrics),
    log,
  });
  await server.start();
  const http = new HttpEndpoints(metrics);
  let metricsPort: number | undefined;
  if (o.metricsPort > 0) {
    metricsPort = await http.listen(o.metricsPort, o.metricsBindAddress ?? "0.0.0.0");
  }
  log.info({ sockets: server.sockets, metricsPort }, "CSI provider started");
  return {
    server,
    engine,
    metrics,
    metricsPort,
    gets,
    async stop() {
      await server.stop();
      await http.close();
      await sessions.close();
    },
  };
}
