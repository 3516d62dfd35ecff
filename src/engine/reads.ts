/**
 * Remote reads shared across ExternalSecrets. A read is keyed by (session key, remote key,
 * version, metadata policy): concurrent identical reads share one request, and a result is reused
 * by other ExternalSecrets for `maxAge` ms — the refresh window — so each unique remote secret is
 * read once per refresh cycle however many ExternalSecrets use it. Values never cross session
 * keys, and so never cross identities. Errors are not cached.
 */
import type { RemoteKey, RemoteSecret, Session } from "../providers/types.ts";
import { CustosError } from "../util/errors.ts";

interface Cached {
  at: number;
  value: Promise<RemoteSecret>;
  settled: boolean;
}

export class ReadCache {
  readonly #entries = new Map<string, Cached>();
  readonly #maxEntries: number;
  readonly #now: () => number;
  reads = 0;

  constructor(opts: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = opts.maxEntries ?? 50_000;
    this.#now = opts.now ?? Date.now;
  }

  static refKey(sessionKey: string, ref: RemoteKey): string {
    return JSON.stringify([sessionKey, ref.key, ref.version ?? "", ref.metadataPolicy ?? "None"]);
  }

  /**
   * Reads `refs` through `session`, reusing results younger than `maxAge` ms (0: always read,
   * but still share an in-flight read). Returns one result (or error) per ref, keyed by ref.key etc.
   */
  async readAll(
    sessionKey: string,
    session: Session,
    refs: RemoteKey[],
    maxAge: number,
    /**
     * Other refs read through the same session this cycle (other ExternalSecrets'). When the
     * session can batch and something must be read anyway, the stale ones among these are read
     * in the same batch, so a cycle costs one batch call per 20 secrets, not one call per secret.
     */
    prefetch: () => RemoteKey[] = () => [],
  ): Promise<Map<string, RemoteSecret | Error>> {
    const now = this.#now();
    const out = new Map<string, RemoteSecret | Error>();
    const waiting: [string, Promise<RemoteSecret>][] = [];
    const toRead: RemoteKey[] = [];
    for (const ref of refs) {
      const k = ReadCache.refKey(sessionKey, ref);
      const c = this.#entries.get(k);
      if (c && (!c.settled || now - c.at <= maxAge)) waiting.push([k, c.value]);
      else toRead.push(ref);
    }
    if (toRead.length) {
      let batch = toRead;
      if (session.readMany) {
        const seen = new Set(toRead.map((r) => ReadCache.refKey(sessionKey, r)));
        for (const ref of prefetch()) {
          const k = ReadCache.refKey(sessionKey, ref);
          if (seen.has(k)) continue;
          seen.add(k);
          const c = this.#entries.get(k);
          if (!c || (c.settled && now - c.at > maxAge)) batch = [...batch, ref];
        }
      }
      const fresh = this.#start(sessionKey, session, batch);
      const wanted = new Set(toRead.map((r) => ReadCache.refKey(sessionKey, r)));
      for (const [k, p] of fresh) {
        if (wanted.has(k)) waiting.push([k, p]);
        else p.catch(() => undefined); // prefetched for others: their errors are theirs
      }
    }
    await Promise.all(
      waiting.map(async ([k, p]) => {
        try {
          out.set(k, await p);
        } catch (e) {
          out.set(k, e instanceof Error ? e : new Error(String(e)));
        }
      }),
    );
    return out;
  }

  #start(sessionKey: string, session: Session, refs: RemoteKey[]): Map<string, Promise<RemoteSecret>> {
    const started = new Map<string, Promise<RemoteSecret>>();
    const at = this.#now();
    // readMany answers by remote key: batch only refs whose key appears once in this call.
    const counts = new Map<string, number>();
    for (const ref of refs) counts.set(ref.key, (counts.get(ref.key) ?? 0) + 1);
    const batched = session.readMany ? refs.filter((r) => counts.get(r.key) === 1) : [];
    let batch: Promise<Map<string, RemoteSecret | Error>> | undefined;
    if (session.readMany && batched.length > 1) {
      this.reads += batched.length;
      batch = session.readMany(batched);
    }
    const inBatch = new Set(batch ? batched : []);
    for (const ref of refs) {
      const k = ReadCache.refKey(sessionKey, ref);
      let value: Promise<RemoteSecret>;
      if (batch && inBatch.has(ref)) {
        value = batch.then((m) => {
          const r = m.get(ref.key);
          // a batch that answers nothing for a key is a failure, never "not found"
          if (r === undefined) throw new CustosError("CUSTOS_INTERNAL", `no result for ${ref.key}`);
          if (r instanceof Error) throw r;
          return r;
        });
      } else {
        this.reads++;
        value = session.read(ref);
      }
      const entry: Cached = { at, value, settled: false };
      value.then(
        () => {
          entry.settled = true;
          entry.at = this.#now();
        },
        () => {
          if (this.#entries.get(k) === entry) this.#entries.delete(k);
        },
      );
      if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.delete(k);
      this.#entries.set(k, entry);
      started.set(k, value);
    }
    return started;
  }

  /** Forgets everything read through a session (its store changed). */
  dropSession(sessionKey: string): void {
    const prefix = JSON.stringify([sessionKey]).slice(0, -1) + ",";
    for (const k of this.#entries.keys()) if (k.startsWith(prefix)) this.#entries.delete(k);
  }
}
