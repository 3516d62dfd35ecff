/**
 * The ConfigMaps and Secrets an ExternalSecret's `templateFrom` names, read from its namespace
 * (what the template engine sees as sources). Shared by the operator and the CLI so both read and
 * fail alike. Secret values are handed to `register` (the redactor) as they are decoded.
 */
import type { KubeApi } from "../../kube/api.ts";
import { resourcePath, CONFIGMAPS, SECRETS } from "../../kube/api.ts";
import { CustosError } from "../../util/errors.ts";
import type { TemplateSources } from "./plan.ts";
import type { ExternalSecret } from "./types.ts";

export async function fetchTemplateSources(
  api: KubeApi,
  es: ExternalSecret,
  register: (value: string) => void,
): Promise<TemplateSources> {
  const namespace = es.metadata.namespace ?? "";
  const out: TemplateSources = { configMaps: new Map(), secrets: new Map() };
  for (const from of es.spec?.target?.template?.templateFrom ?? []) {
    if (from.configMap?.name && !out.configMaps.has(from.configMap.name)) {
      const cm = await api.getOrUndefined<{ data?: Record<string, string> }>(
        resourcePath({ ...CONFIGMAPS, namespace, name: from.configMap.name }),
      );
      if (!cm)
        throw new CustosError(
          "CUSTOS_INVALID_SPEC",
          `template ConfigMap "${from.configMap.name}" not found`,
          {
            retryable: false,
          },
        );
      out.configMaps.set(from.configMap.name, cm.data ?? {});
    }
    if (from.secret?.name && !out.secrets.has(from.secret.name)) {
      const s = await api.getOrUndefined<{ data?: Record<string, string> }>(
        resourcePath({ ...SECRETS, namespace, name: from.secret.name }),
      );
      if (!s)
        throw new CustosError("CUSTOS_INVALID_SPEC", `template Secret "${from.secret.name}" not found`, {
          retryable: false,
        });
      const decoded: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.data ?? {})) {
        decoded[k] = Buffer.from(v, "base64").toString("utf8");
        register(decoded[k]);
      }
      out.secrets.set(from.secret.name, decoded);
    }
  }
  return out;
}
