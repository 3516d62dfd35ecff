/**
 * End to end: PushSecret against the real API server and real Vault, `custos operator` as a
 * process isolated by its own controller class (every store here names it). Kubernetes Secrets are
 * pushed to Vault KV v2 and v1 and read back through an ExternalSecret in another namespace; the
 * updatePolicy and deletionPolicy tables; a concurrent remote write between read and write is
 * detected by check-and-set; a label selector over several Secrets; ESO's documented manifest.
 * No pushed value may appear in status, events or the operator's output.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import {
  applyCrds,
  createNamespace,
  eventually,
  kubectl,
  secretData,
  startOperator,
  suffix,
  vaultClient,
  KubeApi,
  type OperatorProcess,
  type VaultClient,
} from "./helpers.ts";
import { VaultClient as ProviderVaultClient } from "../../src/providers/vault/client.ts";
import { pushVault, type VaultKv } from "../../src/providers/vault/push.ts";
import { isCustosError } from "../../src/util/errors.ts";

let env: SharedEnv;
let api: KubeApi;
let vault: VaultClient;
let op: OperatorProcess;
const CLASS = `pv-${suffix()}`;
const VALUE = `pushed-${suffix()}-value`;
const values: string[] = [VALUE];

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  vault = vaultClient(env);
  await applyCrds(env);
  op = await startOperator(env, ["--controllers", "externalsecret,pushsecret", "--controller-class", CLASS]);
});

after(async () => {
  await op.stop();
  // no pushed value anywhere in what the operator wrote
  for (const v of values)
    assert.ok(!op.output().includes(v), "a pushed value appeared in the operator output");
});

async function mount(version: "v1" | "v2"): Promise<string> {
  const m = `push-${suffix()}`;
  await vault.call("POST", `sys/mounts/${m}`, {
    type: "kv",
    options: { version: version === "v2" ? "2" : "1" },
  });
  return m;
}

async function store(ns: string, m: string, version: "v1" | "v2", name = "vault"): Promise<void> {
  await api
    .create(`/api/v1/namespaces/${ns}/secrets`, {
      metadata: { name: "vault-token" },
      stringData: { token: env.vault.token },
    })
    .catch(() => undefined);
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: ${name}
spec:
  controller: ${CLASS}
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${m}
      version: ${version}
      auth:
        tokenSecretRef:
          name: vault-token
          key: token
`,
  );
}

async function secret(
  ns: string,
  name: string,
  data: Record<string, string>,
  labels: Record<string, string> = {},
) {
  // the distinctive values (a suffix in them) are the ones searched for in outputs
  for (const v of Object.values(data)) if (v.length >= 10) values.push(v);
  await api.create(`/api/v1/namespaces/${ns}/secrets`, { metadata: { name, labels }, stringData: data });
}

interface PsStatus {
  syncedPushSecrets?: Record<string, Record<string, unknown>>;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

async function psStatus(ns: string, name: string): Promise<PsStatus | undefined> {
  const ps = await api.getOrUndefined<{ status?: PsStatus }>(
    `/apis/external-secrets.io/v1alpha1/namespaces/${ns}/pushsecrets/${name}`,
  );
  return ps?.status;
}

async function ready(ns: string, name: string, status: "True" | "False" = "True"): Promise<PsStatus> {
  try {
    return await eventually(`PushSecret ${ns}/${name} Ready=${status}`, async () => {
      const s = await psStatus(ns, name);
      const c = s?.conditions?.find((x) => x.type === "Ready");
      return c?.status === status ? s : undefined;
    });
  } catch (e) {
    const log = op
      .output()
      .split("\n")
      .filter((l) => l.includes(name) || l.includes("pushsecret"))
      .slice(-10)
      .join("\n");
    throw new Error(
      `${(e as Error).message}; status ${JSON.stringify(await psStatus(ns, name))}; log:\n${log}`,
      { cause: e },
    );
  }
}

async function applyPs(ns: string, yaml: string): Promise<void> {
  await kubectl(env, ["apply", "-n", ns, "-f", "-"], yaml);
}

/** KV v2 data (undefined when absent) and custom metadata. */
async function v2(
  m: string,
  key: string,
): Promise<{ data?: Record<string, unknown>; custom?: Record<string, string> }> {
  const d = await vault.call("GET", `${m}/data/${key}`);
  const md = await vault.call("GET", `${m}/metadata/${key}`);
  return {
    ...(d.status === 200 ? { data: (d.json.data as { data: Record<string, unknown> }).data } : {}),
    ...(md.status === 200
      ? { custom: (md.json.data as { custom_metadata?: Record<string, string> }).custom_metadata ?? {} }
      : {}),
  };
}

function noValues(what: string, text: string): void {
  for (const v of values) assert.ok(!text.includes(v), `a pushed value appeared in ${what}`);
}

async function eventsOf(ns: string): Promise<string> {
  return JSON.stringify(await api.get(`/api/v1/namespaces/${ns}/events`));
}

test("KV v2: a Secret's keys pushed as properties, with custom metadata; read back by an ExternalSecret in another namespace", async () => {
  const ns = await createNamespace(api, "psv2");
  const other = await createNamespace(api, "psread");
  const m = await mount("v2");
  await store(ns, m, "v2");
  await store(other, m, "v2");
  const USER = `user-${suffix()}`;
  await secret(ns, "db", { password: VALUE, username: USER });
  await applyPs(
    ns,
    `apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata:
  name: db
spec:
  refreshInterval: 10s
  secretStoreRefs:
    - name: vault
      kind: SecretStore
  selector:
    secret:
      name: db
  data:
    - match:
        secretKey: password
        remoteRef:
          remoteKey: app/db
          property: password
      metadata:
        apiVersion: kubernetes.external-secrets.io/v1alpha1
        kind: PushSecretMetadata
        spec:
          customMetadata:
            team: payments
    - match:
        secretKey: username
        remoteRef:
          remoteKey: app/db
          property: username
`,
  );
  const st = await ready(ns, "db");
  assert.deepEqual(Object.keys(st.syncedPushSecrets?.["SecretStore/vault"] ?? {}).sort(), [
    "app/db/password",
    "app/db/username",
  ]);
  const remote = await v2(m, "app/db");
  assert.deepEqual(remote.data, { password: VALUE, username: USER });
  assert.equal(remote.custom?.["managed-by"], "external-secrets");
  assert.equal(remote.custom?.team, "payments");

  await kubectl(
    env,
    ["apply", "-n", other, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: db
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: vault
  target:
    name: db-copy
  data:
    - secretKey: pw
      remoteRef:
        key: app/db
        property: password
`,
  );
  const copy = await eventually("the ExternalSecret's Secret", () => secretData(api, other, "db-copy"));
  assert.equal(copy.pw, VALUE);
  noValues("PushSecret status", JSON.stringify(await psStatus(ns, "db")));
  noValues("events", await eventsOf(ns));
});

test("KV v1: a whole Secret pushed (no secretKey), read back in another namespace", async () => {
  const ns = await createNamespace(api, "psv1");
  const other = await createNamespace(api, "psread1");
  const m = await mount("v1");
  await store(ns, m, "v1");
  await store(other, m, "v1");
  const v = `v1-${suffix()}`;
  await secret(ns, "whole", { a: v, b: "two" });
  await applyPs(
    ns,
    `apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata:
  name: whole
spec:
  secretStoreRefs: [{ name: vault }]
  selector: { secret: { name: whole } }
  data:
    - match: { remoteRef: { remoteKey: team/whole } }
`,
  );
  await ready(ns, "whole");
  const r = await vault.call("GET", `${m}/team/whole`);
  const data = r.json.data as Record<string, unknown>;
  assert.equal(data.a, v);
  assert.equal(data.b, "two");
  assert.deepEqual(data.custom_metadata, { "managed-by": "external-secrets" });
  await kubectl(
    env,
    ["apply", "-n", other, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: whole }
spec:
  secretStoreRef: { name: vault }
  target: { name: whole-copy }
  data:
    - secretKey: a
      remoteRef: { key: team/whole, property: a }
`,
  );
  const copy = await eventually("v1 copy", () => secretData(api, other, "whole-copy"));
  assert.equal(copy.a, v);
});

test("updatePolicy: Replace / IfNotExists x remote absent / ours / foreign", async () => {
  const ns = await createNamespace(api, "psupd");
  const m = await mount("v2");
  await store(ns, m, "v2");
  const NEW = `new-${suffix()}`;
  await secret(ns, "src", { k: NEW });
  const seed = async (key: string, ours: boolean): Promise<void> => {
    await vault.call("POST", `${m}/data/${key}`, { data: { k: "old" } });
    if (ours)
      await vault.call("POST", `${m}/metadata/${key}`, {
        custom_metadata: { "managed-by": "external-secrets" },
      });
  };
  const cases = [
    { policy: "Replace", remote: "absent", ready: "True", want: NEW },
    { policy: "Replace", remote: "ours", ready: "True", want: NEW },
    { policy: "Replace", remote: "foreign", ready: "False", want: "old" },
    { policy: "IfNotExists", remote: "absent", ready: "True", want: NEW },
    { policy: "IfNotExists", remote: "ours", ready: "True", want: "old" },
    { policy: "IfNotExists", remote: "foreign", ready: "True", want: "old" },
  ] as const;
  for (const c of cases) {
    const name = `${c.policy.toLowerCase()}-${c.remote}`;
    if (c.remote !== "absent") await seed(name, c.remote === "ours");
    await applyPs(
      ns,
      `apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: { name: ${name} }
spec:
  updatePolicy: ${c.policy}
  secretStoreRefs: [{ name: vault, kind: SecretStore }]
  selector: { secret: { name: src } }
  data:
    - match: { secretKey: k, remoteRef: { remoteKey: ${name}, property: k } }
`,
    );
  }
  for (const c of cases) {
    const name = `${c.policy.toLowerCase()}-${c.remote}`;
    const st = await ready(ns, name, c.ready);
    const remote = await v2(m, name);
    assert.equal(remote.data?.k, c.want, `${name}: remote value`);
    const msg = st.conditions?.find((x) => x.type === "Ready")?.message ?? "";
    if (c.ready === "False") {
      assert.match(msg, /not managed by external-secrets/, name);
      assert.match(msg, /set secret failed: could not write remote ref k to target secretstore vault/, name);
    } else if (c.policy === "IfNotExists") assert.match(msg, /Existing secrets in providers unchanged/);
    noValues(`${name} status`, JSON.stringify(st));
  }
  noValues("events", await eventsOf(ns));
});

test("deletionPolicy: Delete / None x entry removed / PushSecret deleted", async () => {
  const ns = await createNamespace(api, "psdel");
  const m = await mount("v2");
  await store(ns, m, "v2");
  await secret(ns, "src", { a: `a-${suffix()}`, b: `b-${suffix()}` });
  const manifest = (
    name: string,
    policy: string,
    both: boolean,
  ): string => `apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: { name: ${name} }
spec:
  deletionPolicy: ${policy}
  secretStoreRefs: [{ name: vault }]
  selector: { secret: { name: src } }
  data:
    - match: { secretKey: a, remoteRef: { remoteKey: ${name}-a, property: a } }
${both ? `    - match: { secretKey: b, remoteRef: { remoteKey: ${name}-b, property: b } }\n` : ""}`;
  const cases = [
    { policy: "Delete", how: "entry" },
    { policy: "None", how: "entry" },
    { policy: "Delete", how: "object" },
    { policy: "None", how: "object" },
  ] as const;
  for (const c of cases) {
    const name = `${c.policy.toLowerCase()}-${c.how}`;
    await applyPs(ns, manifest(name, c.policy, true));
  }
  for (const c of cases) {
    const name = `${c.policy.toLowerCase()}-${c.how}`;
    await ready(ns, name);
    assert.ok((await v2(m, `${name}-a`)).data, `${name}: a pushed`);
    assert.ok((await v2(m, `${name}-b`)).data, `${name}: b pushed`);
    if (c.policy === "Delete") {
      const ps = await api.get<{ metadata: { finalizers?: string[] } }>(
        `/apis/external-secrets.io/v1alpha1/namespaces/${ns}/pushsecrets/${name}`,
      );
      assert.ok(ps.metadata.finalizers?.includes("pushsecret.externalsecrets.io/finalizer"));
    }
    if (c.how === "entry") {
      await applyPs(ns, manifest(name, c.policy, false));
      await eventually(`${name}: b dropped from status`, async () => {
        const s = await psStatus(ns, name);
        const synced = s?.syncedPushSecrets?.["SecretStore/vault"] ?? {};
        return !(`${name}-b/b` in synced) && `${name}-a/a` in synced;
      });
    } else {
      await api.delete(`/apis/external-secrets.io/v1alpha1/namespaces/${ns}/pushsecrets/${name}`);
      await eventually(`${name} gone`, async () => !(await psStatus(ns, name)) && true);
    }
    const a = await v2(m, `${name}-a`);
    const b = await v2(m, `${name}-b`);
    if (c.policy === "None") {
      assert.ok(a.data && b.data, `${name}: None leaves remote data`);
    } else if (c.how === "entry") {
      assert.ok(a.data, `${name}: the kept entry stays`);
      assert.equal(b.data, undefined, `${name}: the removed entry's remote secret is deleted`);
      assert.equal(b.custom, undefined, `${name}: with its metadata`);
    } else {
      assert.equal(a.data, undefined, `${name}: a deleted with the PushSecret`);
      assert.equal(b.data, undefined, `${name}: b deleted with the PushSecret`);
    }
  }
});

test("Delete never removes what it cannot reach: a failed removal keeps the finalizer and says why", async () => {
  const ns = await createNamespace(api, "psfail");
  const m = await mount("v2");
  const child = async (): Promise<string> =>
    (
      (await vault.call("POST", "auth/token/create", { policies: ["root"], ttl: "1h" })).json.auth as {
        client_token: string;
      }
    ).client_token;
  const token = await child();
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "vault-token" },
    stringData: { token },
  });
  await store(ns, m, "v2");
  await secret(ns, "src", { a: `f-${suffix()}` });
  await applyPs(
    ns,
    `apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: { name: keep }
spec:
  deletionPolicy: Delete
  secretStoreRefs: [{ name: vault }]
  selector: { secret: { name: src } }
  data:
    - match: { secretKey: a, remoteRef: { remoteKey: keep, property: a } }
`,
  );
  await ready(ns, "keep");
  // the store's token is revoked: the removal cannot happen
  await vault.call("POST", "auth/token/revoke", { token });
  await api.delete(`/apis/external-secrets.io/v1alpha1/namespaces/${ns}/pushsecrets/keep`);
  const st = await ready(ns, "keep", "False");
  assert.match(
    st.conditions?.find((c) => c.type === "Ready")?.message ?? "",
    /Failed to Delete Secrets from Provider/,
  );
  const ps = await api.get<{ metadata: { finalizers?: string[]; deletionTimestamp?: string } }>(
    `/apis/external-secrets.io/v1alpha1/namespaces/${ns}/pushsecrets/keep`,
  );
  assert.ok(ps.metadata.deletionTimestamp);
  assert.ok(ps.metadata.finalizers?.includes("pushsecret.externalsecrets.io/finalizer"));
  assert.ok((await v2(m, "keep")).data, "remote data untouched");
  // a working token again: the next retry logs in afresh, removes, and the PushSecret goes
  await api.replace(`/api/v1/namespaces/${ns}/secrets/vault-token`, {
    metadata: { name: "vault-token" },
    stringData: { token: await child() },
  });
  await eventually("PushSecret gone", async () => !(await psStatus(ns, "keep")) && true, 120_000);
  assert.equal((await v2(m, "keep")).data, undefined);
});

test("check-and-set: a remote write between read and write is detected, not clobbered", async () => {
  const m = await mount("v2");
  await vault.call("POST", `${m}/data/cas`, { data: { k: "v1" } });
  await vault.call("POST", `${m}/metadata/cas`, { custom_metadata: { "managed-by": "external-secrets" } });
  const client = new ProviderVaultClient({ server: env.vault.addr, recordCall: () => undefined });
  let raced = false;
  const kv: VaultKv = {
    version: "v2",
    mount: m,
    async request(call, method, path, opts) {
      const res = await client.call<never>(call, method, path, { ...opts, token: env.vault.token });
      if (call === "ReadSecret" && !raced) {
        raced = true; // someone else writes right after our read
        await vault.call("POST", `${m}/data/cas`, { data: { k: "theirs" } });
      }
      return res;
    },
    redact: () => undefined,
  };
  await assert.rejects(
    pushVault(kv, {
      remoteKey: "cas",
      property: "k",
      value: { kind: "bytes", value: new TextEncoder().encode("ours") },
      updatePolicy: "Replace",
    }),
    (e: unknown) => isCustosError(e, "CUSTOS_PUSH_CONFLICT") && !(e as Error).message.includes("ours"),
  );
  assert.equal((await v2(m, "cas")).data?.k, "theirs");
  // the retry reads the new version and writes over it knowingly
  assert.equal(
    await pushVault(kv, {
      remoteKey: "cas",
      property: "k",
      value: { kind: "bytes", value: new TextEncoder().encode("ours") },
      updatePolicy: "Replace",
    }),
    "updated",
  );
  assert.equal((await v2(m, "cas")).data?.k, "ours");
  // nothing differs: nothing written
  const before = (await vault.call("GET", `${m}/metadata/cas`)).json.data as { current_version: number };
  assert.equal(
    await pushVault(kv, {
      remoteKey: "cas",
      property: "k",
      value: { kind: "bytes", value: new TextEncoder().encode("ours") },
      updatePolicy: "Replace",
    }),
    "unchanged",
  );
  const after = (await vault.call("GET", `${m}/metadata/cas`)).json.data as { current_version: number };
  assert.equal(after.current_version, before.current_version);
});

test("label selector: several Secrets pushed per key (dataTo), an unlabelled one left out", async () => {
  const ns = await createNamespace(api, "pssel");
  const m = await mount("v2");
  await store(ns, m, "v2");
  await secret(ns, "one", { "svc-a": '{"user":"a"}' }, { push: "yes" });
  await secret(ns, "two", { "svc-b": '{"user":"b"}' }, { push: "yes" });
  await secret(ns, "three", { "svc-c": '{"user":"c"}' });
  await applyPs(
    ns,
    `apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: { name: selected }
spec:
  secretStoreRefs: [{ name: vault }]
  selector:
    secret:
      selector: { matchLabels: { push: "yes" } }
  dataTo:
    - storeRef: { name: vault }
      match: { regexp: "^svc-" }
      rewrite:
        - regexp: { source: "^svc-(.*)$", target: "services/$1" }
`,
  );
  const st = await ready(ns, "selected");
  assert.deepEqual(Object.keys(st.syncedPushSecrets?.["SecretStore/vault"] ?? {}).sort(), [
    "services/a",
    "services/b",
  ]);
  assert.deepEqual((await v2(m, "services/a")).data, { user: "a" });
  assert.deepEqual((await v2(m, "services/b")).data, { user: "b" });
  assert.equal((await v2(m, "services/c")).data, undefined);
});

test("ESO's documented PushSecret manifest applies unchanged", async () => {
  const ns = await createNamespace(api, "psdoc");
  // docs/snippets/full-pushsecret.yaml's shape (v2.9), namespace adjusted by -n
  await kubectl(
    env,
    ["apply", "--dry-run=server", "-n", ns, "-f", "-"],
    `apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata:
  name: pushsecret-example
spec:
  updatePolicy: Replace
  deletionPolicy: Delete
  refreshInterval: 1h0m0s
  secretStoreRefs:
    - name: aws-parameterstore
      kind: SecretStore
    - labelSelector:
        matchLabels:
          foo: bar
      kind: ClusterSecretStore
  selector:
    secret:
      name: pokedex-credentials
  template:
    metadata:
      annotations: { }
      labels: { }
    data:
      best-pokemon: "{{ .best-pokemon | toString | upper }} is the really best!"
  data:
    - conversionStrategy: None
      match:
        secretKey: best-pokemon
        remoteRef:
          remoteKey: my-first-parameter
          property: best-pokemon
      metadata:
        apiVersion: kubernetes.external-secrets.io/v1alpha1
        kind: PushSecretMetadata
        spec:
          customMetadata:
            team: pokedex
`,
  );
  await kubectl(
    env,
    ["apply", "--dry-run=server", "-f", "-"],
    `apiVersion: external-secrets.io/v1alpha1
kind: ClusterPushSecret
metadata:
  name: pushsecret-example
spec:
  pushSecretName: pushsecret-example
  refreshTime: 1m
  namespaceSelectors:
    - matchLabels:
        kubernetes.io/metadata.name: ${ns}
  pushSecretSpec:
    secretStoreRefs:
      - name: vault
        kind: ClusterSecretStore
    selector:
      secret:
        name: pokedex-credentials
    data:
      - match:
          secretKey: best-pokemon
          remoteRef:
            remoteKey: pokemon
`,
  );
});
