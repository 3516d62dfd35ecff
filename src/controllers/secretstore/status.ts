/** The Ready condition of a store. Pure. */
export interface StoreCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** Keeps lastTransitionTime when the status does not change. */
export function storeReadyCondition(
  existing: StoreCondition[] | undefined,
  ready: { ok: boolean; reason: string; message: string },
  now: Date,
): StoreCondition {
  const status = ready.ok ? "True" : "False";
  const prev = existing?.find((c) => c.type === "Ready");
  return {
    type: "Ready",
    status,
    reason: ready.reason,
    message: ready.message,
    lastTransitionTime:
      prev?.status === status && prev.lastTransitionTime
        ? prev.lastTransitionTime
        : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
}
