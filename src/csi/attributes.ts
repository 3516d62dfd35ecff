/**
 * The driver's MountRequest as Custos reads it: the SecretProviderClass parameters with the
 * kubelet's volume attributes copied over them (pod name, namespace, uid, service account), the
 * pod's service-account tokens, and the default file mode. Pure.
 *
 * The pod fields come from the kubelet (it overwrites what a SecretProviderClass or the pod's own
 * volumeAttributes say), so they name the pod that mounts. The tokens are checked against them:
 * a token whose claims name another namespace or service account is refused.
 */
import { CustosError } from "../util/errors.ts";
import { redactor } from "../util/redact.ts";
import { parsePermission } from "./files.ts";

export const POD_NAME = "csi.storage.k8s.io/pod.name";
export const POD_NAMESPACE = "csi.storage.k8s.io/pod.namespace";
export const POD_UID = "csi.storage.k8s.io/pod.uid";
export const SERVICE_ACCOUNT = "csi.storage.k8s.io/serviceAccount.name";
export const TOKENS = "csi.storage.k8s.io/serviceAccount.tokens";

export interface PodInfo {
  name: string;
  namespace: string;
  uid: string;
  serviceAccountName: string;
}

export interface PodToken {
  token: string;
  expirationTimestamp?: string | undefined;
}

export interface MountInput {
  /** Every attribute (parameters and volume attributes), string values only. */
  parameters: Record<string, string>;
  pod: PodInfo;
  /** The pod's service-account tokens by audience (what the CSIDriver's tokenRequests asked for). */
  tokens: Map<string, PodToken>;
  /** The default file mode (the driver's `permission`). */
  defaultMode: number;
}

export interface RawMountRequest {
  attributes: string;
  secrets: string;
  targetPath: string;
  permission: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function bad(message: string): CustosError {
  return new CustosError("CUSTOS_INVALID_SPEC", message, { retryable: false });
}

/** A Kubernetes object name (DNS subdomain); checked before it is put in an API path. */
export function checkName(name: string, what: string): string {
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
    throw bad(`${what} "${name.slice(0, 253)}" is not a valid name`);
  return name;
}

function parseObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad(`${what} is not JSON`);
  }
  if (v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw bad(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

function claims(token: string): Record<string, unknown> | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return v !== null && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Undefined when the token's claims (unverified: the store verifies the signature) agree with the
 * pod, else why not. Tokens without Kubernetes claims are left to the store.
 */
export function tokenMismatch(token: string, pod: PodInfo): string | undefined {
  const c = claims(token);
  const k = c?.["kubernetes.io"];
  if (!k || typeof k !== "object") return undefined;
  const ns = (k as { namespace?: unknown }).namespace;
  const sa = (k as { serviceaccount?: { name?: unknown } }).serviceaccount?.name;
  const podRef = (k as { pod?: { uid?: unknown } }).pod?.uid;
  if (ns !== undefined && ns !== pod.namespace) return "its namespace is not the pod's";
  if (sa !== undefined && sa !== pod.serviceAccountName) return "its service account is not the pod's";
  if (podRef !== undefined && pod.uid && podRef !== pod.uid) return "it is bound to another pod";
  return undefined;
}

export function parseMountRequest(req: RawMountRequest): MountInput {
  const attrs = parseObject(req.attributes || "{}", "attributes");
  const parameters: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(attrs)) if (typeof v === "string") parameters[k] = v;
  const pod: PodInfo = {
    name: parameters[POD_NAME] ?? "",
    namespace: parameters[POD_NAMESPACE] ?? "",
    uid: parameters[POD_UID] ?? "",
    serviceAccountName: parameters[SERVICE_ACCOUNT] ?? "",
  };
  if (!pod.namespace || !DNS_LABEL.test(pod.namespace))
    throw bad(
      `attribute ${POD_NAMESPACE} is missing or invalid: the CSIDriver must set podInfoOnMount: true`,
    );
  if (!pod.serviceAccountName)
    throw bad(`attribute ${SERVICE_ACCOUNT} is missing: the CSIDriver must set podInfoOnMount: true`);
  checkName(pod.serviceAccountName, "service account");
  const tokens = new Map<string, PodToken>();
  const raw = parameters[TOKENS];
  if (raw) {
    const byAudience = parseObject(raw, `attribute ${TOKENS}`);
    for (const [aud, t] of Object.entries(byAudience)) {
      const token = (t as { token?: unknown } | null)?.token;
      if (typeof token !== "string" || !token) continue;
      redactor.add(token);
      const mismatch = tokenMismatch(token, pod);
      if (mismatch)
        throw new CustosError(
          "CUSTOS_STORE_DENIED",
          `the service-account token for audience "${aud}" is refused: ${mismatch}`,
          {
            retryable: false,
          },
        );
      const exp = (t as { expirationTimestamp?: unknown }).expirationTimestamp;
      tokens.set(aud, { token, ...(typeof exp === "string" ? { expirationTimestamp: exp } : {}) });
    }
  }
  // the pod's tokens are not parameters: nothing downstream may echo them
  delete parameters[TOKENS];
  return { parameters, pod, tokens, defaultMode: parsePermission(req.permission) };
}

/**
 * The audience whose token logs in: the one asked for, else the first of `preferred` the driver
 * passed, else the only one passed.
 */
export function pickAudience(
  tokens: Map<string, PodToken>,
  asked: string | undefined,
  preferred: string[],
): string {
  const have = [...tokens.keys()];
  const none = (): CustosError =>
    new CustosError(
      "CUSTOS_MISSING_CREDENTIALS",
      `no service-account token of the pod for audience ${asked !== undefined ? `"${asked}"` : preferred.map((a) => `"${a}"`).join(" or ") || "(any)"}` +
        ` (the driver passed ${have.length ? have.map((a) => `"${a}"`).join(", ") : "none"}): add it to the CSIDriver's tokenRequests`,
      { retryable: false },
    );
  if (asked !== undefined) {
    if (!tokens.has(asked)) throw none();
    return asked;
  }
  for (const p of preferred) if (tokens.has(p)) return p;
  if (have.length === 1 && preferred.length === 0) return have[0]!;
  throw none();
}
