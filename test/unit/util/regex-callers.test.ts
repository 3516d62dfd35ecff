/**
 * Every place a tenant's pattern reaches runs it on RE2 with Go's semantics: ExternalSecret
 * rewrites (ESO's ReplaceAllString), ClusterSecretStore namespaceRegexes, Reloader's reload
 * annotation, and find.name.regexp. Each hostile case below takes minutes or more on V8's
 * backtracking RegExp (the previous implementation), so finishing at all is the assertion (no clock:
 * the test runner's timeout is the bound); each semantic case gave a different answer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyRewrites } from "../../../src/controllers/externalsecret/data.ts";
import { clusterStoreDenial, conditionProblems } from "../../../src/controllers/secretstore/access.ts";
import { shouldRestart, type Workload } from "../../../src/controllers/rollout/match.ts";
import { fakeProvider } from "../../../src/providers/fake/index.ts";
import type { StoreContext } from "../../../src/providers/types.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const noRender = (): string => {
  throw new Error("no templates here");
};
const HOSTILE = "a".repeat(40) + "b";

test("rewrite.regexp: catastrophic source on hostile keys finishes at once", () => {
  const out = applyRewrites(
    { [HOSTILE]: enc("1"), aaaa: enc("2") },
    [{ regexp: { source: "^(a+)+$", target: "matched" } }],
    noRender,
  );
  assert.deepEqual(Object.keys(out).sort(), [HOSTILE, "matched"]);
});

test("rewrite.regexp: Go's ReplaceAllString expansion, as ESO", () => {
  const keys = { "db-user": enc("u") };
  const rw = (target: string) =>
    Object.keys(applyRewrites(keys, [{ regexp: { source: "^(db)-(?P<rest>.*)$", target } }], noRender));
  assert.deepEqual(rw("${1}_x"), ["db_x"]);
  // "$1_x" is the group named "1_x": none, so empty, and an empty key is dropped (ESO's ValidateKeys)
  assert.deepEqual(rw("$1_x"), []);
  assert.deepEqual(rw("$1_x-$rest"), ["-user"]);
  assert.deepEqual(rw("${rest}$$"), ["user$"]);
  assert.deepEqual(rw("$&"), ["$&"]); // JavaScript's whole-match form is text in Go
});

test("rewrite.regexp: empty matches as Go (a* on every position, not twice after a match)", () => {
  const out = applyRewrites({ baaac: enc("v") }, [{ regexp: { source: "a*", target: "-" } }], noRender);
  assert.deepEqual(Object.keys(out), ["-b-c-"]);
});

test("rewrite.regexp: an invalid source (backreference, lookahead) is an invalid spec naming the field", () => {
  for (const source of ["(a)\\1", "a(?=b)", "(unclosed"]) {
    assert.throws(
      () => applyRewrites({ a: enc("1") }, [{ regexp: { source, target: "x" } }], noRender),
      (e: unknown) =>
        isCustosError(e, "CUSTOS_INVALID_SPEC") && /rewrite\[0\]\.regexp\.source/.test(e.message),
    );
  }
});

test("rewrite.regexp: many long keys x a heavy pattern end at the list's budget, not after minutes", () => {
  const keys = Object.fromEntries(
    Array.from({ length: 2000 }, (_, i) => [`${"k".repeat(500)}${i}`, enc("v")]),
  );
  assert.throws(
    () => applyRewrites(keys, [{ regexp: { source: "[a-z]{1000}x", target: "y" } }], noRender),
    (e: unknown) =>
      isCustosError(e, "CUSTOS_INVALID_SPEC") &&
      /rewrite\[0\]\.regexp\.source: .*more than \d+ ms/.test(e.message),
  );
});

test("rewrite: a key named __proto__ stays a key", () => {
  const out = applyRewrites(
    { ["__proto__"]: enc("1") },
    [{ regexp: { source: "^_", target: "x" } }],
    noRender,
  );
  assert.deepEqual(Object.keys(out), ["x_proto__"]);
});

test("namespaceRegexes: a catastrophic pattern decides as Go would, at once", () => {
  const cond = [{ namespaceRegexes: ["^(a+)+$"] }];
  assert.match(clusterStoreDenial("s", cond, HOSTILE, {}) ?? "", /not allowed/);
  assert.equal(clusterStoreDenial("s", cond, "aaaa", {}), undefined);
});

test("namespaceRegexes: Go syntax (\\pL, [[:alpha:]], (?i)) and invalid patterns reported by the store", () => {
  assert.equal(
    clusterStoreDenial("s", [{ namespaceRegexes: ["^(?i)TEAM-[[:alpha:]]+$"] }], "team-x", {}),
    undefined,
  );
  assert.ok(clusterStoreDenial("s", [{ namespaceRegexes: ["(?=team)"] }], "team-x", {}));
  assert.deepEqual(conditionProblems([{ namespaceRegexes: ["^ok$"] }]), []);
  const problems = conditionProblems([
    { namespaces: ["a"] },
    { namespaceRegexes: ["^ok$", "team(?!-prod)"] },
  ]);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^spec\.conditions\[1\]\.namespaceRegexes\[1\]: invalid regular expression/);
});

const workload = (reload: string): Workload => ({
  kind: "Deployment",
  metadata: { name: "w", namespace: "n", annotations: { "secret.reloader.stakater.com/reload": reload } },
  spec: { template: { spec: { containers: [{ name: "c" }] } } },
});

test("Reloader reload annotation: catastrophic pattern decides at once; anchored Go regex", () => {
  assert.equal(shouldRestart(workload("(a+)+"), { name: HOSTILE, namespace: "n" }), false);
  assert.equal(shouldRestart(workload("(a+)+"), { name: "aaaa", namespace: "n" }), true);
  assert.equal(shouldRestart(workload("db-\\pL+"), { name: "db-main", namespace: "n" }), true);
  assert.equal(shouldRestart(workload("db"), { name: "db-main", namespace: "n" }), false);
  // thousands of heavy patterns: past the budget the rest compare literally, at once
  const many = Array.from({ length: 3000 }, (_, i) => `[a-z]{${900 + (i % 100)}}x${i}`).join(",");
  assert.equal(shouldRestart(workload(many), { name: "[a-z]{999}x2999", namespace: "n" }), true);
  assert.equal(shouldRestart(workload(many), { name: "zzz", namespace: "n" }), false);
  // an invalid pattern (Reloader would panic) matches its literal name only
  assert.equal(shouldRestart(workload("(?=x)"), { name: "(?=x)", namespace: "n" }), true);
  assert.equal(shouldRestart(workload("(?=x)"), { name: "x", namespace: "n" }), false);
});

const ctx = {
  storeKind: "SecretStore",
  storeName: "s",
  storeUid: "u",
  namespace: "n",
} as unknown as StoreContext;
const deps = { recordCall: () => undefined, redact: () => undefined };

test("find.name.regexp: catastrophic pattern over hostile names at once; invalid is an invalid spec", async () => {
  const session = await fakeProvider.connect(
    {
      data: [
        { key: HOSTILE, value: "1" },
        { key: "aaaa", value: "2" },
      ],
    },
    ctx,
    deps,
  );
  const found = await session.find({ name: { regexp: "^(a+)+$" } });
  assert.deepEqual([...found.keys()], ["aaaa"]);
  await assert.rejects(
    session.find({ name: { regexp: "(a)\\1" } }),
    (e: unknown) => isCustosError(e, "CUSTOS_INVALID_SPEC") && e.message.startsWith("find.name.regexp: "),
  );
});
