/**
 * The `KubeAccess` providers use: reads of credentials and ServiceAccount tokens named by a store.
 * The operator's own token is not here (see src/engine/operator-identity.ts).
 */
import { readFileSync } from "node:fs";
import type { KubeAccess } from "../providers/types.ts";
import { CustosError } from "../util/errors.ts";
import { redactor } from "../util/redact.ts";
import {
  KubeApi,
  isNotFound,
  resourcePath,
  SECRETS,
  CONFIGMAPS,
  SERVICEACCOUNTS,
  type KubeObject,
} from "./api.ts";

interface SecretLike extends KubeObject {
  data?: Record<string, string>;
}

export function createKubeAccess(api: KubeApi): KubeAccess {
  return {
    async secretKey(namespace, name, key) {
      const s = await getOr(
        api,
        resourcePath({ ...SECRETS, namespace, name }),
        `Secret ${namespace}/${name}`,
      );
      const v = s.data?.[key];
      if (v === undefined) {
        throw new CustosError(
          "CUSTOS_MISSING_CREDENTIALS",
          `Secret ${namespace}/${name} has no key "${key}"`,
        );
      }
      const bytes = Buffer.from(v, "base64");
      redactor.add(bytes);
      return bytes;
    },
    async configMapKey(namespace, name, key) {
      const cm = await getOr(
        api,
        resourcePath({ ...CONFIGMAPS, namespace, name }),
        `ConfigMap ${namespace}/${name}`,
      );
      const v = cm.data?.[key];
      if (v === undefined) {
        throw new CustosError(
          "CUSTOS_MISSING_CREDENTIALS",
          `ConfigMap ${namespace}/${name} has no key "${key}"`,
        );
      }
      return v;
    },
    async serviceAccountToken(namespace, name, audiences, expirationSeconds) {
      const path = resourcePath({ ...SERVICEACCOUNTS, namespace, name, subresource: "token" });
      try {
        const res = await api.create<{ status: { token: string } }>(path, {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: { audiences, expirationSeconds },
        });
        redactor.add(res.status.token);
        return res.status.token;
      } catch (e) {
        if (isNotFound(e)) {
          throw new CustosError(
            "CUSTOS_MISSING_CREDENTIALS",
            `ServiceAccount ${namespace}/${name} not found`,
          );
        }
        throw new CustosError(
          "CUSTOS_AUTH_FAILED",
          `TokenRequest for ServiceAccount ${namespace}/${name} failed: ${(e as Error).message}`,
          { cause: e },
        );
      }
    },
    async serviceAccountAnnotations(namespace, name) {
      const sa = await getOr(
        api,
        resourcePath({ ...SERVICEACCOUNTS, namespace, name }),
        `ServiceAccount ${namespace}/${name}`,
      );
      return sa.metadata.annotations ?? {};
    },
    async secret(namespace, name) {
      const s = await getOr(
        api,
        resourcePath({ ...SECRETS, namespace, name }),
        `Secret ${namespace}/${name}`,
      );
      const data: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
      for (const [k, v] of Object.entries(s.data ?? {})) {
        data[k] = Buffer.from(v, "base64");
        redactor.add(data[k]);
      }
      return { data, labels: s.metadata.labels ?? {} };
    },
    apiServer() {
      const cluster = api.kubeConfig.getCurrentCluster();
      let caPem: string | undefined;
      if (cluster?.caData) caPem = Buffer.from(cluster.caData, "base64").toString("utf8");
      else if (cluster?.caFile) {
        try {
          caPem = readFileSync(cluster.caFile, "utf8");
        } catch {
          caPem = undefined;
        }
      }
      return { url: api.server, caPem };
    },
  };
}

async function getOr(api: KubeApi, path: string, what: string): Promise<SecretLike> {
  try {
    return await api.get<SecretLike>(path);
  } catch (e) {
    if (isNotFound(e)) throw new CustosError("CUSTOS_MISSING_CREDENTIALS", `${what} not found`);
    throw new CustosError("CUSTOS_INTERNAL", `reading ${what}: ${(e as Error).message}`, { cause: e });
  }
}
