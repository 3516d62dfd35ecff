import { test } from "node:test";
import assert from "node:assert/strict";
import { evalJsonPath } from "../../../src/providers/webhook/jsonpath.ts";
import {
  goFormatFloat0,
  goQueryEscape,
  resultBytes,
  secretNamespace,
} from "../../../src/providers/webhook/session.ts";
import { reservedAddress } from "../../../src/providers/webhook/net.ts";
import { webhookProvider } from "../../../src/providers/webhook/index.ts";
import { isCustosError } from "../../../src/util/errors.ts";
import type { WebhookProviderSpec } from "../../../src/providers/webhook/schema.ts";
import type { StoreContext } from "../../../src/providers/types.ts";

const doc = {
  args: { parameter: "p1", n: 3 },
  items: [
    { name: "a", value: "va", n: 1, tags: { env: "prod" } },
    { name: "b", value: "vb", n: 2, tags: { env: "dev" } },
    { name: "c", value: "vc", n: 3 },
  ],
  "odd key": { "x.y": true },
  nested: { deep: { name: "d" } },
};

test("JSONPath: plain paths give one value, a missing key is an error", () => {
  assert.equal(evalJsonPath("$.args.parameter", doc), "p1");
  assert.equal(evalJsonPath("$.items[1].value", doc), "vb");
  assert.equal(evalJsonPath("$.items[-1].name", doc), "c");
  assert.equal(evalJsonPath("$['odd key']['x.y']", doc), true);
  assert.equal(evalJsonPath('$["args"]["n"]', doc), 3);
  assert.deepEqual(evalJsonPath("$", { a: 1 }), { a: 1 });
  assert.throws(
    () => evalJsonPath("$.args.none", doc),
    (e: unknown) => isCustosError(e, "CUSTOS_PROPERTY_NOT_FOUND") && /unknown key none/.test(e.message),
  );
  assert.throws(() => evalJsonPath("$.items[7]", doc), /index out of bounds/);
});

test("JSONPath: wildcards, unions, slices, recursion and filters give lists", () => {
  assert.deepEqual(evalJsonPath("$.items[*].name", doc), ["a", "b", "c"]);
  assert.deepEqual(evalJsonPath("$.items[0,2].name", doc), ["a", "c"]);
  assert.deepEqual(evalJsonPath("$.items[0:2].name", doc), ["a", "b"]);
  assert.deepEqual(evalJsonPath("$.items[::-1].name", doc), ["c", "b", "a"]);
  assert.deepEqual(evalJsonPath("$.args.*", doc), [3, "p1"]);
  assert.deepEqual(evalJsonPath("$..name", doc), ["a", "b", "c", "d"]);
  assert.deepEqual(evalJsonPath('$.items[?(@.name == "b")].value', doc), ["vb"]);
  assert.deepEqual(evalJsonPath("$.items[?(@.n >= 2 && @.name != 'c')].value", doc), ["vb"]);
  assert.deepEqual(evalJsonPath("$.items[?(@.tags)].name", doc), ["a", "b"]);
  assert.deepEqual(evalJsonPath("$.items[?(!@.tags || @.tags.env == 'prod')].name", doc), ["a", "c"]);
  assert.deepEqual(evalJsonPath("$.items[?(@.n == $.args.n)].name", doc), ["c"]);
  assert.deepEqual(evalJsonPath("$.items[?(@.name == 'zzz')]", doc), []);
});

test("JSONPath: malformed paths are spec errors; work is bounded", () => {
  for (const bad of ["args", "$.", "$[", "$.a[?(@.x ==)]", "$[1:2:0]", "$.a b"])
    assert.throws(
      () => evalJsonPath(bad, doc),
      (e: unknown) => isCustosError(e, "CUSTOS_INVALID_SPEC"),
      bad,
    );
  const wide = { a: Array.from({ length: 200_000 }, (_, i) => i) };
  assert.throws(() => evalJsonPath("$.a[*]", wide), /visits more than/);
  // a filter never evaluates code
  assert.deepEqual(evalJsonPath("$.items[?(@.name == 'constructor')]", doc), []);
});

test("ESO's extractSecretData: numbers rounded as FormatFloat 'f' 0, lists give their first element, maps as JSON", () => {
  const s = (v: unknown): string => Buffer.from(resultBytes(v)).toString();
  assert.equal(s("x"), "x");
  assert.equal(s(true), "true");
  assert.equal(s(null), "");
  assert.equal(s(42), "42");
  assert.equal(s(1.5), "2");
  assert.equal(s(2.5), "2");
  assert.equal(s(-0.4), "-0");
  assert.equal(s(1e21), "1000000000000000000000");
  assert.equal(s(["first", "second"]), "first");
  assert.equal(s({ b: 1, a: "<" }), '{"a":"\\u003c","b":1}');
  assert.throws(() => resultBytes([]), /didn't get any result/);
  assert.equal(goFormatFloat0(3.5), "4");
});

test("Go's url.QueryEscape", () => {
  assert.equal(goQueryEscape("a b/c?d=e&f*'()!~._-"), "a+b%2Fc%3Fd%3De%26f%2A%27%28%29%21~._-");
  assert.equal(goQueryEscape("é"), "%C3%A9");
});

test("reserved addresses: loopback, link-local (instance metadata), unspecified, in every spelling", () => {
  for (const a of [
    "127.0.0.1",
    "127.8.9.10",
    "169.254.169.254",
    "0.0.0.0",
    "::1",
    "[::1]",
    "::",
    "fe80::1",
    "::ffff:169.254.169.254",
    "::ffff:127.0.0.1",
    "fd00:ec2::254",
  ])
    assert.ok(reservedAddress(a), a);
  for (const a of ["10.0.0.1", "192.0.2.2", "8.8.8.8", "fd00::2", "2001:db8::1", "example.com"])
    assert.equal(reservedAddress(a), undefined, a);
});

test("validate: templates parse, .remoteRef.property refused with the reason, ntlm unsupported, jsonPath checked", () => {
  const v = (s: Partial<WebhookProviderSpec>): string[] =>
    webhookProvider.validate({ url: "http://h/x", ...s } as WebhookProviderSpec);
  assert.deepEqual(
    v({
      url: "http://h/{{ .remoteRef.key }}",
      result: { jsonPath: "$.value" },
      headers: { "X-Token": "{{ .creds.token }}" },
    }),
    [],
  );
  assert.match(v({ url: "file:///etc/passwd" }).join(), /http or https/);
  assert.match(v({ url: "http://user:pw@h/" }).join(), /credentials/);
  assert.match(v({ url: "http://h/{{ .remoteRef.property }}" }).join(), /remoteRef\.property/);
  assert.match(v({ body: "{{ if }}" }).join(), /body/);
  assert.match(v({ result: { jsonPath: "value" } }).join(), /jsonPath/);
  assert.match(v({ headers: { "Bad Header": "x" } }).join(), /header name/);
  assert.match(v({ timeout: "soon" }).join(), /timeout/);
  assert.match(
    v({
      auth: { ntlm: { usernameSecret: { name: "a", key: "u" }, passwordSecret: { name: "a", key: "p" } } },
    }).join(),
    /ntlm is not supported/,
  );
  assert.match(v({ secrets: [{ name: "remoteRef", secretRef: { name: "x" } }] }).join(), /reserved/);
});

test("secrets[] namespaces as ESO: the store's own on a SecretStore, explicit on a ClusterSecretStore", () => {
  const ctx = (storeKind: StoreContext["storeKind"]) => ({ storeKind, namespace: "tenant" });
  assert.equal(secretNamespace({ name: "s", namespace: "kube-system" }, ctx("SecretStore")), "tenant");
  assert.equal(secretNamespace({ name: "s", namespace: "creds" }, ctx("ClusterSecretStore")), "creds");
  assert.throws(
    () => secretNamespace({ name: "s" }, ctx("ClusterSecretStore")),
    /no namespace on ClusterScoped webhook secret s/,
  );
});

test("identity: per namespace (a template input) and per operator-identity grant", () => {
  const spec = { url: "http://h/{{ .remoteRef.namespace }}" } as WebhookProviderSpec;
  const kube = {} as StoreContext["kube"];
  const c = (namespace: string, operator: boolean): StoreContext => ({
    storeKind: "ClusterSecretStore",
    storeName: "s",
    storeUid: "u",
    namespace,
    kube,
    ...(operator
      ? {
          operator: {
            kubernetesToken: () => Promise.resolve(undefined),
            awsCredentials: () => () => Promise.reject(new Error("no")),
          },
        }
      : {}),
  });
  assert.notEqual(webhookProvider.identity(spec, c("a", true)), webhookProvider.identity(spec, c("b", true)));
  assert.notEqual(
    webhookProvider.identity(spec, c("a", true)),
    webhookProvider.identity(spec, c("a", false)),
  );
});
