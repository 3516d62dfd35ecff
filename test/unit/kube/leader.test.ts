import { test } from "node:test";
import assert from "node:assert/strict";
import { KubeApiError, type RequestOptions } from "../../../src/kube/api.ts";
import { LeaderElector, type Clock, type LeaseApi } from "../../../src/kube/leader.ts";

/** Timers that run only when the test advances time. */
class FakeClock implements Clock {
  t = 1_700_000_000_000;
  #timers: { at: number; fn: () => void; id: number }[] = [];
  #next = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.#timers = this.#timers.filter((x) => x.id !== h);
  }
  /** Moves time forward, running due timers in order and letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      this.#timers.sort((a, b) => a.at - b.at);
      const due = this.#timers[0];
      if (!due || due.at > end) break;
      this.#timers.shift();
      this.t = due.at;
      due.fn();
    }
    this.t = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

interface LeaseObj {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: { holderIdentity?: string | null; renewTime?: string | null; leaseDurationSeconds?: number };
}

/** One Lease in memory; `mode` makes calls hang or fail. */
class FakeLeases implements LeaseApi {
  lease: LeaseObj | undefined;
  puts = 0;
  mode: "ok" | "hang" | "fail" = "ok";
  #rv = 1;
  request<T>(method: string, _path: string, opts: RequestOptions = {}): Promise<T> {
    if (this.mode === "hang") return new Promise(() => undefined);
    if (this.mode === "fail") return Promise.reject(new KubeApiError(0, "Unreachable", "connection refused"));
    const body = opts.body as LeaseObj | undefined;
    if (method === "GET") {
      if (!this.lease) return Promise.reject(new KubeApiError(404, "NotFound", "not found"));
      return Promise.resolve(structuredClone(this.lease) as T);
    }
    if (method === "POST") {
      if (this.lease) return Promise.reject(new KubeApiError(409, "AlreadyExists", "exists"));
      this.lease = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(this.#rv++) } };
      return Promise.resolve(structuredClone(this.lease) as T);
    }
    if (body!.metadata.resourceVersion !== this.lease?.metadata.resourceVersion)
      return Promise.reject(new KubeApiError(409, "Conflict", "conflict"));
    this.puts++;
    this.lease = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(this.#rv++) } };
    return Promise.resolve(structuredClone(this.lease) as T);
  }
}

function elector(api: FakeLeases, clock: FakeClock, onStart: () => void | Promise<void>) {
  const events: string[] = [];
  const le = new LeaderElector(api, {
    namespace: "ns",
    name: "lease",
    identity: "me",
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    clock,
    onStartedLeading: () => {
      events.push("started");
      return onStart();
    },
    onStoppedLeading: () => events.push("stopped"),
  });
  return { le, events };
}

test("renewal goes on while the controllers' start never finishes (informers that never sync)", async () => {
  const clock = new FakeClock();
  const api = new FakeLeases();
  const { le, events } = elector(api, clock, () => new Promise<void>(() => undefined));
  le.start();
  await clock.advance(0);
  assert.ok(le.leading);
  const renewTimes = new Set<string>();
  for (let i = 0; i < 30; i++) {
    await clock.advance(2_000);
    renewTimes.add(api.lease!.spec.renewTime!);
  }
  assert.ok(api.puts >= 29, `renewed ${api.puts} times in 60 s`);
  assert.equal(renewTimes.size, 30, "renewTime advances every retry period");
  assert.ok(le.leading);
  assert.deepEqual(events, ["started"]);
  await le.stop();
  assert.equal(api.lease!.spec.holderIdentity, null, "a clean stop releases the Lease");
});

test("a hung Lease request does not keep a stale leader: the watchdog ends leadership at the renew deadline", async () => {
  const clock = new FakeClock();
  const api = new FakeLeases();
  const { le, events } = elector(api, clock, () => undefined);
  le.start();
  await clock.advance(0);
  assert.ok(le.leading);
  api.mode = "hang"; // the next renewal never answers
  await clock.advance(9_000);
  assert.ok(le.leading, "still within the deadline");
  assert.deepEqual(events, ["started"]);
  await clock.advance(1_500);
  assert.equal(le.leading, false);
  assert.deepEqual(events, ["started", "stopped"], "controllers told to stop exactly once");
});

test("renewal failures (API unreachable) end leadership at the deadline, not before", async () => {
  const clock = new FakeClock();
  const api = new FakeLeases();
  const { le, events } = elector(api, clock, () => undefined);
  le.start();
  await clock.advance(0);
  api.mode = "fail";
  await clock.advance(7_000); // attempts at 2, 4 and 6 s fail
  assert.ok(le.leading);
  api.mode = "ok"; // recovered in time: the attempt at 8 s renews
  await clock.advance(2_000);
  await clock.advance(20_000);
  assert.ok(le.leading);
  api.mode = "fail";
  await clock.advance(12_000);
  assert.equal(le.leading, false);
  assert.deepEqual(events, ["started", "stopped"]);
});

test("leading is read from the clock: a stalled process past the deadline does not read as leader", async () => {
  const clock = new FakeClock();
  const api = new FakeLeases();
  const { le } = elector(api, clock, () => undefined);
  le.start();
  await clock.advance(0);
  assert.ok(le.leading);
  clock.t += 11_000; // the event loop was blocked: no timer has run yet
  assert.equal(le.leading, false);
});

test("another holder takes the Lease: leadership ends at once", async () => {
  const clock = new FakeClock();
  const api = new FakeLeases();
  const { le, events } = elector(api, clock, () => undefined);
  le.start();
  await clock.advance(0);
  api.lease!.spec.holderIdentity = "other";
  await clock.advance(2_000);
  assert.equal(le.leading, false);
  assert.deepEqual(events, ["started", "stopped"]);
});

test("controllers that fail to start end leadership (the process restarts, as without leader election)", async () => {
  const clock = new FakeClock();
  const api = new FakeLeases();
  const { le, events } = elector(api, clock, () => Promise.reject(new Error("no CRDs")));
  le.start();
  await clock.advance(0);
  assert.equal(le.leading, false);
  assert.deepEqual(events, ["started", "stopped"]);
});

test("a standby waits a whole lease duration of an unchanged record before taking over", async () => {
  const clock = new FakeClock();
  const api = new FakeLeases();
  api.lease = {
    metadata: { name: "lease", namespace: "ns", resourceVersion: "100" },
    spec: { holderIdentity: "crashed", leaseDurationSeconds: 15, renewTime: "2020-01-01T00:00:00.000000Z" },
  };
  const { le, events } = elector(api, clock, () => undefined);
  le.start();
  await clock.advance(14_000);
  assert.equal(le.leading, false);
  await clock.advance(4_000);
  assert.ok(le.leading);
  assert.deepEqual(events, ["started"]);
  await le.stop();
});
