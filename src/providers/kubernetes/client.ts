/**
 * A small client for one remote API server with one identity: TLS verified against the store's CA
 * (or the system roots), a bearer token or a client certificate, failures mapped to CustosError
 * codes with the API server's own message (which names objects, never values).
 */
import { request, type Dispatcher } from "undici";
import { TlsAgentCache } from "../../util/tls-agent.ts";
import { CustosError, type CustosErrorCode } from "../../util/errors.ts";
import { parseJson } from "../../util/json.ts";

export interface ApiClientOptions {
  url: string;
  caPem?: string | undefined;
  cert?: { cert: string; key: string } | undefined;
  /** A bearer token, fetched per request (service-account tokens are renewed). */
  token?: (() => Promise<string>) | undefined;
  recordCall: (call: string, status: "success" | "error") => void;
  timeoutMs?: number;
}

// One agent per distinct TLS setting, shared by sessions (bounded: the CA is a tenant's).
const agents = new TlsAgentCache();

function codeFor(status: number): CustosErrorCode {
  if (status === 404) return "CUSTOS_SECRET_NOT_FOUND";
  if (status === 403) return "CUSTOS_ACCESS_DENIED";
  if (status === 401) return "CUSTOS_AUTH_FAILED";
  if (status === 429) return "CUSTOS_THROTTLED";
  return "CUSTOS_STORE_ERROR";
}

export class ApiClient {
  readonly #base: string;
  readonly #dispatcher: Dispatcher;

  constructor(readonly opts: ApiClientOptions) {
    this.#base = opts.url.replace(/\/+$/, "");
    this.#dispatcher = agents.get({ ca: opts.caPem, client: opts.cert });
  }

  get server(): string {
    return this.#base;
  }

  /** One call; `path` is built by the caller from encoded segments only. */
  async call<T>(
    call: string,
    method: "GET" | "POST",
    path: string,
    opts: { query?: Record<string, string>; body?: unknown } = {},
  ): Promise<T> {
    const url = new URL(this.#base + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.opts.token) headers.authorization = `Bearer ${await this.opts.token()}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method,
        headers,
        dispatcher: this.#dispatcher,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        headersTimeout: this.opts.timeoutMs ?? 15_000,
        bodyTimeout: this.opts.timeoutMs ?? 15_000,
      });
    } catch (e) {
      this.opts.recordCall(call, "error");
      const code = (e as { code?: string }).code ?? (e as Error).name;
      throw new CustosError(
        "CUSTOS_STORE_UNREACHABLE",
        `cannot reach the Kubernetes API server at ${this.#base}: ${code} (${(e as Error).message})`,
        { cause: e },
      );
    }
    const text = await res.body.text();
    let body: unknown;
    try {
      body = text ? parseJson(text) : undefined;
    } catch {
      body = undefined;
    }
    if (res.statusCode < 300) {
      this.opts.recordCall(call, "success");
      return body as T;
    }
    this.opts.recordCall(call, "error");
    const message = (body as { message?: unknown } | undefined)?.message;
    throw new CustosError(
      codeFor(res.statusCode),
      `Kubernetes API ${method} ${url.pathname}: HTTP ${res.statusCode}${typeof message === "string" ? `: ${message.slice(0, 500)}` : ""}`,
      { retryable: res.statusCode === 429 || res.statusCode >= 500 || res.statusCode === 401 },
    );
  }
}
