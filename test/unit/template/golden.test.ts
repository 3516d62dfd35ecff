/**
 * The engine against Go's own text/template + Sprig: every case in cases.json has the output (or
 * the failure) Go produced, recorded in golden.json by tools/template-golden.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderTemplate } from "../../../src/template/index.ts";

const dir = join(import.meta.dirname, "..", "..", "fixtures", "template");
const cases = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8")) as {
  name: string;
  template: string;
  data: unknown;
  missingKey?: "error" | "zero" | "default";
}[];
const golden = new Map(
  (
    JSON.parse(readFileSync(join(dir, "golden.json"), "utf8")) as {
      name: string;
      output?: string;
      error?: string;
    }[]
  ).map((g) => [g.name, g]),
);

for (const c of cases) {
  const want = golden.get(c.name)!;
  test(`${c.name}: ${c.template.slice(0, 60)}`, () => {
    let got: string | undefined;
    let err: Error | undefined;
    try {
      got = renderTemplate(c.name, c.template, c.data, c.missingKey ? { missingKey: c.missingKey } : {});
    } catch (e) {
      err = e as Error;
    }
    if (want.error !== undefined) {
      assert.ok(err, `Go failed (${want.error}) but we rendered ${JSON.stringify(got)}`);
      assert.match(err.message, new RegExp(`^template: ${c.name}:`), "errors name the template");
    } else {
      assert.equal(
        err,
        undefined,
        `Go rendered ${JSON.stringify(want.output)} but we failed: ${err?.message ?? ""}`,
      );
      assert.equal(got, want.output ?? "");
    }
  });
}
