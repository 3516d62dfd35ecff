// toYaml (ESO: sigs.k8s.io/yaml) and the toJson family (Sprig: encoding/json) against what Go
// itself printed for the same values (test/fixtures/template/yaml-golden.json, tools/yaml-golden).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { renderEsoTemplate } from "../../../src/template/index.ts";
import { goFormatFloatG, goYamlMarshal, yamlKeyLess } from "../../../src/template/yaml.ts";
import { goJsonMarshal } from "../../../src/util/gojson.ts";

interface Golden {
  input: string;
  yaml: string;
  json: string;
  prettyJson: string;
  rawJson: string;
}
// Inputs are read with a JSON-schema YAML parser: V8 13.6's JSON.parse gives a later object's
// escaped key ("\t") the text of an earlier object's escaped key ("\\") after the same first keys.
const read = (text: string): unknown => parse(text, { schema: "json" }) as unknown;
const golden = JSON.parse(
  readFileSync(new URL("../../fixtures/template/yaml-golden.json", import.meta.url), "utf8"),
) as Golden[];

test("every golden value: toYaml, toJson, toPrettyJson and toRawJson print Go's bytes", () => {
  assert.ok(golden.length > 300);
  const bad: string[] = [];
  for (const g of golden) {
    const v = read(g.input);
    if (goYamlMarshal(v) !== g.yaml) bad.push(`toYaml ${g.input.slice(0, 80)}`);
    if (goJsonMarshal(v) !== g.json) bad.push(`toJson ${g.input.slice(0, 80)}`);
    if (goJsonMarshal(v, true, "  ") !== g.prettyJson) bad.push(`toPrettyJson ${g.input.slice(0, 80)}`);
    if (goJsonMarshal(v, false) !== g.rawJson) bad.push(`toRawJson ${g.input.slice(0, 80)}`);
  }
  assert.deepEqual(bad, []);
});

test("through the template functions: the same bytes as the golden file", () => {
  for (const g of golden.slice(0, 40)) {
    const v = read(g.input);
    assert.equal(renderEsoTemplate("y", "{{ .v | toYaml }}", { v }), g.yaml, g.input);
    assert.equal(renderEsoTemplate("j", "{{ .v | toJson }}", { v }), g.json, g.input);
    assert.equal(renderEsoTemplate("p", "{{ .v | toPrettyJson }}", { v }), g.prettyJson, g.input);
    assert.equal(renderEsoTemplate("r", "{{ .v | toRawJson }}", { v }), g.rawJson, g.input);
  }
});

test("toYaml rules, readable (bytes from Go's sigs.k8s.io/yaml v1.6.0)", () => {
  // keys sorted go-yaml's way: other characters before letters, digit runs as numbers
  assert.equal(goYamlMarshal({ b: 1, a10: 1, a2: 2, A: 3, _x: 4 }), "_x: 4\nA: 3\na2: 2\na10: 1\nb: 1");
  // strings YAML 1.1 would read as something else are double-quoted; syntax needs single quotes
  assert.equal(goYamlMarshal({ v: ["yes", "on", "0755", "1:20", "2001-12-14", "", "#x", "a: b", "x"] }),
    "v:\n- \"yes\"\n- \"on\"\n- \"0755\"\n- \"1:20\"\n- \"2001-12-14\"\n- \"\"\n- '#x'\n- 'a: b'\n- x"); // prettier-ignore
  // multi-line strings as block literals; sequences in a mapping not indented
  assert.equal(goYamlMarshal({ m: "l1\nl2\n", s: [{ b: 1, a: 2 }] }), "m: |\n  l1\n  l2\ns:\n- a: 2\n  b: 1");
  // numbers: integers as they are, other floats in 'g' form
  assert.equal(
    goYamlMarshal([1, 1.5, 1e21, 1e-7, 1234567.5, -0]),
    "- 1\n- 1.5\n- 1e+21\n- 1e-07\n- 1.2345675e+06\n- 0",
  );
  // HTML characters are not escaped in YAML
  assert.equal(goYamlMarshal({ a: "<&>" }), "a: <&>");
});

test("fromYaml reads YAML 1.1 as go-yaml v2 does; toYaml of it sorts the keys", () => {
  const doc = "z: yes\nb: 0755\nc: 1:20\nd: 2001-12-14\ny: x\nn: [a, {z: 1, b: 2}]\n";
  // Go: {"b":493,"c":"1:20","d":"2001-12-14","false":["a",{"b":2,"z":1}],"true":"x","z":true}
  assert.equal(
    renderEsoTemplate("f", "{{ .d | fromYaml | toJson }}", { d: doc }),
    '{"b":493,"c":"1:20","d":"2001-12-14","false":["a",{"b":2,"z":1}],"true":"x","z":true}',
  );
  assert.equal(renderEsoTemplate("f", "{{ .d | fromYaml | toYaml }}", { d: "b: 2\na: x\n" }), "a: x\nb: 2");
});

test("key order and float format helpers", () => {
  assert.equal(yamlKeyLess("a2", "a10"), true);
  assert.equal(yamlKeyLess("a2", "a02"), true);
  assert.equal(yamlKeyLess("-", "_"), true);
  assert.equal(yamlKeyLess("1", "A"), true);
  assert.equal(goFormatFloatG(0.0001), "0.0001");
  assert.equal(goFormatFloatG(0.00001), "1e-05");
  assert.equal(goFormatFloatG(123456.5), "123456.5");
  assert.equal(goFormatFloatG(1e300), "1e+300");
});
