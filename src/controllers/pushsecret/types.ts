/** The PushSecret and ClusterPushSecret shapes the controllers read (ESO's field names). */
import type { KubeObject } from "../../kube/api.ts";
import type { LabelSelector } from "../secretstore/access.ts";

export const GROUP = "external-secrets.io";
export const PS_VERSION = "v1alpha1";

export interface PushSecretData {
  match: { secretKey?: string; remoteRef: { remoteKey: string; property?: string } };
  metadata?: unknown;
  conversionStrategy?: "None" | "ReverseUnicode";
}

export interface PushSecretDataTo {
  storeRef?: PushSecretStoreRef;
  remoteKey?: string;
  match?: { regexp?: string };
  rewrite?: { regexp?: { source: string; target: string }; transform?: { template: string } }[];
  metadata?: unknown;
  conversionStrategy?: "None" | "ReverseUnicode";
}

export type SyncedPushSecrets = Record<string, Record<string, PushSecretData>>;

export interface PushSecretStoreRef {
  name?: string;
  kind?: "SecretStore" | "ClusterSecretStore";
  labelSelector?: LabelSelector;
}

export interface PushSecretSpec {
  refreshInterval?: string;
  secretStoreRefs?: PushSecretStoreRef[];
  updatePolicy?: "Replace" | "IfNotExists";
  deletionPolicy?: "Delete" | "None";
  selector?: {
    secret?: { name?: string; selector?: LabelSelector };
    generatorRef?: { apiVersion?: string; kind: string; name: string };
  };
  data?: PushSecretData[];
  dataTo?: PushSecretDataTo[];
  template?: Record<string, unknown>;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface PushSecretStatus {
  refreshTime?: string | null;
  syncedResourceVersion?: string;
  syncedPushSecrets?: SyncedPushSecrets;
  conditions?: Condition[];
}

export interface PushSecret extends KubeObject {
  spec?: PushSecretSpec;
  status?: PushSecretStatus;
}
