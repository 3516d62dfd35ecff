/**
 * The pure parts of the soak and bad-input scenarios: the least-squares slope, quantiles, reading a
 * gauge from a Prometheus exposition, and the schema-aware manifest generator (deterministic,
 * its valid objects valid under the project's own schemas, every mutation reachable).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Value } from "@sinclair/typebox/value";
import { metricValue, quantile, slope } from "../../../bench/faults/soak.ts";
import { generateManifests, genericMessage, type World } from "../../../bench/faults/manifests.ts";
import { ExternalSecretSpec } from "../../../src/api/externalsecrets.ts";

const world: World = {
  namespaces: ["a", "b"],
  clusterStore: "faults",
  keys: ["s0", "s1"],
  vaultUrl: "http://127.0.0.1:8200",
  restrictedStore: "restricted",
  foreignStore: "foreign",
};

test("slope: least squares over points, 0 for fewer than two", () => {
  assert.equal(slope([]), 0);
  assert.equal(slope([{ x: 1, y: 5 }]), 0);
  assert.equal(
    slope([
      { x: 0, y: 1 },
      { x: 1, y: 3 },
      { x: 2, y: 5 },
    ]),
    2,
  );
  // noise around a flat line: slope near 0
  const flat = Array.from({ length: 100 }, (_, i) => ({ x: i, y: 100 + (i % 2 ? 1 : -1) }));
  assert.ok(Math.abs(slope(flat)) < 0.01);
});

test("quantile: nearest rank", () => {
  assert.ok(Number.isNaN(quantile([], 0.5)));
  assert.equal(quantile([3, 1, 2], 0.5), 2);
  assert.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99), 10);
});

test("metricValue: a gauge from the text exposition, with or without labels", () => {
  const text = `# HELP nodejs_heap_size_used_bytes x
# TYPE nodejs_heap_size_used_bytes gauge
nodejs_heap_size_used_bytes 41943040
nodejs_eventloop_lag_p99_seconds 0.0123
process_resident_memory_bytes{pod="a"} 1.5e8
`;
  assert.equal(metricValue(text, "nodejs_heap_size_used_bytes"), 41943040);
  assert.equal(metricValue(text, "nodejs_eventloop_lag_p99_seconds"), 0.0123);
  assert.equal(metricValue(text, "process_resident_memory_bytes"), 1.5e8);
  assert.equal(metricValue(text, "nodejs_eventloop_lag_p99"), undefined);
});

test("generateManifests: deterministic per seed, all kinds and variants, valid ExternalSecrets pass the schema", () => {
  const a = generateManifests(400, 3, world);
  const b = generateManifests(400, 3, world);
  // (JSON: some objects are nested too deep for a structural comparison)
  const text = (ms: typeof a): string[] => ms.map((m) => JSON.stringify(m));
  assert.deepEqual(text(a), text(b));
  assert.notDeepEqual(text(generateManifests(50, 4, world)), text(a.slice(0, 50)));
  for (const kind of ["ExternalSecret", "SecretStore", "SealedSecret"])
    for (const variant of ["valid", "edge", "invalid"])
      assert.ok(
        a.some((m) => m.kind === kind && m.variant === variant),
        `${kind} ${variant} generated`,
      );
  const valid = a.filter((m) => m.kind === "ExternalSecret" && m.variant === "valid");
  for (const m of valid) assert.ok(Value.Check(ExternalSecretSpec, m.doc.spec), JSON.stringify(m.doc.spec));
  // names unique per kind and namespace
  const keys = a.map((m) => `${m.kind}/${m.doc.metadata.namespace}/${m.doc.metadata.name}`);
  assert.equal(new Set(keys).size, keys.length);
  // many different mutations
  assert.ok(new Set(a.map((m) => m.mutation)).size >= 15);
});

test("genericMessage: empty messages and leaked JavaScript errors name no problem", () => {
  assert.ok(genericMessage(undefined));
  assert.ok(genericMessage("  "));
  assert.ok(genericMessage("TypeError: Cannot read properties of undefined (reading 'x')"));
  assert.ok(genericMessage("internal error"));
  assert.ok(!genericMessage('invalid ExternalSecret: refreshInterval "5x" is not a duration'));
  assert.ok(!genericMessage('store "no-such-store" not found'));
});
