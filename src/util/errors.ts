/**
 * Typed errors with stable codes (in the style of undici): callers branch on `code`, never on
 * message text. Messages must never contain secret values; pass them through the redactor first
 * when they may echo remote data.
 */
export type CustosErrorCode =
  // input and configuration: the user must change something
  | "CUSTOS_INVALID_SPEC"
  | "CUSTOS_INVALID_DURATION"
  | "CUSTOS_STORE_NOT_FOUND"
  | "CUSTOS_STORE_NOT_READY"
  | "CUSTOS_STORE_DENIED"
  // the store belongs to another controller class: the object is another operator's to serve
  | "CUSTOS_STORE_NOT_OURS"
  | "CUSTOS_MISSING_CREDENTIALS"
  | "CUSTOS_PROPERTY_NOT_FOUND"
  | "CUSTOS_TEMPLATE"
  // a template stopped by its per-render budget (steps, bytes, cost, nesting)
  | "CUSTOS_TEMPLATE_BUDGET"
  | "CUSTOS_DECODE"
  | "CUSTOS_OWNERSHIP_CONFLICT"
  // a user-supplied regular expression: not valid RE2 syntax, or beyond a size/work limit
  | "CUSTOS_REGEX_INVALID"
  | "CUSTOS_REGEX_LIMIT"
  // a namespace not yet in the cache: its labels are unknown, so selectors wait (retried)
  | "CUSTOS_NAMESPACE_UNKNOWN"
  // a store would act as the operator itself (its token, its cloud credentials) for a namespaced store
  | "CUSTOS_OPERATOR_IDENTITY_DENIED"
  // a remote key or path with dot segments, encoded separators, control characters...
  | "CUSTOS_INVALID_REMOTE_KEY"
  // another writer changed the object between read and write: retried
  | "CUSTOS_WRITE_CONFLICT"
  // sharding: this replica lost the object's shard before the write (the new owner writes it)
  | "CUSTOS_SHARD_LOST"
  // the remote store answered with a failure
  | "CUSTOS_SECRET_NOT_FOUND"
  | "CUSTOS_ACCESS_DENIED"
  | "CUSTOS_AUTH_FAILED"
  | "CUSTOS_THROTTLED"
  | "CUSTOS_STORE_UNREACHABLE"
  | "CUSTOS_STORE_ERROR"
  // pushing: the remote changed under us (check-and-set), or another owner manages it
  | "CUSTOS_PUSH_CONFLICT"
  | "CUSTOS_PUSH_NOT_OURS"
  // sealing
  | "CUSTOS_UNSEAL_FAILED"
  | "CUSTOS_SEAL_FAILED"
  | "CUSTOS_CERT_INVALID"
  // our own bugs
  | "CUSTOS_INTERNAL";

export class CustosError extends Error {
  override readonly name: string = "CustosError";
  readonly code: CustosErrorCode;
  /** True when retrying later may succeed without a spec change (outage, throttling). */
  readonly retryable: boolean;

  constructor(code: CustosErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? RETRYABLE.has(code);
  }
}

const RETRYABLE = new Set<CustosErrorCode>([
  "CUSTOS_THROTTLED",
  "CUSTOS_STORE_UNREACHABLE",
  "CUSTOS_STORE_ERROR",
  "CUSTOS_AUTH_FAILED",
  "CUSTOS_STORE_NOT_READY",
  "CUSTOS_INTERNAL",
  "CUSTOS_WRITE_CONFLICT",
  "CUSTOS_SHARD_LOST",
  "CUSTOS_NAMESPACE_UNKNOWN",
  "CUSTOS_PUSH_CONFLICT",
]);

export function isCustosError(e: unknown, code?: CustosErrorCode): e is CustosError {
  return e instanceof CustosError && (code === undefined || e.code === code);
}

/** A short message for any thrown value, for conditions and logs. */
/** The longest message a condition or Event carries (Kubernetes caps an Event's note at 1 KiB). */
export const MAX_MESSAGE = 1024;

/**
 * A message cut to `max` characters, saying how much was cut: a tenant's 100,000-character name
 * echoed in an error must not make the status write that reports it fail.
 */
export function boundedMessage(message: string, max = MAX_MESSAGE): string {
  if (message.length <= max) return message;
  const cut = message.length - (max - 40);
  return `${message.slice(0, max - 40)}… (${cut} characters cut)`;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
