/**
 * A small JSON REST client for the Kubernetes API on top of @kubernetes/client-node's KubeConfig,
 * which does the authentication (tokens, client certs, exec plugins, in-cluster). We talk to paths
 * directly instead of the generated clients: one code path for core and custom resources, full
 * control over watches, content types (server-side apply) and errors.
 */
import type { KubeConfig, HttpMethod } from "@kubernetes/client-node";
import { createRequire } from "node:module";
import { STATUS_CODES } from "node:http";
import { request, type Dispatcher } from "undici";
import { CustosError } from "../util/errors.ts";
import { loadCredentials, type KubeCredentials } from "./credentials.ts";

type ClientNode = typeof import("@kubernetes/client-node");
let clientNodeModule: ClientNode | undefined;
/**
 * @kubernetes/client-node, loaded on first use: the operator usually runs on lean credentials
 * (credentials.ts) and never loads it.
 */
export function clientNode(): ClientNode {
  clientNodeModule ??= createRequire(import.meta.url)("@kubernetes/client-node") as ClientNode;
  return clientNodeModule;
}

/**
 * How long a request (not a watch: informer.ts) waits for the API server's headers, and then
 * between chunks of its body. The server ends a request after its own --request-timeout (60 s), so
 * waiting longer only waits on a connection that died without a word: an HTTP/2 stream whose
 * connection broke half-way was answered by nothing until undici's default of 300 s, holding its
 * worker (the slow-API-server fault scenario: 24 reconciles stalled for minutes).
 */
export const REQUEST_TIMEOUT_MS = 75_000;

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: unknown[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface KubeList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** A failed API call: `status` is the HTTP status, `reason` Kubernetes' Status reason. */
export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof KubeApiError && e.status === 404;
}
export function isConflict(e: unknown): boolean {
  return e instanceof KubeApiError && e.status === 409;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Accept header (default application/json); e.g. metadata-only lists. */
  accept?: string;
}

/** A request that failed because its connection broke, not because it was slow or refused. */
function isBrokenConnection(e: unknown): boolean {
  return e instanceof KubeApiError && e.status === 0 && !/timeout/i.test(e.message);
}

export class KubeApi {
  readonly server: string;
  #dispatcher: Dispatcher | undefined;
  #kubeConfig: KubeConfig | undefined;
  readonly #credentials: KubeCredentials | undefined;
  /** Called once per answered request (code 0: unreachable); watches report method `WATCH`. */
  onResponse: ((method: string, code: number) => void) | undefined;
  /**
   * Checked before each request is sent (sharding's write guard, kube/shard-scope.ts): may throw
   * to refuse it; the function it returns is called when the request is done.
   */
  beforeRequest: ((method: string, path: string) => (() => void) | undefined) | undefined;
  /** User-Agent header (default undici's); a sharded replica names itself here. */
  userAgent: string | undefined;
  /** Longest wait for a request's headers, and between its body's chunks (watches excepted). */
  requestTimeoutMs = REQUEST_TIMEOUT_MS;

  constructor(source: KubeConfig | KubeCredentials) {
    if ("prepare" in source) {
      this.#credentials = source;
      this.server = source.server;
      return;
    }
    this.#kubeConfig = source;
    const cluster = source.getCurrentCluster();
    if (!cluster) throw new CustosError("CUSTOS_INVALID_SPEC", "kubeconfig has no current cluster");
    this.server = cluster.server.replace(/\/+$/, "");
  }

  /** client-node's view of the configuration (loaded now if the API runs on lean credentials). */
  get kubeConfig(): KubeConfig {
    this.#kubeConfig ??= loadKubeConfig(this.#credentials?.kubeconfig);
    return this.#kubeConfig;
  }

  static fromDefault(kubeconfigPath?: string): KubeApi {
    return new KubeApi(loadKubeConfig(kubeconfigPath));
  }

  /**
   * The operator's client: lean credentials when the configuration allows (no client-node in
   * memory), else client-node's KubeConfig.
   */
  static forOperator(kubeconfigPath?: string): KubeApi {
    return new KubeApi(loadCredentials({ kubeconfig: kubeconfigPath }) ?? loadKubeConfig(kubeconfigPath));
  }

  url(path: string, query?: Query): string {
    const u = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** Prepared request: headers with credentials and the dispatcher carrying the cluster's TLS. */
  async prepare(
    method: string,
    url: string,
  ): Promise<{ headers: Record<string, string>; dispatcher?: Dispatcher }> {
    if (this.#credentials) return this.#credentials.prepare(method, url);
    const ctx = new (clientNode().RequestContext)(url, method as HttpMethod);
    await this.kubeConfig.applySecurityAuthentication(ctx);
    // client-node builds a new dispatcher (TLS context, connection pool) for every request; reusing
    // the first keeps connections alive and memory flat. Credentials that change (token files, exec
    // plugins) travel in the headers, which are still computed per request.
    this.#dispatcher ??= ctx.getDispatcher();
    const dispatcher = this.#dispatcher;
    return { headers: ctx.getHeaders(), ...(dispatcher ? { dispatcher } : {}) };
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = this.url(path, opts.query);
    const { headers, dispatcher } = await this.prepare(method, url);
    headers.accept = opts.accept ?? "application/json";
    if (this.userAgent) headers["user-agent"] = this.userAgent;
    const done = this.beforeRequest?.(method, path);
    try {
      try {
        return await this.#send<T>(method, path, url, headers, dispatcher, opts);
      } catch (e) {
        // A read whose connection broke (reset, closed, GOAWAY) is asked again once at once, as
        // client-go retries a GET on a probable EOF: one dropped HTTP/2 connection fails every
        // request on it, and a rollout batch of four LISTs would otherwise rarely pass on a flaky
        // link. Writes are not repeated, nor a read that timed out (it would wait as long again).
        if (!(method === "GET" && isBrokenConnection(e))) throw e;
        return await this.#send<T>(method, path, url, headers, dispatcher, opts);
      }
    } finally {
      done?.();
    }
  }

  async #send<T>(
    method: string,
    path: string,
    url: string,
    headers: Record<string, string>,
    dispatcher: Dispatcher | undefined,
    opts: RequestOptions,
  ): Promise<T> {
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
      headers["content-type"] = opts.contentType ?? "application/json";
    }
    // undici's request, not fetch: no WHATWG streams per response (a third of the client's CPU)
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method,
        headers,
        headersTimeout: this.requestTimeoutMs,
        bodyTimeout: this.requestTimeoutMs,
        ...(body !== undefined ? { body } : {}),
        ...(dispatcher ? { dispatcher } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (e) {
      this.onResponse?.(method, 0);
      throw new KubeApiError(0, "Unreachable", `${method} ${path}: ${(e as Error).message}`);
    }
    this.onResponse?.(method, res.statusCode);
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode > 299) {
      let reason = STATUS_CODES[res.statusCode] ?? String(res.statusCode);
      let message = text.slice(0, 500);
      try {
        const status = JSON.parse(text) as { reason?: string; message?: string };
        reason = status.reason ?? reason;
        message = status.message ?? message;
      } catch {
        /* not a Status object */
      }
      throw new KubeApiError(res.statusCode, reason, `${method} ${path}: ${res.statusCode} ${message}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, query ? { query } : {});
  }

  async getOrUndefined<T>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  create<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, { body });
  }

  replace<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, { body });
  }

  mergePatch<T>(path: string, patch: unknown): Promise<T> {
    return this.request<T>("PATCH", path, { body: patch, contentType: "application/merge-patch+json" });
  }

  jsonPatch<T>(path: string, ops: unknown[]): Promise<T> {
    return this.request<T>("PATCH", path, { body: ops, contentType: "application/json-patch+json" });
  }

  apply<T>(path: string, body: unknown, fieldManager: string, force = true): Promise<T> {
    return this.request<T>("PATCH", path, {
      body,
      contentType: "application/apply-patch+yaml",
      query: { fieldManager, force },
    });
  }

  async delete(path: string, query?: Query): Promise<void> {
    try {
      await this.request("DELETE", path, query ? { query } : {});
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** All items of a collection, following `continue` tokens. */
  async list<T>(path: string, query: Query = {}, accept?: string): Promise<KubeList<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page = await this.request<KubeList<T>>("GET", path, {
        query: { ...query, limit: 500, continue: cont },
        ...(accept ? { accept } : {}),
      });
      items.push(...(page.items ?? [])); // a metadata-only list of nothing has "items": null
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (cont);
    return { metadata: { ...(rv ? { resourceVersion: rv } : {}) }, items };
  }
}

/** Path helpers: `resourcePath({group, version, plural, namespace, name})`. */
export interface ResourceRef {
  group: string; // "" for core
  version: string;
  plural: string;
  namespace?: string | undefined;
  name?: string | undefined;
  subresource?: string | undefined;
}

export function resourcePath(r: ResourceRef): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.namespace ? `/namespaces/${encodeURIComponent(r.namespace)}` : "";
  const name = r.name ? `/${encodeURIComponent(r.name)}` : "";
  const sub = r.name && r.subresource ? `/${r.subresource}` : "";
  return `${base}${ns}/${r.plural}${name}${sub}`;
}

export const SECRETS = { group: "", version: "v1", plural: "secrets" } as const;
export const CONFIGMAPS = { group: "", version: "v1", plural: "configmaps" } as const;
export const NAMESPACES = { group: "", version: "v1", plural: "namespaces" } as const;
export const SERVICEACCOUNTS = { group: "", version: "v1", plural: "serviceaccounts" } as const;
export const EVENTS = { group: "", version: "v1", plural: "events" } as const;

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new (clientNode().KubeConfig)();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
