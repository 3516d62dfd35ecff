/**
 * Wires the operator: Kubernetes client, shared services (sessions, reads, events, metrics),
 * controllers, HTTP endpoints and leader election. Controllers start only while leading (or at
 * once without leader election); the HTTP endpoints run on every replica.
 */
import { KubeApi } from "../kube/api.ts";
import { createKubeAccess } from "../kube/access.ts";
import { EventRecorder } from "../kube/events.ts";
import { LeaderElector } from "../kube/leader.ts";
import { ShardCoordinator, type ShardingOptions } from "../kube/sharding.ts";
import { shardWriteGuard, withShardGate } from "../kube/shard-scope.ts";
import { createLogger, type Logger, type LogFormat } from "../util/log.ts";
import { redactor } from "../util/redact.ts";
import { SessionPool } from "../engine/sessions.ts";
import { ReadCache } from "../engine/reads.ts";
import { Metrics } from "./metrics.ts";
import { HttpEndpoints } from "./http.ts";
import { ExternalSecretController } from "../controllers/externalsecret/controller.ts";
import { SecretStoreController } from "../controllers/secretstore/controller.ts";
import { ClusterExternalSecretController } from "../controllers/clusterexternalsecret/controller.ts";
import { CONTROLLERS } from "../controllers/all.ts";
import type { Controller } from "./registry.ts";
import type { KesOptions } from "../controllers/kes/config.ts";

export type { Controller } from "./registry.ts";

export interface OperatorOptions {
  kubeconfig?: string;
  /** Watch only this namespace. */
  namespace?: string;
  controllerClass: string;
  concurrent: number;
  leaderElection?: { namespace: string; name: string; leaseDurationMs: number } | undefined;
  /** Several active replicas splitting namespaces (ADR 0008); replaces leader election. */
  sharding?: ShardingOptions | undefined;
  metricsPort: number;
  sealingPort: number;
  /** Address of the Sealed Secrets HTTP API (default all interfaces). */
  sealingBindAddress?: string;
  controllers: Set<string>;
  sealedSecrets: { namespace: string; keyRenewPeriodMs: number; keyCn: string };
  reloadStrategy: "env-vars" | "annotations";
  /** Sources the rollout controller does not follow (Reloader's --resources-to-ignore). */
  reloadIgnore?: ReadonlySet<"secrets" | "configMaps"> | undefined;
  /** Reloader's --auto-reload-all, --reload-on-create, --reload-on-delete (all off by default). */
  reloadSwitches?: { autoReloadAll?: boolean; onCreate?: boolean; onDelete?: boolean } | undefined;
  storeRequeueMs: number;
  /**
   * Lets namespaced SecretStores use the operator's own identity (its service-account token, its
   * AWS default chain); off by default: only ClusterSecretStores may.
   */
  allowOperatorIdentityForNamespacedStores?: boolean;
  /**
   * Where VSO's `default` VaultConnection / VaultAuth and its HMAC key live (--operator-namespace,
   * else OPERATOR_NAMESPACE, else the pod's namespace, else custos-system).
   */
  operatorNamespace?: string | undefined;
  /** Floor for positive ExternalSecret refresh intervals; default none (the CLI's default is 5 s). */
  minRefreshIntervalMs?: number;
  /** The KES (kubernetes-client.io) controller's settings; default: from KES's environment variables. */
  kes?: KesOptions | undefined;
  logLevel: string;
  logFormat: LogFormat;
  /** For embedding and tests: use this logger instead of creating one. */
  logger?: Logger;
}

export interface RunningOperator {
  readonly metrics: Metrics;
  readonly http: HttpEndpoints;
  readonly port: number;
  readonly controllers: Controller[];
  stop(): Promise<void>;
}

export async function runOperator(options: OperatorOptions): Promise<RunningOperator> {
  const log = options.logger ?? createLogger({ level: options.logLevel, format: options.logFormat });
  const api = KubeApi.forOperator(options.kubeconfig);
  const metrics = new Metrics();
  api.onResponse = (method, code) => {
    metrics.kubeRequests.inc({ method, code: String(code) });
  };
  let shards: ShardCoordinator | undefined;
  if (options.sharding) {
    shards = new ShardCoordinator(api, options.sharding, {
      log,
      owned: (n) => {
        metrics.shardsOwned.set(n);
      },
      members: (n) => {
        metrics.shardMembers.set(n);
      },
      handover: (direction) => {
        metrics.shardHandovers.inc({ direction });
      },
    });
    api.userAgent = `custos (replica ${options.sharding.replicaId})`;
    api.beforeRequest = shardWriteGuard(shards);
  }
  const events = new EventRecorder(api, "custos", log);
  const http = new HttpEndpoints(metrics);
  const deps = {
    recordCall: (call: string, status: "success" | "error") => {
      const [provider, name] = call.includes(":")
        ? (call.split(":", 2) as [string, string])
        : ["unknown", call];
      metrics.providerCalls.inc({ provider, call: name, status });
    },
    redact: (v: string | Uint8Array, owner?: object) => {
      redactor.add(v, owner);
    },
  };
  const sessions = new SessionPool(deps, {
    operatorIdentity: { allowForNamespacedStores: options.allowOperatorIdentityForNamespacedStores ?? false },
  });
  const reads = new ReadCache();
  const kube = createKubeAccess(api);

  const controllers: Controller[] = [];
  if (options.controllers.has("externalsecret")) {
    const externalSecrets = new ExternalSecretController({
      api,
      log: log.child({ controller: "externalsecret" }),
      metrics,
      events,
      sessions,
      reads,
      kube,
      controllerClass: options.controllerClass,
      namespace: options.namespace,
      concurrent: options.concurrent,
      minRefreshIntervalMs: options.minRefreshIntervalMs,
    });
    controllers.push(
      new SecretStoreController({
        api,
        log: log.child({ controller: "secretstore" }),
        metrics,
        sessions,
        kube,
        controllerClass: options.controllerClass,
        namespace: options.namespace,
        requeueMs: options.storeRequeueMs,
      }),
      externalSecrets,
    );
    // ClusterExternalSecrets are cluster-wide: not run when watching one namespace (as ESO)
    if (!options.namespace)
      controllers.push(
        new ClusterExternalSecretController({
          api,
          log: log.child({ controller: "clusterexternalsecret" }),
          metrics,
          namespaces: externalSecrets.namespaces,
        }),
      );
  }
  for (const [name, factory] of CONTROLLERS) {
    if (options.controllers.has(name))
      controllers.push(
        await factory({
          api,
          log: log.child({ controller: name }),
          metrics,
          events,
          http,
          options,
          sessions,
          reads,
          kube,
        }),
      );
  }

  let started = false;
  let leader: LeaderElector | undefined;
  const startControllers = async (): Promise<void> => {
    for (const c of controllers) {
      if (stopping) return;
      await c.start();
    }
    if (stopping) {
      // stopped while starting: stop() may have run before the last start; stop them again
      await Promise.all(controllers.map((c) => c.stop().catch(() => undefined)));
      return;
    }
    started = true;
    log.info({ controllers: controllers.map((c) => c.name) }, "controllers started");
  };
  http.ready = () => started || (leader !== undefined && !leader.leading);
  const port = options.metricsPort > 0 ? await http.listen(options.metricsPort) : 0;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      log.info("stopping");
      await Promise.all(controllers.map((c) => c.stop().catch(() => undefined)));
      await leader?.stop();
      await shards?.stop();
      await sessions.close();
      await http.close();
      log.info("stopped");
    })());

  if (shards) {
    // every replica is active; work queues started in the gate's scope work only on owned shards
    const gate = shards;
    gate.start();
    await withShardGate(gate, startControllers);
  } else if (options.leaderElection) {
    leader = new LeaderElector(api, {
      ...options.leaderElection,
      log,
      onStartedLeading: startControllers,
      onStoppedLeading: () => {
        // Another replica may already be writing: stop at once, and let the Deployment restart us
        // (at the latest in 5 s: a handler stuck in a request must not keep writing meanwhile).
        setTimeout(() => process.exit(1), 5_000).unref();
        void stop().then(() => process.exit(1));
      },
    });
    leader.start();
  } else {
    await startControllers();
  }
  return { metrics, http, port, controllers, stop };
}
