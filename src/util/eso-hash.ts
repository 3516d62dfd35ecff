/**
 * ESO-compatible hashes, so a cluster can switch from ESO without rewriting every Secret:
 * - the `reconcile.external-secrets.io/data-hash` annotation: hex SHA3-224 of Go's
 *   `fmt.Sprintf("%+v", map[string][]byte)` — keys sorted, values as decimal byte lists,
 *   e.g. `map[a:[104 105] b:[]]`;
 * - `syncedResourceVersion`: `<generation>-<hash>`, the hash being SHA3-224 of Go's `%+v` of
 *   `struct{annotations, labels map[string]string}`, as ESO's GetResourceVersion.
 */
import { createHash } from "node:crypto";

export function goMapOfBytes(data: Record<string, Uint8Array>): string {
  const keys = Object.keys(data).sort();
  const parts = keys.map((k) => `${k}:[${Array.from(data[k]!).join(" ")}]`);
  return `map[${parts.join(" ")}]`;
}

export function esoDataHash(data: Record<string, Uint8Array>): string {
  return createHash("sha3-224").update(goMapOfBytes(data)).digest("hex");
}

function goMapOfStrings(m: Record<string, string> | undefined): string {
  const keys = Object.keys(m ?? {}).sort();
  return `map[${keys.map((k) => `${k}:${m![k]!}`).join(" ")}]`;
}

interface HashedMeta {
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const remembered = new WeakMap<object, string>();

/**
 * Computes the version of this metadata object now and remembers it: an informer's transform
 * calls it before dropping kubectl's last-applied annotation from the cached object (ESO's hash
 * covers every annotation), and later calls cost no hashing.
 */
export function rememberSyncedResourceVersion(meta: HashedMeta): string {
  const v = computeSyncedResourceVersion(meta);
  remembered.set(meta, v);
  return v;
}

/** ESO's `<generation>-<hash>` over the ExternalSecret's labels and annotations. */
export function syncedResourceVersion(meta: HashedMeta): string {
  return remembered.get(meta) ?? computeSyncedResourceVersion(meta);
}

function computeSyncedResourceVersion(meta: HashedMeta): string {
  // Go's %+v of ESO's struct{annotations, labels map[string]string}
  const h = createHash("sha3-224")
    .update(`{annotations:${goMapOfStrings(meta.annotations)} labels:${goMapOfStrings(meta.labels)}}`)
    .digest("hex");
  return `${meta.generation ?? 0}-${h}`;
}
