/**
 * The template sandbox: no template reaches a prototype. Every function that takes a key refuses
 * the keys that name JavaScript internals, lookups see own entries only, and nothing a template
 * does adds or changes a property of Object.prototype (checked after every case).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { renderEsoTemplate, renderTemplate } from "../../../src/template/index.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

function assertPrototypeUntouched(): void {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTO_KEYS);
  const probe: Record<string, unknown> = {};
  for (const k of ["polluted", "x", "namespaceSelector", "allowed"]) assert.equal(probe[k], undefined);
  assert.equal(Object.getOwnPropertySymbols(Object.prototype).length, 0);
}

const refused = (e: unknown): boolean =>
  isCustosError(e, "CUSTOS_TEMPLATE") &&
  /"__proto__", "constructor" and "prototype" are not allowed/.test(e.message);

// every function that takes a key, with each forbidden key
const KEYED = [
  (k: string) => `{{ dict "${k}" "x" }}`,
  (k: string) => `{{ dict "a" 1 "${k}" (dict "polluted" "yes") }}`,
  (k: string) => `{{ get (dict) "${k}" }}`,
  (k: string) => `{{ $p := get (dict) "${k}" }}{{ set $p "polluted" "yes" }}`,
  (k: string) => `{{ set (dict) "${k}" (dict "polluted" "yes") }}`,
  (k: string) => `{{ unset (dict) "${k}" }}`,
  (k: string) => `{{ hasKey (dict) "${k}" }}`,
  (k: string) => `{{ index (dict) "${k}" }}`,
  (k: string) => `{{ index . "${k}" }}`,
  (k: string) => `{{ index (dict "a" (dict)) "a" "${k}" }}`,
  (k: string) => `{{ pluck "${k}" (dict) (dict "a" 1) }}`,
  (k: string) => `{{ dig "${k}" "polluted" "d" (dict) }}`,
  (k: string) => `{{ dig "a" "${k}" "d" (dict "a" (dict)) }}`,
  (k: string) => `{{ merge (dict) (fromJson "{\\"${k}\\": {\\"polluted\\": \\"yes\\"}}") }}`,
  (k: string) => `{{ mergeOverwrite (dict) (fromJson "{\\"${k}\\": {\\"polluted\\": \\"yes\\"}}") }}`,
  (k: string) => `{{ mergeOverwrite (dict) (fromYaml "${k}:\\n  polluted: yes") }}`,
];

for (const key of ["__proto__", "constructor", "prototype"]) {
  test(`every keyed function refuses "${key}" with a clear template error`, () => {
    for (const [i, make] of KEYED.entries()) {
      const src = make(key);
      assert.throws(() => renderTemplate(`k${i}`, src, { a: "1" }), refused, src);
      assertPrototypeUntouched();
    }
  });
}

test("the reproduction from the review: get (dict) __proto__ then set", () => {
  assert.throws(
    () =>
      renderEsoTemplate("t", '{{ $p := get (dict) "__proto__" }}{{ $_ := set $p "polluted" "yes" }}x', {}),
    refused,
  );
  assertPrototypeUntouched();
  // and a key computed from data is refused the same way
  assert.throws(
    () => renderEsoTemplate("t", "{{ $_ := set (dict) .k (dict) }}", { k: "__proto__" }),
    refused,
  );
  assertPrototypeUntouched();
});

test("lookups see own entries only: inherited names are missing keys, not functions or objects", () => {
  const data = { user: "u" };
  for (const f of ["constructor", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"]) {
    assert.equal(renderTemplate("t", `{{ .${f} }}`, data), "<no value>", f);
    assert.equal(renderTemplate("t", `{{ (dict).${f} }}`, data), "<no value>", f);
    if (f !== "constructor") assert.equal(renderTemplate("t", `{{ get (dict "a" 1) "${f}" }}`, data), "", f);
    assert.throws(() => renderEsoTemplate("t", `{{ .${f} }}`, data), /map has no entry for key/);
  }
  assert.equal(renderTemplate("t", '{{ hasKey (dict) "toString" }}', {}), "false");
  assert.equal(renderTemplate("t", '{{ get (dict) "toString" }}', {}), "");
  assert.equal(renderTemplate("t", '{{ dig "toString" "d" (dict) }}', {}), "d");
  assert.equal(renderTemplate("t", '{{ pluck "toString" (dict) | len }}', {}), "0");
  // no method or internal property of non-maps is reachable by field access
  for (const src of [
    "{{ (list 1).length }}",
    '{{ ("abc").length }}',
    "{{ (now).getTime }}",
    "{{ (float64 1).value }}",
    '{{ (b64dec "AP8=").buffer }}',
  ])
    assert.throws(() => renderTemplate("t", src, {}), /can't evaluate field/, src);
  assertPrototypeUntouched();
});

test("data keys named like internals stay plain data (own entries of a null-prototype map)", () => {
  const data = JSON.parse(
    '{"__proto__": {"polluted": "yes"}, "constructor": "c", "n": {"__proto__": "p"}}',
  ) as unknown;
  assert.equal(renderTemplate("t", "{{ .constructor }}", data), "c");
  assert.equal(renderTemplate("t", "{{ .n.__proto__ }}", data), "p");
  assert.equal(renderTemplate("t", "{{ .__proto__.polluted }}", data), "yes");
  assert.equal(
    renderTemplate("t", "{{ range $k, $v := . }}{{ $k }};{{ end }}", data),
    "__proto__;constructor;n;",
  );
  assert.equal(
    renderTemplate("t", '{{ (fromJson "{\\"__proto__\\": {\\"a\\": 1}}").__proto__.a }}', {}),
    "1",
  );
  assertPrototypeUntouched();
});

test("maps a template builds have no prototype; toJson/toYaml keep keys as data", () => {
  assert.equal(renderTemplate("t", '{{ toJson (dict "b" 1 "a" (list 1 "x")) }}', {}), '{"a":[1,"x"],"b":1}');
  assert.equal(renderTemplate("t", "{{ .m | toJson }}", { m: { z: 1, a: { y: 2 } } }), '{"a":{"y":2},"z":1}');
  assert.equal(renderTemplate("t", '{{ (fromJson "{\\"a\\":{\\"b\\":2}}").a | toYaml }}', {}), "b: 2");
  assert.equal(renderTemplate("t", '{{ $d := dict }}{{ $_ := set $d "k" "v" }}{{ $d.k }}', {}), "v");
  assert.equal(renderTemplate("t", '{{ $d := dict "k" "v" }}{{ $_ := unset $d "k" }}{{ len $d }}', {}), "0");
  assert.equal(
    renderTemplate("t", '{{ merge (dict "a" 1) (dict "a" 2 "b" 3) | toJson }}', {}),
    '{"a":1,"b":3}',
  );
  assert.equal(
    renderTemplate("t", '{{ mergeOverwrite (dict "a" 1) (dict "a" 2 "b" 3) | toJson }}', {}),
    '{"a":2,"b":3}',
  );
  assert.equal(
    renderTemplate("t", '{{ dig "a" "b" "d" (fromJson "{\\"a\\":{\\"b\\":\\"x\\"}}") }}', {}),
    "x",
  );
  assert.equal(
    renderTemplate("t", '{{ dig "a" "c" "d" (fromJson "{\\"a\\":{\\"b\\":\\"x\\"}}") }}', {}),
    "d",
  );
  assertPrototypeUntouched();
});
