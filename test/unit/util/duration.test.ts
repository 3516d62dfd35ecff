import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDuration, formatDuration } from "../../../src/util/duration.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const ok: [string, number][] = [
  ["0", 0],
  ["0s", 0],
  ["1h", 3_600_000],
  ["1h0m0s", 3_600_000],
  ["600s", 600_000],
  ["1.5h", 5_400_000],
  ["1h30m", 5_400_000],
  ["300ms", 300],
  ["2m3.5s", 123_500],
  [".5s", 500],
  ["1000000us", 1000],
  ["-1s", -1000],
];
for (const [text, ms] of ok) test(`parses ${text}`, () => assert.equal(parseDuration(text), ms));

for (const bad of ["", "1", "h", "1x", "1h 2m", "--1s", "1.h2"]) {
  test(`rejects "${bad}"`, () => {
    assert.throws(
      () => parseDuration(bad),
      (e) => isCustosError(e, "CUSTOS_INVALID_DURATION"),
    );
  });
}

const fmt: [number, string][] = [
  [0, "0s"],
  [3_600_000, "1h0m0s"],
  [600_000, "10m0s"],
  [1500, "1.5s"],
  [250, "250ms"],
  [5_400_000, "1h30m0s"],
];
for (const [ms, text] of fmt) test(`formats ${ms} as ${text}`, () => assert.equal(formatDuration(ms), text));
