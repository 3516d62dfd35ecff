/**
 * PushSecret, the pure part: ESO's status keys, conversion strategies, the entries a PushSecret
 * wants pushed per store, and the plan — which entries to push and which remote data to remove
 * (deletionPolicy Delete) given what `status.syncedPushSecrets` says was pushed before.
 */
import { CustosError } from "../../util/errors.ts";
import type { PushEntry } from "../../providers/types.ts";
import type { PushSecret, PushSecretData, SyncedPushSecrets } from "./types.ts";

export const FINALIZER = "pushsecret.externalsecrets.io/finalizer";
export const DEFAULT_REFRESH_MS = 60 * 60_000;

/** ESO's key of a store in syncedPushSecrets: `Kind/name`. */
export function storeKey(kind: string, name: string): string {
  return `${kind}/${name}`;
}

/** ESO's key of an entry: `remoteKey`, or `remoteKey/property`. */
export function statusRef(d: PushSecretData): string {
  const r = d.match.remoteRef;
  return r.property ? `${r.remoteKey}/${r.property}` : r.remoteKey;
}

const UNICODE = /_U([0-9a-fA-F]{4,5})_/g;

/** ESO's ReverseUnicode: `_U0040_` back to `@` (the inverse of ExternalSecret's Unicode keys). */
export function reverseKey(strategy: string | undefined, key: string): string {
  if (strategy !== "ReverseUnicode") return key;
  return key.replace(UNICODE, (m, hex: string) => {
    const cp = parseInt(hex, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });
}

/** The Secret's data with keys converted; two keys converting to one is an error (as ESO). */
export function reverseKeys(
  strategy: string | undefined,
  data: Record<string, Uint8Array>,
): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
  for (const [k, v] of Object.entries(data)) {
    const key = reverseKey(strategy, k);
    if (Object.hasOwn(out, key))
      throw new CustosError("CUSTOS_INVALID_SPEC", `secret name collision during conversion: ${key}`, {
        retryable: false,
      });
    out[key] = v;
  }
  return out;
}

/** One entry to push to one store. */
export interface DesiredPush {
  store: string;
  ref: string;
  data: PushSecretData;
  entry: PushEntry;
}

/**
 * The entries of `spec.data` for one source Secret and the given stores, with values: one key's
 * bytes (`secretKey`) or the whole Secret (no `secretKey`). A missing key fails with ESO's message.
 */
export function desiredPushes(
  ps: PushSecret,
  secretData: Record<string, Uint8Array>,
  stores: readonly string[],
): DesiredPush[] {
  const out: DesiredPush[] = [];
  const updatePolicy = ps.spec?.updatePolicy ?? "Replace";
  for (const store of stores) {
    for (const data of ps.spec?.data ?? []) {
      const converted = reverseKeys(data.conversionStrategy, secretData);
      const key = data.match.secretKey;
      if (key && !Object.hasOwn(converted, key))
        throw new CustosError("CUSTOS_INVALID_SPEC", `secret key ${key} does not exist`, {
          retryable: false,
        });
      out.push({
        store,
        ref: statusRef(data),
        data,
        entry: {
          remoteKey: data.match.remoteRef.remoteKey,
          property: data.match.remoteRef.property || undefined,
          value: key ? { kind: "bytes", value: converted[key]! } : { kind: "map", value: { ...converted } },
          metadata: data.metadata,
          updatePolicy,
        },
      });
    }
  }
  return out;
}

export interface RemoteDeletion {
  store: string;
  ref: string;
  data: PushSecretData;
}

export interface PushPlan {
  pushes: DesiredPush[];
  /** Remote data to remove after every push succeeded (deletionPolicy Delete only). */
  deletions: RemoteDeletion[];
}

/**
 * What to push and what to remove. Removals: entries in `synced` that are no longer desired, with
 * deletionPolicy Delete only. A whole remote secret is not removed while a desired entry of the
 * same store still writes to its remote key (a property moved into it, say): that would delete
 * what is being pushed.
 */
export function planPush(
  desired: readonly DesiredPush[],
  synced: SyncedPushSecrets | undefined,
  deletionPolicy: "Delete" | "None" | undefined,
): PushPlan {
  const deletions: RemoteDeletion[] = [];
  if (deletionPolicy === "Delete") {
    const wanted = new Set(desired.map((d) => `${d.store}\u0000${d.ref}`));
    const wantedKeys = new Set(desired.map((d) => `${d.store}\u0000${d.entry.remoteKey}`));
    for (const [store, entries] of Object.entries(synced ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      for (const [ref, data] of Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))) {
        if (wanted.has(`${store}\u0000${ref}`)) continue;
        const whole = !data.match.remoteRef.property;
        if (whole && wantedKeys.has(`${store}\u0000${data.match.remoteRef.remoteKey}`)) continue;
        deletions.push({ store, ref, data });
      }
    }
  }
  return { pushes: [...desired], deletions };
}

/** Every entry of `synced` as a removal (the PushSecret is being deleted). */
export function allDeletions(synced: SyncedPushSecrets | undefined): RemoteDeletion[] {
  return planPush([], synced, "Delete").deletions;
}

/** syncedPushSecrets from the pushed entries. */
export function syncedOf(pushed: readonly DesiredPush[]): SyncedPushSecrets {
  const out: SyncedPushSecrets = {};
  for (const p of pushed) (out[p.store] ??= {})[p.ref] = p.data;
  return out;
}

/** ESO's mergeSecretState: `next` plus what `old` had (after a failure nothing is forgotten). */
export function mergeSynced(next: SyncedPushSecrets, old: SyncedPushSecrets | undefined): SyncedPushSecrets {
  const out: SyncedPushSecrets = {};
  for (const [s, e] of Object.entries(next)) out[s] = { ...e };
  for (const [s, e] of Object.entries(old ?? {})) out[s] = { ...(out[s] ?? {}), ...e };
  return out;
}

/** `synced` without the removed entries (stores left empty are dropped). */
export function withoutDeleted(
  synced: SyncedPushSecrets,
  removed: readonly Pick<RemoteDeletion, "store" | "ref">[],
): SyncedPushSecrets {
  const out: SyncedPushSecrets = {};
  for (const [s, e] of Object.entries(synced)) out[s] = { ...e };
  for (const r of removed) {
    const e = out[r.store];
    if (!e) continue;
    delete e[r.ref];
    if (!Object.keys(e).length) delete out[r.store];
  }
  return out;
}

/** ESO's condition message on success. */
export function syncedMessage(ps: PushSecret): string {
  return ps.spec?.updatePolicy === "IfNotExists"
    ? "PushSecret synced successfully. Existing secrets in providers unchanged."
    : "PushSecret synced successfully";
}
