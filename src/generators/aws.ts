/**
 * ESO's STSSessionToken generator: GetSessionToken with the generator's own AWS credentials
 * (`auth.secretRef` in the ExternalSecret's namespace, then `role` assumed with them), as a
 * namespaced store would: never the operator's default chain (refused with the reason), and, as
 * ESO, no `auth.jwt`. Output keys `access_key_id`, `secret_access_key`, `session_token` and
 * `expiration` (Unix seconds).
 */
import { STSClient, GetSessionTokenCommand } from "@aws-sdk/client-sts";
import { CustosError } from "../util/errors.ts";
import { redactor } from "../util/redact.ts";
import type { KubeAccess } from "../providers/types.ts";
import { credentialsFor, endpointFor } from "../providers/aws/credentials.ts";
import type { AwsProviderSpec } from "../providers/aws/schema.ts";

export interface STSSessionTokenSpec {
  region?: string;
  role?: string;
  auth?: AwsProviderSpec["auth"];
  requestParameters?: { sessionDuration?: number; serialNumber?: string; tokenCode?: string };
}

export async function stsSessionToken(
  spec: STSSessionTokenSpec,
  kube: KubeAccess,
  namespace: string,
): Promise<Record<string, Uint8Array>> {
  if (!spec.region)
    throw new CustosError("CUSTOS_INVALID_SPEC", "STSSessionToken: region is required", { retryable: false });
  if (spec.auth?.jwt)
    throw new CustosError("CUSTOS_INVALID_SPEC", "jwt auth cannot be used for STS Session Token generation", {
      retryable: false,
    });
  const deps = {
    recordCall: () => undefined,
    redact: (v: string | Uint8Array) => {
      redactor.add(v);
    },
  };
  const credentials = await credentialsFor(
    {
      service: "SecretsManager",
      region: spec.region,
      ...(spec.role ? { role: spec.role } : {}),
      ...(spec.auth ? { auth: spec.auth } : {}),
    },
    { storeKind: "SecretStore", storeName: "sts-session-token", storeUid: "", namespace, kube },
    deps,
    spec.region,
  );
  const endpoint = endpointFor("STS");
  const client = new STSClient({ region: spec.region, credentials, ...(endpoint ? { endpoint } : {}) });
  try {
    const p = spec.requestParameters ?? {};
    const out = await client.send(
      new GetSessionTokenCommand({
        ...(p.sessionDuration ? { DurationSeconds: p.sessionDuration } : {}),
        ...(p.serialNumber ? { SerialNumber: p.serialNumber } : {}),
        ...(p.tokenCode ? { TokenCode: p.tokenCode } : {}),
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken)
      throw new CustosError("CUSTOS_STORE_ERROR", "STSSessionToken: no credentials found", {
        retryable: true,
      });
    const enc = new TextEncoder();
    const result = {
      access_key_id: enc.encode(c.AccessKeyId),
      expiration: enc.encode(String(Math.floor((c.Expiration?.getTime() ?? 0) / 1000))),
      secret_access_key: enc.encode(c.SecretAccessKey),
      session_token: enc.encode(c.SessionToken),
    };
    redactor.add(result.secret_access_key);
    redactor.add(result.session_token);
    return result;
  } catch (e) {
    if (e instanceof CustosError) throw e;
    throw new CustosError(
      "CUSTOS_AUTH_FAILED",
      `STSSessionToken: unable to get authorization token: ${(e as Error).name}: ${(e as Error).message}`,
      { cause: e },
    );
  } finally {
    client.destroy();
  }
}
