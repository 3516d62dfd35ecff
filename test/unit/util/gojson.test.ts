import { test } from "node:test";
import assert from "node:assert/strict";
import { goFormatFloatF, goJsonMarshal, goJsonString } from "../../../src/util/gojson.ts";

// Expected bytes are what Go's json.Marshal / strconv.FormatFloat(f, 'f', -1, 64) print.

test("object keys are sorted at every level", () => {
  const v = JSON.parse('{"b":{"z":1,"a":[{"y":true,"x":null}]},"a":"1","B":2}') as unknown;
  assert.equal(goJsonMarshal(v), '{"B":2,"a":"1","b":{"a":[{"x":null,"y":true}],"z":1}}');
});

test("keys sort by UTF-8 bytes, not UTF-16 units", () => {
  // U+FF5E sorts before U+1F600 in UTF-8 (EF.. < F0..) but after it in UTF-16 (FF5E > D83D)
  assert.equal(goJsonMarshal({ "\u{1F600}": 1, "\uFF5E": 2 }), '{"\uFF5E":2,"\u{1F600}":1}');
});

test("<, > and & are HTML-escaped; U+2028 and U+2029 escaped; others literal", () => {
  assert.equal(
    goJsonMarshal({ k: "<a href='x'>&amp;</a>" }),
    '{"k":"\\u003ca href=\'x\'\\u003e\\u0026amp;\\u003c/a\\u003e"}',
  );
  assert.equal(goJsonMarshal({ "<": "\u2028\u2029" }), '{"\\u003c":"\\u2028\\u2029"}');
  assert.equal(goJsonMarshal('é\u007f\t\n\u0001\b\f"\\'), '"é\u007f\\t\\n\\u0001\\b\\f\\"\\\\"');
  assert.equal(goJsonString("<&>", false), '"<&>"');
});

test("a lone surrogate becomes U+FFFD (Go's decoder already replaced it)", () => {
  assert.equal(goJsonMarshal("a\ud800b\udc00"), '"a\ufffdb\ufffd"');
  assert.equal(goJsonMarshal("\u{1F600}"), '"\u{1F600}"');
});

test("numbers as Go encodes a float64", () => {
  assert.equal(
    goJsonMarshal([1, 1.5, 1e21, 1e-7, Number("123456789012345678"), 1e20, 0.000001, -0, 1.5e-7, 2.5e300]),
    "[1,1.5,1e+21,1e-7,123456789012345680,100000000000000000000,0.000001,-0,1.5e-7,2.5e+300]",
  );
});

test("FormatFloat 'f' -1: no exponent", () => {
  assert.equal(goFormatFloatF(1), "1");
  assert.equal(goFormatFloatF(1.5), "1.5");
  assert.equal(goFormatFloatF(1e21), "1000000000000000000000");
  assert.equal(goFormatFloatF(1.25e22), "12500000000000000000000");
  assert.equal(goFormatFloatF(1e-7), "0.0000001");
  assert.equal(goFormatFloatF(-1.5e-7), "-0.00000015");
  assert.equal(goFormatFloatF(Number("123456789012345678")), "123456789012345680");
  assert.equal(goFormatFloatF(-0), "-0");
});
