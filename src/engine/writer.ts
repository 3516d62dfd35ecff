/**
 * The one Secret writer: applies a TargetPlan (engine/target.ts) for any front door, counts the
 * write, records the event on the object that asked for it, and turns a lost race with another
 * writer into CUSTOS_WRITE_CONFLICT (the caller's backed-off retry re-reads and plans again).
 * `DryRunWriter` is the same contract for the CLI (render, diff): it writes nothing.
 */
import type { KubeApi, KubeObject } from "../kube/api.ts";
import { isConflict, isNotFound, resourcePath, SECRETS } from "../kube/api.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { Metrics } from "../manager/metrics.ts";
import { CustosError } from "../util/errors.ts";
import type { SecretObject, TargetPlan } from "./target.ts";

/** Who asks for the write: its controller (metrics label) and object (events), with kind. */
export interface WriteOrigin {
  controller: string;
  object: KubeObject & { apiVersion: string; kind: string };
  /** Record Created/Updated/Deleted events (default true; Sealed Secrets records its own). */
  events?: boolean | undefined;
}

export interface SecretWriter {
  /** Applies the plan; returns the Secret as it now is (the existing one for `none`). */
  apply(
    plan: TargetPlan,
    existing: SecretObject | undefined,
    origin: WriteOrigin,
  ): Promise<SecretObject | undefined>;
  /** Deletes a Secret the origin manages; `why` completes the event message. Absent is fine. */
  delete(namespace: string, name: string, origin: WriteOrigin, why: string): Promise<void>;
}

export class ApiSecretWriter implements SecretWriter {
  constructor(
    private readonly api: KubeApi,
    private readonly metrics?: Metrics | undefined,
    private readonly events?: EventRecorder | undefined,
  ) {}

  async apply(
    plan: TargetPlan,
    existing: SecretObject | undefined,
    origin: WriteOrigin,
  ): Promise<SecretObject | undefined> {
    if (plan.action === "none") return existing;
    const { namespace = "", name = "" } = plan.secret.metadata;
    let written: SecretObject;
    try {
      written =
        plan.action === "create"
          ? await this.api.create<SecretObject>(resourcePath({ ...SECRETS, namespace }), plan.secret)
          : await this.api.replace<SecretObject>(resourcePath({ ...SECRETS, namespace, name }), plan.secret);
    } catch (e) {
      if (isConflict(e))
        throw new CustosError(
          "CUSTOS_WRITE_CONFLICT",
          plan.action === "create"
            ? `Secret ${name} appeared while creating it; retrying`
            : `Secret ${name} changed while updating; retrying`,
          { cause: e },
        );
      throw e;
    }
    this.metrics?.secretWrites.inc({ controller: origin.controller, operation: plan.action });
    if (origin.events !== false)
      this.events?.record(
        origin.object,
        "Normal",
        plan.action === "create" ? "Created" : "Updated",
        `${plan.action === "create" ? "Created" : "Updated"} Secret ${name}`,
      );
    return written;
  }

  async delete(namespace: string, name: string, origin: WriteOrigin, why: string): Promise<void> {
    try {
      await this.api.delete(resourcePath({ ...SECRETS, namespace, name }));
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    this.metrics?.secretWrites.inc({ controller: origin.controller, operation: "delete" });
    if (origin.events !== false)
      this.events?.record(origin.object, "Normal", "Deleted", `Deleted Secret ${name}: ${why}`);
  }
}

/** Writes nothing; remembers what it would have done (the CLI's render and diff). */
export class DryRunWriter implements SecretWriter {
  readonly applied: TargetPlan[] = [];
  readonly deleted: { namespace: string; name: string }[] = [];

  apply(plan: TargetPlan, existing: SecretObject | undefined): Promise<SecretObject | undefined> {
    this.applied.push(plan);
    return Promise.resolve(plan.action === "none" ? existing : plan.secret);
  }

  delete(namespace: string, name: string): Promise<void> {
    this.deleted.push({ namespace, name });
    return Promise.resolve();
  }
}
