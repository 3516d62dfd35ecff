/**
 * Prometheus metrics. Names follow ESO's where ESO has them, so existing dashboards and alerts
 * keep working; the rest are prefixed `custos_` or follow client-go's workqueue names.
 * Labels never carry values, only object names, provider call names and outcomes.
 */
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from "prom-client";
import type { QueueMetrics } from "../kube/workqueue.ts";

export class Metrics {
  readonly registry = new Registry();

  readonly syncCalls = new Counter({
    name: "externalsecret_sync_calls_total",
    help: "Total number of ExternalSecret reconciles",
    labelNames: ["name", "namespace"] as const,
    registers: [this.registry],
  });
  readonly syncErrors = new Counter({
    name: "externalsecret_sync_calls_error",
    help: "Total number of ExternalSecret reconciles that failed",
    labelNames: ["name", "namespace"] as const,
    registers: [this.registry],
  });
  readonly statusCondition = new Gauge({
    name: "externalsecret_status_condition",
    help: "The status condition of an ExternalSecret (1 for the current status)",
    labelNames: ["name", "namespace", "condition", "status"] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Gauge({
    name: "externalsecret_reconcile_duration",
    help: "Duration of the last reconcile of an ExternalSecret, in milliseconds",
    labelNames: ["name", "namespace"] as const,
    registers: [this.registry],
  });
  readonly providerCalls = new Counter({
    name: "externalsecret_provider_api_calls_count",
    help: "Calls made to secret store providers",
    labelNames: ["provider", "call", "status"] as const,
    registers: [this.registry],
  });
  readonly storeCondition = new Gauge({
    name: "secretstore_status_condition",
    help: "The status condition of a SecretStore or ClusterSecretStore",
    labelNames: ["kind", "name", "namespace", "condition", "status"] as const,
    registers: [this.registry],
  });
  readonly sessionLogins = new Counter({
    name: "custos_session_logins_total",
    help: "Logins to secret stores (one per store identity, plus re-logins)",
    labelNames: ["provider"] as const,
    registers: [this.registry],
  });
  readonly sessionRenewals = new Counter({
    name: "custos_session_renewals_total",
    help: "Token renewals of store sessions",
    labelNames: ["provider", "status"] as const,
    registers: [this.registry],
  });
  readonly secretWrites = new Counter({
    name: "custos_secret_writes_total",
    help: "Writes of Kubernetes Secrets by operation",
    labelNames: ["controller", "operation"] as const,
    registers: [this.registry],
  });
  readonly unseals = new Counter({
    name: "custos_sealedsecret_unseal_total",
    help: "SealedSecret unseal attempts by outcome",
    labelNames: ["status"] as const,
    registers: [this.registry],
  });
  readonly rollouts = new Counter({
    name: "custos_rollout_restarts_total",
    help: "Workload restarts triggered by Secret changes",
    labelNames: ["kind", "strategy"] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "workqueue_depth",
    help: "Current depth of a work queue",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });
  readonly queueLatency = new Histogram({
    name: "workqueue_queue_duration_seconds",
    help: "How long an item stays in a work queue before being processed",
    labelNames: ["name"] as const,
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly workDuration = new Histogram({
    name: "workqueue_work_duration_seconds",
    help: "How long processing an item from a work queue takes",
    labelNames: ["name"] as const,
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: "workqueue_retries_total",
    help: "Retries handled by a work queue",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });
  readonly queueStalled = new Counter({
    name: "custos_workqueue_stalled_total",
    help: "Handlers still running after the work queue's stall limit (their worker was given back to other keys)",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });

  readonly shardsOwned = new Gauge({
    name: "custos_shards_owned",
    help: "Shards this replica owns now (sharded operation; the cluster shard included)",
    registers: [this.registry],
  });
  readonly shardMembers = new Gauge({
    name: "custos_shard_members",
    help: "Live replicas seen by this replica (sharded operation)",
    registers: [this.registry],
  });
  readonly shardHandovers = new Counter({
    name: "custos_shard_handovers_total",
    help: "Shards this replica acquired, released or lost",
    labelNames: ["direction"] as const,
    registers: [this.registry],
  });

  readonly kubeRequests = new Counter({
    name: "rest_client_requests_total",
    help: "Requests to the Kubernetes API server by method and HTTP code (client-go's name)",
    labelNames: ["method", "code"] as const,
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  queue(name: string): QueueMetrics {
    return {
      depth: (n) => {
        this.queueDepth.set({ name }, n);
      },
      queueLatency: (ms) => {
        this.queueLatency.observe({ name }, ms / 1000);
      },
      workDuration: (ms) => {
        this.workDuration.observe({ name }, ms / 1000);
      },
      retry: () => {
        this.queueRetries.inc({ name });
      },
      stalled: () => {
        this.queueStalled.inc({ name });
      },
    };
  }

  /** Sets the one-hot condition gauge of an ExternalSecret. */
  setExternalSecretCondition(
    namespace: string,
    name: string,
    condition: string,
    status: "True" | "False" | "Unknown",
  ): void {
    // unchanged (every refresh of a Ready object): three label-hashed gauge writes saved
    const key = `${namespace}/${name}/${condition}`;
    if (this.#conditions.get(key) === status) return;
    this.#conditions.set(key, status);
    for (const s of ["True", "False", "Unknown"]) {
      this.statusCondition.set({ name, namespace, condition, status: s }, s === status ? 1 : 0);
    }
  }
  /** The condition status last set per namespace/name/condition (bounded by the live objects). */
  readonly #conditions = new Map<string, string>();

  removeExternalSecret(namespace: string, name: string): void {
    for (const s of ["True", "False", "Unknown"])
      this.statusCondition.remove({ name, namespace, condition: "Ready", status: s });
    this.#conditions.delete(`${namespace}/${name}/Ready`);
    this.reconcileDuration.remove({ name, namespace });
    // per-object series go with the object: label sets stay bounded by the live objects
    this.syncCalls.remove({ name, namespace });
    this.syncErrors.remove({ name, namespace });
  }
}
