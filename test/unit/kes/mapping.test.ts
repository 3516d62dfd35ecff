import { test } from "node:test";
import assert from "node:assert/strict";
import {
  backendOf,
  desiredSecret,
  fetchPlan,
  isOurs,
  lodashGet,
  namespaceRefusal,
  normalize,
  secretData,
  specProblems,
  statusDue,
  statusText,
  LAST_SYNC_REFRESH_MS,
  type Fetched,
} from "../../../src/controllers/kes/mapping.ts";
import { kesOptions, parseServiceAccount } from "../../../src/controllers/kes/config.ts";
import type { KesExternalSecret, KesSpec } from "../../../src/controllers/kes/api.ts";
import { isCustosError } from "../../../src/util/errors.ts";
import type { RemoteSecret } from "../../../src/providers/types.ts";

const opts = kesOptions({ vaultAddr: "http://vault:8200" }, {});
const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString("utf8");
const bytes = (s: string): Fetched => ({ kind: "bytes", value: Buffer.from(s) });
const map = (v: Record<string, unknown>): Fetched => ({ kind: "map", value: v });

const seed: KesExternalSecret = {
  metadata: { name: "cool-secret", namespace: "apps", uid: "u1", generation: 1 },
  spec: {
    backendType: "vault",
    vaultMountPoint: "kubernetes",
    vaultRole: "kubernetes-external-secrets",
    data: [{ name: "test", key: "kubernetes/data/cool/secrets", property: "test" }],
    template: { metadata: { annotations: { ts: "2021-09-25T16:13:32.00Z", "commit-hash": "d4f0" } } },
  },
};

test("seed 002: vault backend becomes Kubernetes auth at the object's mount and role, keys kept as API paths", () => {
  const spec = normalize(seed);
  assert.deepEqual(specProblems(spec), []);
  const sa = kesOptions({ serviceAccount: "external-secrets/kes", vaultAddr: "http://v:8200" }, {});
  assert.deepEqual(backendOf(spec, sa), {
    provider: "vault",
    spec: {
      server: "http://v:8200",
      version: "v2",
      auth: {
        kubernetes: {
          mountPath: "kubernetes",
          role: "kubernetes-external-secrets",
          serviceAccountRef: { name: "kes", namespace: "external-secrets", audiences: ["vault"] },
        },
      },
    },
  });
  const plan = fetchPlan(spec);
  assert.deepEqual(plan, [
    {
      kind: "data",
      name: "test",
      ref: { key: "kubernetes/data/cool/secrets" },
      property: "test",
      isBinary: false,
    },
  ]);
  const { data } = secretData(plan, [map({ test: "hello", other: "x" })]);
  const s = desiredSecret(seed, spec, data);
  assert.equal(text(s.data.test), "hello");
  assert.deepEqual(Object.keys(s.data), ["test"]);
  assert.equal(s.name, "cool-secret");
  assert.equal(s.type, "Opaque");
  assert.deepEqual({ ...s.annotations }, { ts: "2021-09-25T16:13:32.00Z", "commit-hash": "d4f0" });
  assert.deepEqual(s.owner, {
    apiVersion: "kubernetes-client.io/v1",
    kind: "ExternalSecret",
    name: "cool-secret",
    uid: "u1",
    controller: true,
  });
});

test("defaults: DEFAULT_VAULT_MOUNT_POINT / DEFAULT_VAULT_ROLE, else mount kubernetes; kvVersion 1; no role is an error", () => {
  const o = kesOptions(
    {},
    { DEFAULT_VAULT_MOUNT_POINT: "k8s-a", DEFAULT_VAULT_ROLE: "r", VAULT_ADDR: "http://x" },
  );
  const b = backendOf({ backendType: "vault", kvVersion: 1, data: [] }, o);
  assert.equal(b.provider, "vault");
  if (b.provider !== "vault") return;
  assert.equal(b.spec.server, "http://x");
  assert.equal(b.spec.version, "v1");
  assert.deepEqual(b.spec.auth?.kubernetes, { mountPath: "k8s-a", role: "r" });
  const none = backendOf({ backendType: "vault", vaultRole: "q" }, opts);
  assert.equal(none.provider === "vault" && none.spec.auth?.kubernetes?.mountPath, "kubernetes");
  assert.throws(() => backendOf({ backendType: "vault" }, opts), /vaultRole is required/);
});

test("aws backends: service, region from the object or AWS_REGION (default us-west-2), roleArn", () => {
  assert.deepEqual(backendOf({ backendType: "secretsManager", roleArn: "arn:r" }, opts), {
    provider: "aws",
    spec: { service: "SecretsManager", region: "us-west-2", role: "arn:r" },
  });
  assert.deepEqual(backendOf({ backendType: "systemManager", region: "eu-west-1" }, opts), {
    provider: "aws",
    spec: { service: "ParameterStore", region: "eu-west-1" },
  });
  assert.deepEqual(backendOf({ backendType: "secretManager" }, kesOptions({}, { AWS_REGION: "ap-1" })), {
    provider: "aws",
    spec: { service: "SecretsManager", region: "ap-1" },
  });
});

test("unsupported backends are refused with KES's words and what to do", () => {
  const p = specProblems({
    backendType: "azureKeyVault",
    keyVaultName: "v",
    data: [{ key: "a", name: "b" }],
  });
  assert.equal(p.length, 1);
  assert.match(p[0]!, /^backend azureKeyVault is not supported/);
  assert.equal(statusText(p[0]), `ERROR, ${p[0]}`);
  assert.match(specProblems({ backendType: "vault", vaultRole: "r" })[0]!, /one of data, dataFrom/);
  assert.match(
    specProblems({ backendType: "vault", data: [{ path: "/a" }] })[0]!,
    /only supported by the systemManager/,
  );
});

test("legacy forms: secretDescriptor and properties", () => {
  const spec = normalize({
    metadata: { name: "x" },
    secretDescriptor: { backendType: "vault", vaultRole: "r", properties: [{ key: "a/b", name: "n" }] },
  });
  assert.deepEqual(spec.data, [{ key: "a/b", name: "n" }]);
  assert.throws(() => normalize({ metadata: {} }), /spec is required/);
});

test("merge order: dataFrom, then dataFromWithOptions, then data (later wins); whole JSON without property", () => {
  const spec: KesSpec = {
    backendType: "secretsManager",
    dataFrom: ["a"],
    dataFromWithOptions: [{ key: "b", versionStage: "AWSPREVIOUS" }],
    data: [
      { key: "c", name: "k" },
      { key: "c", name: "whole" },
    ],
  };
  const plan = fetchPlan(spec);
  assert.deepEqual(
    plan.map((f) => (f.kind === "path" ? f.path : f.ref)),
    [{ key: "a" }, { key: "b", version: "AWSPREVIOUS" }, { key: "c" }, { key: "c" }],
  );
  const { data } = secretData(plan, [
    bytes('{"k":"from-a","x":1,"o":{"p":true}}'),
    bytes('{"k":"from-b","y":null}'),
    bytes('{"z":2}'),
    bytes('{"z":2}'),
  ]);
  assert.equal(text(data.k), '{"z":2}');
  assert.equal(text(data.x), "1");
  assert.equal(text(data.o), '{"p":true}');
  assert.equal(text(data.y), "null");
  assert.equal(text(data.whole), '{"z":2}');
});

test("vault values: whole JSON of the KV data without property; property by lodash get; missing property fails", () => {
  const plan = fetchPlan({
    backendType: "vault",
    data: [
      { key: "s/data/a", name: "all" },
      { key: "s/data/a", name: "dotted", property: "a.b" },
      { key: "s/data/a", name: "nested", property: "n.c" },
      { key: "s/data/a", name: "num", property: "i" },
    ],
  });
  const v = map({ "a.b": "literal", n: { c: "deep" }, i: 3 });
  const { data } = secretData(plan, [v, v, v, v]);
  assert.equal(text(data.all), '{"a.b":"literal","n":{"c":"deep"},"i":3}');
  assert.equal(text(data.dotted), "literal");
  assert.equal(text(data.nested), "deep");
  assert.equal(text(data.num), "3");
  const missing = fetchPlan({
    backendType: "vault",
    data: [{ key: "s/data/a", name: "m", property: "nope" }],
  });
  assert.throws(
    () => secretData(missing, [v]),
    (e) => isCustosError(e, "CUSTOS_PROPERTY_NOT_FOUND") && /nope in s\/data\/a/.test(e.message),
  );
  assert.equal(lodashGet({ a: [{ b: 1 }] }, "a[0].b"), 1);
  assert.equal(lodashGet({ a: 1 }, "constructor"), undefined);
});

test("isBinary decodes base64 once; non-JSON with a property or in dataFrom is skipped (as KES), errors fail", () => {
  const plan = fetchPlan({
    backendType: "secretsManager",
    dataFrom: ["plain"],
    data: [
      { key: "bin", name: "bin", isBinary: true },
      { key: "plain", name: "p", property: "x" },
    ],
  });
  const { data, skipped } = secretData(plan, [
    bytes("not json"),
    bytes(Buffer.from([0, 1, 2, 255]).toString("base64")),
    bytes("not json"),
  ]);
  assert.deepEqual([...Buffer.from(data.bin!)], [0, 1, 2, 255]);
  assert.deepEqual(skipped, ["plain", "plain"]);
  assert.deepEqual(Object.keys(data), ["bin"]);
  assert.throws(() => secretData(plan, [new Error("boom"), bytes(""), bytes("")]), /boom/);
});

test("SSM path: basenames, recursive only when asked; versions: key:N as a versioned read, versionId as uuid/", () => {
  const plan = fetchPlan({
    backendType: "systemManager",
    data: [{ path: "/app" }, { path: "/app/", recursive: true }, { key: "/p:3", name: "v" }],
  });
  assert.deepEqual(plan[2], {
    kind: "data",
    name: "v",
    ref: { key: "/p", version: "3" },
    property: undefined,
    isBinary: false,
  });
  const listing = new Map<string, RemoteSecret>([
    ["/app/a", { kind: "bytes", value: Buffer.from("1") }],
    ["/app/sub/b", { kind: "bytes", value: Buffer.from("2") }],
  ]);
  const { data } = secretData(plan.slice(0, 1), [listing]);
  assert.deepEqual(Object.keys(data), ["a"]);
  const rec = secretData(plan.slice(1, 2), [listing]);
  assert.deepEqual(Object.keys(rec.data).sort(), ["a", "b"]);
  const sm = fetchPlan({ backendType: "secretsManager", data: [{ key: "k", name: "n", versionId: "abc" }] });
  assert.deepEqual(sm[0]!.kind === "data" && sm[0]!.ref, { key: "k", version: "uuid/abc" });
  const cur = fetchPlan({
    backendType: "secretsManager",
    data: [{ key: "k", name: "n", versionStage: "AWSCURRENT" }],
  });
  assert.deepEqual(cur[0]!.kind === "data" && cur[0]!.ref, { key: "k" });
});

test("template: stringData > value > template.data, type from template.type then spec.type, labels", () => {
  const es: KesExternalSecret = {
    metadata: { name: "t", namespace: "n", uid: "u" },
    spec: {
      backendType: "vault",
      type: "kubernetes.io/basic-auth",
      template: {
        metadata: { labels: { team: "a", n: 1 } },
        data: { a: Buffer.from("tpl-a").toString("base64"), b: Buffer.from("tpl-b").toString("base64") },
        stringData: { c: "sd-c" },
      },
    },
  };
  const spec = normalize(es);
  const s = desiredSecret(es, spec, { b: Buffer.from("val-b"), c: Buffer.from("val-c") });
  assert.equal(text(s.data.a), "tpl-a");
  assert.equal(text(s.data.b), "val-b");
  assert.equal(text(s.data.c), "sd-c");
  assert.equal(s.type, "kubernetes.io/basic-auth");
  assert.deepEqual({ ...s.labels }, { team: "a", n: "1" });
  const typed = desiredSecret(
    { ...es, spec: { ...spec, template: { type: "kubernetes.io/tls" } } },
    { ...spec, template: { type: "kubernetes.io/tls" } },
    {},
  );
  assert.equal(typed.type, "kubernetes.io/tls");
});

test("namespace annotations: naming and role patterns (unanchored), empty allows all, enforce needs them", () => {
  const spec: KesSpec = {
    backendType: "vault",
    vaultRole: "team-a",
    data: [{ key: "secret/data/a/x", name: "x" }],
    dataFrom: ["secret/data/a/y"],
  };
  const o = { ...opts };
  assert.equal(namespaceRefusal(spec, undefined, o), undefined);
  assert.equal(
    namespaceRefusal(
      spec,
      { [o.rolePermittedAnnotation]: "team-a", [o.namingPermittedAnnotation]: "secret/data/a/" },
      o,
    ),
    undefined,
  );
  assert.equal(
    namespaceRefusal(spec, { [o.rolePermittedAnnotation]: "^team-b$" }, o),
    "namespace does not allow to assume role team-a",
  );
  assert.equal(
    namespaceRefusal(spec, { [o.namingPermittedAnnotation]: "^secret/data/a/x$" }, o),
    "key name secret/data/a/y does not match naming convention ^secret/data/a/x$",
  );
  const enforce = { ...o, enforceNamespaceAnnotations: true };
  assert.match(namespaceRefusal(spec, {}, enforce)!, /does not allow any key names/);
  assert.match(
    namespaceRefusal(spec, { [o.namingPermittedAnnotation]: "" }, enforce)!,
    /does not allow any roles/,
  );
  assert.equal(
    namespaceRefusal(spec, { [o.namingPermittedAnnotation]: "", [o.rolePermittedAnnotation]: "" }, enforce),
    undefined,
  );
});

test("controllerId vs INSTANCE_ID; configuration from KES's environment, flags win", () => {
  assert.equal(isOurs({}, { instanceId: "" }), true);
  assert.equal(isOurs({ controllerId: "b" }, { instanceId: "" }), false);
  assert.equal(isOurs({ controllerId: "b" }, { instanceId: "b" }), true);
  const o = kesOptions(
    { pollerIntervalMs: "2000" },
    {
      POLLER_INTERVAL_MILLISECONDS: "5000",
      DISABLE_POLLING: "",
      WATCHED_NAMESPACES: " a, b ,",
      INSTANCE_ID: "i",
    },
  );
  assert.equal(o.pollIntervalMs, 2000);
  assert.equal(o.disablePolling, true);
  assert.deepEqual(o.watchedNamespaces, ["a", "b"]);
  assert.equal(o.instanceId, "i");
  assert.equal(o.vaultAddr, "http://127.0.0.1:8200");
  assert.deepEqual(parseServiceAccount("external-secrets/kes-sa"), {
    namespace: "external-secrets",
    name: "kes-sa",
  });
  assert.throws(() => parseServiceAccount("nope"), /NAMESPACE\/NAME/);
  assert.throws(() => kesOptions({ pollerIntervalMs: "0" }, {}), /positive/);
});

test("status text: SUCCESS, or ERROR with the message on one line", () => {
  assert.equal(statusText(undefined), "SUCCESS");
  assert.equal(statusText("a\nb\r\nc"), "ERROR, a b c");
});

test("status is written when its text or generation changes, else lastSync at most every 5 minutes", () => {
  const t = Date.parse("2026-12-02T00:00:00Z");
  const cur = { status: "SUCCESS", observedGeneration: 1, lastSync: new Date(t).toISOString() };
  assert.equal(statusDue(undefined, { status: "SUCCESS", observedGeneration: 1 }, t), true);
  assert.equal(statusDue(cur, { status: "SUCCESS", observedGeneration: 1 }, t + 10_000), false);
  assert.equal(statusDue(cur, { status: "SUCCESS", observedGeneration: 2 }, t + 10_000), true);
  assert.equal(statusDue(cur, { status: "ERROR, x", observedGeneration: 1 }, t + 10_000), true);
  assert.equal(statusDue(cur, { status: "SUCCESS", observedGeneration: 1 }, t + LAST_SYNC_REFRESH_MS), true);
});
