import { test } from "node:test";
import assert from "node:assert/strict";
import { REFRESH_TURN, WorkQueue, jitter } from "../../../src/kube/workqueue.ts";

const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("a key queued many times is processed once", async () => {
  const seen: string[] = [];
  const q = new WorkQueue({ concurrency: 1, handler: async (k) => (seen.push(k), undefined) });
  for (let i = 0; i < 10; i++) q.add("a");
  q.add("b");
  q.start();
  await q.idle();
  assert.deepEqual(seen, ["a", "b"]);
});

test("urgent keys go before refreshes", async () => {
  const seen: string[] = [];
  const q = new WorkQueue({ concurrency: 1, handler: async (k) => (seen.push(k), undefined) });
  q.add("r1", "refresh");
  q.add("r2", "refresh");
  q.add("new", "urgent");
  q.add("r1", "urgent"); // upgraded
  q.start();
  await q.idle();
  assert.deepEqual(seen, ["new", "r1", "r2"]);
});

test("a flood of urgent keys does not starve refreshes: every REFRESH_TURN-th pick is a refresh", async () => {
  const seen: string[] = [];
  const q = new WorkQueue({ concurrency: 1, handler: async (k) => (seen.push(k), undefined) });
  for (let i = 0; i < 8; i++) q.add(`u${i}`, "urgent");
  q.add("r0", "refresh");
  q.add("r1", "refresh");
  q.start();
  await q.idle();
  assert.equal(REFRESH_TURN, 4);
  assert.deepEqual(seen, ["u0", "u1", "u2", "r0", "u3", "u4", "u5", "r1", "u6", "u7"]);
});

test("one worker per key: an add during processing re-runs it afterwards, never concurrently", async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const q = new WorkQueue({
    concurrency: 4,
    handler: async () => {
      running++;
      runs++;
      maxRunning = Math.max(maxRunning, running);
      await tick(20);
      running--;
      return undefined;
    },
  });
  q.start();
  q.add("k");
  await tick(5);
  q.add("k");
  q.add("k");
  await tick(100);
  await q.idle();
  assert.equal(maxRunning, 1);
  assert.equal(runs, 2);
});

test("failures back off exponentially and success resets", async () => {
  let calls = 0;
  const delays: number[] = [];
  const q = new WorkQueue({
    concurrency: 1,
    baseDelayMs: 10,
    maxDelayMs: 40,
    handler: async () => {
      calls++;
      if (calls <= 4) throw new Error("boom");
      return undefined;
    },
    onError: (_k, _e, d) => delays.push(d),
  });
  q.start();
  q.add("k");
  await tick(250);
  assert.deepEqual(delays, [10, 20, 40, 40]);
  assert.equal(calls, 5);
  assert.equal(q.backoff("k"), 10);
  await q.shutdown();
});

test("requeueAfter schedules a refresh; forget cancels it", async () => {
  let calls = 0;
  const q = new WorkQueue({ concurrency: 1, handler: async () => (calls++, { requeueAfter: 20 }) });
  q.start();
  q.add("k");
  await tick(70);
  assert.ok(calls >= 2, `calls=${calls}`);
  q.forget("k");
  const before = calls;
  await tick(60);
  assert.ok(calls <= before + 1);
  await q.shutdown();
  assert.equal(q.scheduled, 0);
});

test("addAfter keeps the earliest deadline", async () => {
  const q = new WorkQueue({ concurrency: 1, handler: async () => undefined });
  q.addAfter("k", 10_000);
  q.addAfter("k", 10);
  q.addAfter("k", 20_000);
  assert.equal(q.scheduled, 1);
  q.start();
  await tick(40);
  assert.equal(q.scheduled, 0);
  await q.shutdown();
});

test("shutdown waits for in-flight work", async () => {
  let done = false;
  const q = new WorkQueue({
    concurrency: 1,
    handler: async () => {
      await tick(30);
      done = true;
      return undefined;
    },
  });
  q.start();
  q.add("k");
  await tick(5);
  await q.shutdown();
  assert.equal(done, true);
});

test("jitter stays within the fraction", () => {
  assert.equal(
    jitter(1000, 0.1, () => 0),
    900,
  );
  assert.equal(
    jitter(1000, 0.1, () => 1),
    1100,
  );
  assert.equal(
    jitter(0, 0.1, () => 1),
    0,
  );
});

test("delays beyond the 32-bit timer range do not fire early", async () => {
  let calls = 0;
  const q = new WorkQueue({ concurrency: 1, handler: async () => (calls++, undefined) });
  q.start();
  q.addAfter("k", 30 * 24 * 3600 * 1000); // 30 days
  await tick(50);
  assert.equal(calls, 0);
  assert.equal(q.scheduled, 1);
  await q.shutdown();
});

test("maxRetryDelay caps the back-off of the errors it names (a store down: retried each refresh cycle)", async () => {
  let calls = 0;
  const delays: number[] = [];
  const q = new WorkQueue({
    concurrency: 1,
    baseDelayMs: 10,
    maxDelayMs: 1000,
    handler: async () => {
      calls++;
      if (calls <= 4) throw new Error(calls % 2 ? "store down" : "other");
      return undefined;
    },
    maxRetryDelay: (_k, e) => ((e as Error).message === "store down" ? 15 : undefined),
    onError: (_k, _e, d) => delays.push(d),
  });
  q.start();
  q.add("k");
  await tick(250);
  assert.deepEqual(delays, [10, 20, 15, 80]);
  await q.shutdown();
});

test("retryDelay replaces the (capped) back-off of a failed key", async () => {
  let calls = 0;
  const delays: number[] = [];
  const seen: [string, number][] = [];
  const q = new WorkQueue({
    concurrency: 1,
    baseDelayMs: 10,
    handler: async () => {
      calls++;
      if (calls <= 2) throw new Error("store down");
      return undefined;
    },
    retryDelay: (k, _e, backoff) => (seen.push([k, backoff]), backoff * 3),
    onError: (_k, _e, d) => delays.push(d),
  });
  q.start();
  q.add("k");
  await tick(200);
  assert.deepEqual(seen, [
    ["k", 10],
    ["k", 20],
  ]);
  assert.deepEqual(delays, [30, 60]);
  assert.equal(calls, 3);
  await q.shutdown();
});

test("retryDelay may put a retry in the refresh lane, behind refreshes already waiting", async () => {
  const seen: string[] = [];
  let failed = false;
  const q = new WorkQueue({
    concurrency: 1,
    handler: async (k) => {
      seen.push(k);
      if (k === "a" && !failed) {
        failed = true;
        throw new Error("store down");
      }
      return undefined;
    },
    retryDelay: () => ({ delayMs: 0, lane: "refresh" }),
  });
  q.add("a", "refresh");
  q.add("b", "refresh");
  q.add("c", "refresh");
  q.start();
  await tick(50);
  await q.idle();
  assert.deepEqual(seen, ["a", "b", "c", "a"]);
  await q.shutdown();
});

test("a handler that never ends gives its worker back after stallMs; its key is never run twice at a time", async () => {
  const seen: string[] = [];
  const stalls: string[] = [];
  let metricStalls = 0;
  let release: (() => void) | undefined;
  const q = new WorkQueue({
    concurrency: 1,
    stallMs: 30,
    onStall: (k) => stalls.push(k),
    metrics: {
      depth: () => undefined,
      queueLatency: () => undefined,
      workDuration: () => undefined,
      retry: () => undefined,
      stalled: () => metricStalls++,
    },
    handler: async (k) => {
      seen.push(k);
      if (k === "hang" && !release) await new Promise<void>((r) => (release = r));
      return undefined;
    },
  });
  q.add("hang");
  q.add("b");
  q.start();
  await tick(10);
  assert.deepEqual(seen, ["hang"], "one worker, busy");
  await tick(60);
  assert.deepEqual(seen, ["hang", "b"], "the stalled handler's worker went to the next key");
  assert.deepEqual(stalls, ["hang"]);
  assert.equal(metricStalls, 1);
  q.add("hang"); // while the first run still hangs: waits for it
  q.add("c");
  await tick(20);
  assert.deepEqual(seen, ["hang", "b", "c"]);
  release!();
  await tick(20);
  assert.deepEqual(seen, ["hang", "b", "c", "hang"], "re-run once after the first run ended");
  q.add("d");
  await q.idle();
  assert.deepEqual(seen.slice(-1), ["d"], "the worker count is whole again");
  await q.shutdown();
});
