import { test } from "node:test";
import assert from "node:assert/strict";
import { afterWatchFailure, WatchError } from "../../../src/kube/informer.ts";

test("a broken watch connection is re-watched from its resourceVersion, not relisted", () => {
  // what a killed or restarting API server, a reset or a timeout look like to the informer
  for (const e of [
    Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }),
    new Error("terminated"),
    Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6443"), { code: "ECONNREFUSED" }),
    new Error("watch of /api/v1/secrets silent for 390 s"),
  ])
    assert.equal(afterWatchFailure(e, "4556"), "rewatch", e.message);
});

test("throttling, 5xx and the 401/403 of a restarting API server keep the resourceVersion", () => {
  for (const status of [429, 500, 503, 504, 401, 403])
    assert.equal(
      afterWatchFailure(new WatchError(`HTTP ${status}`, status), "10"),
      "rewatch",
      String(status),
    );
});

test("a watch the server calls wrong, a garbled stream, or no resourceVersion yet: relist", () => {
  assert.equal(afterWatchFailure(new WatchError("HTTP 400", 400), "10"), "relist");
  assert.equal(afterWatchFailure(new WatchError("HTTP 404", 404), "10"), "relist");
  assert.equal(afterWatchFailure(new SyntaxError("Unexpected end of JSON input"), "10"), "relist");
  assert.equal(afterWatchFailure(new Error("terminated"), undefined), "relist");
});
