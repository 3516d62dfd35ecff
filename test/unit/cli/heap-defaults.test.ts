import { test } from "node:test";
import assert from "node:assert/strict";
import { heapDefaults } from "../../../bin/heap-defaults.js";

const MiB = 2 ** 20;
const base = { args: ["operator"], execArgv: [], env: {}, constrainedMemory: 0, totalMemory: 16384 * MiB };

test("the operator gets heap settings derived from the container's memory limit", () => {
  assert.deepEqual(heapDefaults({ ...base, constrainedMemory: 256 * MiB }), [
    "--optimize-for-size",
    "--max-semi-space-size=2",
    "--max-old-space-size=153",
  ]);
  assert.deepEqual(heapDefaults({ ...base, constrainedMemory: 128 * MiB })?.[2], "--max-old-space-size=96");
  // no limit (0, or libuv's "unlimited" above the machine's memory): the machine's memory, capped
  for (const constrainedMemory of [0, 2 ** 64]) {
    assert.deepEqual(heapDefaults({ ...base, constrainedMemory }), [
      "--optimize-for-size",
      "--max-semi-space-size=4",
      "--max-old-space-size=4096",
    ]);
  }
});

test("a user's own heap settings, other commands and --help are left alone", () => {
  assert.equal(heapDefaults({ ...base, execArgv: ["--max-old-space-size=900"] }), undefined);
  assert.equal(
    heapDefaults({ ...base, env: { NODE_OPTIONS: "--enable-source-maps --max-semi-space-size=8" } }),
    undefined,
  );
  assert.equal(
    heapDefaults({ ...base, env: { NODE_OPTIONS: "--max-old-space-size-percentage=50%" } }),
    undefined,
  );
  assert.equal(heapDefaults({ ...base, env: { CUSTOS_HEAP_DEFAULTS: "off" } }), undefined);
  assert.equal(heapDefaults({ ...base, args: ["seal", "-f", "x.yaml"] }), undefined);
  assert.equal(heapDefaults({ ...base, args: ["operator", "--help"] }), undefined);
  // the re-executed process sees its own settings: no loop
  const again = heapDefaults(base) ?? [];
  assert.equal(heapDefaults({ ...base, execArgv: again }), undefined);
});
