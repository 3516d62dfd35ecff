import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseJson } from "../../../src/util/json.ts";

test("an escaped key is the key the text says, whatever was parsed before (V8's JSON.parse gets this wrong)", () => {
  JSON.parse('{"a":1,"\\\\":2}'); // primes V8's key cache as an earlier store answer would
  assert.deepEqual(Object.keys(parseJson('{"a":1,"\\n":2}') as object), ["a", "\n"]);
  JSON.parse('{"x":{"k\\"q":1}}');
  assert.deepEqual(Object.keys((parseJson('{"x":{"k\\tq":1}}') as { x: object }).x), ["k\tq"]);
});

test("same values as JSON.parse: nesting, numbers, unicode escapes, duplicate keys, __proto__ as an own key", () => {
  const text =
    '{"a":[1,-2.5e3,true,null,{"b":"\\u00e9\\ud83d\\ude00"}],"a2":"x","a2":"last","__proto__":{"p":1}}';
  const v = parseJson(text) as Record<string, unknown>;
  assert.deepEqual(v, JSON.parse(text));
  assert.ok(Object.hasOwn(v, "__proto__"));
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
});

test("invalid JSON is refused as JSON.parse refuses it, without quoting the text", () => {
  for (const bad of ['{"a\\x":1}', '{"a":1,}', '{"a":1} // c', "", '["\\', '{"a":01}', "[1]x"]) {
    assert.throws(
      () => parseJson(bad),
      (e) => e instanceof SyntaxError && !e.message.includes("a\\x"),
      bad,
    );
  }
  assert.throws(() => parseJson("[".repeat(200_000) + '"\\n"' + "]".repeat(200_000)), SyntaxError);
});

test("random JSON values with escaped keys read back as they were written", () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.string(), (value, key) => {
      const wrapped = { [key]: value, 'k\\\n"': value };
      const text = JSON.stringify(wrapped);
      const got = parseJson(text) as Record<string, unknown>;
      assert.deepEqual(Object.keys(got).sort(), Object.keys(wrapped).sort());
      assert.deepEqual(got[key], JSON.parse(JSON.stringify(value)) as unknown);
    }),
    { numRuns: 300 },
  );
});
