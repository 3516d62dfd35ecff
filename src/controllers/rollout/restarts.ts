/**
 * Which workloads a batch of Secret changes in one namespace restarts, read from the API server
 * (as Reloader does) rather than a watch cache: a workload applied a moment before its Secret
 * changed is in the list even when no watch event has reached the operator yet. One LIST per
 * kind per namespace per batch keeps the cost bounded however many Secrets and workloads there are.
 */
import { isConflict, type KubeApi } from "../../kube/api.ts";
import { CustosError } from "../../util/errors.ts";
import { shouldRestart, type MatchOptions, type SecretRef, type Workload } from "./match.ts";

export const WORKLOAD_KINDS = [
  { kind: "Deployment", plural: "deployments" },
  { kind: "StatefulSet", plural: "statefulsets" },
  { kind: "DaemonSet", plural: "daemonsets" },
] as const;

/** What a batch lists besides apps/v1: CronJobs always, Argo Rollouts where their CRD is served. */
export interface ListOptions extends MatchOptions {
  argoRollouts?: boolean;
}

interface ListedCronJob {
  metadata: Workload["metadata"];
  spec?: { jobTemplate?: NonNullable<Workload["spec"]>["jobTemplate"] & { spec?: { template?: unknown } } };
}

/** A CronJob seen as a workload: its pod template is its job template's. */
function cronJobWorkload(cj: ListedCronJob): Workload {
  const jobTemplate = cj.spec?.jobTemplate;
  return {
    kind: "CronJob",
    metadata: cj.metadata,
    spec: {
      ...(jobTemplate?.spec?.template ? { template: jobTemplate.spec.template } : {}),
      ...(jobTemplate ? { jobTemplate } : {}),
    },
  };
}

/** A Secret or ConfigMap whose data changed (or that was created or deleted, when those count). */
export interface SecretChange {
  ref: SecretRef;
  /** The hash to record when the source is gone (deleted): Reloader's hash of nothing. */
  hash?: string | undefined;
}

export interface Restart {
  kind: Workload["kind"];
  workload: Workload;
  /** The changed Secrets this workload follows. */
  secrets: SecretRef[];
}

type Listed = Omit<Workload, "kind">;

/**
 * The workloads of `namespace` that follow one of `changes`. As with Reloader, one created
 * between the change and the list (within the coalescing window) is restarted too: harmless, and
 * no comparison of the operator's clock with the API server's creationTimestamp can skip one
 * that did exist.
 */
export async function restartsFor(
  api: Pick<KubeApi, "list">,
  namespace: string,
  changes: SecretChange[],
  opts: ListOptions = {},
): Promise<Restart[]> {
  if (!changes.length) return [];
  const workloads: Workload[] = [];
  for (const { kind, plural } of WORKLOAD_KINDS) {
    const list = await api.list<Listed>(`/apis/apps/v1/namespaces/${namespace}/${plural}`);
    for (const item of list.items) workloads.push({ ...item, kind });
  }
  const cronJobs = await api.list<ListedCronJob>(`/apis/batch/v1/namespaces/${namespace}/cronjobs`);
  for (const item of cronJobs.items) workloads.push(cronJobWorkload(item));
  if (opts.argoRollouts) {
    const rollouts = await api.list<Listed>(
      `${ARGO_ROLLOUT.path}/namespaces/${namespace}/${ARGO_ROLLOUT.plural}`,
    );
    for (const item of rollouts.items) workloads.push({ ...item, kind: "Rollout" });
  }
  const out: Restart[] = [];
  for (const workload of workloads) {
    const secrets = changes.filter((c) => shouldRestart(workload, c.ref, opts)).map((c) => c.ref);
    if (secrets.length) out.push({ kind: workload.kind, workload, secrets });
  }
  return out;
}

/** Argo Rollouts (`argoproj.io/v1alpha1`): merge-patched (VSO restarts them through `spec.restartAt`). */
export const ARGO_ROLLOUT = {
  kind: "argo.Rollout",
  path: "/apis/argoproj.io/v1alpha1",
  plural: "rollouts",
} as const;

export type RestartKind = Workload["kind"] | typeof ARGO_ROLLOUT.kind;

/**
 * Applies a restart patch to one workload: a strategic merge patch of an apps/v1 workload's pod
 * template, or a merge patch of an Argo Rollout. The one place workloads are patched (Reloader's
 * restarts and VSO's rolloutRestartTargets).
 */
export async function patchWorkload(
  api: Pick<KubeApi, "request">,
  kind: RestartKind,
  namespace: string,
  name: string,
  patch: Record<string, unknown>,
): Promise<void> {
  if (kind === ARGO_ROLLOUT.kind || kind === "Rollout") {
    await api.request(
      "PATCH",
      `${ARGO_ROLLOUT.path}/namespaces/${namespace}/${ARGO_ROLLOUT.plural}/${name}`,
      {
        body: patch,
        contentType: "application/merge-patch+json",
      },
    );
    return;
  }
  const w = WORKLOAD_KINDS.find((k) => k.kind === kind);
  // CronJobs are not patched: a Job is created from them (createJob)
  if (!w) throw new CustosError("CUSTOS_INVALID_SPEC", `cannot restart a ${kind}`, { retryable: false });
  await api.request("PATCH", `/apis/apps/v1/namespaces/${namespace}/${w.plural}/${name}`, {
    body: patch,
    contentType: "application/strategic-merge-patch+json",
  });
}

/** Creates the Job a CronJob's restart is (Reloader's); an existing one of that name is this one. */
export async function createJob(
  api: Pick<KubeApi, "create">,
  job: Record<string, unknown>,
): Promise<boolean> {
  const ns = (job.metadata as { namespace?: string }).namespace ?? "";
  try {
    await api.create(`/apis/batch/v1/namespaces/${ns}/jobs`, job);
    return true;
  } catch (e) {
    if (isConflict(e)) return false;
    throw e;
  }
}
