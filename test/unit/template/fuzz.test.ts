/**
 * Property-based fuzzing of the template engine: random programs from a grammar of Go templates
 * over the real function table, with random (hostile) data. Properties, for every case:
 * - nothing is thrown but a template error (CUSTOS_TEMPLATE / CUSTOS_TEMPLATE_BUDGET, Go's form);
 * - no shared prototype gains or loses a property;
 * - no render completes over its budget (steps, bytes, cost);
 * time and heap per case are recorded and printed, never asserted.
 * A bounded number of cases here; `npm run fuzz -- templates <cases>` runs a long campaign.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { dataArbitrary, newStats, record, runCase, templateArbitrary } from "./fuzz-gen.ts";

const RUNS = Number(process.env.CUSTOS_TEMPLATE_FUZZ_RUNS ?? 1000);

test(`random templates (${RUNS} cases): only template errors, prototypes untouched, within budget`, () => {
  const stats = newStats();
  fc.assert(
    fc.property(templateArbitrary(), dataArbitrary(), (src, data) => {
      const r = runCase(src, data);
      record(stats, src, r);
      assert.ok(r.ok, r.problem);
    }),
    { numRuns: RUNS },
  );
  console.log(
    `template fuzz: ${stats.cases} cases, worst ${stats.worstMs.toFixed(1)} ms, worst heap growth ${(stats.worstHeapGrowth / 1048576).toFixed(1)} MiB, max steps ${stats.maxSteps}, max bytes ${stats.maxBytes}`,
  );
});

test("hand-picked hostile programs hold the same properties", () => {
  for (const src of [
    "{{ range 100000000 }}{{ end }}",
    '{{ printf "%500000000d" 1 }}',
    "{{ $l := list 1 }}{{ range 64 }}{{ $l = concat $l $l }}{{ end }}",
    '{{ indent 500000000 "x" }}',
    '{{ $p := get (dict) "__proto__" }}{{ set $p "polluted" "yes" }}',
    '{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}',
    '{{ $d := dict }}{{ $_ := set $d "s" $d }}{{ toJson $d }}',
    "{{ $l := list 1 }}{{ range 40 }}{{ $l = list $l $l }}{{ end }}{{ $l }}",
  ]) {
    const r = runCase(src, { a: "x" });
    assert.ok(r.ok, `${src}: ${r.problem ?? ""}`);
  }
});
