/**
 * What ESO's GeneratorState controller does with one GeneratorState, as a pure decision: hold it
 * with a finalizer while it lives, clean up the generator's state when it is deleted, delete it
 * once its garbage-collection deadline has passed, and say so in its conditions.
 */
export const GENERATOR_STATE_FINALIZER = "generatorstate.externalsecrets.io/finalizer";

export interface GeneratorState {
  metadata: {
    name?: string;
    namespace?: string;
    finalizers?: string[];
    deletionTimestamp?: string;
    resourceVersion?: string;
  };
  spec?: { garbageCollectionDeadline?: string; resource?: { kind?: string }; state?: unknown };
  status?: { conditions?: GeneratorStateCondition[] };
}

export interface GeneratorStateCondition {
  type: "Ready" | "PendingDeletion" | "DeletionScheduled" | "Terminating";
  status: "True" | "False";
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

export type GeneratorStateAction =
  | { do: "addFinalizer" }
  | { do: "removeFinalizer" } // after the generator's cleanup
  | { do: "keep"; condition: GeneratorStateCondition } // cleanup impossible: the finalizer stays
  | { do: "delete"; condition: GeneratorStateCondition }
  | { do: "wait"; condition: GeneratorStateCondition; requeueAfterMs?: number };

/**
 * `cleanable`: whether this operator can clean up the state of a generator kind. The generators
 * Custos serves keep no remote state (ESO's VaultDynamicSecret and STS cleanups do nothing in
 * v2.9 either), so their cleanup is a no-op; a kind it does not serve cannot be cleaned and its
 * state is kept, as ESO keeps it when its generator is unknown.
 */
export function planGeneratorState(
  gs: GeneratorState,
  now: Date,
  cleanable: (kind: string) => boolean,
): GeneratorStateAction {
  const kind = gs.spec?.resource?.kind ?? "";
  const held = gs.metadata.finalizers?.includes(GENERATOR_STATE_FINALIZER) ?? false;
  if (!cleanable(kind))
    return {
      do: gs.metadata.deletionTimestamp ? "keep" : "wait",
      condition: {
        type: "PendingDeletion",
        status: "False",
        reason: "Error",
        message: `Could not get generator: generator kind "${kind}" is not served by this operator`,
      },
    };
  if (gs.metadata.deletionTimestamp)
    return held ? { do: "removeFinalizer" } : { do: "wait", condition: none };
  if (!held) return { do: "addFinalizer" };
  const deadline = gs.spec?.garbageCollectionDeadline;
  if (deadline) {
    const at = Date.parse(deadline);
    if (Number.isFinite(at) && at <= now.getTime())
      return {
        do: "delete",
        condition: {
          type: "Terminating",
          status: "True",
          reason: "DeadlineReached",
          message: "Reached garbage collection deadline",
        },
      };
    if (Number.isFinite(at))
      return {
        do: "wait",
        requeueAfterMs: at - now.getTime(),
        condition: {
          type: "DeletionScheduled",
          status: "True",
          reason: "GarbageCollectionSet",
          message: `Deletion scheduled to: ${new Date(at).toISOString()}`,
        },
      };
  }
  return {
    do: "wait",
    condition: { type: "Ready", status: "True", reason: "Created", message: "GeneratorState created" },
  };
}

const none: GeneratorStateCondition = {
  type: "Terminating",
  status: "True",
  reason: "Deleting",
  message: "GeneratorState is being deleted",
};
