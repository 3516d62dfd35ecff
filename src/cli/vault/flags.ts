/**
 * `custos vault setup` without manifests: the store and the reads described by flags, turned into
 * the same objects the manifests give, so one planner serves both.
 */
import { CustosError } from "../../util/errors.ts";
import type { Manifests } from "./manifests.ts";

export interface StoreFlags {
  auth?: string | undefined;
  authPath?: string | undefined;
  role?: string | undefined;
  /** NAMESPACE/NAME */
  serviceAccount?: string | undefined;
  audience?: string[] | undefined;
  kvPath?: string | undefined;
  kvVersion?: string | undefined;
  key?: string[] | undefined;
}

/** The name the flags' store goes by in the policy's header. */
export const FLAGS_STORE = "command-line";

function invalid(message: string): CustosError {
  return new CustosError("CUSTOS_INVALID_SPEC", message, { retryable: false });
}

/** True when any store flag is given (then -f is not needed). */
export const hasStoreFlags = (f: StoreFlags): boolean =>
  [f.auth, f.authPath, f.role, f.kvPath, f.kvVersion].some((v) => v !== undefined) ||
  Boolean(f.key?.length) ||
  Boolean(f.audience?.length);

export function flagsManifests(f: StoreFlags): Manifests {
  const missing = [
    f.auth === undefined && "--auth",
    f.role === undefined && "--role",
    f.serviceAccount === undefined && "--service-account",
    f.kvPath === undefined && "--kv-path",
    !f.key?.length && "--key",
  ].filter(Boolean);
  if (missing.length) throw invalid(`without -f, ${missing.join(", ")} are needed`);
  if (f.auth !== "jwt" && f.auth !== "kubernetes")
    throw invalid(`--auth ${JSON.stringify(f.auth)}: custos vault setup configures jwt and kubernetes auth`);
  const version = f.kvVersion ?? "v2";
  if (version !== "v1" && version !== "v2")
    throw invalid(`--kv-version ${JSON.stringify(version)}: v1 or v2`);
  const [namespace, name, ...rest] = (f.serviceAccount ?? "").split("/");
  if (!namespace || !name || rest.length)
    throw invalid(`--service-account ${JSON.stringify(f.serviceAccount)}: expected NAMESPACE/NAME`);
  const audiences = f.audience?.length ? f.audience : undefined;
  const sa = { name, ...(audiences ? { audiences } : {}) };
  const auth =
    f.auth === "jwt"
      ? {
          jwt: {
            ...(f.authPath ? { path: f.authPath } : {}),
            role: f.role!,
            kubernetesServiceAccountToken: {
              serviceAccountRef: { name },
              ...(audiences ? { audiences } : {}),
            },
          },
        }
      : {
          kubernetes: {
            ...(f.authPath ? { mountPath: f.authPath } : {}),
            role: f.role!,
            serviceAccountRef: sa,
          },
        };
  return {
    stores: [
      {
        kind: "SecretStore",
        name: FLAGS_STORE,
        namespace,
        vault: { server: "", path: f.kvPath!, version, auth },
      },
    ],
    externalSecrets: [
      {
        name: FLAGS_STORE,
        namespace,
        spec: {
          secretStoreRef: { name: FLAGS_STORE, kind: "SecretStore" },
          data: f.key!.map((key) => ({ remoteRef: { key } })),
        },
      },
    ],
  };
}
