/**
 * Reads are shared by identity and read scope, not by store: an ESO SecretStore, a KES backend, a
 * VSO VaultAuth and a CSI volume that log in as the same identity to the same Vault mount share one
 * read per key; a different identity, server, namespace, mount or KV version never shares.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SessionPool } from "../../../src/engine/sessions.ts";
import { vaultProvider } from "../../../src/providers/vault/index.ts";
import { fakeProvider } from "../../../src/providers/fake/index.ts";
import type { KubeAccess, ProviderDefinition, StoreContext } from "../../../src/providers/types.ts";
import type { VaultProviderSpec } from "../../../src/providers/vault/schema.ts";

const kube = {} as KubeAccess;
const ctx = (storeUid: string, namespace = "team-a"): StoreContext => ({
  storeKind: "SecretStore",
  storeName: storeUid,
  storeUid,
  namespace,
  kube,
});
const vault = vaultProvider as unknown as ProviderDefinition;
const spec = (over: Partial<VaultProviderSpec> = {}): VaultProviderSpec => ({
  server: "https://vault.example:8200",
  path: "secret",
  version: "v2",
  auth: { kubernetes: { mountPath: "kubernetes", role: "app", serviceAccountRef: { name: "app" } } },
  ...over,
});

test("two stores with the same identity and mount share reads", () => {
  assert.equal(
    SessionPool.readKey(vault, spec(), ctx("store-1")),
    SessionPool.readKey(vault, spec(), ctx("kes-backend")),
  );
});

test("another identity, namespace of credentials, server, mount or KV version never shares", () => {
  const base = SessionPool.readKey(vault, spec(), ctx("s"));
  for (const [what, key] of [
    [
      "role",
      SessionPool.readKey(
        vault,
        spec({
          auth: {
            kubernetes: { mountPath: "kubernetes", role: "other", serviceAccountRef: { name: "app" } },
          },
        }),
        ctx("s"),
      ),
    ],
    ["credentials namespace", SessionPool.readKey(vault, spec(), ctx("s", "team-b"))],
    ["server", SessionPool.readKey(vault, spec({ server: "https://other:8200" }), ctx("s"))],
    ["vault namespace", SessionPool.readKey(vault, spec({ namespace: "ns1" }), ctx("s"))],
    ["mount", SessionPool.readKey(vault, spec({ path: "kv" }), ctx("s"))],
    ["version", SessionPool.readKey(vault, spec({ version: "v1" }), ctx("s"))],
  ] as const)
    assert.notEqual(key, base, what);
});

test("a provider without a read scope shares reads only within one store", () => {
  const fake = fakeProvider as unknown as ProviderDefinition;
  const s = { data: [] };
  assert.notEqual(SessionPool.readKey(fake, s, ctx("a")), SessionPool.readKey(fake, s, ctx("b")));
  assert.equal(SessionPool.readKey(fake, s, ctx("a")), SessionPool.readKey(fake, s, ctx("a")));
});

test("sessions: one per identity and scopes across stores and kinds (a VSO VaultAuth and an ESO SecretStore of one role log in once)", async () => {
  const { providerSpec } = await import("../../../src/controllers/vso/provider.ts");
  const eso = spec({
    auth: {
      kubernetes: {
        mountPath: "kubernetes",
        role: "app",
        serviceAccountRef: { name: "app", audiences: ["vault"] },
      },
    },
  });
  const vso = providerSpec({
    connection: { address: "https://vault.example:8200" },
    auth: {
      method: "kubernetes",
      mount: "kubernetes",
      kubernetes: { role: "app", serviceAccount: "app", audiences: ["vault"], tokenExpirationSeconds: 900 },
    },
    kv: { mount: "secret", version: "v2" },
  }) as VaultProviderSpec;
  assert.equal(
    SessionPool.key(vault, vso, ctx("vaultauth-uid")),
    SessionPool.key(vault, eso, ctx("store-uid")),
  );
  assert.equal(
    SessionPool.readKey(vault, vso, ctx("vaultauth-uid")),
    SessionPool.readKey(vault, eso, ctx("store-uid")),
  );
  const base = SessionPool.key(vault, eso, ctx("s"));
  for (const [what, key] of [
    [
      "store kind (operator identity grant)",
      SessionPool.key(vault, eso, { ...ctx("s"), storeKind: "ClusterSecretStore" }),
    ],
    ["credentials namespace", SessionPool.key(vault, eso, ctx("s", "team-b"))],
    ["audiences", SessionPool.key(vault, spec(), ctx("s"))],
    ["mount", SessionPool.key(vault, { ...eso, path: "kv" }, ctx("s"))],
    ["consistency", SessionPool.key(vault, { ...eso, readYourWrites: true }, ctx("s"))],
  ] as const)
    assert.notEqual(key, base, what);
});

test("sessions: a provider without scopes keeps one session per store and spec", () => {
  const fake = fakeProvider as unknown as ProviderDefinition;
  const s = { data: [] };
  assert.notEqual(SessionPool.key(fake, s, ctx("a")), SessionPool.key(fake, s, ctx("b")));
  assert.notEqual(
    SessionPool.key(fake, s, ctx("a")),
    SessionPool.key(fake, { data: [{ key: "k" }] }, ctx("a")),
  );
});

test("the read key of one spec object is the same on every call (remembered) and equals a fresh copy's", () => {
  const s = spec();
  const first = SessionPool.readKey(vault, s, ctx("s"));
  assert.equal(SessionPool.readKey(vault, s, ctx("s")), first);
  assert.equal(SessionPool.readKey(vault, spec(), ctx("s")), first);
  assert.notEqual(SessionPool.readKey(vault, { ...s, path: "kv" }, ctx("s")), first);
  assert.notEqual(SessionPool.readKey(vault, s, ctx("s", "team-b")), first); // identity is not remembered
});
