import { test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { mountError } from "../../../src/csi/server.ts";
import { CustosError } from "../../../src/util/errors.ts";
import { redactor } from "../../../src/util/redact.ts";

test("a failed mount: the stable code first, a status a retry can act on", () => {
  const cases: [CustosError, status][] = [
    [new CustosError("CUSTOS_INVALID_SPEC", "bad"), status.INVALID_ARGUMENT],
    [new CustosError("CUSTOS_STORE_NOT_FOUND", "x"), status.NOT_FOUND],
    [new CustosError("CUSTOS_SECRET_NOT_FOUND", "x"), status.NOT_FOUND],
    [new CustosError("CUSTOS_STORE_DENIED", "x"), status.PERMISSION_DENIED],
    [new CustosError("CUSTOS_ACCESS_DENIED", "x"), status.PERMISSION_DENIED],
    [new CustosError("CUSTOS_OPERATOR_IDENTITY_DENIED", "x"), status.PERMISSION_DENIED],
    [new CustosError("CUSTOS_MISSING_CREDENTIALS", "x"), status.UNAUTHENTICATED],
    [new CustosError("CUSTOS_STORE_UNREACHABLE", "x"), status.UNAVAILABLE],
    [new CustosError("CUSTOS_THROTTLED", "x"), status.RESOURCE_EXHAUSTED],
    [new CustosError("CUSTOS_INTERNAL", "x"), status.INTERNAL],
  ];
  for (const [e, code] of cases) {
    const m = mountError(e);
    assert.equal(m.code, code, e.code);
    assert.equal(m.reason, e.code);
    assert.equal(m.details, `${e.code}: ${e.message}`);
  }
  const other = mountError(new TypeError("boom"));
  assert.deepEqual(
    [other.code, other.reason, other.details],
    [status.INTERNAL, "CUSTOS_INTERNAL", "CUSTOS_INTERNAL: boom"],
  );
});

test("a failed mount never carries a secret value, and is bounded", () => {
  const value = "csi-unit-secret-value-7f3a";
  redactor.add(value);
  const m = mountError(new CustosError("CUSTOS_STORE_ERROR", `store said: ${value} is wrong`));
  assert.ok(!m.details.includes(value), m.details);
  assert.match(m.details, /^CUSTOS_STORE_ERROR: store said: \[REDACTED\] is wrong$/);
  assert.ok(mountError(new CustosError("CUSTOS_STORE_ERROR", "x".repeat(10_000))).details.length <= 2000);
});
