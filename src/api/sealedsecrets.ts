/**
 * The Sealed Secrets resource (`bitnami.com/v1alpha1`), schema-compatible with Bitnami's CRD so
 * existing SealedSecrets and kubeseal output apply unchanged.
 */
import { crd, type JsonSchema } from "./crd.ts";

const str = { type: "string" };
const stringMap = { type: "object", additionalProperties: str };

export const SEALED_SECRET_SPEC: JsonSchema = {
  type: "object",
  required: ["encryptedData"],
  properties: {
    encryptedData: {
      type: "object",
      additionalProperties: str,
      "x-kubernetes-preserve-unknown-fields": true,
    },
    data: { type: "string", format: "byte", description: "Legacy: the whole Secret encrypted as one value." },
    template: {
      type: "object",
      properties: {
        metadata: { type: "object", nullable: true, "x-kubernetes-preserve-unknown-fields": true },
        type: { type: "string", nullable: true },
        immutable: { type: "boolean" },
        data: { ...stringMap, nullable: true },
      },
    },
  },
};

export const SEALED_SECRET_STATUS: JsonSchema = {
  type: "object",
  "x-kubernetes-preserve-unknown-fields": true,
  properties: {
    observedGeneration: { type: "integer", format: "int64" },
    conditions: {
      type: "array",
      items: {
        type: "object",
        required: ["status", "type"],
        properties: {
          type: str,
          status: str,
          reason: str,
          message: str,
          lastUpdateTime: { type: "string", format: "date-time" },
          lastTransitionTime: { type: "string", format: "date-time" },
        },
      },
    },
  },
};

export const SEALED_SECRET_CRD = crd({
  group: "bitnami.com",
  kind: "SealedSecret",
  plural: "sealedsecrets",
  singular: "sealedsecret",
  scope: "Namespaced",
  versions: ["v1alpha1"],
  spec: SEALED_SECRET_SPEC,
  status: SEALED_SECRET_STATUS,
  printerColumns: [
    { name: "Status", type: "string", jsonPath: ".status.conditions[0].message" },
    { name: "Synced", type: "string", jsonPath: ".status.conditions[0].status" },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
});
