/**
 * The shapes the ExternalSecret controller reads, with ESO's field names. Optional everywhere:
 * objects come from the API server, and validation reports what is missing.
 */
import type { KubeObject, ObjectMeta } from "../../kube/api.ts";

export const GROUP = "external-secrets.io";
export const VERSION_STORAGE = "v1";

export interface StoreRef {
  name: string;
  /** "SecretStore" (default) or "ClusterSecretStore". */
  kind?: string;
}

export interface RemoteRef {
  key: string;
  property?: string;
  version?: string;
  metadataPolicy?: "None" | "Fetch";
  conversionStrategy?: "Default" | "Unicode";
  decodingStrategy?: "Auto" | "Base64" | "Base64URL" | "None";
  nullBytePolicy?: "Ignore" | "Fail";
}

export interface SourceRef {
  storeRef?: StoreRef;
  generatorRef?: { apiVersion?: string; kind: string; name: string };
}

export interface DataEntry {
  secretKey: string;
  remoteRef: RemoteRef;
  sourceRef?: SourceRef;
}

export interface FindSpec {
  path?: string;
  name?: { regexp: string };
  tags?: Record<string, string>;
  conversionStrategy?: "Default" | "Unicode";
  decodingStrategy?: "Auto" | "Base64" | "Base64URL" | "None";
}

export interface Rewrite {
  regexp?: { source: string; target: string };
  transform?: { template: string };
}

export interface DataFromEntry {
  extract?: RemoteRef;
  find?: FindSpec;
  rewrite?: Rewrite[];
  sourceRef?: SourceRef;
}

export interface TemplateFrom {
  configMap?: { name: string; items?: { key: string; templateAs?: "Values" | "KeysAndValues" }[] };
  secret?: { name: string; items?: { key: string; templateAs?: "Values" | "KeysAndValues" }[] };
  target?: "Data" | "Annotations" | "Labels";
  literal?: string;
}

export interface Template {
  type?: string;
  engineVersion?: "v1" | "v2";
  mergePolicy?: "Replace" | "Merge";
  metadata?: { annotations?: Record<string, string>; labels?: Record<string, string> };
  data?: Record<string, string>;
  templateFrom?: TemplateFrom[];
}

export interface Target {
  name?: string;
  creationPolicy?: "Owner" | "Orphan" | "Merge" | "None";
  deletionPolicy?: "Delete" | "Merge" | "Retain";
  template?: Template;
  immutable?: boolean;
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ExternalSecretStatus {
  refreshTime?: string;
  syncedResourceVersion?: string;
  binding?: { name?: string };
  conditions?: Condition[];
}

export interface ExternalSecret {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    secretStoreRef?: StoreRef;
    target?: Target;
    refreshInterval?: string;
    refreshPolicy?: "CreatedOnce" | "Periodic" | "OnChange";
    data?: DataEntry[];
    dataFrom?: DataFromEntry[];
  };
  status?: ExternalSecretStatus;
}

export interface SecretStoreObject extends KubeObject {
  spec?: {
    controller?: string;
    provider?: Record<string, unknown>;
    conditions?: unknown[];
    refreshInterval?: number;
  };
  status?: { conditions?: Condition[] };
}

export type { SecretObject } from "../../engine/target.ts";
