/**
 * PushSecret, the pure part: ESO's status keys, conversion strategies, the entries a PushSecret
 * wants pushed per store, and the plan — which entries to push and which remote data to remove
 * (deletionPolicy Delete) given what `status.syncedPushSecrets` says was pushed before.
 */
import { CustosError } from "../../util/errors.ts";
import type { PushEntry } from "../../providers/types.ts";
import { matchesSelector } from "../secretstore/access.ts";
import { applyRewrites, type RenderFn } from "../externalsecret/data.ts";
import { compileSpecRegex } from "../../util/regex.ts";
import type { PushSecret, PushSecretData, PushSecretDataTo, SyncedPushSecrets } from "./types.ts";

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

/** A store as dataTo's storeRef sees it. */
export interface StoreInfo {
  key: string;
  kind: string;
  name: string;
  labels: Record<string, string>;
}

function dataToTargets(d: PushSecretDataTo, store: StoreInfo): boolean {
  const kind = d.storeRef?.kind ?? "SecretStore";
  if (kind !== store.kind) return false;
  if (d.storeRef?.name) return d.storeRef.name === store.name;
  return d.storeRef?.labelSelector ? matchesSelector(d.storeRef.labelSelector, store.labels) : false;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * ESO's `dataTo` for one store: per-key mode (each matched key pushed as its own remote secret,
 * named by the key after `rewrite`) or bundle mode (`remoteKey`: the matched keys as one map).
 * Explicit `data` entries win over dataTo entries with the same status key (as ESO's merge).
 */
export function dataToPushes(
  ps: PushSecret,
  secretData: Record<string, Uint8Array>,
  store: StoreInfo,
  render: RenderFn,
): DesiredPush[] {
  const out: DesiredPush[] = [];
  const seen = new Map<string, string>();
  const updatePolicy = ps.spec?.updatePolicy ?? "Replace";
  for (const [i, d] of (ps.spec?.dataTo ?? []).entries()) {
    if (!dataToTargets(d, store)) continue;
    const converted = reverseKeys(d.conversionStrategy, secretData);
    const re = d.match?.regexp ? compileSpecRegex(d.match.regexp, `dataTo[${i}].match.regexp`) : undefined;
    const matched = Object.keys(converted)
      .filter((k) => !re || re.test(k))
      .sort();
    if (!matched.length) continue;
    const push = (data: PushSecretData, value: PushEntry["value"]): void => {
      const ref = statusRef(data);
      const prev = seen.get(ref);
      if (prev !== undefined)
        throw new CustosError(
          "CUSTOS_INVALID_SPEC",
          `dataTo[${i}]: duplicate remote key "${ref}" (conflicts with ${prev})`,
          { retryable: false },
        );
      seen.set(ref, `dataTo[${i}]`);
      out.push({
        store: store.key,
        ref,
        data,
        entry: { remoteKey: data.match.remoteRef.remoteKey, value, metadata: d.metadata, updatePolicy },
      });
    };
    const base = {
      ...(d.metadata !== undefined ? { metadata: d.metadata } : {}),
      ...(d.conversionStrategy ? { conversionStrategy: d.conversionStrategy } : {}),
    };
    if (d.remoteKey) {
      const bundle: Record<string, Uint8Array> = {};
      for (const k of matched) bundle[k] = converted[k]!;
      push({ match: { remoteRef: { remoteKey: d.remoteKey } }, ...base }, { kind: "map", value: bundle });
      continue;
    }
    // the rewrites rename each key on its own, so two keys renamed alike are caught below
    const renamed: [string, Uint8Array][] = [];
    for (const k of matched)
      renamed.push(...Object.entries(applyRewrites({ [k]: enc.encode(k) }, d.rewrite, render)));
    for (const [remoteKey, original] of renamed) {
      const secretKey = dec.decode(original);
      if (!remoteKey)
        throw new CustosError(
          "CUSTOS_INVALID_SPEC",
          `dataTo[${i}]: key "${secretKey}" rewrites to an empty remote key`,
          {
            retryable: false,
          },
        );
      push(
        { match: { secretKey, remoteRef: { remoteKey } }, ...base },
        { kind: "bytes", value: converted[secretKey]! },
      );
    }
  }
  return out;
}

/** dataTo's entries and `data`'s for one store; `data` wins on the same status key. */
export function mergeEntries(fromDataTo: DesiredPush[], fromData: DesiredPush[]): DesiredPush[] {
  const explicit = new Set(fromData.map((d) => `${d.store}\u0000${d.ref}`));
  return [...fromDataTo.filter((d) => !explicit.has(`${d.store}\u0000${d.ref}`)), ...fromData];
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
