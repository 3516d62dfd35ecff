/**
 * `custos status` rows: next refresh on the controller's cycle grid, ages as kubectl prints them,
 * the failing rule behind exit code 1, and the exact table.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  KINDS,
  age,
  anyFailing,
  formatRows,
  nextRefresh,
  rowOf,
  sortRows,
  type StatusRow,
} from "../../../src/cli/status/rows.ts";
import type { ExternalSecret } from "../../../src/controllers/externalsecret/types.ts";

const ES = KINDS.find((k) => k.kind === "ExternalSecret")!;
const SS = KINDS.find((k) => k.kind === "SealedSecret")!;
const NOW = Date.parse("2026-12-01T10:17:30Z");

const es = (spec: ExternalSecret["spec"], status?: ExternalSecret["status"]): ExternalSecret => ({
  metadata: { name: "db", namespace: "team-a" },
  spec,
  ...(status ? { status } : {}),
});

test("next refresh: the start of the next cycle of the interval's wall-clock grid", () => {
  // 1h grid: 10:17:30 is in the cycle starting 10:00, so the next starts at 11:00
  assert.equal(nextRefresh(es({ refreshInterval: "1h" }), NOW), Date.parse("2026-12-01T11:00:00Z"));
  assert.equal(nextRefresh(es({ refreshInterval: "15m" }), NOW), Date.parse("2026-12-01T10:30:00Z"));
  // default interval is 1h, as the controller's
  assert.equal(nextRefresh(es({}), NOW), Date.parse("2026-12-01T11:00:00Z"));
});

test("next refresh: none for interval 0, OnChange and CreatedOnce", () => {
  assert.equal(nextRefresh(es({ refreshInterval: "0" }), NOW), undefined);
  assert.equal(nextRefresh(es({ refreshInterval: "1h", refreshPolicy: "OnChange" }), NOW), undefined);
  assert.equal(nextRefresh(es({ refreshInterval: "1h", refreshPolicy: "CreatedOnce" }), NOW), undefined);
});

test("ages: kubectl's units, future times as 'in'", () => {
  assert.equal(age("2026-12-01T10:17:00Z", NOW), "30s");
  assert.equal(age("2026-12-01T10:00:00Z", NOW), "17m");
  assert.equal(age("2026-11-29T10:00:00Z", NOW), "2d");
  assert.equal(age("2026-12-01T11:00:00Z", NOW), "in 42m");
  assert.equal(age(undefined, NOW), "-");
});

test("rows: Ready condition, refreshTime as last sync, SealedSecret's Synced condition", () => {
  const row = rowOf(
    ES,
    es(
      { refreshInterval: "1h" },
      {
        refreshTime: "2026-12-01T10:00:00Z",
        conditions: [{ type: "Ready", status: "False", reason: "SecretSyncedError", message: "a\n  b" }],
      },
    ),
    NOW,
  );
  assert.deepEqual(row, {
    kind: "ExternalSecret",
    namespace: "team-a",
    name: "db",
    ready: "False",
    reason: "SecretSyncedError",
    lastSync: "2026-12-01T10:00:00Z",
    nextRefresh: "2026-12-01T11:00:00Z",
    message: "a b",
  });
  const sealed = rowOf(
    SS,
    {
      metadata: { name: "s", namespace: "team-a" },
      status: { conditions: [{ type: "Synced", status: "True", lastUpdateTime: "2026-12-01T10:15:00Z" }] },
    },
    NOW,
  );
  assert.equal(sealed.ready, "True");
  assert.equal(sealed.lastSync, "2026-12-01T10:15:00Z");
  assert.equal(sealed.nextRefresh, undefined);
  // no condition yet is Unknown, and counts as failing
  const fresh = rowOf(ES, es({}), NOW);
  assert.equal(fresh.ready, "Unknown");
  assert.equal(anyFailing([fresh]), true);
});

test("failing: anything not Ready", () => {
  const r = (ready: string): StatusRow => ({
    kind: "SecretStore",
    namespace: "",
    name: "x",
    ready,
    reason: "",
    message: "",
  });
  assert.equal(anyFailing([r("True"), r("True")]), false);
  assert.equal(anyFailing([r("True"), r("False")]), true);
  assert.equal(anyFailing([]), false);
});

test("table: exact columns, kinds in table order", () => {
  const rows = sortRows([
    {
      kind: "SecretStore",
      namespace: "team-a",
      name: "vault",
      ready: "True",
      reason: "Valid",
      message: "store validated",
    },
    {
      kind: "ExternalSecret",
      namespace: "team-a",
      name: "db",
      ready: "True",
      reason: "SecretSynced",
      lastSync: "2026-12-01T10:15:30Z",
      nextRefresh: "2026-12-01T11:00:00Z",
      message: "secret synced",
    },
  ]);
  assert.equal(
    formatRows(rows, "table", NOW),
    [
      "KIND             NAMESPACE   NAME    READY   REASON         LAST SYNC   NEXT REFRESH   MESSAGE",
      "ExternalSecret   team-a      db      True    SecretSynced   2m          in 42m         secret synced",
      "SecretStore      team-a      vault   True    Valid          -           -              store validated",
      "",
    ].join("\n"),
  );
  assert.equal(formatRows([], "table", NOW), "No resources found.\n");
  assert.deepEqual(JSON.parse(formatRows(rows, "json", NOW)), { items: rows });
});
