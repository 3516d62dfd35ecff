/**
 * The driver's provider API (vendor/secrets-store-csi-driver/provider/v1alpha1/service.proto),
 * loaded with @grpc/proto-loader: camelCase fields, defaults filled in, `bytes` as Buffer. The
 * provider server and the tests' driver-side client use the same definition.
 */
import { fileURLToPath } from "node:url";
import { loadSync } from "@grpc/proto-loader";
import type { ServiceDefinition } from "@grpc/grpc-js";

/** src/csi/ and dist/csi/ are both two levels below the repository (or image) root. */
export const PROTO_PATH = fileURLToPath(
  new URL("../../vendor/secrets-store-csi-driver/provider/v1alpha1/service.proto", import.meta.url),
);

export const API_VERSION = "v1alpha1";

export interface ObjectVersion {
  id: string;
  version: string;
}
export interface VersionRequest {
  version: string;
}
export interface VersionResponse {
  version: string;
  runtimeName: string;
  runtimeVersion: string;
}
export interface MountRequest {
  attributes: string;
  secrets: string;
  targetPath: string;
  permission: string;
  currentObjectVersion: ObjectVersion[];
}
export interface File {
  path: string;
  mode: number;
  contents: Uint8Array;
}
export interface MountResponse {
  objectVersion: ObjectVersion[];
  error?: { code: string } | null;
  files: File[];
}

let loaded: ServiceDefinition | undefined;

/** The `v1alpha1.CSIDriverProvider` service definition. */
export function providerService(): ServiceDefinition {
  if (!loaded) {
    const pkg = loadSync(PROTO_PATH, {
      keepCase: false,
      defaults: true,
      longs: Number,
      enums: String,
      oneofs: true,
    });
    const svc = pkg["v1alpha1.CSIDriverProvider"];
    if (!svc || !("Mount" in svc)) throw new Error(`${PROTO_PATH}: no service v1alpha1.CSIDriverProvider`);
    loaded = svc;
  }
  return loaded;
}
