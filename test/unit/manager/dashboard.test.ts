/** The shipped Grafana dashboard only queries series the operator really exports. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Metrics } from "../../../src/manager/metrics.ts";

const root = join(import.meta.dirname, "..", "..", "..");

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

test("every metric in deploy/grafana/custos-dashboard.json is one the operator exports", async () => {
  const dashboard = JSON.parse(readFileSync(join(root, "deploy/grafana/custos-dashboard.json"), "utf8")) as {
    panels: Panel[];
  };
  const exported = new Set((await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name));
  const used = new Set<string>();
  for (const panel of dashboard.panels) {
    assert.ok(panel.targets?.length, `panel "${panel.title}" has a query`);
    for (const t of panel.targets)
      for (const m of t.expr.matchAll(/\b(?:externalsecret|secretstore|custos|workqueue)_[a-z_]+/g))
        used.add(m[0].replace(/_(bucket|sum|count)$/, (s) => (exported.has(m[0]) ? s : "")));
  }
  assert.ok(used.size >= 10, `the dashboard covers the operator's series (${used.size})`);
  const unknown = [...used].filter((n) => !exported.has(n));
  assert.deepEqual(unknown, [], "series the operator does not export");
});
