/**
 * One authenticated session per store identity, shared by every ExternalSecret that uses it.
 * A provider's `identity()` says which contexts may share: different identities never share a
 * session or a cached value. Failed logins are remembered briefly (with growing backoff) so a
 * store outage costs one login attempt per identity per backoff step, not one per reconcile.
 * Sessions unused for `idleMs` are closed.
 */
import { createHash } from "node:crypto";
import type {
  OperatorIdentity,
  ProviderDefinition,
  ProviderDeps,
  Session,
  StoreContext,
} from "../providers/types.ts";
import {
  grantOperatorIdentity,
  processOperatorIdentity,
  type OperatorIdentityPolicy,
} from "./operator-identity.ts";
import { redactor } from "../util/redact.ts";

interface Entry {
  session?: Promise<Session>;
  lastUsed: number;
  failure?: { error: unknown; until: number; count: number };
}

export interface SessionPoolOptions {
  idleMs?: number;
  failureBackoffMs?: [number, number];
  now?: () => number;
  /** Who may act as the operator (default: ClusterSecretStores only). */
  operatorIdentity?: OperatorIdentityPolicy;
  /**
   * The operator's identity (default: this process's). Tests pass their own; the CSI provider
   * passes one that grants nothing, since it acts only as the mounting pod.
   */
  identity?: OperatorIdentity;
}

const specHashes = new WeakMap<object, string>();
const readScopeHashes = new WeakMap<object, string>();

export class SessionPool {
  readonly #entries = new Map<string, Entry>();
  readonly #idleMs: number;
  readonly #backoff: [number, number];
  readonly #now: () => number;
  readonly #policy: OperatorIdentityPolicy;
  readonly #identity: OperatorIdentity;
  #sweeper: NodeJS.Timeout | undefined;
  logins = 0;

  constructor(
    readonly deps: ProviderDeps,
    opts: SessionPoolOptions = {},
  ) {
    this.#idleMs = opts.idleMs ?? 30 * 60_000;
    this.#backoff = opts.failureBackoffMs ?? [2_000, 60_000];
    this.#now = opts.now ?? Date.now;
    this.#policy = opts.operatorIdentity ?? { allowForNamespacedStores: false };
    this.#identity = opts.identity ?? processOperatorIdentity();
    this.#sweeper = setInterval(() => void this.sweep(), Math.min(this.#idleMs, 60_000));
    this.#sweeper.unref();
  }

  /** The pool key: provider name + the identity the provider derives for this context. */
  static key(def: ProviderDefinition, spec: unknown, ctx: StoreContext): string {
    // A provider that says what its sessions depend on (read scope + session scope) gets one
    // session per identity and scopes, whatever store or kind asks (an ESO SecretStore and a VSO
    // VaultAuth of one Kubernetes role log in once). The store kind stays in the key: whether the
    // operator's own identity is granted depends on it. Otherwise the store (uid) and its spec are
    // part of the key: a session carries the spec's read settings, and a changed spec must get a
    // new session.
    if (def.readScope && def.sessionScope)
      return `${def.name}|kind:${ctx.storeKind}|${SessionPool.specHash([def.readScope(spec), def.sessionScope(spec)])}|${def.identity(spec, ctx)}`;
    return `${def.name}|${ctx.storeUid}|${SessionPool.specHash(spec)}|${def.identity(spec, ctx)}`;
  }

  /**
   * The key reads are shared under: the provider, the identity, and the provider's read scope (or,
   * without one, this store and spec). Same identity and scope = the same access to the same data,
   * so a value read for one kind's object serves another's; different identities never share.
   */
  static readKey(def: ProviderDefinition, spec: unknown, ctx: StoreContext): string {
    const scope = def.readScope
      ? `scope:${SessionPool.#readScopeHash(def, spec)}`
      : `store:${ctx.storeUid}|${SessionPool.specHash(spec)}`;
    return `${def.name}|${scope}|${def.identity(spec, ctx)}`;
  }

  /** The hash of a spec's read scope (a new value per call), remembered per spec object. */
  static #readScopeHash(def: ProviderDefinition, spec: unknown): string {
    if (typeof spec !== "object" || spec === null) return SessionPool.specHash(def.readScope?.(spec));
    let h = readScopeHashes.get(spec);
    if (h === undefined) {
      h = SessionPool.specHash(def.readScope?.(spec));
      readScopeHashes.set(spec, h);
    }
    return h;
  }

  /**
   * A short hash of a provider spec. Specs are objects of an informer's cache, replaced (never
   * changed in place) when their store changes: the hash is remembered per object, so the key of
   * every reconcile costs no JSON serialisation and hashing (a tenth of a refresh cycle's CPU).
   */
  static specHash(spec: unknown): string {
    const memo = typeof spec === "object" && spec !== null ? specHashes.get(spec) : undefined;
    if (memo !== undefined) return memo;
    const h = createHash("sha256")
      .update(JSON.stringify(spec ?? null))
      .digest("hex")
      .slice(0, 16);
    if (typeof spec === "object" && spec !== null) specHashes.set(spec, h);
    return h;
  }

  /** The session for this store context (logging in once per identity) and its read key (readKey). */
  async get(
    def: ProviderDefinition,
    spec: unknown,
    ctx: StoreContext,
  ): Promise<{ key: string; session: Session }> {
    const key = SessionPool.key(def, spec, ctx);
    let entry = this.#entries.get(key);
    const now = this.#now();
    if (!entry) {
      entry = { lastUsed: now };
      this.#entries.set(key, entry);
    }
    entry.lastUsed = now;
    if (entry.failure && now < entry.failure.until) throw entry.failure.error;
    let pending = entry.session;
    if (!pending) {
      this.logins++;
      const e = entry;
      // What the session registers for redaction (tokens, credentials, values it reads) stays
      // registered while the session lives: the owner is reachable through the deps it keeps.
      const owner = {};
      // Every connect goes through here: the one place the operator identity is granted or not.
      pending = redactor.run(owner, () =>
        def.connect(spec, grantOperatorIdentity(ctx, this.#policy, this.#identity), {
          ...this.deps,
          recordCall: (call, status) => {
            this.deps.recordCall(`${def.name}:${call}`, status);
          },
          redact: (value) => {
            this.deps.redact(value, owner);
          },
        }),
      );
      e.session = pending;
      pending.then(
        () => {
          e.failure = undefined;
        },
        (error: unknown) => {
          const count = (e.failure?.count ?? 0) + 1;
          const delay = Math.min(this.#backoff[0] * 2 ** (count - 1), this.#backoff[1]);
          e.failure = { error, until: this.#now() + delay, count };
          e.session = undefined;
        },
      );
    }
    return { key: SessionPool.readKey(def, spec, ctx), session: await pending };
  }

  /** Drops a session (e.g. its store changed or was deleted). */
  async invalidate(predicate: (key: string) => boolean): Promise<void> {
    const closing: Promise<unknown>[] = [];
    for (const [key, entry] of this.#entries) {
      if (!predicate(key)) continue;
      this.#entries.delete(key);
      if (entry.session) closing.push(entry.session.then((s) => s.close()).catch(() => undefined));
    }
    await Promise.all(closing);
  }

  async sweep(): Promise<void> {
    const cutoff = this.#now() - this.#idleMs;
    await this.invalidate((key) => (this.#entries.get(key)?.lastUsed ?? 0) < cutoff);
  }

  get size(): number {
    return this.#entries.size;
  }

  async close(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper);
    await this.invalidate(() => true);
  }
}
