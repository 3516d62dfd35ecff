/**
 * `custos render --values FILE`: the remote secrets from a file instead of a store, for CI without
 * a cluster or a store. The file maps remote key -> value: a string is an opaque value (as an AWS
 * SecretString or parameter), an object a structured secret (as Vault KV data). Reads and finds of
 * an ExternalSecret are answered from it as a store would answer them. Pure.
 */
import type { FindQuery, RemoteSecret } from "../../providers/types.ts";
import { CustosError, errorMessage } from "../../util/errors.ts";
import { compileRegex } from "../../util/regex.ts";
import { redactor } from "../../util/redact.ts";
import { findId, refId, remoteRefsOf, type FetchResults } from "../../controllers/externalsecret/data.ts";
import type { ExternalSecret } from "../../controllers/externalsecret/types.ts";

export type Values = ReadonlyMap<string, RemoteSecret>;

const enc = new TextEncoder();

/** The values of a parsed values file; every value is registered with the redactor. */
export function valuesFrom(doc: unknown): Values {
  if (!doc || typeof doc !== "object" || Array.isArray(doc))
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      "the values file must be a map of remote key to value (a string or an object)",
      { retryable: false },
    );
  const out = new Map<string, RemoteSecret>();
  for (const [key, v] of Object.entries(doc as Record<string, unknown>)) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") {
      const value = String(v);
      redactor.add(value);
      out.set(key, { kind: "bytes", value: enc.encode(value) });
    } else if (v && typeof v === "object" && !Array.isArray(v)) {
      redactor.add(JSON.stringify(v));
      for (const leaf of Object.values(v as Record<string, unknown>))
        if (typeof leaf === "string") redactor.add(leaf);
      out.set(key, { kind: "map", value: v as Record<string, unknown> });
    } else {
      // the key is named, the value never is
      throw new CustosError("CUSTOS_INVALID_SPEC", `values file: "${key}" must be a string or an object`, {
        retryable: false,
      });
    }
  }
  return out;
}

function notFound(key: string): CustosError {
  return new CustosError("CUSTOS_SECRET_NOT_FOUND", `secret "${key}" not found in the values file`, {
    retryable: false,
  });
}

/** Keys matching a find: under `path` (a key prefix) and matching `name.regexp` (RE2, as the stores). */
function find(values: Values, q: FindQuery): Map<string, RemoteSecret> {
  if (q.tags && Object.keys(q.tags).length)
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      "dataFrom.find by tags needs the store: a values file has no tags",
      { retryable: false },
    );
  const re = q.name?.regexp === undefined ? undefined : compileRegex(q.name.regexp);
  const out = new Map<string, RemoteSecret>();
  for (const [key, v] of values) {
    if (q.path && !key.startsWith(q.path)) continue;
    if (re && !re.test(key)) continue;
    out.set(key, v);
  }
  return out;
}

/** What the stores would have returned for this ExternalSecret, answered from the values. */
export function resultsFromValues(es: ExternalSecret, values: Values): FetchResults {
  const results: FetchResults = { reads: new Map(), finds: new Map() };
  const { reads, finds } = remoteRefsOf(es);
  for (const r of reads) {
    const store = { name: r.storeRef?.name ?? "", kind: r.storeRef?.kind ?? "SecretStore" };
    results.reads.set(refId(store, r.ref), values.get(r.ref.key) ?? notFound(r.ref.key));
  }
  for (const f of finds) {
    const store = { name: f.storeRef?.name ?? "", kind: f.storeRef?.kind ?? "SecretStore" };
    try {
      results.finds.set(findId(store, f.query), find(values, f.query));
    } catch (e) {
      results.finds.set(findId(store, f.query), e instanceof Error ? e : new Error(errorMessage(e)));
    }
  }
  return results;
}
