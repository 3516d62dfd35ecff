// The bytes ESO v2.9 writes for Vault values that are not plain strings: Go's json.Marshal for
// whole secrets and nested objects, GetByteValue for top-level values, gjson's String() for paths.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  buildSecretData,
  findId,
  refId,
  remoteRefsOf,
} from "../../../src/controllers/externalsecret/data.ts";
import type { ExternalSecret } from "../../../src/controllers/externalsecret/types.ts";
import type { RemoteSecret } from "../../../src/providers/types.ts";

const noRender = (): string => {
  throw new Error("no templates here");
};

function es(spec: ExternalSecret["spec"]): ExternalSecret {
  return {
    metadata: { name: "app", namespace: "ns", uid: "uid-1", generation: 1 },
    spec: { secretStoreRef: { name: "vault" }, ...spec },
  };
}

function build(
  e: ExternalSecret,
  value: RemoteSecret,
  found?: Map<string, RemoteSecret>,
): Record<string, string> {
  const reads = new Map<string, RemoteSecret | Error>();
  for (const r of remoteRefsOf(e).reads) reads.set(refId(r.storeRef!, r.ref), value);
  const finds = new Map<string, Map<string, RemoteSecret> | Error>();
  for (const f of remoteRefsOf(e).finds) finds.set(findId(f.storeRef!, f.query), found ?? new Map());
  const out = buildSecretData(e, { reads, finds }, noRender);
  return Object.fromEntries(Object.entries(out.data).map(([k, v]) => [k, new TextDecoder().decode(v)]));
}

// as Vault's JSON answer decodes: insertion order is Vault's, not sorted
const vault = (): RemoteSecret => ({
  kind: "map",
  value: JSON.parse(
    '{"url":"https://x/?a=1&b=<2>","n":{"z":1e21,"a":"<&>","m":[1.5,1e-7,null]},"f":1e-7,"big":1e21,"nil":null,"t":true,"ls":"\\u2028"}',
  ) as Record<string, unknown>,
});

test("no property: the whole secret as json.Marshal (sorted keys, HTML and U+2028 escapes, Go floats)", () => {
  const out = build(es({ data: [{ secretKey: "whole", remoteRef: { key: "k" } }] }), vault());
  assert.equal(
    out.whole,
    '{"big":1e+21,"f":1e-7,"ls":"\\u2028","n":{"a":"\\u003c\\u0026\\u003e","m":[1.5,1e-7,null],"z":1e+21},"nil":null,"t":true,"url":"https://x/?a=1\\u0026b=\\u003c2\\u003e"}',
  );
});

test("exact property: objects as json.Marshal, null as no bytes, strings raw", () => {
  const e = es({
    data: [
      { secretKey: "obj", remoteRef: { key: "k", property: "n" } },
      { secretKey: "nil", remoteRef: { key: "k", property: "nil" } },
      { secretKey: "url", remoteRef: { key: "k", property: "url" } },
      { secretKey: "t", remoteRef: { key: "k", property: "t" } },
    ],
  });
  const out = build(e, vault());
  assert.equal(out.obj, '{"a":"\\u003c\\u0026\\u003e","m":[1.5,1e-7,null],"z":1e+21}');
  assert.equal(out.nil, "");
  assert.equal(out.url, "https://x/?a=1&b=<2>");
  assert.equal(out.t, "true");
});

test("gjson path: objects and arrays as the raw marshalled text, numbers as strconv 'f', null empty", () => {
  const e = es({
    data: [
      { secretKey: "arr", remoteRef: { key: "k", property: "n.m" } },
      { secretKey: "big", remoteRef: { key: "k", property: "n.z" } },
      { secretKey: "small", remoteRef: { key: "k", property: "n.m.1" } },
      { secretKey: "nil", remoteRef: { key: "k", property: "n.m.2" } },
      { secretKey: "s", remoteRef: { key: "k", property: "n.a" } },
    ],
  });
  const out = build(e, vault());
  assert.equal(out.arr, "[1.5,1e-7,null]");
  assert.equal(out.big, "1000000000000000000000");
  assert.equal(out.small, "0.0000001");
  assert.equal(out.nil, "");
  assert.equal(out.s, "<&>");
});

test("dataFrom.extract: values re-decoded as float64 (strconv 'f'), objects json.Marshal, null empty", () => {
  const out = build(es({ dataFrom: [{ extract: { key: "k" } }] }), vault());
  assert.equal(out.big, "1000000000000000000000");
  assert.equal(out.f, "0.0000001");
  assert.equal(out.n, '{"a":"\\u003c\\u0026\\u003e","m":[1.5,1e-7,null],"z":1e+21}');
  assert.equal(out.nil, "");
  assert.equal(out.url, "https://x/?a=1&b=<2>");
});

test("dataFrom.extract with a property holding an object: its values the same way", () => {
  const out = build(es({ dataFrom: [{ extract: { key: "k", property: "n" } }] }), vault());
  assert.equal(out.z, "1000000000000000000000");
  assert.equal(out.m, "[1.5,1e-7,null]");
  assert.equal(out.a, "<&>");
});

test("dataFrom.find: each secret as json.Marshal", () => {
  const out = build(
    es({ dataFrom: [{ find: { name: { regexp: "." } } }] }),
    vault(),
    new Map([["a/b", { kind: "map", value: { z: "<", a: 1 } }]]),
  );
  assert.equal(out.a_b, '{"a":1,"z":"\\u003c"}');
});

test("bytes from a provider that returns text (AWS) stay as they were", () => {
  const raw = '{"z":"<&>","a":1}';
  const out = build(es({ data: [{ secretKey: "w", remoteRef: { key: "k" } }] }), {
    kind: "bytes",
    value: new TextEncoder().encode(raw),
  });
  assert.equal(out.w, raw);
});
