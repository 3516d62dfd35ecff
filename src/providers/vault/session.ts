/**
 * A Vault session: one login, a token renewed in the background at two thirds of its lease,
 * a fresh login when renewal fails or the token is refused (one retry of the refused read),
 * and concurrent identical reads coalesced into one request.
 */
import type {
  FindQuery,
  ProviderDeps,
  PushEntry,
  PushOutcome,
  PushRef,
  PushSession,
  RemoteKey,
  RemoteSecret,
  Session,
  StoreContext,
} from "../types.ts";
import { CustosError, isCustosError } from "../../util/errors.ts";
import { specMatcher } from "../../util/regex.ts";
import { login } from "./auth.ts";
import { metadataProperties } from "./metadata.ts";
import { deletePushedVault, existsVault, pushVault, withoutPushMarker, type VaultKv } from "./push.ts";
import type { AuthInfo, VaultClient, VaultResponse } from "./client.ts";
import {
  findPathSegments,
  fixedPath,
  kvPath,
  kvPathOf,
  listedSegment,
  storeMount,
  type VaultPath,
} from "./path.ts";
import type { VaultProviderSpec } from "./schema.ts";

const MAX_FIND_RESULTS = 10_000;
const MAX_FIND_DEPTH = 16;

/** A secret deleted between LIST and read is skipped; every other failure fails the find. */
async function skipDeleted(p: Promise<RemoteSecret>): Promise<RemoteSecret | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isCustosError(e, "CUSTOS_SECRET_NOT_FOUND")) return undefined;
    throw e;
  }
}

export class VaultSession implements Session, PushSession {
  #auth: AuthInfo | undefined;
  #loggingIn: Promise<AuthInfo> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #inflight = new Map<string, Promise<RemoteSecret>>();
  readonly #version: "v1" | "v2";

  constructor(
    readonly client: VaultClient,
    readonly spec: VaultProviderSpec,
    readonly ctx: StoreContext,
    readonly deps: ProviderDeps,
  ) {
    this.#version = spec.version ?? "v2";
  }

  /** Logs in (or shares a login under way). */
  async login(): Promise<AuthInfo> {
    this.#loggingIn ??= (async () => {
      try {
        const auth = await login(this.client, this.spec, this.ctx, this.deps);
        this.deps.redact(auth.client_token);
        this.#auth = auth;
        this.#schedule(auth);
        return auth;
      } finally {
        this.#loggingIn = undefined;
      }
    })();
    return this.#loggingIn;
  }

  async #token(): Promise<string> {
    return (this.#auth ?? (await this.login())).client_token;
  }

  #schedule(auth: AuthInfo): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#closed || !auth.lease_duration) return; // no expiry (root or periodic-less static tokens)
    // capped: setTimeout overflows past 2^31-1 ms (a renewal earlier than needed is harmless)
    const delay = Math.min(2_147_483_647, Math.max(1000, (auth.lease_duration * 1000 * 2) / 3));
    this.#timer = setTimeout(() => void this.#renew(), delay);
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    const auth = this.#auth;
    if (!auth || this.#closed) return;
    if (auth.renewable) {
      try {
        const res = await this.client.call<{ auth?: AuthInfo }>(
          "RenewSelf",
          "POST",
          fixedPath("auth/token/renew-self"),
          { token: auth.client_token, body: {} },
        );
        const renewed = res.body.auth;
        // A renewal that no longer extends the lease (max TTL reached) means: log in again.
        if (renewed && renewed.lease_duration > 5) {
          this.#auth = { ...auth, lease_duration: renewed.lease_duration, renewable: renewed.renewable };
          this.#schedule(this.#auth);
          return;
        }
      } catch {
        /* fall through to a fresh login */
      }
    }
    this.#auth = undefined;
    try {
      await this.login();
    } catch {
      // The next read retries the login; the controller reports the failure.
    }
  }

  /**
   * A Vault call with the session token. On 403 the token is checked (lookup-self): a token that
   * is still valid means a real permission problem (thrown as is, no login storm); an invalid one
   * leads to one fresh login and a retry.
   */
  async #authed<T>(fn: (token: string) => Promise<T>): Promise<T> {
    const token = await this.#token();
    try {
      return await fn(token);
    } catch (e) {
      if (!isCustosError(e, "CUSTOS_ACCESS_DENIED")) throw e;
      const valid = await this.client
        .call("LookupSelf", "GET", fixedPath("auth/token/lookup-self"), { token })
        .then(() => true)
        .catch(() => false);
      if (valid) throw e;
      if (this.#auth?.client_token === token) this.#auth = undefined;
      const fresh = await this.#token();
      return fn(fresh);
    }
  }

  /**
   * One call with the session's token to any checked path (the VaultDynamicSecret generator): the
   * token's own policy is the boundary, as in ESO.
   */
  request<T>(
    call: string,
    method: "GET" | "POST" | "PUT" | "LIST" | "DELETE",
    path: VaultPath,
    opts: { body?: unknown; query?: Record<string, string>; allow404?: boolean } = {},
  ): Promise<VaultResponse<T>> {
    return this.#authed((token) => this.client.call<T>(call, method, path, { ...opts, token }));
  }

  read(ref: RemoteKey): Promise<RemoteSecret> {
    let path: VaultPath;
    try {
      // the key is checked before anything is sent (path.ts): an invalid one is never requested
      if (ref.metadataPolicy === "Fetch") {
        if (this.#version !== "v2")
          throw new CustosError("CUSTOS_INVALID_SPEC", "metadataPolicy Fetch needs a KV v2 store", {
            retryable: false,
          });
        path = kvPath(ref.key, this.spec.path, "v2", "metadata");
      } else path = kvPath(ref.key, this.spec.path, this.#version);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const k = JSON.stringify([ref.key, ref.version ?? "", ref.metadataPolicy ?? "None"]);
    let p = this.#inflight.get(k);
    if (!p) {
      p = (ref.metadataPolicy === "Fetch" ? this.#readMetadata(path) : this.#readData(path, ref)).finally(
        () => this.#inflight.delete(k),
      );
      this.#inflight.set(k, p);
    }
    return p;
  }

  /** KV v2 metadata as ESO exposes it: system fields and custom_metadata (metadata.ts). */
  async #readMetadata(path: VaultPath): Promise<RemoteSecret> {
    const res = await this.#authed((token) =>
      this.client.call<{ data?: unknown }>("ReadMetadata", "GET", path, { token }),
    );
    const meta = metadataProperties(res.body.data);
    this.deps.redact(JSON.stringify(meta));
    return { kind: "map", value: meta };
  }

  async #readData(path: VaultPath, ref: Pick<RemoteKey, "key" | "version">): Promise<RemoteSecret> {
    const query = ref.version && this.#version === "v2" ? { version: ref.version } : undefined;
    const res = await this.#authed((token) =>
      this.client.call<{
        data?: Record<string, unknown> & { data?: Record<string, unknown> | null; metadata?: unknown };
      }>("ReadSecret", "GET", path, { token, ...(query ? { query } : {}) }),
    );
    const data = this.#version === "v2" ? res.body.data?.data : res.body.data;
    if (!data)
      throw new CustosError(
        "CUSTOS_SECRET_NOT_FOUND",
        `Vault secret "${ref.key}" has no data (deleted or destroyed version)`,
        { retryable: false },
      );
    this.deps.redact(JSON.stringify(withoutPushMarker(data)));
    const metadata = this.#version === "v2" ? res.body.data?.metadata : undefined;
    return {
      kind: "map",
      value: data,
      ...(metadata && typeof metadata === "object" ? { metadata: metadata as Record<string, unknown> } : {}),
    };
  }

  /**
   * Lists, then reads each match. Any failure (other than a secret deleted between list and read)
   * fails the whole find: a partial result would read as deletions.
   */
  async find(q: FindQuery): Promise<Map<string, RemoteSecret>> {
    const out = new Map<string, RemoteSecret>();
    const path = findPathSegments(q.path);
    // with a store mount, find.path is below it; without, its first segment is the mount
    const [mount, prefix] = this.spec.path
      ? [storeMount(this.spec.path), path]
      : [path.slice(0, 1), path.slice(1)];
    if (!mount.length)
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        "dataFrom.find needs spec.provider.vault.path or find.path",
        { retryable: false },
      );
    const re = q.name?.regexp ? specMatcher(q.name.regexp, "find.name.regexp") : undefined;
    const listed = await this.#list(mount, prefix, 0, { count: 0 });
    for (const rel of listed) {
      const key = (this.spec.path ? rel : [...mount, ...rel]).join("/");
      if (re && !re.test(key)) continue;
      if (q.tags && Object.keys(q.tags).length) {
        if (this.#version !== "v2")
          throw new CustosError("CUSTOS_INVALID_SPEC", "dataFrom.find.tags needs a KV v2 store", {
            retryable: false,
          });
        const meta = await skipDeleted(this.#readMetadata(kvPathOf(mount, rel, "v2", "metadata")));
        if (!meta) continue;
        const tags = meta.kind === "map" ? meta.value : {};
        if (!Object.entries(q.tags).every(([k, v]) => tags[k] === v)) continue;
      }
      const value = await skipDeleted(this.#readData(kvPathOf(mount, rel, this.#version, "data"), { key }));
      if (value) out.set(key, value);
      if (out.size > MAX_FIND_RESULTS)
        throw new CustosError(
          "CUSTOS_INVALID_SPEC",
          `dataFrom.find matched more than ${MAX_FIND_RESULTS} secrets`,
          { retryable: false },
        );
    }
    return out;
  }

  /**
   * Recursive LIST below `rel` in `mount`; returns the secrets' paths relative to the mount, as
   * segments. Too deep or too many fails (never a silently shorter list).
   */
  async #list(
    mount: readonly string[],
    rel: readonly string[],
    depth: number,
    seen: { count: number },
  ): Promise<string[][]> {
    if (depth > MAX_FIND_DEPTH)
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        `dataFrom.find: folders nested deeper than ${MAX_FIND_DEPTH} levels`,
        { retryable: false },
      );
    const path = kvPathOf(mount, rel, this.#version, "metadata");
    const res = await this.#authed((token) =>
      this.client.call<{ data?: { keys?: string[] } }>("ListSecrets", "LIST", path, {
        token,
        allow404: true,
      }),
    );
    if (res.status === 404) return [];
    const out: string[][] = [];
    for (const k of res.body.data?.keys ?? []) {
      const { segment, folder } = listedSegment(k);
      const child = [...rel, segment];
      if (folder) out.push(...(await this.#list(mount, child, depth + 1, seen)));
      else out.push(child);
      if (++seen.count > MAX_FIND_RESULTS * 10)
        throw new CustosError(
          "CUSTOS_INVALID_SPEC",
          `dataFrom.find: more than ${MAX_FIND_RESULTS * 10} entries listed`,
          { retryable: false },
        );
    }
    return out;
  }

  /**
   * A call to any engine path with the session's token (dynamic credentials, PKI, leases): one
   * session, one token, the same renewal and re-login rules as KV reads.
   */
  async call<T>(
    call: string,
    method: "GET" | "POST" | "PUT",
    path: VaultPath,
    body?: unknown,
  ): Promise<VaultResponse<T>> {
    return this.#authed((token) =>
      this.client.call<T>(call, method, path, { token, ...(body === undefined ? {} : { body }) }),
    );
  }

  /** The KV settings and authenticated calls the push side (push.ts) works with. */
  #kv(): VaultKv {
    return {
      version: this.#version,
      mount: this.spec.path,
      request: (call, method, path, opts) => this.request(call, method, path, opts),
      redact: (value) => {
        this.deps.redact(value);
      },
    };
  }

  /** PushSecret: writes one entry (push.ts has ESO's rules: ownership, merge, check-and-set). */
  push(entry: PushEntry): Promise<PushOutcome> {
    return pushVault(this.#kv(), entry);
  }

  deletePushed(ref: PushRef): Promise<void> {
    return deletePushedVault(this.#kv(), ref);
  }

  exists(ref: PushRef): Promise<boolean> {
    return existsVault(this.#kv(), ref);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  /** For tests and metrics. */
  get token(): string | undefined {
    return this.#auth?.client_token;
  }
}
