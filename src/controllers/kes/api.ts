/**
 * The kubernetes-external-secrets resource (`kubernetes-client.io/v1` ExternalSecret), as KES 8.5.5
 * accepted it: every backend's fields, the legacy top-level `secretDescriptor` and `spec.properties`
 * forms, and KES's status. The CRD keeps unknown fields (KES's own schema was loose in places), so
 * whatever KES accepted applies unchanged; the controller reports what it cannot serve in status.
 * Custos's copy uses short name `kes`: `es` is ESO's ExternalSecret.
 */
import { crd, type JsonSchema } from "../../api/crd.ts";

export const KES_GROUP = "kubernetes-client.io";
export const KES_VERSION = "v1";
export const KES_PLURAL = "externalsecrets";
export const KES_API_VERSION = `${KES_GROUP}/${KES_VERSION}`;

export interface KesDataItem {
  key?: string;
  name?: string;
  property?: string;
  isBinary?: boolean;
  path?: string;
  recursive?: boolean;
  versionStage?: string;
  versionId?: string;
  version?: string;
  secretType?: string;
  keyByName?: boolean;
}

export interface KesDataFromOption {
  key: string;
  isBinary?: boolean;
  versionStage?: string;
  versionId?: string;
}

export interface KesTemplate {
  metadata?: { labels?: Record<string, unknown>; annotations?: Record<string, unknown> } & Record<
    string,
    unknown
  >;
  type?: string;
  data?: Record<string, unknown>;
  stringData?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface KesSpec {
  backendType?: string;
  data?: KesDataItem[];
  /** Legacy name of `data`. */
  properties?: KesDataItem[];
  dataFrom?: string[];
  dataFromWithOptions?: KesDataFromOption[];
  vaultRole?: string;
  vaultMountPoint?: string;
  kvVersion?: number;
  keyVaultName?: string;
  projectId?: string;
  region?: string;
  roleArn?: string;
  template?: KesTemplate;
  type?: string;
  controllerId?: string;
  [k: string]: unknown;
}

export interface KesStatus {
  lastSync?: string;
  status?: string;
  observedGeneration?: number;
}

export interface KesExternalSecret {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: KesSpec;
  /** Legacy (KES < 3): the spec under this name. */
  secretDescriptor?: KesSpec;
  status?: KesStatus;
}

const str = { type: "string" };
const bool = { type: "boolean" };
const open = { type: "object", "x-kubernetes-preserve-unknown-fields": true };

const dataItem: JsonSchema = {
  type: "object",
  "x-kubernetes-preserve-unknown-fields": true,
  properties: {
    key: { ...str, description: "Backend key: for vault the full API path (secret/data/app for KV v2)" },
    name: { ...str, description: "Key in the Secret's data" },
    property: { ...str, description: "Take this property of the JSON value" },
    isBinary: { ...bool, description: "The value is base64: decode it once" },
    path: { ...str, description: "systemManager: every parameter under this path" },
    recursive: bool,
    versionStage: str,
    versionId: str,
    version: str,
    secretType: str,
    keyByName: bool,
  },
};

const backendFields: Record<string, JsonSchema> = {
  backendType: {
    ...str,
    description:
      "secretsManager, systemManager or vault (served by Custos); azureKeyVault, gcpSecretsManager, alicloudSecretsManager, ibmcloudSecretsManager, akeyless (reported as not supported)",
  },
  data: { type: "array", items: dataItem },
  properties: { type: "array", items: dataItem, description: "Legacy name of data" },
  dataFrom: { type: "array", items: str },
  dataFromWithOptions: {
    type: "array",
    items: {
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true,
      properties: { key: str, isBinary: bool, versionStage: str, versionId: str },
    },
  },
  vaultRole: str,
  vaultMountPoint: { ...str, description: "Mount of Vault's Kubernetes auth method (not the KV mount)" },
  kvVersion: { type: "integer", description: "1 or 2 (default 2)" },
  keyVaultName: str,
  projectId: str,
  region: str,
  roleArn: str,
  template: open,
  type: str,
  controllerId: str,
};

export const KES_SPEC_SCHEMA: JsonSchema = {
  type: "object",
  "x-kubernetes-preserve-unknown-fields": true,
  properties: backendFields,
};

export const KES_STATUS_SCHEMA: JsonSchema = {
  type: "object",
  "x-kubernetes-preserve-unknown-fields": true,
  properties: {
    lastSync: str,
    status: str,
    observedGeneration: { type: "integer" },
  },
};

export const KES_CRD = crd({
  group: KES_GROUP,
  kind: "ExternalSecret",
  plural: KES_PLURAL,
  shortNames: ["kes"],
  scope: "Namespaced",
  versions: [KES_VERSION],
  spec: KES_SPEC_SCHEMA,
  status: KES_STATUS_SCHEMA,
  printerColumns: [
    { name: "Last Sync", type: "date", jsonPath: ".status.lastSync" },
    { name: "status", type: "string", jsonPath: ".status.status" },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
  extraProperties: { secretDescriptor: KES_SPEC_SCHEMA },
});
