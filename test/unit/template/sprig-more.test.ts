/**
 * Sprig v3 functions ESO's templates have (its vendored copy, less env/expandenv/getHostByName)
 * that Custos lacked: found by the differential harness (`template float`). Expected values are
 * what Sprig's Go code returns.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { renderTemplate } from "../../../src/template/index.ts";

const r = (t: string, data: unknown = {}): string => renderTemplate("t", t, data);

test("float math goes through decimals: addf 0.1 0.2 is 0.3", () => {
  assert.equal(r("{{ addf 1.5 2 }}"), "3.5");
  assert.equal(r("{{ addf 0.1 0.2 }}"), "0.3");
  assert.equal(r("{{ add1f 1.25 }}"), "2.25");
  assert.equal(r("{{ subf 1 0.9 }}"), "0.1");
  assert.equal(r("{{ mulf 1.1 3 }}"), "3.3");
  assert.equal(r("{{ divf 1 4 }}"), "0.25");
  assert.equal(r("{{ maxf 1 2.5 2 }} {{ minf 1 2.5 -2 }}"), "2.5 -2");
  assert.equal(r("{{ biggest 1 9 3 }}"), "9");
  assert.throws(() => r("{{ divf 1 0 }}"));
});

test("seq, untilStep, splitn, chunk", () => {
  assert.equal(
    r("{{ seq 3 }}|{{ seq 2 5 }}|{{ seq 5 2 }}|{{ seq 0 2 6 }}|{{ seq 6 2 0 }}|{{ seq 0 }}"),
    "1 2 3|2 3 4 5|5 4 3 2|0 2 4 6||1 0",
  );
  assert.equal(r("{{ untilStep 0 10 3 | toJson }}"), "[0,3,6,9]");
  assert.equal(r('{{ (splitn "," 2 "a,b,c")._1 }}'), "b,c");
  assert.equal(r('{{ splitn "," 2 "a,b,c" | toJson }}'), '{"_0":"a","_1":"b,c"}');
  assert.equal(r("{{ list 1 2 3 4 5 | chunk 2 | toJson }}"), "[[1,2],[3,4],[5]]");
});

test("pick, omit, all, any, tuple, trimall, plural, initials", () => {
  assert.equal(r('{{ pick (dict "a" 1 "b" 2 "c" 3) "a" "c" "z" | toJson }}'), '{"a":1,"c":3}');
  assert.equal(r('{{ omit (dict "a" 1 "b" 2) "a" | toJson }}'), '{"b":2}');
  assert.equal(
    r('{{ all 1 "x" true }} {{ all 1 "" }} {{ any 0 "" "x" }} {{ any 0 "" }}'),
    "true false true false",
  );
  assert.equal(r("{{ tuple 1 2 | toJson }}"), "[1,2]");
  assert.equal(r('{{ trimall "$" "$5.00$" }}'), "5.00");
  assert.equal(r('{{ plural "one" "many" 1 }} {{ plural "one" "many" 2 }}'), "one many");
  assert.equal(r('{{ initials "Ada  Lovelace" }}'), "AL");
  assert.equal(r("{{ hello }}"), "Hello!");
});

test("Go's path functions", () => {
  assert.equal(r('{{ base "/a/b/c.txt" }} {{ base "/a/b/" }} {{ base "" }} {{ base "/" }}'), "c.txt b . /");
  assert.equal(r('{{ dir "/a/b/c" }} {{ dir "a" }} {{ dir "/" }}'), "/a/b . /");
  assert.equal(r('{{ ext "a/b.tar.gz" }}|{{ ext "a.d/b" }}'), ".gz|");
  assert.equal(
    r('{{ clean "a//b/./../c/" }} {{ clean "/../x" }} {{ clean "" }} {{ clean "../../a" }}'),
    "a/c /x . ../../a",
  );
  assert.equal(r('{{ isAbs "/a" }} {{ isAbs "a" }} {{ osBase "/x/y" }}'), "true false y");
});

test("toDecimal, must aliases, htmlDate, random helpers", () => {
  assert.equal(r('{{ toDecimal "0777" }} {{ toDecimal "9" }}'), "511 0");
  assert.equal(
    r("{{ list 1 2 | mustFirst }} {{ list 1 2 | mustLast }} {{ list 2 1 | mustReverse | toJson }}"),
    "1 2 [1,2]",
  );
  assert.equal(r('{{ dict "a" "<" | mustToJson }}'), '{"a":"\\u003c"}');
  assert.equal(r('{{ htmlDate (toDate "2006-01-02" "2024-03-05") }}'), "2024-03-05");
  assert.match(r("{{ randInt 5 7 }}"), /^[56]$/);
  assert.equal(Buffer.from(r("{{ randBytes 12 }}"), "base64").length, 12);
  assert.equal(Array.from(r(`{{ shuffle "abcd" }}`)).sort().join(""), "abcd");
});

test("semver's fields", () => {
  assert.equal(
    r('{{ (semver "1.2.3").Minor }} {{ (semver "v2.0").Major }} {{ (semver "1.2.3-rc.1+b5").Prerelease }}'),
    "2 2 rc.1",
  );
  assert.throws(() => r('{{ semver "x" }}'));
});
