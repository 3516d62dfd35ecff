/** ESO's PushSecret metrics (pkg/controllers/pushsecret/psmetrics): same names and labels. */
import { Gauge, type Registry } from "prom-client";

export class PushSecretMetrics {
  readonly condition: Gauge<"name" | "namespace" | "condition" | "status">;
  readonly duration: Gauge<"name" | "namespace">;

  constructor(registry: Registry) {
    const get = (n: string): unknown => registry.getSingleMetric(n);
    this.condition =
      (get("pushsecret_status_condition") as PushSecretMetrics["condition"] | undefined) ??
      new Gauge({
        name: "pushsecret_status_condition",
        help: "The status condition of a specific Push Secret",
        labelNames: ["name", "namespace", "condition", "status"] as const,
        registers: [registry],
      });
    this.duration =
      (get("pushsecret_reconcile_duration") as PushSecretMetrics["duration"] | undefined) ??
      new Gauge({
        name: "pushsecret_reconcile_duration",
        help: "The duration time to reconcile the Push Secret",
        labelNames: ["name", "namespace"] as const,
        registers: [registry],
      });
  }

  /** ESO's one-hot Ready gauge: the current status 1, the opposite 0. */
  setReady(namespace: string, name: string, status: "True" | "False"): void {
    this.condition.set({ name, namespace, condition: "Ready", status }, 1);
    this.condition.set(
      { name, namespace, condition: "Ready", status: status === "True" ? "False" : "True" },
      0,
    );
  }

  remove(namespace: string, name: string): void {
    for (const status of ["True", "False"])
      this.condition.remove({ name, namespace, condition: "Ready", status });
    this.duration.remove({ name, namespace });
  }
}
