/**
 * ESO's ECRAuthorizationToken generator: ECR GetAuthorizationToken with the generator's own AWS
 * credentials (`auth.secretRef` or `auth.jwt` in the ExternalSecret's namespace, then `role`), as
 * a namespaced store would: never the operator's default chain. The token is base64 of
 * `username:password`; output keys `username`, `password`, `proxy_endpoint` and `expires_at` (Unix
 * seconds), as ESO. `scope: public` (ECR Public) is refused: not implemented (moto has no ECR
 * Public to test it against). Loaded on first use only (the ECR client is tens of MiB).
 */
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { CustosError } from "../util/errors.ts";
import { redactor } from "../util/redact.ts";
import type { KubeAccess } from "../providers/types.ts";
import { credentialsFor, endpointFor } from "../providers/aws/credentials.ts";
import type { AwsProviderSpec } from "../providers/aws/schema.ts";

export interface ECRAuthorizationTokenSpec {
  region?: string;
  role?: string;
  auth?: AwsProviderSpec["auth"];
  scope?: string;
}

/** `username` and `password` of an ECR authorization token (base64 of `user:password`). */
export function splitToken(token: string): { username: string; password: string } {
  const decoded = Buffer.from(token, "base64").toString("utf8");
  const i = decoded.indexOf(":");
  if (i < 0)
    throw new CustosError("CUSTOS_DECODE", "ECRAuthorizationToken: unexpected token format", {
      retryable: false,
    });
  return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

export async function ecrAuthorizationToken(
  spec: ECRAuthorizationTokenSpec,
  kube: KubeAccess,
  namespace: string,
): Promise<Record<string, Uint8Array>> {
  if (!spec.region)
    throw new CustosError("CUSTOS_INVALID_SPEC", "ECRAuthorizationToken: region is required", {
      retryable: false,
    });
  if (spec.scope === "public")
    throw new CustosError("CUSTOS_INVALID_SPEC", "ECRAuthorizationToken: scope public is not supported yet", {
      retryable: false,
    });
  const credentials = await credentialsFor(
    {
      service: "SecretsManager",
      region: spec.region,
      ...(spec.role ? { role: spec.role } : {}),
      ...(spec.auth ? { auth: spec.auth } : {}),
    },
    { storeKind: "SecretStore", storeName: "ecr-authorization-token", storeUid: "", namespace, kube },
    {
      recordCall: () => undefined,
      redact: (v) => {
        redactor.add(v);
      },
    },
    spec.region,
  );
  const endpoint = endpointFor("ECR");
  const client = new ECRClient({ region: spec.region, credentials, ...(endpoint ? { endpoint } : {}) });
  try {
    const out = await client.send(new GetAuthorizationTokenCommand({}));
    const data = out.authorizationData?.[0];
    if (!data?.authorizationToken)
      throw new CustosError("CUSTOS_STORE_ERROR", "ECRAuthorizationToken: no authorization data", {
        retryable: true,
      });
    const { username, password } = splitToken(data.authorizationToken);
    const enc = new TextEncoder();
    const result = {
      username: enc.encode(username),
      password: enc.encode(password),
      proxy_endpoint: enc.encode(data.proxyEndpoint ?? ""),
      expires_at: enc.encode(String(Math.floor((data.expiresAt?.getTime() ?? 0) / 1000))),
    };
    redactor.add(result.password);
    redactor.add(data.authorizationToken);
    return result;
  } catch (e) {
    if (e instanceof CustosError) throw e;
    throw new CustosError(
      "CUSTOS_AUTH_FAILED",
      `ECRAuthorizationToken: unable to get authorization token: ${(e as Error).name}: ${(e as Error).message}`,
      { cause: e },
    );
  } finally {
    client.destroy();
  }
}
