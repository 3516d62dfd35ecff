/**
 * List + watch with a local cache, written for the failure modes client-node's informer has
 * (silent stalls on half-open connections, stopping on any error):
 * - watches ask the server to close after a randomised timeout, so every connection is renewed;
 * - bookmarks keep the resourceVersion fresh; a watchdog aborts a watch that has been silent for
 *   longer than the server timeout plus a margin;
 * - no error stops it: 410 Gone (the resourceVersion was compacted away) leads to one relist; a
 *   broken connection, a timeout, throttling or a 5xx/403 (a restarting API server) lead to a new
 *   watch from the last resourceVersion after a backoff (as client-go's reflector), which the
 *   server answers with the missed events or with 410 (then one relist): a reset connection or an
 *   API server restart costs at most one LIST, never two;
 * - a relist diffs against the cache and emits add/update/delete, so nothing is missed.
 */
import { request } from "undici";
import { createInterface } from "node:readline";
import type { KubeApi, KubeObject, Query } from "./api.ts";

export type InformerEvent = "add" | "update" | "delete";
export type Handler<T> = (event: InformerEvent, obj: T, old?: T) => void;

export interface InformerOptions<T extends KubeObject = KubeObject> {
  labelSelector?: string;
  fieldSelector?: string;
  /** Server-side watch timeout range in seconds (randomised per connection). */
  watchTimeoutSeconds?: [number, number];
  /** Full relist period even when watches are healthy (0 = never). */
  resyncMs?: number;
  onError?: (error: unknown) => void;
  /**
   * Keep only metadata (PartialObjectMetadata): for watching many objects whose content is not
   * needed, e.g. every Secret to notice deletions, at a fraction of the memory.
   */
  metadataOnly?: boolean;
  /**
   * Applied to every object as it arrives, before it is cached or handed to handlers: keeps only
   * what a controller needs (e.g. a hash instead of a Secret's data), so the cache holds no more.
   * `metadata.managedFields` is dropped from every object in any case (after the transform).
   */
  transform?: (obj: T) => T;
}

export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * Drops `kubectl apply`'s copy of the whole object from the annotations (in place): for caches of
 * objects that are never written back whole (a PUT of the cached object would remove it).
 */
export function dropLastApplied<T extends KubeObject>(obj: T): T {
  const a = obj.metadata.annotations;
  if (a && LAST_APPLIED in a) {
    delete a[LAST_APPLIED];
    if (Object.keys(a).length === 0) delete obj.metadata.annotations;
  }
  return obj;
}

/** Keeps an object's identity and labels only (e.g. namespaces, for their selectors). */
export function identityAndLabels<T extends KubeObject>(obj: T): T {
  const { name, namespace, uid, resourceVersion, labels, deletionTimestamp } = obj.metadata;
  return {
    ...(obj.apiVersion ? { apiVersion: obj.apiVersion } : {}),
    ...(obj.kind ? { kind: obj.kind } : {}),
    metadata: {
      ...(name !== undefined ? { name } : {}),
      ...(namespace !== undefined ? { namespace } : {}),
      ...(uid !== undefined ? { uid } : {}),
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      ...(labels ? { labels } : {}),
      ...(deletionTimestamp ? { deletionTimestamp } : {}),
    },
  } as T;
}

const META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
const META_ITEM = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

/** A watch the server refused with an HTTP status (the request itself, or an ERROR event). */
export class WatchError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "WatchError";
  }
}

/**
 * What a failed watch calls for (pure): watch again from the resourceVersion it had, or list
 * afresh. Only a watch that never had a resourceVersion, or a server answer that says the watch
 * itself is wrong (a 4xx other than throttling and the 401/403 of a restarting API server), needs
 * a list; 410 Gone is not an error here (the watch returns "gone" and the informer relists).
 * Connection failures, timeouts, 429 and 5xx keep the resourceVersion: the server sends what was
 * missed, or 410 if it no longer can.
 */
export function afterWatchFailure(error: unknown, rv: string | undefined): "rewatch" | "relist" {
  if (rv === undefined) return "relist";
  if (error instanceof WatchError) {
    const s = error.status;
    return s === 429 || s >= 500 || s === 401 || s === 403 ? "rewatch" : "relist";
  }
  if (error instanceof SyntaxError) return "relist"; // a garbled stream: start from a clean list
  return "rewatch";
}

export function objectKey(obj: KubeObject): string {
  return obj.metadata.namespace
    ? `${obj.metadata.namespace}/${obj.metadata.name ?? ""}`
    : (obj.metadata.name ?? "");
}

export class Informer<T extends KubeObject> {
  readonly #cache = new Map<string, T>();
  readonly #handlers: Handler<T>[] = [];
  #rv: string | undefined;
  #stopped = false;
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #failures = 0;
  #lastRelist = 0;

  constructor(
    readonly api: KubeApi,
    /** Collection path, e.g. `/api/v1/secrets` or `/apis/external-secrets.io/v1/externalsecrets`. */
    readonly path: string,
    readonly options: InformerOptions<T> = {},
  ) {}

  on(handler: Handler<T>): void {
    this.#handlers.push(handler);
  }

  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  get size(): number {
    return this.#cache.size;
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Starts the loop; resolves after the first successful list. */
  start(): Promise<void> {
    this.#loop ??= this.#run();
    return this.waitForSync();
  }

  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((r) => this.#syncWaiters.push(r));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort?.abort();
    await this.#loop?.catch(() => undefined);
  }

  #emit(event: InformerEvent, obj: T, old?: T): void {
    for (const h of this.#handlers) {
      try {
        h(event, obj, old);
      } catch (e) {
        this.options.onError?.(e);
      }
    }
  }

  #shape(obj: T): T {
    const shaped = this.options.transform ? this.options.transform(obj) : obj;
    // nothing reads managedFields from a cache; they are often the largest part of an object (a
    // PUT without them keeps the server's)
    delete shaped.metadata.managedFields;
    return shaped;
  }

  #selectors(): Query {
    return { labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector };
  }

  async #relist(): Promise<void> {
    const list = await this.api.list<T>(
      this.path,
      this.#selectors(),
      this.options.metadataOnly ? META_LIST : undefined,
    );
    const seen = new Set<string>();
    for (const item of list.items) {
      const obj = this.#shape(item);
      const key = objectKey(obj);
      seen.add(key);
      const old = this.#cache.get(key);
      this.#cache.set(key, obj);
      if (!old) this.#emit("add", obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.#emit("update", obj, old);
    }
    for (const [key, obj] of this.#cache) {
      if (!seen.has(key)) {
        this.#cache.delete(key);
        this.#emit("delete", obj);
      }
    }
    this.#rv = list.metadata.resourceVersion;
    this.#lastRelist = Date.now();
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  async #run(): Promise<void> {
    let needList = true;
    while (!this.#stopped) {
      try {
        const resync = this.options.resyncMs ?? 0;
        if (needList || (resync > 0 && Date.now() - this.#lastRelist > resync)) {
          await this.#relist();
          needList = false;
        }
        const outcome = await this.#watch();
        if (outcome === "gone") needList = true;
        this.#failures = 0;
      } catch (e) {
        if (this.#stopped) break;
        this.options.onError?.(e);
        // a failed LIST leaves needList set; a failed watch relists only if a new watch from the
        // same resourceVersion cannot do (the server says 410 then, and one relist follows)
        if (!needList) needList = afterWatchFailure(e, this.#rv) === "relist";
        this.#failures++;
        const delay = Math.min(500 * 2 ** Math.min(this.#failures, 6), 30_000) * (0.8 + 0.4 * Math.random());
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
  }

  /** One watch connection; returns when the server closes it or the resourceVersion is too old. */
  async #watch(): Promise<"closed" | "gone"> {
    const [lo, hi] = this.options.watchTimeoutSeconds ?? [240, 360];
    const timeoutSeconds = Math.round(lo + Math.random() * (hi - lo));
    const url = this.api.url(this.path, {
      ...this.#selectors(),
      watch: true,
      allowWatchBookmarks: true,
      resourceVersion: this.#rv,
      timeoutSeconds,
    });
    const { headers, dispatcher } = await this.api.prepare("GET", url);
    if (this.options.metadataOnly) headers.accept = META_ITEM;
    const abort = new AbortController();
    this.#abort = abort;
    // Watchdog: the server must close the connection by itself after timeoutSeconds.
    const watchdog = setTimeout(
      () => {
        abort.abort(new Error(`watch of ${this.path} silent for ${timeoutSeconds + 30} s`));
      },
      (timeoutSeconds + 30) * 1000,
    );
    watchdog.unref();
    try {
      const res = await request(url, {
        headers,
        signal: abort.signal,
        ...(dispatcher ? { dispatcher } : {}),
      }).catch((e: unknown) => {
        // unreachable, reset, refused: counted as code 0, as the API client's other requests
        if (!this.#stopped) this.api.onResponse?.("WATCH", 0);
        throw e;
      });
      this.api.onResponse?.("WATCH", res.statusCode);
      if (res.statusCode !== 200) {
        await res.body.dump();
        if (res.statusCode === 410) return "gone";
        throw new WatchError(`watch ${this.path}: HTTP ${res.statusCode}`, res.statusCode);
      }
      const lines = createInterface({ input: res.body, crlfDelay: Infinity });
      for await (const line of lines) {
        if (!line) continue;
        const ev = JSON.parse(line) as { type: string; object: T & { code?: number } };
        switch (ev.type) {
          case "ADDED":
          case "MODIFIED": {
            const obj = this.#shape(ev.object);
            const key = objectKey(obj);
            const old = this.#cache.get(key);
            this.#cache.set(key, obj);
            this.#rv = obj.metadata.resourceVersion;
            this.#emit(old ? "update" : "add", obj, old);
            break;
          }
          case "DELETED": {
            const obj = this.#shape(ev.object);
            const key = objectKey(obj);
            this.#cache.delete(key);
            this.#rv = obj.metadata.resourceVersion;
            this.#emit("delete", obj);
            break;
          }
          case "BOOKMARK":
            this.#rv = ev.object.metadata.resourceVersion;
            break;
          case "ERROR":
            if (ev.object.code === 410) return "gone";
            throw new WatchError(
              `watch ${this.path}: ${JSON.stringify(ev.object).slice(0, 300)}`,
              typeof ev.object.code === "number" ? ev.object.code : 500,
            );
        }
      }
      return "closed";
    } finally {
      clearTimeout(watchdog);
      this.#abort = undefined;
    }
  }
}
