// metadataPolicy: Fetch on KV v2 as ESO v2.8+ answers it: created_time, current_version and
// delete_version_after next to custom_metadata, a custom key of the same name winning.
import { test } from "node:test";
import assert from "node:assert/strict";
import { metadataProperties } from "../../../src/providers/vault/metadata.ts";
import { VaultSession } from "../../../src/providers/vault/session.ts";
import type { AuthInfo, VaultClient } from "../../../src/providers/vault/client.ts";
import type { StoreContext } from "../../../src/providers/types.ts";
import { buildSecretData, refId, remoteRefsOf } from "../../../src/controllers/externalsecret/data.ts";
import type { ExternalSecret } from "../../../src/controllers/externalsecret/types.ts";

// Vault 1.x answer to GET secret/metadata/app (the "data" field), as recorded from the KV v2 API
const recorded = (custom: Record<string, string> | null): Record<string, unknown> => ({
  cas_required: false,
  created_time: "2026-12-01T21:40:11.123456789Z",
  current_version: 3,
  custom_metadata: custom,
  delete_version_after: "0s",
  max_versions: 0,
  oldest_version: 0,
  updated_time: "2026-12-01T22:01:02.5Z",
  versions: { "1": { created_time: "2026-12-01T21:40:11.123456789Z", deletion_time: "", destroyed: false } },
});

test("system fields as Go's %v prints them, custom_metadata on top", () => {
  const m = metadataProperties(recorded({ owner: "team-a", current_version: "mine" }));
  assert.deepEqual(
    { ...m },
    {
      created_time: "2026-12-01T21:40:11.123456789Z",
      current_version: "mine",
      delete_version_after: "0s",
      owner: "team-a",
    },
  );
  // nothing else of the metadata answer is exposed
  assert.equal(Object.hasOwn(m, "updated_time"), false);
  assert.equal(Object.hasOwn(m, "max_versions"), false);
});

test("custom_metadata null or absent: the system fields alone; a null field is left out", () => {
  const m = metadataProperties({ ...recorded(null), delete_version_after: null });
  assert.deepEqual({ ...m }, { created_time: "2026-12-01T21:40:11.123456789Z", current_version: "3" });
  assert.deepEqual({ ...metadataProperties(undefined) }, {});
});

test("a custom key named __proto__ is an ordinary key", () => {
  const m = metadataProperties(JSON.parse('{"custom_metadata":{"__proto__":"p"}}'));
  assert.equal(Object.getPrototypeOf(m), null);
  assert.equal(m["__proto__"], "p");
});

// ---- through the session, with a recorded Vault answer instead of a server ----

class TestSession extends VaultSession {
  override login(): Promise<AuthInfo> {
    return Promise.resolve({ client_token: "t", lease_duration: 0, renewable: false });
  }
}

function session(answers: Record<string, unknown>): { s: VaultSession; calls: string[] } {
  const calls: string[] = [];
  const client = {
    call: (name: string, method: string, path: { toString(): string }) => {
      calls.push(`${name} ${method} ${path.toString()}`);
      const body = answers[path.toString()];
      if (body === undefined) return Promise.reject(new Error(`unexpected ${path.toString()}`));
      return Promise.resolve({ status: 200, body });
    },
  } as unknown as VaultClient;
  const ctx: StoreContext = {
    storeKind: "SecretStore",
    storeName: "s",
    storeUid: "u",
    namespace: "n",
    kube: {} as never,
  };
  const spec = {
    server: "https://vault",
    path: "secret",
    version: "v2" as const,
    auth: { tokenSecretRef: { name: "t", key: "k" } },
  };
  const s = new TestSession(client, spec, ctx, { recordCall: () => undefined, redact: () => undefined });
  return { s, calls };
}

test("a Fetch read: the metadata path, system fields and custom_metadata; ESO's bytes for the whole value", async () => {
  const { s, calls } = session({ "secret/metadata/app": { data: recorded({ owner: "team-a" }) } });
  const got = await s.read({ key: "app", metadataPolicy: "Fetch" });
  assert.deepEqual(calls, ["ReadMetadata GET secret/metadata/app"]);
  assert.equal(got.kind, "map");
  const es: ExternalSecret = {
    metadata: { name: "app", namespace: "n", uid: "u", generation: 1 },
    spec: {
      secretStoreRef: { name: "s" },
      data: [
        {
          secretKey: "version",
          remoteRef: { key: "app", property: "current_version", metadataPolicy: "Fetch" },
        },
        { secretKey: "all", remoteRef: { key: "app", metadataPolicy: "Fetch" } },
      ],
    },
  };
  const reads = new Map(remoteRefsOf(es).reads.map((r) => [refId(r.storeRef!, r.ref), got]));
  const out = buildSecretData(es, { reads, finds: new Map() }, () => "");
  const text = (k: string): string => new TextDecoder().decode(out.data[k]);
  assert.equal(text("version"), "3");
  // map[string]string marshalled by Go: sorted keys, every value a string
  assert.equal(
    text("all"),
    '{"created_time":"2026-12-01T21:40:11.123456789Z","current_version":"3","delete_version_after":"0s","owner":"team-a"}',
  );
});

test("find.tags matches the system fields too (ESO reads the same metadata for tags)", async () => {
  const { s } = session({
    "secret/metadata": { data: { keys: ["a", "b"] } },
    "secret/metadata/a": { data: recorded(null) },
    "secret/metadata/b": { data: { ...recorded(null), current_version: 1 } },
    "secret/data/a": { data: { data: { v: "1" } } },
  });
  const found = await s.find({ tags: { current_version: "3" } });
  assert.deepEqual([...found.keys()], ["a"]);
});
