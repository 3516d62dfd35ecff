/** The KIND/NAME argument of `custos explain`. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseTarget } from "../../../src/cli/explain/target.ts";
import { isCustosError } from "../../../src/util/errors.ts";

test("externalsecret/NAME, es/NAME and the plural and qualified forms", () => {
  for (const a of [
    "externalsecret/db",
    "es/db",
    "ExternalSecrets/db",
    "externalsecret.external-secrets.io/db",
  ])
    assert.deepEqual(parseTarget(a), { kind: "ExternalSecret", name: "db" });
});

test("anything else is refused with the accepted forms", () => {
  for (const a of ["db", "secret/db", "es/", "es/a/b"])
    assert.throws(
      () => parseTarget(a),
      (e: unknown) => isCustosError(e, "CUSTOS_INVALID_SPEC") && /externalsecret\/NAME/.test(e.message),
    );
});
