/**
 * What a Mount does, as data: which stores (bindings) to read through, which remote secrets, and
 * how the results become files. Each dialect (`provider: custos`, the `vault` and `aws` drop-ins)
 * turns its parameters into a MountPlan; mount.ts runs any plan the same way (sessions, shared
 * reads, files, versions).
 */
import type { RemoteKey, RemoteSecret } from "../providers/types.ts";

export interface PlannedFile {
  path: string;
  mode: number;
  contents: Uint8Array;
}

/** Where an object is read: a store spec of a provider, used as the pod. */
export interface BindingPlan {
  /** Provider name (registry key). */
  provider: string;
  /** The provider spec (already rewritten to the pod's identity). */
  spec: unknown;
  storeKind: "SecretStore" | "ClusterSecretStore";
  storeName: string;
  /** Part of the session key: a re-created store gets new sessions. */
  storeUid: string;
}

export interface ObjectPlan {
  /** The object's name in messages. */
  id: string;
  binding: BindingPlan;
  reads: RemoteKey[];
  /** What goes into the version besides the bytes (the object's own configuration). */
  config: unknown;
  /** The files of this object from what was read (by read index); throws on a missing value. */
  files(results: RemoteSecret[]): PlannedFile[];
}

export interface MountPlan {
  objects: ObjectPlan[];
}
