import { test } from "node:test";
import assert from "node:assert/strict";
import {
  clusterStoreDenial,
  isOurStore,
  matchesSelector,
} from "../../../src/controllers/secretstore/access.ts";

test("controller class: empty or equal is ours", () => {
  assert.equal(isOurStore({}, "default"), true);
  assert.equal(isOurStore({ controller: "" }, "default"), true);
  assert.equal(isOurStore({ controller: "custos" }, "custos"), true);
  assert.equal(isOurStore({ controller: "other" }, "custos"), false);
});

const cases: [string, Parameters<typeof clusterStoreDenial>[1], string, Record<string, string>, boolean][] = [
  ["no conditions", undefined, "a", {}, true],
  ["empty conditions", [], "a", {}, true],
  ["namespaces list", [{ namespaces: ["a", "b"] }], "b", {}, true],
  ["not in list", [{ namespaces: ["a"] }], "c", {}, false],
  ["regex", [{ namespaceRegexes: ["^team-.*$"] }], "team-x", {}, true],
  ["regex miss", [{ namespaceRegexes: ["^team-.*$"] }], "prod", {}, false],
  ["selector", [{ namespaceSelector: { matchLabels: { env: "dev" } } }], "x", { env: "dev" }, true],
  ["selector miss", [{ namespaceSelector: { matchLabels: { env: "dev" } } }], "x", { env: "prod" }, false],
  ["OR across conditions", [{ namespaces: ["a"] }, { namespaceRegexes: ["^b"] }], "bee", {}, true],
  ["invalid regex matches nothing", [{ namespaceRegexes: ["("] }], "x", {}, false],
];
for (const [name, conditions, ns, labels, allowed] of cases) {
  test(`cluster store conditions: ${name}`, () => {
    const denial = clusterStoreDenial("css", conditions, ns, labels);
    assert.equal(denial === undefined, allowed, denial);
    if (!allowed)
      assert.match(
        denial!,
        /^using cluster store "[^"]+" is not allowed from namespace "[^"]+": denied by spec\.condition$/,
      );
  });
}

test("label selector expressions", () => {
  const l = { a: "1", b: "2" };
  assert.equal(
    matchesSelector({ matchExpressions: [{ key: "a", operator: "In", values: ["1", "3"] }] }, l),
    true,
  );
  assert.equal(
    matchesSelector({ matchExpressions: [{ key: "a", operator: "NotIn", values: ["1"] }] }, l),
    false,
  );
  assert.equal(matchesSelector({ matchExpressions: [{ key: "c", operator: "Exists" }] }, l), false);
  assert.equal(matchesSelector({ matchExpressions: [{ key: "c", operator: "DoesNotExist" }] }, l), true);
});
