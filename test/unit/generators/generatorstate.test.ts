import { test } from "node:test";
import assert from "node:assert/strict";
import {
  GENERATOR_STATE_FINALIZER,
  planGeneratorState,
  type GeneratorState,
} from "../../../src/controllers/generatorstate/plan.ts";

const now = new Date("2026-12-02T05:00:00Z");
const served = (k: string): boolean => k === "Password" || k === "VaultDynamicSecret";
const gs = (o: { held?: boolean; deadline?: string; deleting?: boolean; kind?: string }): GeneratorState => ({
  metadata: {
    name: "s",
    namespace: "ns",
    ...(o.held === false ? {} : { finalizers: [GENERATOR_STATE_FINALIZER] }),
    ...(o.deleting ? { deletionTimestamp: "2026-12-02T04:59:00Z" } : {}),
  },
  spec: {
    resource: { kind: o.kind ?? "Password" },
    state: {},
    ...(o.deadline ? { garbageCollectionDeadline: o.deadline } : {}),
  },
});

test("a new GeneratorState is held by ESO's finalizer", () => {
  assert.deepEqual(planGeneratorState(gs({ held: false }), now, served), { do: "addFinalizer" });
});

test("past its deadline it is deleted; before it, the deletion is scheduled for then", () => {
  const past = planGeneratorState(gs({ deadline: "2026-12-02T04:00:00Z" }), now, served);
  assert.equal(past.do, "delete");
  assert.equal("condition" in past && past.condition.reason, "DeadlineReached");
  const future = planGeneratorState(gs({ deadline: "2026-12-02T05:00:30Z" }), now, served);
  assert.equal(future.do, "wait");
  assert.equal(future.do === "wait" && future.requeueAfterMs, 30_000);
  assert.equal("condition" in future && future.condition.type, "DeletionScheduled");
});

test("without a deadline it lives: Ready, Created", () => {
  const a = planGeneratorState(gs({}), now, served);
  assert.deepEqual(a.do === "wait" && [a.condition.type, a.condition.reason, a.requeueAfterMs], [
    "Ready",
    "Created",
    undefined,
  ]);
});

test("a deleted state of a served generator is released (its cleanup holds no remote state)", () => {
  assert.deepEqual(planGeneratorState(gs({ deleting: true }), now, served), { do: "removeFinalizer" });
});

test("a generator kind this operator does not serve is never cleaned up: its finalizer stays, and the condition says why", () => {
  const a = planGeneratorState(gs({ deleting: true, kind: "GrafanaServiceAccountToken" }), now, served);
  assert.equal(a.do, "keep");
  assert.match("condition" in a ? a.condition.message : "", /GrafanaServiceAccountToken.*not served/);
  // and one past its deadline is not deleted either: its cleanup could not run
  assert.equal(
    planGeneratorState(gs({ deadline: "2026-12-02T04:00:00Z", kind: "Quay" }), now, served).do,
    "wait",
  );
});
