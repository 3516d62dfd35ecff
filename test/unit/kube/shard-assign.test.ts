import { test } from "node:test";
import assert from "node:assert/strict";
import {
  assignShards,
  CLUSTER_SHARD,
  expired,
  liveMember,
  shardNames,
  shardLoads,
  shardOf,
  shardStep,
  type ShardState,
} from "../../../src/kube/shard-assign.ts";

const SHARDS = 32;
const names = shardNames(SHARDS);
const namespaces = (n: number): string[] => Array.from({ length: n }, (_, i) => `team-${i}`);

function split(nss: string[], members: string[]): Map<string, string[]> {
  const targets = assignShards(names, members, shardLoads(nss, SHARDS));
  const out = new Map<string, string[]>(members.map((m) => [m, []]));
  for (const ns of nss) out.get(targets.get(shardOf(ns, SHARDS))!)!.push(ns);
  return out;
}

test("shards: a namespace's shard is fixed; cluster-scoped work is the cluster shard", () => {
  assert.equal(shardOf("", SHARDS), CLUSTER_SHARD);
  assert.equal(shardOf("team-a", SHARDS), shardOf("team-a", SHARDS));
  for (const ns of namespaces(200)) assert.ok(Number(shardOf(ns, SHARDS)) < SHARDS);
  assert.equal(names.length, SHARDS + 1);
});

test("assignment is deterministic: any order of members, any replica, the same targets", () => {
  const a = assignShards(names, ["r-a", "r-b", "r-c"]);
  const b = assignShards([...names].reverse(), ["r-c", "r-a", "r-b", "r-a"]);
  assert.deepEqual([...a.entries()].sort(), [...b.entries()].sort());
  assert.equal(a.size, names.length);
});

test("every shard has exactly one target, and shard counts differ by at most one", () => {
  for (const members of [["a"], ["a", "b"], ["a", "b", "c"], ["a", "b", "c", "d", "e"]]) {
    const t = assignShards(names, members);
    const counts = members.map((m) => [...t.values()].filter((x) => x === m).length);
    assert.equal(
      counts.reduce((x, y) => x + y, 0),
      names.length,
    );
    assert.ok(
      Math.max(...counts) - Math.min(...counts) <= 1,
      `${members.length} members: ${counts.join("/")}`,
    );
  }
});

test("even split of 10, 100 and 1,000 namespaces over 3 replicas, within a tolerance", () => {
  const members = ["custos-0", "custos-1", "custos-2"];
  // namespaces per shard count in the assignment: at most ceil(n/3) each (a shard's namespaces
  // cannot be split, so a replica may fall a shard's worth short)
  for (const [n, tolerance] of [
    [10, 0.4],
    [100, 0.1],
    [1000, 0.05],
  ] as const) {
    const counts = [...split(namespaces(n), members).values()].map((v) => v.length);
    const mean = n / 3;
    for (const c of counts) {
      assert.ok(c >= 1, `${n}: a replica has no namespace (${counts.join("/")})`);
      assert.ok(
        Math.abs(c - mean) <= tolerance * mean,
        `${n}: ${counts.join("/")} beyond ±${tolerance * 100}%`,
      );
    }
  }
});

test("a replica leaving: its shards move, and (almost) only they", () => {
  const before = assignShards(names, ["a", "b", "c"]);
  const after = assignShards(names, ["a", "b"]);
  const forced = names.filter((s) => before.get(s) === "c").length;
  const moved = names.filter((s) => before.get(s) !== after.get(s)).length;
  assert.ok(moved >= forced);
  // the load bound may move a few more; far fewer than a rehash (which moves ~2/3)
  assert.ok(moved <= forced + Math.ceil(names.length / 8), `moved ${moved}, forced ${forced}`);
  for (const s of names) assert.notEqual(after.get(s), "c");
  // namespaces: those of a and b mostly stay
  const nss = namespaces(1000);
  const stayed = nss.filter((ns) => {
    const s = shardOf(ns, SHARDS);
    return before.get(s) !== "c" && before.get(s) === after.get(s);
  }).length;
  const keptBefore = nss.filter((ns) => before.get(shardOf(ns, SHARDS)) !== "c").length;
  assert.ok(stayed / keptBefore >= 0.8, `${stayed} of ${keptBefore} stayed`);
});

test("a replica joining: shards move only to the new replica, about 1/4 of them", () => {
  const before = assignShards(names, ["a", "b", "c"]);
  const after = assignShards(names, ["a", "b", "c", "d"]);
  const moved = names.filter((s) => before.get(s) !== after.get(s));
  const toNew = moved.filter((s) => after.get(s) === "d");
  assert.ok(toNew.length >= Math.floor(names.length / 4));
  assert.ok(
    moved.length <= toNew.length + Math.ceil(names.length / 8),
    `moved ${moved.length}, to d ${toNew.length}`,
  );
});

// --- the handover rule -------------------------------------------------------------------------

const NOW = 1_000_000;
const base: ShardState = {
  self: "a",
  target: "a",
  lease: undefined,
  now: NOW,
  lastRenew: 0,
  renewDeadlineMs: 10_000,
  inflight: 0,
};
const lease = (holder: string | undefined, observedAt = NOW, durationMs = 15_000) => ({
  holder,
  observedAt,
  durationMs,
});

test("handover: the target takes a missing or released Lease", () => {
  assert.deepEqual(shardStep(base), { action: "acquire", owned: false });
  assert.deepEqual(shardStep({ ...base, lease: lease(undefined) }), { action: "acquire", owned: false });
  assert.deepEqual(shardStep({ ...base, lease: lease("") }), { action: "acquire", owned: false });
});

test("handover: the target waits for a live holder's release or for its Lease to expire", () => {
  assert.deepEqual(shardStep({ ...base, lease: lease("b", NOW - 14_999) }), { action: "none", owned: false });
  assert.deepEqual(shardStep({ ...base, lease: lease("b", NOW - 15_000) }), {
    action: "acquire",
    owned: false,
  });
  // a non-target never takes it, even when it is free or expired
  for (const l of [undefined, lease(undefined), lease("b", 0)])
    assert.deepEqual(shardStep({ ...base, target: "c", lease: l }), { action: "none", owned: false });
});

test("handover: the holder writes only while target and renewed within the deadline", () => {
  const held = { ...base, lease: lease("a") };
  assert.deepEqual(shardStep({ ...held, lastRenew: NOW - 1000 }), { action: "renew", owned: true });
  assert.deepEqual(shardStep({ ...held, lastRenew: NOW - 10_001 }), { action: "renew", owned: false });
  assert.deepEqual(shardStep({ ...held, lastRenew: 0 }), { action: "renew", owned: false });
});

test("handover: a holder that is no longer the target stops writing, drains, then releases", () => {
  const leaving = { ...base, target: "b", lease: lease("a"), lastRenew: NOW - 1000 };
  assert.deepEqual(shardStep({ ...leaving, inflight: 2 }), { action: "renew", owned: false });
  assert.deepEqual(shardStep(leaving), { action: "release", owned: false });
});

test("handover: never two writers — over any interleaving of two replicas' views", () => {
  // a's and b's views of one Lease (holder) and of the target, at every combination: at most one
  // of them may write, since writing needs holding, and the Lease has one holder
  for (const holder of [undefined, "a", "b"])
    for (const ta of ["a", "b"])
      for (const tb of ["a", "b"]) {
        const l = lease(holder);
        const a = shardStep({ ...base, self: "a", target: ta, lease: l, lastRenew: NOW - 1 });
        const b = shardStep({ ...base, self: "b", target: tb, lease: l, lastRenew: NOW - 1 });
        assert.ok(!(a.owned && b.owned), `holder ${String(holder)}, targets ${ta}/${tb}`);
      }
});

test("membership: live while held and changing; expired after a whole duration unchanged", () => {
  assert.equal(liveMember(undefined, NOW), false);
  assert.equal(liveMember(lease(undefined), NOW), false);
  assert.equal(liveMember(lease("b", NOW - 14_000), NOW), true);
  assert.equal(liveMember(lease("b", NOW - 15_000), NOW), false);
  assert.equal(expired(lease("b", NOW - 15_000), NOW), true);
});

test("with loads: a replica leaving or joining moves few namespaces besides its own", () => {
  const nss = namespaces(1000);
  const loads = shardLoads(nss, SHARDS);
  const at = (members: string[]) => assignShards(names, members, loads);
  const three = at(["a", "b", "c"]);
  const two = at(["a", "b"]);
  const four = at(["a", "b", "c", "d"]);
  const owner = (t: Map<string, string>, ns: string) => t.get(shardOf(ns, SHARDS));
  const movedLeave = nss.filter((ns) => owner(three, ns) !== owner(two, ns));
  const forced = nss.filter((ns) => owner(three, ns) === "c");
  assert.ok(
    movedLeave.length <= forced.length * 1.5,
    `leave: moved ${movedLeave.length}, forced ${forced.length}`,
  );
  const movedJoin = nss.filter((ns) => owner(three, ns) !== owner(four, ns));
  const toNew = nss.filter((ns) => owner(four, ns) === "d");
  assert.ok(movedJoin.length <= toNew.length * 1.5, `join: moved ${movedJoin.length}, to d ${toNew.length}`);
});

test("with loads: a new namespace moves few shards", () => {
  const nss = namespaces(100);
  const before = assignShards(names, ["a", "b", "c"], shardLoads(nss, SHARDS));
  const after = assignShards(names, ["a", "b", "c"], shardLoads([...nss, "team-new"], SHARDS));
  const moved = names.filter((s) => before.get(s) !== after.get(s)).length;
  assert.ok(moved <= 6, `moved ${moved} shards`);
});
