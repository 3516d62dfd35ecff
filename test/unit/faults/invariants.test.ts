import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkState,
  spuriousWrites,
  wrongDeletions,
  overlappingWriters,
  probeBound,
  formatTable,
  verdict,
  withSection,
  type Row,
} from "../../../bench/faults/invariants.ts";
import {
  parseAudit,
  listsByResource,
  isListRequest,
  isSecretWrite,
  type AuditEvent,
} from "../../../bench/faults/audit.ts";
import { peakPerSecond } from "../../../bench/faults/proxy.ts";

const ev = (over: Partial<AuditEvent>): AuditEvent => ({
  verb: "update",
  user: "a",
  resource: "secrets",
  namespace: "n",
  name: "s",
  code: 200,
  time: 0,
  ...over,
});

test("state: missing and wrong Secrets (an emptied Secret is wrong)", () => {
  const expected = new Map([
    ["n/a", { v: "1" }],
    ["n/b", { v: "2" }],
    ["n/c", { v: "3" }],
  ]);
  const actual = new Map<string, Record<string, string>>([
    ["n/a", { v: "1" }],
    ["n/c", {}],
  ]);
  assert.deepEqual(checkState(expected, actual), { missing: ["n/b"], wrong: ["n/c"] });
});

test("writes beyond those justified are spurious; deletions not allowed are wrong", () => {
  const writes = [ev({ name: "a" }), ev({ name: "a" }), ev({ name: "b" })];
  assert.deepEqual(spuriousWrites(writes, new Map([["n/a", 1]])), ["n/a (2 writes)", "n/b (1 writes)"]);
  assert.deepEqual(
    spuriousWrites(
      writes,
      new Map([
        ["n/a", 2],
        ["n/b", 1],
      ]),
    ),
    [],
  );
  assert.deepEqual(wrongDeletions([ev({ verb: "delete", name: "x" })], new Set(["n/y"])), ["n/x"]);
});

test("two writers: two replicas writing Secrets in one leader term", () => {
  const a1 = ev({ user: "a", time: 1 });
  const b2 = ev({ user: "b", time: 2 });
  const a3 = ev({ user: "a", time: 3 });
  assert.equal(overlappingWriters([a1, b2]), 1);
  assert.equal(overlappingWriters([a1, b2], [2]), 0);
  // a killed leader restarted and leading again after the next kill: a new term
  assert.equal(overlappingWriters([a1, b2, a3], [2, 3]), 0);
  assert.equal(overlappingWriters([a1, b2, a3], [2]), 1);
});

test("audit log: completed requests only, LISTs by resource, successful Secret writes", () => {
  const line = (stage: string, verb: string, resource: string, code = 200): string =>
    JSON.stringify({
      stage,
      verb,
      user: { username: "system:serviceaccount:custos-system:custos-0" },
      objectRef: { resource, namespace: "n", name: "s" },
      responseStatus: { code },
      stageTimestamp: "2026-01-01T00:00:00.000000Z",
    });
  const events = parseAudit(
    [
      line("ResponseStarted", "watch", "secrets"),
      line("ResponseComplete", "list", "secrets"),
      line("ResponseComplete", "list", "externalsecrets"),
      line("ResponseComplete", "create", "secrets", 409),
      line("ResponseComplete", "update", "secrets"),
      "{not json",
    ].join("\n"),
  );
  assert.equal(events.length, 4);
  assert.deepEqual(listsByResource(events), { secrets: 1, externalsecrets: 1 });
  assert.equal(events.filter(isSecretWrite).length, 1);
  assert.equal(events[0]!.time, Date.parse("2026-01-01T00:00:00Z"));
});

test("audit log: a paged LIST is one relist (later pages carry a continue token)", () => {
  const list = (uri: string): string =>
    JSON.stringify({
      stage: "ResponseComplete",
      verb: "list",
      user: { username: "system:serviceaccount:custos-system:custos-0" },
      objectRef: { resource: "secrets" },
      responseStatus: { code: 200 },
      requestURI: uri,
      stageTimestamp: "2026-01-01T00:00:00.000000Z",
    });
  const events = parseAudit(
    [
      list("/api/v1/secrets?labelSelector=a%3Db&limit=500"),
      list("/api/v1/secrets?continue=eyJ2IjoibWV0YS&labelSelector=a%3Db&limit=500"),
      list("/api/v1/secrets?limit=500&continue=eyJ2IjoibWV0YS"),
      list("/api/v1/secrets?limit=500&continue="),
    ].join("\n"),
  );
  assert.deepEqual(listsByResource(events), { secrets: 2 });
  assert.equal(events.filter(isListRequest).length, 4);
});

test("peak requests in any one-second window", () => {
  assert.equal(peakPerSecond([]), 0);
  assert.equal(peakPerSecond([0, 100, 999, 1000, 1500, 5000]), 3);
});

test("table: one row per scenario, failures named, pipes escaped", () => {
  const row: Row = {
    scenario: "s|x",
    load: "10 ES",
    faults: "f",
    lost: 0,
    corrupted: 0,
    spurious: 0,
    wrongDeletions: 0,
    convergeSeconds: 1.25,
    storeCalls: "1 / 2 / 3",
    operatorRestarts: 0,
    lists: 4,
    failed: [],
    notes: [],
  };
  assert.ok(verdict(row));
  const bad = { ...row, lost: 2, convergeSeconds: undefined };
  assert.ok(!verdict(bad));
  const t = formatTable([row, bad]).split("\n");
  assert.equal(t.length, 5);
  assert.match(t[2]!, /^\| s\\\|x \| 10 ES .* 1\.3 s .* held \|$/);
  assert.match(t[3]!, /never .* FAILED: 2 lost; did not converge \|$/);
});

test("probe bound: one read, then one per back-off step (2, 4, 8, 16, 30, 30 s ...)", () => {
  assert.equal(probeBound(0), 1);
  assert.equal(probeBound(2000), 2);
  assert.equal(probeBound(60_000), 6);
  assert.equal(probeBound(300_000), 14);
});

test("withSection: a run replaces its own section only, keeps the rest, appends a new one", () => {
  const first = withSection("", "scenarios", "table A");
  assert.match(first, /^# Reliability/);
  assert.match(first, /table A/);
  const withText = `${first}\n## Reading\nhand-written\n`;
  const soak = withSection(withText, "soak", "soak table");
  assert.ok(soak.indexOf("table A") < soak.indexOf("hand-written"));
  assert.ok(soak.indexOf("hand-written") < soak.indexOf("soak table"));
  const again = withSection(soak, "scenarios", "table B");
  assert.doesNotMatch(again, /table A/);
  assert.match(again, /table B/);
  assert.match(again, /hand-written/);
  assert.match(again, /soak table/);
  assert.equal(again.split("table B").length, 2);
});
