/**
 * A thin typed Vault/OpenBao HTTP client on undici: TLS verification with the store's CA, the
 * Vault namespace and custom headers, read-your-writes consistency, and failures mapped to
 * CustosError codes whose messages name the path and Vault's own error text (never values).
 */
import { request, type Dispatcher } from "undici";
import { TlsAgentCache } from "../../util/tls-agent.ts";
import { CustosError, type CustosErrorCode } from "../../util/errors.ts";
import { parseJson } from "../../util/json.ts";
import type { VaultPath } from "./path.ts";

export interface VaultClientOptions {
  server: string;
  namespace?: string | undefined;
  headers?: Record<string, string> | undefined;
  caPem?: string | undefined;
  /** Client certificate and key presented in the TLS handshake (cert auth, mutual TLS). */
  clientTls?: { cert: string; key: string } | undefined;
  readYourWrites?: boolean | undefined;
  forwardInconsistent?: boolean | undefined;
  recordCall: (call: string, status: "success" | "error") => void;
  timeoutMs?: number;
}

export interface VaultResponse<T> {
  status: number;
  body: T;
}

export interface AuthInfo {
  client_token: string;
  lease_duration: number;
  renewable: boolean;
}

// One agent per distinct TLS setting, shared by sessions (bounded: the CA is a tenant's).
const agents = new TlsAgentCache();
const agentFor = (
  ca: string | undefined,
  client: { cert: string; key: string } | undefined,
): Dispatcher | undefined => (ca || client ? agents.get({ ca, client }) : undefined);

export class VaultClient {
  readonly server: string;
  /** The server URL's own path (a Vault behind a path prefix), without trailing slash. */
  readonly #base: string;
  readonly #dispatcher: Dispatcher | undefined;
  #index: string | undefined;

  constructor(readonly opts: VaultClientOptions) {
    this.server = opts.server.replace(/\/+$/, "");
    this.#base = new URL(this.server).pathname.replace(/\/+$/, "");
    this.#dispatcher = agentFor(opts.caPem, opts.clientTls);
  }

  /**
   * One API call. `call` names it for metrics (e.g. "ReadSecret", "Login"). 404 resolves with
   * status 404 when `allow404` is set, else throws CUSTOS_SECRET_NOT_FOUND. `path` is a checked
   * VaultPath (see path.ts): the only way a key reaches a URL.
   */
  async call<T>(
    call: string,
    method: "GET" | "POST" | "PUT" | "LIST" | "DELETE",
    path: VaultPath,
    opts: {
      token?: string | undefined;
      body?: unknown;
      query?: Record<string, string>;
      allow404?: boolean;
      namespace?: string | undefined;
    } = {},
  ): Promise<VaultResponse<T>> {
    const url = new URL(`${this.server}/v1/${path.encoded}`);
    // Second wall: URL parsing must not have rewritten the path (dot segments, separators).
    if (url.pathname !== `${this.#base}/v1/${path.encoded}`)
      throw new CustosError("CUSTOS_INVALID_REMOTE_KEY", `Vault path "${path.toString()}" is not allowed`, {
        retryable: false,
      });
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { ...(this.opts.headers ?? {}) };
    if (opts.token) headers["x-vault-token"] = opts.token;
    const ns = opts.namespace ?? this.opts.namespace;
    if (ns) headers["x-vault-namespace"] = ns;
    if (this.opts.readYourWrites && this.#index) headers["x-vault-index"] = this.#index;
    if (this.opts.forwardInconsistent) headers["x-vault-inconsistent"] = "forward-active-node";
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: method as Dispatcher.HttpMethod,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
        headersTimeout: this.opts.timeoutMs ?? 15_000,
        bodyTimeout: this.opts.timeoutMs ?? 15_000,
      });
    } catch (e) {
      this.opts.recordCall(call, "error");
      const code = (e as { code?: string }).code ?? (e as Error).name;
      throw new CustosError(
        "CUSTOS_STORE_UNREACHABLE",
        `cannot reach Vault at ${this.server}: ${code} (${(e as Error).message})`,
        { cause: e },
      );
    }
    const text = await res.body.text();
    const index = res.headers["x-vault-index"];
    if (typeof index === "string") this.#index = index;
    let body: unknown = undefined;
    if (text) {
      try {
        body = parseJson(text);
      } catch {
        body = undefined;
      }
    }
    if (res.statusCode < 400 || (res.statusCode === 404 && opts.allow404)) {
      this.opts.recordCall(call, "success");
      return { status: res.statusCode, body: body as T };
    }
    this.opts.recordCall(call, "error");
    const errors = ((body as { errors?: unknown[] } | undefined)?.errors ?? []).map(String).join("; ");
    const what = `Vault ${method} ${path.toString()}: HTTP ${res.statusCode}${errors ? `: ${errors}` : ""}`;
    throw new CustosError(codeFor(res.statusCode), what, {
      retryable: res.statusCode === 429 || res.statusCode >= 500 || res.statusCode === 403,
    });
  }
}

function codeFor(status: number): CustosErrorCode {
  if (status === 404) return "CUSTOS_SECRET_NOT_FOUND";
  if (status === 403) return "CUSTOS_ACCESS_DENIED";
  if (status === 400 || status === 401) return "CUSTOS_AUTH_FAILED";
  if (status === 429) return "CUSTOS_THROTTLED";
  return "CUSTOS_STORE_ERROR";
}
