/**
 * ESO's VaultDynamicSecret generator: one call to any Vault path (`method` GET with `parameters`
 * as query, LIST, DELETE, or a write with `parameters` as body) with the generator's own Vault
 * provider spec, logged in as a namespaced store (credentials in the ExternalSecret's namespace,
 * never the operator's identity). The answer's `data` (`resultType: Data`, default), `auth`
 * (`Auth`) or whole body (`Raw`) becomes the keys: strings as they are, other values as JSON.
 * As in ESO, leases are not revoked (no GeneratorState).
 */
import { CustosError } from "../util/errors.ts";
import { goJsonMarshal } from "../util/gojson.ts";
import { redactor } from "../util/redact.ts";
import type { KubeAccess } from "../providers/types.ts";
import { vaultProvider } from "../providers/vault/index.ts";
import { fixedPath } from "../providers/vault/path.ts";
import type { VaultProviderSpec } from "../providers/vault/schema.ts";
import { VaultSession } from "../providers/vault/session.ts";

export interface VaultDynamicSecretSpec {
  provider?: VaultProviderSpec;
  path?: string;
  method?: string;
  parameters?: Record<string, unknown>;
  resultType?: "Data" | "Auth" | "Raw";
  allowEmptyResponse?: boolean;
  controller?: string;
}

function invalid(message: string): CustosError {
  return new CustosError("CUSTOS_INVALID_SPEC", `VaultDynamicSecret: ${message}`, { retryable: false });
}

export async function vaultDynamicSecret(
  spec: VaultDynamicSecretSpec,
  kube: KubeAccess,
  namespace: string,
): Promise<Record<string, Uint8Array>> {
  if (!spec.provider) throw invalid("no Vault provider config in spec");
  if (!spec.path) throw invalid("path is required");
  const path = fixedPath(spec.path);
  const method = (spec.method || "GET").toUpperCase();
  const connected = await vaultProvider.connect(
    spec.provider,
    { storeKind: "SecretStore", storeName: "vault-dynamic-secret", storeUid: "", namespace, kube },
    {
      recordCall: () => undefined,
      redact: (v) => {
        redactor.add(v);
      },
    },
  );
  if (!(connected instanceof VaultSession)) throw new CustosError("CUSTOS_INTERNAL", "not a Vault session");
  const session = connected;
  let body: Record<string, unknown> | undefined;
  try {
    const params = spec.parameters ?? {};
    const res =
      method === "GET"
        ? await session.request<Record<string, unknown>>("GenerateRead", "GET", path, {
            query: Object.fromEntries(
              Object.entries(params).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
            ),
          })
        : method === "LIST" || method === "DELETE"
          ? await session.request<Record<string, unknown>>(`Generate${method}`, method, path)
          : await session.request<Record<string, unknown>>("GenerateWrite", "PUT", path, { body: params });
    body = res.body;
  } finally {
    await session.close();
  }
  const result = spec.resultType === "Auth" ? body?.auth : spec.resultType === "Raw" ? body : body?.data;
  if (result === undefined || result === null) {
    if (spec.allowEmptyResponse) return {};
    throw new CustosError("CUSTOS_STORE_ERROR", "unable to get dynamic secret: empty response from Vault", {
      retryable: true,
    });
  }
  if (typeof result !== "object" || Array.isArray(result)) throw invalid("the answer is not a JSON object");
  const out: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
  for (const [k, v] of Object.entries(result as Record<string, unknown>)) {
    out[k] = new TextEncoder().encode(typeof v === "string" ? v : goJsonMarshal(v));
    redactor.add(out[k]);
  }
  return out;
}
