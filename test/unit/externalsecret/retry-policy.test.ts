/**
 * Which failures an ExternalSecret retries on the back-off and which wait for a change (retried on
 * the refresh schedule): a tenant's invalid object must not cost a reconcile every few seconds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WAIT_FOR_CHANGE } from "../../../src/controllers/externalsecret/reconcile.ts";
import { kvPath } from "../../../src/providers/vault/path.ts";
import { isCustosError } from "../../../src/util/errors.ts";

test("a remote key Vault refuses (traversal, encoded separators) waits for a change, not the back-off", () => {
  for (const key of ["a%2F..%2Fb", "../auth/token/lookup-self", "x\u0000y"]) {
    let code: string | undefined;
    try {
      kvPath(key, "secret", "v2");
    } catch (e) {
      if (isCustosError(e)) code = e.code;
    }
    assert.equal(code, "CUSTOS_INVALID_REMOTE_KEY", key);
    assert.ok(WAIT_FOR_CHANGE.has("CUSTOS_INVALID_REMOTE_KEY"));
  }
});

test("failures a retry can fix (store down, throttled, write races, missing data) keep the back-off", () => {
  for (const code of [
    "CUSTOS_STORE_UNREACHABLE",
    "CUSTOS_STORE_ERROR",
    "CUSTOS_THROTTLED",
    "CUSTOS_WRITE_CONFLICT",
    "CUSTOS_SECRET_NOT_FOUND",
    "CUSTOS_PROPERTY_NOT_FOUND",
    "CUSTOS_NAMESPACE_UNKNOWN",
    "CUSTOS_STORE_NOT_READY",
  ] as const)
    assert.ok(!WAIT_FOR_CHANGE.has(code), code);
  for (const code of [
    "CUSTOS_INVALID_SPEC",
    "CUSTOS_TEMPLATE",
    "CUSTOS_REGEX_INVALID",
    "CUSTOS_STORE_DENIED",
  ] as const)
    assert.ok(WAIT_FOR_CHANGE.has(code), code);
});
