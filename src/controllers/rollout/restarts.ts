/**
 * Which workloads a batch of Secret changes in one namespace restarts, read from the API server
 * (as Reloader does) rather than a watch cache: a workload applied a moment before its Secret
 * changed is in the list even when no watch event has reached the operator yet. One LIST per
 * kind per namespace per batch keeps the cost bounded however many Secrets and workloads there are.
 */
import type { KubeApi } from "../../kube/api.ts";
import { shouldRestart, type SecretRef, type Workload } from "./match.ts";

export const WORKLOAD_KINDS = [
  { kind: "Deployment", plural: "deployments" },
  { kind: "StatefulSet", plural: "statefulsets" },
  { kind: "DaemonSet", plural: "daemonsets" },
] as const;

/** A Secret whose data changed. */
export interface SecretChange {
  ref: SecretRef;
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
): Promise<Restart[]> {
  if (!changes.length) return [];
  const out: Restart[] = [];
  for (const { kind, plural } of WORKLOAD_KINDS) {
    const list = await api.list<Listed>(`/apis/apps/v1/namespaces/${namespace}/${plural}`);
    for (const item of list.items) {
      const workload: Workload = { ...item, kind };
      const secrets = changes.filter((c) => shouldRestart(workload, c.ref)).map((c) => c.ref);
      if (secrets.length) out.push({ kind, workload, secrets });
    }
  }
  return out;
}
