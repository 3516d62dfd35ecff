import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveStore } from "../../../src/controllers/externalsecret/stores.ts";
import type { ReconcileContext } from "../../../src/controllers/externalsecret/reconcile.ts";
import type { ExternalSecret } from "../../../src/controllers/externalsecret/types.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const store = {
  metadata: { name: "shared", uid: "u" },
  spec: {
    provider: { fake: { data: [] } },
    // usable from every namespace *not* labelled restricted
    conditions: [
      { namespaceSelector: { matchExpressions: [{ key: "restricted", operator: "DoesNotExist" as const }] } },
    ],
  },
};

function ctx(namespaces: Record<string, Record<string, string>>): ReconcileContext {
  const map = <T>(m: Map<string, T>): { get: (k: string) => T | undefined } => ({ get: (k) => m.get(k) });
  return {
    controllerClass: "default",
    secretStores: map(new Map()),
    clusterSecretStores: map(new Map([["shared", store]])),
    namespaces: map(
      new Map(Object.entries(namespaces).map(([n, labels]) => [n, { metadata: { name: n, labels } }])),
    ),
  } as unknown as ReconcileContext; // only the informers resolveStore reads
}

const es = (namespace: string): ExternalSecret => ({
  metadata: { name: "e", namespace },
  spec: { secretStoreRef: { name: "shared", kind: "ClusterSecretStore" } },
});
const ref = { name: "shared", kind: "ClusterSecretStore" };

test("a namespace missing from the cache is not treated as 'no labels' by a NotIn/DoesNotExist selector", () => {
  // the namespace is labelled restricted, but the cache has not seen it yet
  assert.throws(
    () => resolveStore(ctx({}), es("team-b"), ref),
    (e) => isCustosError(e, "CUSTOS_NAMESPACE_UNKNOWN") && e.retryable,
  );
});

test("once known, the namespace's labels decide", () => {
  assert.equal(resolveStore(ctx({ "team-a": {} }), es("team-a"), ref).kind, "ClusterSecretStore");
  assert.throws(
    () => resolveStore(ctx({ "team-b": { restricted: "yes" } }), es("team-b"), ref),
    (e) => isCustosError(e, "CUSTOS_STORE_DENIED"),
  );
});

test("a store of another controller class is another operator's: a distinct code the reconcile skips silently", () => {
  const c = ctx({ "team-a": {} });
  const blue = { ...store, spec: { ...store.spec, controller: "blue", conditions: [] } };
  (c as unknown as { clusterSecretStores: { get: () => unknown } }).clusterSecretStores = { get: () => blue };
  assert.throws(
    () => resolveStore(c, es("team-a"), ref),
    (e) => isCustosError(e, "CUSTOS_STORE_NOT_OURS"),
  );
});
