/**
 * What `metadataPolicy: Fetch` (and `dataFrom.find.tags`) see of a KV v2 secret's metadata, as ESO
 * v2.8+ builds it: the system fields `created_time`, `current_version` and `delete_version_after`
 * printed as Go's `%v` prints them, then `custom_metadata` on top (a custom key of the same name
 * wins). Pure.
 */
import { dict } from "../../util/dict.ts";

const SYSTEM_KEYS = ["created_time", "current_version", "delete_version_after"] as const;

/** Go's %v of a decoded JSON scalar (Vault's client keeps numbers as their text). */
function printV(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined; // null is skipped, as ESO does; Vault sends nothing else in these fields
}

/** The metadata properties from the `data` of Vault's `GET <mount>/metadata/<path>` answer. */
export function metadataProperties(data: unknown): Record<string, string> {
  const out = dict<string>();
  if (data === null || typeof data !== "object") return out;
  const d = data as Record<string, unknown>;
  for (const k of SYSTEM_KEYS) {
    const v = Object.hasOwn(d, k) ? printV(d[k]) : undefined;
    if (v !== undefined) out[k] = v;
  }
  const custom = Object.hasOwn(d, "custom_metadata") ? d.custom_metadata : undefined;
  if (custom !== null && typeof custom === "object" && !Array.isArray(custom)) {
    for (const [k, v] of Object.entries(custom as Record<string, unknown>)) {
      const s = printV(v);
      if (s !== undefined) out[k] = s;
    }
  }
  return out;
}
