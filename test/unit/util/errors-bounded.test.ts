import { test } from "node:test";
import assert from "node:assert/strict";
import { boundedMessage, MAX_MESSAGE } from "../../../src/util/errors.ts";

test("boundedMessage keeps short messages and cuts long ones to MAX_MESSAGE, saying how much", () => {
  assert.equal(boundedMessage('template ConfigMap "a" not found'), 'template ConfigMap "a" not found');
  const long = `GET /api/v1/namespaces/t/configmaps/${"x".repeat(100_000)}: 404 not found`;
  const cut = boundedMessage(long);
  assert.ok(cut.length <= MAX_MESSAGE, `${cut.length}`);
  assert.ok(cut.startsWith("GET /api/v1/namespaces/t/configmaps/xxx"));
  assert.match(cut, /… \(\d+ characters cut\)$/);
  const n = Number(/\((\d+) characters cut\)/.exec(cut)![1]);
  assert.equal(long.length - n, cut.indexOf("…"), "what was kept plus what was cut is the whole");
});
