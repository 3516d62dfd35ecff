import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import {
  convertKes,
  deploymentDefaults,
  goTemplate,
  migrate,
  refreshIntervalOf,
  type MigrateOptions,
} from "../../../src/cli/migrate/kes.ts";
import { runMigrateKes } from "../../../src/cli/migrate/run.ts";
import type { KesExternalSecret } from "../../../src/controllers/kes/api.ts";

const opts: MigrateOptions = {
  vaultAddr: "https://vault:8200",
  awsRegion: "us-west-2",
  serviceAccount: { namespace: "external-secrets", name: "kes" },
  tokenAudiences: ["vault"],
  storeKind: "ClusterSecretStore",
  refreshInterval: "10s",
};

const kes = (spec: Record<string, unknown>, name = "x"): KesExternalSecret => ({
  apiVersion: "kubernetes-client.io/v1",
  kind: "ExternalSecret",
  metadata: { name, namespace: "apps" },
  spec,
});

test("vault: the key's mount becomes the store's path, data/ is dropped on v2, property kept, no property stays the whole JSON", () => {
  const r = convertKes(
    kes({
      backendType: "vault",
      vaultMountPoint: "k8s",
      vaultRole: "app",
      dataFrom: ["secret/data/app/common"],
      data: [
        { name: "pw", key: "secret/data/app/db", property: "password" },
        { name: "all", key: "secret/data/app/db" },
        { name: "bin", key: "secret/data/app/bin", isBinary: true },
      ],
    }),
    opts,
  );
  assert.deepEqual(r.refusals, []);
  assert.deepEqual(r.store?.spec, {
    provider: {
      vault: {
        server: "https://vault:8200",
        path: "secret",
        version: "v2",
        auth: {
          kubernetes: {
            mountPath: "k8s",
            role: "app",
            serviceAccountRef: { name: "kes", namespace: "external-secrets", audiences: ["vault"] },
          },
        },
      },
    },
  });
  const spec = r.externalSecret?.spec as Record<string, unknown>;
  assert.deepEqual(spec.dataFrom, [{ extract: { key: "app/common" } }]);
  assert.deepEqual(spec.data, [
    { secretKey: "pw", remoteRef: { key: "app/db", property: "password" } },
    { secretKey: "all", remoteRef: { key: "app/db" } },
    { secretKey: "bin", remoteRef: { key: "app/bin", decodingStrategy: "Base64" } },
  ]);
  assert.equal(spec.refreshInterval, "10s");
  assert.deepEqual(spec.target, { name: "x", creationPolicy: "Owner" });
  assert.equal((r.externalSecret?.metadata as { namespace: string }).namespace, "apps");
});

test("vault: kvVersion 1 keeps the rest of the key; v2 keys without data/ and mixed mounts are refused with the field", () => {
  const v1 = convertKes(
    kes({ backendType: "vault", vaultRole: "r", kvVersion: 1, data: [{ name: "a", key: "kv/app/x" }] }),
    opts,
  );
  assert.equal(
    (v1.store?.spec as { provider: { vault: { version: string; path: string } } }).provider.vault.version,
    "v1",
  );
  assert.deepEqual((v1.externalSecret?.spec as { data: unknown[] }).data, [
    { secretKey: "a", remoteRef: { key: "app/x" } },
  ]);
  const noData = convertKes(
    kes({ backendType: "vault", vaultRole: "r", data: [{ name: "a", key: "secret/app" }] }),
    opts,
  );
  assert.deepEqual(noData.refusals[0]?.path, ["spec", "data", 0, "key"]);
  assert.match(noData.refusals[0]!.reason, /not a KV v2 data path/);
  const mixed = convertKes(
    kes({
      backendType: "vault",
      vaultRole: "r",
      data: [
        { name: "a", key: "a/data/x" },
        { name: "b", key: "b/data/y" },
      ],
    }),
    opts,
  );
  assert.match(mixed.refusals[0]!.reason, /more than one KV mount/);
  const noRole = convertKes(kes({ backendType: "vault", data: [{ name: "a", key: "a/data/x" }] }), opts);
  assert.match(noRole.refusals[0]!.reason, /no vaultRole/);
  const withDefault = convertKes(kes({ backendType: "vault", data: [{ name: "a", key: "a/data/x" }] }), {
    ...opts,
    defaultVaultRole: "d",
    defaultVaultMountPoint: "m",
  });
  const auth = (withDefault.store?.spec as { provider: { vault: { auth: { kubernetes: unknown } } } })
    .provider.vault.auth;
  assert.deepEqual(auth.kubernetes, {
    mountPath: "m",
    role: "d",
    serviceAccountRef: { name: "kes", namespace: "external-secrets", audiences: ["vault"] },
  });
});

test("aws: versions, key:N, isBinary, region and role; SSM paths become a find with KES's names; merge order kept", () => {
  const sm = convertKes(
    kes({
      backendType: "secretsManager",
      region: "eu-west-1",
      roleArn: "arn:aws:iam::1:role/r",
      dataFrom: ["a"],
      dataFromWithOptions: [{ key: "b", versionStage: "AWSPREVIOUS" }],
      data: [
        { name: "s", key: "c", versionStage: "AWSPENDING", property: "p" },
        { name: "i", key: "c", versionId: "v-1" },
        { name: "bin", key: "d", isBinary: true },
      ],
    }),
    opts,
  );
  assert.deepEqual(sm.refusals, []);
  assert.deepEqual(sm.store?.spec, {
    provider: { aws: { service: "SecretsManager", region: "eu-west-1", role: "arn:aws:iam::1:role/r" } },
  });
  const spec = sm.externalSecret?.spec as { data: unknown[]; dataFrom: unknown[] };
  assert.deepEqual(spec.dataFrom, [
    { extract: { key: "a" } },
    { extract: { key: "b", version: "AWSPREVIOUS" } },
  ]);
  assert.deepEqual(spec.data, [
    { secretKey: "s", remoteRef: { key: "c", property: "p", version: "AWSPENDING" } },
    { secretKey: "i", remoteRef: { key: "c", version: "uuid/v-1" } },
    { secretKey: "bin", remoteRef: { key: "d", decodingStrategy: "Auto" } },
  ]);
  const ssm = convertKes(
    kes({
      backendType: "systemManager",
      data: [
        { key: "/p:3", name: "v" },
        { path: "/app/", recursive: true },
      ],
    }),
    opts,
  );
  const s = ssm.externalSecret?.spec as { data: unknown[]; dataFrom: unknown[] };
  assert.deepEqual(s.data, [{ secretKey: "v", remoteRef: { key: "/p", version: "3" } }]);
  assert.deepEqual(s.dataFrom, [
    {
      find: { path: "/app", name: { regexp: "^/app/" } },
      rewrite: [{ regexp: { source: ".*/", target: "" } }],
    },
  ]);
  assert.match(ssm.warnings[0]!, /path comes after key entries/);
  assert.deepEqual((ssm.store?.spec as { provider: unknown }).provider, {
    aws: { service: "ParameterStore", region: "us-west-2" },
  });
});

test("unsupported backends and fields are refused, never half-converted", () => {
  for (const [spec, re] of [
    [
      { backendType: "azureKeyVault", keyVaultName: "v", data: [{ key: "a", name: "b" }] },
      /azureKeyVault is not converted/,
    ],
    [{ backendType: "secretsManager", data: [{ path: "/a" }] }, /only read by the systemManager/],
    [
      { backendType: "secretsManager", dataFromWithOptions: [{ key: "a", isBinary: true }] },
      /isBinary on dataFrom/,
    ],
    [
      { backendType: "secretsManager", data: [{ key: "a", name: "a" }], template: { immutable: true } },
      /template.immutable has no ESO/,
    ],
    [
      { backendType: "secretsManager", dataFrom: ["a"], template: { data: { k: "dg==" } } },
      /fetched keys are not known/,
    ],
  ] as const) {
    const r = convertKes(kes(spec), opts);
    assert.equal(r.externalSecret, undefined);
    assert.match(r.refusals[0]!.reason, re);
  }
});

test("templates: metadata, type and literal data convert; <%= data.x %> and ${data.x} become Go; other lodash is refused", () => {
  const r = convertKes(
    kes({
      backendType: "secretsManager",
      type: "kubernetes.io/basic-auth",
      data: [{ key: "a", name: "username" }],
      template: {
        metadata: { labels: { team: "a" }, annotations: { "x/y": "v" } },
        data: {
          username: Buffer.from("ignored").toString("base64"),
          extra: Buffer.from("lit {{x}}").toString("base64"),
        },
        stringData: { url: "https://<%= data.username %>@h/${data['b-c']}" },
      },
    }),
    opts,
  );
  assert.deepEqual(r.refusals, []);
  assert.match(r.warnings[0]!, /template.data.username dropped/);
  assert.deepEqual((r.externalSecret?.spec as { target: { template: unknown } }).target.template, {
    engineVersion: "v2",
    mergePolicy: "Merge",
    type: "kubernetes.io/basic-auth",
    metadata: { labels: { team: "a" }, annotations: { "x/y": "v" } },
    data: { extra: 'lit {{ "{{" }}x}}', url: 'https://{{ .username }}@h/{{ index . "b-c" }}' },
  });
  assert.throws(() => goTemplate("<%- data.x %>", ["p"]), /no certain Go template equivalent/);
  assert.throws(() => goTemplate("<% data.forEach(x => {}) %>", ["p"]), /no certain/);
  assert.throws(() => goTemplate("${data.a.toUpperCase()}", ["p"]), /no certain/);
  assert.equal(goTemplate("plain", ["p"]), "plain");
});

test("stores are deduplicated by spec and printed first; KES settings from a Deployment", () => {
  const a = kes({ backendType: "secretsManager", data: [{ key: "a", name: "a" }] }, "a");
  const b = kes({ backendType: "secretsManager", data: [{ key: "b", name: "b" }] }, "b");
  const { manifests } = migrate([a, b], opts);
  assert.deepEqual(
    manifests.map((m) => m.kind),
    ["ClusterSecretStore", "ExternalSecret", "ExternalSecret"],
  );
  const d = deploymentDefaults(
    parse(`apiVersion: apps/v1
kind: Deployment
metadata: { name: kes, namespace: kes-ns }
spec:
  template:
    spec:
      serviceAccountName: kes-sa
      containers:
        - name: kes
          env:
            - { name: VAULT_ADDR, value: "https://v:8200" }
            - { name: POLLER_INTERVAL_MILLISECONDS, value: "60000" }
`) as Record<string, unknown>,
  );
  assert.deepEqual(d, {
    env: { VAULT_ADDR: "https://v:8200", POLLER_INTERVAL_MILLISECONDS: "60000" },
    serviceAccount: { namespace: "kes-ns", name: "kes-sa" },
  });
  assert.equal(refreshIntervalOf(d.env), "60s");
  assert.equal(refreshIntervalOf({ DISABLE_POLLING: "true" }), "0s");
  assert.equal(refreshIntervalOf({}), "10s");
  assert.equal(refreshIntervalOf({ POLLER_INTERVAL_MILLISECONDS: "1500" }), "1500ms");
});

test("the command: a directory, refusals with file and line on stderr, exit 1; the rest still printed", () => {
  const dir = mkdtempSync(join(tmpdir(), "migrate-kes-"));
  try {
    writeFileSync(
      join(dir, "a.yaml"),
      `apiVersion: v1
kind: ConfigMap
metadata: { name: other }
---
apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata:
  name: good
spec:
  backendType: systemManager
  data:
    - key: /a
      name: a
---
apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata:
  name: bad
spec:
  backendType: vault
  vaultRole: r
  data:
    - name: a
      key: secret/no-data-segment
`,
    );
    writeFileSync(
      join(dir, "deploy.yaml"),
      `apiVersion: apps/v1
kind: Deployment
metadata: { name: kes, namespace: es }
spec: { template: { spec: { serviceAccountName: kes, containers: [{ name: c, env: [{ name: DISABLE_POLLING, value: "1" }, { name: AWS_REGION, value: eu-north-1 }] }] } } }
`,
    );
    let out = "";
    let err = "";
    const io = { stdout: (s: string) => (out += s), stderr: (s: string) => (err += s), stdin: () => "" };
    const rc = runMigrateKes(
      join(dir, "a.yaml"),
      { tokenAudiences: "vault", storeKind: "ClusterSecretStore", kesDeployment: join(dir, "deploy.yaml") },
      io,
    );
    assert.equal(rc, 1);
    assert.equal(
      err,
      `${join(dir, "a.yaml")}:24: ExternalSecret bad: not converted: ${err.split("not converted: ")[1]}`,
    );
    assert.match(err, /not a KV v2 data path/);
    const docs = parseAllDocuments(out).map(
      (d) => d.toJS() as { kind: string; spec: Record<string, unknown> },
    );
    assert.deepEqual(
      docs.map((d) => d.kind),
      ["ClusterSecretStore", "ExternalSecret"],
    );
    assert.deepEqual(docs[0]!.spec, {
      provider: { aws: { service: "ParameterStore", region: "eu-north-1" } },
    });
    assert.equal(docs[1]!.spec.refreshInterval, "0s");
    // a directory: every manifest in it
    out = "";
    err = "";
    assert.equal(runMigrateKes(dir, { tokenAudiences: "vault", storeKind: "SecretStore" }, io), 1);
    assert.match(out, /kind: SecretStore/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
