import { test } from "node:test";
import assert from "node:assert/strict";
import { MockAgent, setGlobalDispatcher } from "undici";
import {
  authPath,
  findPathSegments,
  kvPath,
  listedSegment,
  mountProblem,
} from "../../../src/providers/vault/path.ts";
import { VaultClient } from "../../../src/providers/vault/client.ts";
import { VaultSession } from "../../../src/providers/vault/session.ts";
import { vaultProvider } from "../../../src/providers/vault/index.ts";
import { isCustosError } from "../../../src/util/errors.ts";
import type { StoreContext } from "../../../src/providers/types.ts";
import type { VaultProviderSpec } from "../../../src/providers/vault/schema.ts";

// Every tenant-written form that could leave the mount: refused before any URL is built.
const hostile: [string, string][] = [
  ["../auth/token/lookup-self", '".."'],
  ["a/../../auth/token/lookup-self", '".."'],
  ["./x", '"."'],
  ["a/./b", '"."'],
  ["..", '".."'],
  ["%2e%2e/auth/token/lookup-self", "percent-encoded"],
  ["%2E%2E/sys/health", "percent-encoded"],
  ["..%2fsys/health", "percent-encoded"],
  ["a%2f..%2f..%2fsys", "percent-encoded"],
  ["%252e%252e/x", "percent-encoded"],
  [".%2e/x", "percent-encoded"],
  ["..\\auth\\token\\lookup-self", "backslash"],
  ["a\\b", "backslash"],
  ["a//b", "empty segment"],
  ["a/", "empty segment"],
  ["a/\u0000/b", "control character"],
  ["a\nb", "control character"],
  ["a\u007f", "control character"],
  ["", "empty"],
  ["///", "empty"],
  ["x".repeat(3000), "longer than"],
];
for (const [key, why] of hostile) {
  for (const [mount, version] of [
    ["secret", "v2"],
    ["secret", "v1"],
    [undefined, "v2"],
    [undefined, "v1"],
  ] as const) {
    test(`remote key ${JSON.stringify(key.slice(0, 40))} (${mount ?? "no mount"}, ${version}) is refused: ${why}`, () => {
      assert.throws(
        () => kvPath(key, mount, version),
        (e: unknown) => isCustosError(e, "CUSTOS_INVALID_REMOTE_KEY") && e.message.includes(why),
      );
      if (version === "v2")
        assert.throws(
          () => kvPath(key, mount, version, "metadata"),
          (e: unknown) => isCustosError(e, "CUSTOS_INVALID_REMOTE_KEY"),
        );
    });
  }
}

test("a path-less store never reads Vault's own API (sys, auth, identity) as a KV secret", () => {
  for (const key of [
    "auth/token/lookup-self",
    "sys/health",
    "identity/entity/id/x",
    "/auth/token/lookup-self",
  ])
    assert.throws(
      () => kvPath(key, undefined, "v1"),
      (e: unknown) => isCustosError(e, "CUSTOS_INVALID_REMOTE_KEY") && /Vault's own API/.test(e.message),
    );
  // under a mount, the same names are ordinary keys
  assert.equal(kvPath("auth/token/lookup-self", "secret", "v1").toString(), "secret/auth/token/lookup-self");
  assert.equal(kvPath("sys", "secret", "v2").toString(), "secret/data/sys");
});

test("the error names the key (escaped, bounded) and never anything else", () => {
  try {
    kvPath("a\n../" + "b".repeat(500), "secret", "v2");
    assert.fail("accepted");
  } catch (e) {
    assert.ok(isCustosError(e, "CUSTOS_INVALID_REMOTE_KEY"));
    assert.match(e.message, /^remote key "a\\n\.\.\/b+\.\.\." is not allowed/);
    assert.ok(e.message.length < 400);
  }
});

test("legitimate keys: ESO's path rules, each segment percent-encoded", () => {
  const cases: [string, string | undefined, "v1" | "v2", string][] = [
    ["foo", "secret", "v2", "secret/data/foo"],
    ["secret/data/foo", "secret", "v2", "secret/data/foo"],
    ["a b/c?d#e", "secret", "v2", "secret/data/a%20b/c%3Fd%23e"],
    ["50%/x", "secret", "v1", "secret/50%25/x"],
    ["...", "secret", "v1", "secret/..."],
    ["a..b/.c/d.", "secret", "v1", "secret/a..b/.c/d."],
    ["é/ü", "team/kv", "v2", "team/kv/data/%C3%A9/%C3%BC"],
    ["/a/b", undefined, "v1", "a/b"],
  ];
  for (const [key, mount, version, encoded] of cases)
    assert.equal(kvPath(key, mount, version).encoded, encoded, key);
});

test("mount paths in the spec: checked segment by segment; a KV mount never at Vault's own API", () => {
  assert.equal(mountProblem("secret", true), undefined);
  assert.equal(mountProblem("/team/kv/", true), undefined);
  assert.match(mountProblem("../sys", true) ?? "", /"\.\."/);
  assert.match(mountProblem("kv/%2e%2e", true) ?? "", /percent-encoded/);
  assert.match(mountProblem("sys", true) ?? "", /Vault's own API/);
  assert.match(mountProblem("auth/token", true) ?? "", /Vault's own API/);
  assert.equal(mountProblem("kubernetes", false), undefined);
  assert.match(
    vaultProvider
      .validate({ server: "https://v", path: "../sys", auth: { tokenSecretRef: { name: "t", key: "k" } } })
      .join(),
    /path "\.\.\/sys" is not allowed/,
  );
  assert.match(
    vaultProvider
      .validate({
        server: "https://v",
        auth: { kubernetes: { role: "r", mountPath: "k8s/../../sys", secretRef: { name: "s" } } },
      })
      .join(),
    /auth.kubernetes.mountPath/,
  );
  assert.match(
    vaultProvider
      .validate({ server: "https://v/?x=1", auth: { tokenSecretRef: { name: "t", key: "k" } } })
      .join(),
    /no query/,
  );
});

test("auth paths: a username is one segment; a slash or dot segment is refused", () => {
  assert.equal(authPath("userpass", "p", "login", "a b").encoded, "auth/userpass/login/a%20b");
  for (const bad of ["..", "a/b", "%2e%2e", "."])
    assert.throws(() => authPath("userpass", "p", "login", bad), /not allowed/);
  assert.throws(() => authPath("../../sys", "auth.jwt.path", "login"), /auth.jwt.path/);
  assert.match(
    vaultProvider
      .validate({
        server: "https://v",
        auth: { userPass: { username: "../../../sys/x", secretRef: { name: "p" } } },
      })
      .join(),
    /auth.userPass.username ".*" is not allowed: it has a slash/,
  );
});

test("find paths and listed names", () => {
  assert.deepEqual(findPathSegments(undefined), []);
  assert.deepEqual(findPathSegments("/"), []);
  assert.deepEqual(findPathSegments("/team/app/"), ["team", "app"]);
  assert.throws(() => findPathSegments("team/../../sys"), /CUSTOS|not allowed/);
  assert.throws(() => findPathSegments("%2e%2e"), /percent-encoded/);
  assert.deepEqual(listedSegment("dir/"), { segment: "dir", folder: true });
  // a stored name with a literal % is harmless once encoded; structure is what matters
  assert.deepEqual(listedSegment("50%2e"), { segment: "50%2e", folder: false });
  for (const bad of ["..", "../", ".", "a/b", "", "/"])
    assert.throws(() => listedSegment(bad), /not a single/);
});

// The session against a recording Vault: nothing at all is requested for a hostile key.
interface Seen {
  method: string;
  path: string;
}

function mockVault(reply: (method: string, path: string) => { status: number; body: unknown }): {
  seen: Seen[];
} {
  const agent = new MockAgent();
  agent.disableNetConnect();
  setGlobalDispatcher(agent);
  const seen: Seen[] = [];
  agent
    .get("http://vault.test")
    .intercept({ path: () => true, method: () => true })
    .reply((opts) => {
      seen.push({ method: opts.method, path: opts.path });
      const r = reply(opts.method, opts.path);
      return { statusCode: r.status, data: JSON.stringify(r.body), responseOptions: { headers: {} } };
    })
    .persist();
  return { seen };
}

const ctx: StoreContext = {
  storeKind: "ClusterSecretStore",
  storeName: "s",
  storeUid: "u",
  namespace: "n",
  kube: {} as never,
};
const deps = { recordCall: () => undefined, redact: () => undefined };

function session(spec: Partial<VaultProviderSpec>): VaultSession {
  const full: VaultProviderSpec = {
    server: "http://vault.test",
    auth: { tokenSecretRef: { name: "t", key: "k" } },
    ...spec,
  };
  const s = new VaultSession(
    new VaultClient({ server: full.server, recordCall: () => undefined }),
    full,
    ctx,
    deps,
  );
  // a logged-in session (static token), so only reads go out
  (s as unknown as { login(): Promise<unknown> }).login = () =>
    Promise.resolve({ client_token: "t0k3n", lease_duration: 0, renewable: false });
  return s;
}

test("session: hostile keys on KV v1 and v2 reach no endpoint at all; an innocent key is read under the mount", async () => {
  const { seen } = mockVault((_m, p) =>
    p.startsWith("/v1/secret/")
      ? { status: 200, body: { data: { data: { v: "ok" }, v: "ok" } } }
      : { status: 200, body: { data: { id: "the-store-token" } } },
  );
  for (const version of ["v1", "v2"] as const) {
    const s = session({ path: "secret", version });
    for (const [key] of hostile) {
      await assert.rejects(s.read({ key }), (e: unknown) => isCustosError(e, "CUSTOS_INVALID_REMOTE_KEY"));
      await assert.rejects(s.read({ key, metadataPolicy: version === "v2" ? "Fetch" : "None" }));
    }
    await assert.rejects(s.find({ path: "../../auth/token" }), (e: unknown) =>
      isCustosError(e, "CUSTOS_INVALID_REMOTE_KEY"),
    );
    assert.equal(seen.length, 0, "nothing was requested");
    await s.read({ key: "app/x" });
    assert.equal(seen.pop()?.path, version === "v2" ? "/v1/secret/data/app/x" : "/v1/secret/app/x");
  }
});

test("session: find reads listed names, encoded, under the mount", async () => {
  const { seen } = mockVault((m, p) => {
    if (m === "LIST" && p === "/v1/kv/metadata/team")
      return { status: 200, body: { data: { keys: ["a b", "dir/"] } } };
    if (m === "LIST" && p === "/v1/kv/metadata/team/dir")
      return { status: 200, body: { data: { keys: ["50%2e"] } } };
    return { status: 200, body: { data: { data: { v: p } } } };
  });
  const s = session({ path: "kv", version: "v2" });
  const found = await s.find({ path: "team" });
  assert.deepEqual([...found.keys()], ["team/a b", "team/dir/50%2e"]);
  assert.deepEqual(
    seen.filter((x) => x.method === "GET").map((x) => x.path),
    ["/v1/kv/data/team/a%20b", "/v1/kv/data/team/dir/50%252e"],
  );
});
