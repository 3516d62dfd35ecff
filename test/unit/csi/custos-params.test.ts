import { test } from "node:test";
import assert from "node:assert/strict";
import { objectExternalSecret, objectFiles, parseCustosParams } from "../../../src/csi/custos-params.ts";
import { remoteRefsOf } from "../../../src/controllers/externalsecret/data.ts";
import type { RemoteSecret } from "../../../src/providers/types.ts";

const p = (objects: string, ref = "{name: vault}") =>
  parseCustosParams({ secretStoreRef: ref, objects }, 0o644);
const text = (f: { contents: Uint8Array }) => Buffer.from(f.contents).toString("utf8");

test("parameters: store reference, objects with file names and modes", () => {
  const params = p(
    `
- fileName: db/password
  mode: "0400"
  remoteRef: { key: app/db, property: password, version: "3", decodingStrategy: Base64 }
- fileName: app
  extract: { key: app/config }
`,
    "{name: vault, kind: ClusterSecretStore}",
  );
  assert.deepEqual(params.storeRef, { name: "vault", kind: "ClusterSecretStore" });
  assert.deepEqual(params.objects, [
    {
      fileName: "db/password",
      mode: 0o400,
      remoteRef: { key: "app/db", property: "password", version: "3", decodingStrategy: "Base64" },
    },
    { fileName: "app", mode: 0o644, extract: { key: "app/config" } },
  ]);
  assert.equal(p(`[ { fileName: a, remoteRef: { key: k } } ]`).storeRef.kind, "SecretStore");
});

test("parameters: every mistake is named", () => {
  const cases: [string, string | undefined, RegExp][] = [
    [`[ { fileName: a, remoteRef: { key: k } } ]`, "", /secretStoreRef must name a store/],
    [
      `[ { fileName: a, remoteRef: { key: k } } ]`,
      "{name: x, kind: Other}",
      /kind must be SecretStore or ClusterSecretStore/,
    ],
    [`[ { fileName: a, remoteRef: { key: k } } ]`, "{name: ../x}", /not a valid name/],
    [``, undefined, /objects must be a non-empty YAML list/],
    [`{a: 1}`, undefined, /objects must be a non-empty YAML list/],
    [`[ { fileName: a } ]`, undefined, /exactly one of remoteRef, extract and template/],
    [`[ { fileName: a, remoteRef: { key: k }, extract: { key: k } } ]`, undefined, /exactly one/],
    [`[ { remoteRef: { key: k } } ]`, undefined, /fileName is required/],
    [`[ { fileName: a, remoteRef: { property: p } } ]`, undefined, /remoteRef.key is required/],
    [
      `[ { fileName: a, remoteRef: { key: k, decodingStrategy: Rot13 } } ]`,
      undefined,
      /decodingStrategy must be one of/,
    ],
    [`[ { fileName: a, remoteRef: { key: k, version: 3 } } ]`, undefined, /version must be a string/],
    [`[ { fileName: a, remoteRef: { key: k, bogus: x } } ]`, undefined, /unknown field "bogus"/],
    [`[ { fileName: a, template: x, remoteRef: { key: k } } ]`, undefined, /exactly one of/],
    [`[ { fileName: a, template: x } ]`, undefined, /a template needs data or dataFrom/],
    [
      `[ { fileName: a, remoteRef: { key: k }, data: [] } ]`,
      undefined,
      /data and dataFrom go with a template/,
    ],
    [
      `[ { fileName: a, template: x, data: [ { secretKey: "a b", remoteRef: { key: k } } ] } ]`,
      undefined,
      /secretKey must match/,
    ],
    [`[ { fileName: a, template: x, dataFrom: [ { find: {} } ] } ]`, undefined, /must be \{ extract/],
    [
      `[ { fileName: a, template: 3, data: [ { secretKey: k, remoteRef: { key: k } } ] } ]`,
      undefined,
      /template must be a string/,
    ],
    [`[ { fileName: a, bogus: 1, remoteRef: { key: k } } ]`, undefined, /unknown field "bogus"/],
    [
      `[ { fileName: a, remoteRef: { key: k } }, { fileName: a, remoteRef: { key: j } } ]`,
      undefined,
      /used twice/,
    ],
    [
      `[ { fileName: a, remoteRef: { key: k } }, { fileName: a/b, remoteRef: { key: j } } ]`,
      undefined,
      /both a file and the directory/,
    ],
    [`[ { fileName: /abs, remoteRef: { key: k } } ]`, undefined, /must be relative/],
    [
      `[ { fileName: a, remoteRef: &x { key: k } }, { fileName: b, remoteRef: *x } ]`,
      undefined,
      /not valid YAML/,
    ],
  ];
  for (const [objects, ref, re] of cases)
    assert.throws(() => p(objects, ref ?? "{name: vault}"), re, objects);
});

test("files: the bytes an ExternalSecret's remoteRef and dataFrom.extract produce", () => {
  const params = p(`
- fileName: pw
  mode: "0400"
  remoteRef: { key: app/db, property: password }
- fileName: cert
  remoteRef: { key: app/db, property: b64, decodingStrategy: Base64 }
- fileName: nested
  remoteRef: { key: app/db, property: nested.inner }
- fileName: dir
  extract: { key: app/db }
`);
  const secret: RemoteSecret = {
    kind: "map",
    value: {
      password: "s3cr3t",
      b64: Buffer.from("bin\u0001").toString("base64"),
      nested: { inner: 42 },
      "a/b": "x",
    },
  };
  const out = params.objects.map((o) => {
    const es = objectExternalSecret(o, { name: "vault", kind: "SecretStore" }, "team-a");
    const reads = remoteRefsOf(es).reads;
    assert.equal(reads.length, 1);
    return objectFiles(o, es, [secret]);
  });
  assert.deepEqual(
    out[0]!.map((f) => [f.path, f.mode, text(f)]),
    [["pw", 0o400, "s3cr3t"]],
  );
  assert.equal(text(out[1]![0]!), "bin\u0001");
  assert.equal(text(out[2]![0]!), "42");
  assert.deepEqual(
    out[3]!.map((f) => [f.path, text(f)]),
    [
      ["dir/a_b", "x"],
      ["dir/b64", Buffer.from("bin\u0001").toString("base64")],
      ["dir/nested", '{"inner":42}'],
      ["dir/password", "s3cr3t"],
    ],
  );
});

test("files: a missing property fails naming it, never the value", () => {
  const params = p(`[ { fileName: pw, remoteRef: { key: app/db, property: nope } } ]`);
  const o = params.objects[0]!;
  const es = objectExternalSecret(o, { name: "vault" }, "team-a");
  assert.throws(
    () => objectFiles(o, es, [{ kind: "map", value: { password: "s3cr3t-value" } }]),
    (e: Error) => /has no property "nope"/.test(e.message) && !e.message.includes("s3cr3t"),
  );
});

test("templates: ESO's engine over data[] and dataFrom[].extract values; errors never show values", () => {
  const params = p(`
- fileName: app.env
  mode: "0400"
  template: |
    USER={{ .user }}
    PASS={{ .password | upper }}
    URL={{ .url }}
  data:
    - { secretKey: user, remoteRef: { key: app/db, property: user } }
    - { secretKey: password, remoteRef: { key: app/db, property: password } }
  dataFrom:
    - extract: { key: app/config }
`);
  const o = params.objects[0]!;
  const es = objectExternalSecret(o, { name: "vault" }, "team-a");
  const reads = remoteRefsOf(es).reads.map((r) => r.ref.key);
  assert.deepEqual(reads.sort(), ["app/config", "app/db"], "one read per remote secret");
  const byKey: Record<string, RemoteSecret> = {
    "app/db": { kind: "map", value: { user: "alice", password: "s3cr3t" } },
    "app/config": { kind: "map", value: { url: "https://x" } },
  };
  const files = objectFiles(
    o,
    es,
    remoteRefsOf(es).reads.map((r) => byKey[r.ref.key]!),
  );
  assert.deepEqual(
    files.map((f) => [f.path, f.mode, text(f)]),
    [["app.env", 0o400, "USER=alice\nPASS=S3CR3T\nURL=https://x\n"]],
  );
  const bad = p(
    `[ { fileName: f, template: "{{ .password | nosuchfn }}", data: [ { secretKey: password, remoteRef: { key: app/db, property: password } } ] } ]`,
  ).objects[0]!;
  const badEs = objectExternalSecret(bad, { name: "vault" }, "team-a");
  assert.throws(
    () => objectFiles(bad, badEs, [byKey["app/db"]!]),
    (e: Error) => /^file "f": template /.test(e.message) && !e.message.includes("s3cr3t"),
  );
});
