/**
 * One webhook request per read, as ESO builds it: the URL rendered with query-escaped
 * `.remoteRef` values, body and headers rendered with the raw values, `secrets[]` (Secrets labelled
 * `external-secrets.io/type: webhook`) available to every template under their name, and the
 * answer reduced by `result.jsonPath` (itself a template).
 */
import { request, type Dispatcher } from "undici";
import { TlsAgentCache } from "../../util/tls-agent.ts";
import type { ProviderDeps, RemoteKey, RemoteSecret, Session, StoreContext } from "../types.ts";
import { CustosError, isCustosError } from "../../util/errors.ts";
import { parseJson } from "../../util/json.ts";
import { goJsonMarshal } from "../../util/gojson.ts";
import { renderTemplate, withTemplateBudget } from "../../template/index.ts";
import { checkLiteralHost, guardedLookup } from "./net.ts";
import { evalJsonPath } from "./jsonpath.ts";
import type { WebhookProviderSpec } from "./schema.ts";

/** Largest answer read (ESO reads without limit; a secret is far smaller). */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 15_000;
export const WEBHOOK_LABEL = "external-secrets.io/type";

/** Go's url.QueryEscape. */
export function goQueryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/%20/g, "+")
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Go's strconv.FormatFloat(f, 'f', 0, 64): rounded half to even, all digits. */
export function goFormatFloat0(f: number): string {
  if (!Number.isFinite(f)) return f > 0 ? "+Inf" : f < 0 ? "-Inf" : "NaN";
  const floor = Math.floor(f);
  const diff = f - floor;
  let r = diff > 0.5 ? floor + 1 : diff < 0.5 ? floor : floor % 2 === 0 ? floor : floor + 1;
  if (r === 0 && (f < 0 || Object.is(f, -0))) return "-0";
  if (Object.is(r, -0)) r = 0;
  return Math.abs(r) < 1e21 ? r.toFixed(0) : BigInt(r).toString();
}

/** ESO's extractSecretData: a JSONPath result as bytes. */
export function resultBytes(v: unknown): Uint8Array {
  const enc = new TextEncoder();
  if (typeof v === "boolean") return enc.encode(v ? "true" : "false");
  if (v === null || v === undefined) return new Uint8Array(0);
  if (typeof v === "number") return enc.encode(goFormatFloat0(v));
  if (typeof v === "string") return enc.encode(v);
  if (Array.isArray(v)) {
    if (!v.length)
      throw new CustosError(
        "CUSTOS_PROPERTY_NOT_FOUND",
        "result.jsonPath: filter worked but didn't get any result",
        {
          retryable: false,
        },
      );
    return resultBytes(v[0]);
  }
  return enc.encode(goJsonMarshal(v));
}

// One agent per CA and address mode, shared by sessions (bounded: the CA is a tenant's).
const agents = new TlsAgentCache();

type TemplateData = Record<string, Record<string, string>>;

export class WebhookSession implements Session {
  readonly #dispatcher: Dispatcher;
  readonly #allowReserved: boolean;

  constructor(
    readonly spec: WebhookProviderSpec,
    readonly ctx: StoreContext,
    readonly deps: ProviderDeps,
    readonly caPem: string | undefined,
    readonly timeoutMs: number,
  ) {
    // link-local and loopback addresses are the operator's: only with the operator identity
    this.#allowReserved = ctx.operator !== undefined;
    this.#dispatcher = agents.get({
      ca: caPem,
      variant: this.#allowReserved ? "reserved-allowed" : "guarded",
      lookup: guardedLookup(this.#allowReserved),
      keepAliveTimeoutMs: 10_000,
    });
  }

  /** `secrets[]` by name: every key of each Secret, which must carry the webhook label (as ESO). */
  async #secretData(): Promise<TemplateData> {
    const out: TemplateData = Object.create(null) as TemplateData;
    for (const s of this.spec.secrets ?? []) {
      const ns = secretNamespace(s.secretRef, this.ctx);
      if (!this.ctx.kube.secret)
        throw new CustosError("CUSTOS_INTERNAL", "this context cannot read whole Secrets");
      const secret = await this.ctx.kube.secret(ns, s.secretRef.name);
      const label = secret.labels[WEBHOOK_LABEL];
      if (label === undefined)
        throw new CustosError(
          "CUSTOS_MISSING_CREDENTIALS",
          `Secret ${ns}/${s.secretRef.name} does not contain needed label '${WEBHOOK_LABEL}: webhook'. Update secret label to use it with webhook`,
          { retryable: false },
        );
      if (label !== "webhook")
        throw new CustosError(
          "CUSTOS_MISSING_CREDENTIALS",
          `Secret ${ns}/${s.secretRef.name}: secret type is not 'webhook'`,
          {
            retryable: false,
          },
        );
      const m: Record<string, string> = (out[s.name] ??= Object.create(null) as Record<string, string>);
      const dec = new TextDecoder();
      for (const [k, v] of Object.entries(secret.data)) m[k] = dec.decode(v);
    }
    return out;
  }

  /** One request: templates rendered (with `.remoteRef` when reading a key), the answer and jsonPath. */
  async #request(ref: RemoteKey | undefined): Promise<{ answer: Uint8Array; jsonPath: string }> {
    const secrets = await this.#secretData();
    const remote = (escape: boolean): Record<string, string> => {
      const e = escape ? goQueryEscape : (s: string) => s;
      return {
        key: e(ref?.key ?? ""),
        version: e(ref?.version ?? ""),
        property: "",
        namespace: this.ctx.namespace,
      };
    };
    // a generator's templates have no .remoteRef (ESO passes no reference)
    const raw: TemplateData = ref ? { ...secrets, remoteRef: remote(false) } : secrets;
    const escaped: TemplateData = ref ? { ...secrets, remoteRef: remote(true) } : secrets;
    const { url, body, headers, jsonPath } = withTemplateBudget(() => ({
      url: renderTemplate("url", this.spec.url, escaped),
      body: this.spec.body ? renderTemplate("body", this.spec.body, raw) : "",
      headers: Object.entries(this.spec.headers ?? {}).map(
        ([k, v]) => [k, renderTemplate(`header ${k}`, v, raw)] as const,
      ),
      jsonPath: this.spec.result?.jsonPath ? renderTemplate("jsonPath", this.spec.result.jsonPath, raw) : "",
    }));
    return { answer: await this.#call(url, body, headers), jsonPath };
  }

  #json(answer: Uint8Array, what: string): unknown {
    try {
      return parseJson(new TextDecoder().decode(answer));
    } catch {
      throw new CustosError("CUSTOS_DECODE", `webhook answer ${what} is not JSON`, { retryable: false });
    }
  }

  async read(ref: RemoteKey): Promise<RemoteSecret> {
    const { answer, jsonPath } = await this.#request(ref);
    if (!jsonPath) {
      this.deps.redact(answer);
      return { kind: "bytes", value: answer };
    }
    const doc = this.#json(answer, `for "${ref.key}" (result.jsonPath is set)`);
    const value = resultBytes(evalJsonPath(jsonPath, doc));
    this.deps.redact(value);
    return { kind: "bytes", value };
  }

  /**
   * ESO's Webhook generator (GetSecretMap without a reference): the JSON object at jsonPath (or a
   * string holding one), each value as bytes (strings as they are, others as JSON).
   */
  async generate(): Promise<Record<string, Uint8Array>> {
    const { answer, jsonPath } = await this.#request(undefined);
    let doc = this.#json(answer, "of the Webhook generator");
    if (jsonPath) doc = evalJsonPath(jsonPath, doc);
    if (typeof doc === "string") doc = this.#json(new TextEncoder().encode(doc), "at result.jsonPath");
    if (doc === null || typeof doc !== "object" || Array.isArray(doc))
      throw new CustosError("CUSTOS_DECODE", "the Webhook generator's answer is not a JSON object", {
        retryable: false,
      });
    const out: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      out[k] =
        typeof v === "string" ? new TextEncoder().encode(v) : new TextEncoder().encode(goJsonMarshal(v));
      this.deps.redact(out[k]);
    }
    return out;
  }

  async #call(urlText: string, body: string, headers: (readonly [string, string])[]): Promise<Uint8Array> {
    let url: URL;
    try {
      url = new URL(urlText);
    } catch {
      throw new CustosError("CUSTOS_INVALID_SPEC", "webhook url does not render to a URL", {
        retryable: false,
      });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new CustosError("CUSTOS_INVALID_SPEC", `webhook url must be http or https, not ${url.protocol}`, {
        retryable: false,
      });
    if (url.username || url.password)
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        "webhook url must not carry credentials; use headers from secrets",
        {
          retryable: false,
        },
      );
    checkLiteralHost(url.hostname, this.#allowReserved);
    // for messages: never the query (it may carry a credential)
    const where = `${url.origin}${url.pathname}`;
    const method = (this.spec.method || "GET").toUpperCase();
    const h: Record<string, string> = {};
    for (const [k, v] of headers) h[k] = h[k] === undefined ? v : `${h[k]}, ${v}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: method,
        headers: h,
        ...(body || method !== "GET" ? { body } : {}),
        dispatcher: this.#dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        // undici's request never follows redirects: a 3xx is an error below
      });
    } catch (e) {
      this.deps.recordCall("WebhookHTTPRequest", "error");
      const inner = isCustosError(e)
        ? e
        : isCustosError((e as { cause?: unknown }).cause)
          ? (e as { cause: CustosError }).cause
          : undefined;
      if (inner) throw inner;
      const code = (e as { code?: string }).code ?? (e as Error).name;
      throw new CustosError(
        "CUSTOS_STORE_UNREACHABLE",
        `cannot reach webhook ${method} ${where}: ${code} (${(e as Error).message})`,
        {
          cause: e,
        },
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body) {
      const b = c as Buffer;
      size += b.length;
      if (size > MAX_RESPONSE_BYTES) {
        res.body.destroy();
        this.deps.recordCall("WebhookHTTPRequest", "error");
        throw new CustosError(
          "CUSTOS_STORE_ERROR",
          `webhook ${method} ${where}: answer larger than ${MAX_RESPONSE_BYTES} bytes`,
          {
            retryable: false,
          },
        );
      }
      chunks.push(b);
    }
    const status = res.statusCode;
    if (status >= 200 && status < 300) {
      this.deps.recordCall("WebhookHTTPRequest", "success");
      return new Uint8Array(Buffer.concat(chunks));
    }
    this.deps.recordCall("WebhookHTTPRequest", "error");
    if (status === 404)
      throw new CustosError("CUSTOS_SECRET_NOT_FOUND", `webhook ${method} ${where}: HTTP 404`, {
        retryable: false,
      });
    throw new CustosError(
      status === 401
        ? "CUSTOS_AUTH_FAILED"
        : status === 403
          ? "CUSTOS_ACCESS_DENIED"
          : status === 429
            ? "CUSTOS_THROTTLED"
            : "CUSTOS_STORE_ERROR",
      `webhook ${method} ${where}: endpoint gave error HTTP ${status}`,
      { retryable: status === 429 || status >= 500 || status === 304 },
    );
  }

  find(): Promise<Map<string, RemoteSecret>> {
    return Promise.reject(
      new CustosError("CUSTOS_INVALID_SPEC", "the webhook provider does not support dataFrom.find (as ESO)", {
        retryable: false,
      }),
    );
  }

  async close(): Promise<void> {
    return undefined;
  }
}

/**
 * ESO: on a SecretStore the store's namespace; on a ClusterSecretStore the reference must name
 * its namespace.
 */
export function secretNamespace(
  ref: { name: string; namespace?: string | undefined },
  ctx: Pick<StoreContext, "storeKind" | "namespace">,
): string {
  if (ctx.storeKind === "SecretStore") return ctx.namespace;
  if (!ref.namespace)
    throw new CustosError("CUSTOS_INVALID_SPEC", `no namespace on ClusterScoped webhook secret ${ref.name}`, {
      retryable: false,
    });
  return ref.namespace;
}
