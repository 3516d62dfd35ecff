/**
 * Remote reads shared across ExternalSecrets. A read is keyed by (session key, remote key,
 * version, metadata policy): concurrent identical reads share one request, and a result is reused
 * by other ExternalSecrets for `maxAge` ms — the refresh window — so each unique remote secret is
 * read once per refresh cycle however many ExternalSecrets use it. Values never cross session
 * keys, and so never cross identities.
 *
 * A store that is down is not asked again by every ExternalSecret: a transient failure (the store
 * unreachable or timing out, a 5xx such as a sealed Vault, throttling) is remembered and returned
 * to everyone who needs it for a back-off (2 s doubling to 30 s), after which one read tries again.
 * Unreachable (nothing answers: refused, reset, timed out) holds for every read through the
 * session, since no other key can fare better; a 5xx or throttling holds for its key. A success
 * clears it. Other errors (not found, denied) are not remembered. Without this, a blackholed store
 * held every worker for a request timeout per ExternalSecret (1,000 objects took 30 minutes to
 * report Ready=False) and a sealed one was asked once per ExternalSecret per retry.
 *
 * Callers can ask what a failure they got is (`failureOf`: the remembered failure, its key and
 * when the store may be asked again) and hear when it is over (`onRecovered`: any answer from the
 * store for that key), so that one of them probes and the others wait for the answer instead of
 * each retrying on its own back-off (the ExternalSecret controller's retry storm: 1,000 objects
 * retrying 1, 2, 4, 8, 16 s after a store went down kept the queue too busy to report the outage).
 */
import type { RemoteKey, RemoteSecret, Session } from "../providers/types.ts";
import { CustosError } from "../util/errors.ts";

interface Cached {
  at: number;
  value: Promise<RemoteSecret>;
  settled: boolean;
}

/** A remembered transient failure: returned instead of asking again until `until`. */
interface Down {
  error: Error;
  until: number;
  failures: number;
  /** a read is trying the store again: others still get the error */
  probing: boolean;
}

const DOWN_BASE_MS = 2_000;
const DOWN_MAX_MS = 30_000;

/** What a failure says about the store: down as a whole, down for this key, or nothing. */
export function failureScope(e: unknown): "store" | "key" | undefined {
  if (!(e instanceof CustosError)) return undefined;
  if (e.code === "CUSTOS_STORE_UNREACHABLE") return "store";
  if (e.code === "CUSTOS_THROTTLED" || (e.code === "CUSTOS_STORE_ERROR" && e.retryable)) return "key";
  return undefined;
}

export class ReadCache {
  readonly #entries = new Map<string, Cached>();
  /** by session key (store down) and by ref key (key failing) */
  readonly #down = new Map<string, Down>();
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** remembered failures by error object: what `failureOf` answers */
  readonly #failures = new WeakMap<Error, string>();
  readonly #recovered: ((downKey: string) => void)[] = [];
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
    let probe = false;
    for (const ref of refs) {
      const k = ReadCache.refKey(sessionKey, ref);
      const c = this.#entries.get(k);
      if (c && (!c.settled || now - c.at <= maxAge)) {
        waiting.push([k, c.value]);
        continue;
      }
      const down = this.#held(sessionKey, now) ?? this.#held(k, now);
      if (down) {
        out.set(k, down.error);
        continue;
      }
      const store = this.#down.get(sessionKey);
      if (store) store.probing = probe = true; // this call tries the store again; others wait for it
      const key = this.#down.get(k);
      if (key) key.probing = true;
      toRead.push(ref);
    }
    if (toRead.length) {
      let batch = toRead;
      if (session.readMany) {
        const seen = new Set(toRead.map((r) => ReadCache.refKey(sessionKey, r)));
        // a probe of a store that was down reads its own refs only, not others' in its batch
        for (const ref of probe ? [] : prefetch()) {
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
          this.#up(sessionKey);
          this.#up(k);
        },
        (e: unknown) => {
          if (this.#entries.get(k) === entry) this.#entries.delete(k);
          const scope = failureScope(e);
          if (scope === "store") this.#remember(sessionKey, e as Error);
          else if (scope === "key") this.#remember(k, e as Error);
          else this.#up(k);
          // the store answered: it is up, whatever it said about this key
          if (scope !== "store") this.#up(sessionKey);
        },
      );
      if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.delete(k);
      this.#entries.set(k, entry);
      started.set(k, value);
    }
    return started;
  }

  /** The remembered failure to return instead of reading, if it still holds. */
  #held(key: string, now: number): Down | undefined {
    const d = this.#down.get(key);
    if (!d) return undefined;
    return now < d.until || d.probing ? d : undefined;
  }

  #remember(key: string, error: Error): void {
    const failures = (this.#down.get(key)?.failures ?? 0) + 1;
    const ms = Math.min(DOWN_BASE_MS * 2 ** (failures - 1), DOWN_MAX_MS);
    if (this.#down.size >= this.#maxEntries) this.#down.delete(this.#down.keys().next().value!);
    this.#down.set(key, { error, until: this.#now() + ms, failures, probing: false });
    this.#failures.set(error, key);
  }

  /** A remembered failure is over (the store answered for its key): tell those waiting for it. */
  #up(key: string): void {
    if (!this.#down.delete(key)) return;
    for (const l of this.#recovered) {
      try {
        l(key);
      } catch {
        /* a listener's failure is not the read's */
      }
    }
  }

  /**
   * What a failure returned by `readAll` is, if it is a remembered one that still holds: the key
   * it is remembered under (a store or one remote key; opaque, the same as `onRecovered` names)
   * and when the store may be asked again (ms since epoch; in the past while a probe is under way).
   */
  failureOf(error: unknown): { key: string; until: number } | undefined {
    if (!(error instanceof Error)) return undefined;
    const key = this.#failures.get(error);
    const d = key === undefined ? undefined : this.#down.get(key);
    return d && key !== undefined ? { key, until: d.until } : undefined;
  }

  /** Calls `listener` with the key of a remembered failure when it is over. */
  onRecovered(listener: (downKey: string) => void): void {
    this.#recovered.push(listener);
  }

  /** Forgets everything read through a session (its store changed). */
  dropSession(sessionKey: string): void {
    const prefix = JSON.stringify([sessionKey]).slice(0, -1) + ",";
    for (const k of this.#entries.keys()) if (k.startsWith(prefix)) this.#entries.delete(k);
    for (const k of this.#down.keys()) if (k === sessionKey || k.startsWith(prefix)) this.#down.delete(k);
  }
}
