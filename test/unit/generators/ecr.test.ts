import { test } from "node:test";
import assert from "node:assert/strict";
import { splitToken } from "../../../src/generators/ecr.ts";
import { isCustosError } from "../../../src/util/errors.ts";

test("an ECR token is base64 of user:password (the password may hold colons)", () => {
  assert.deepEqual(splitToken(Buffer.from("AWS:p:w").toString("base64")), {
    username: "AWS",
    password: "p:w",
  });
  assert.throws(
    () => splitToken(Buffer.from("nocolon").toString("base64")),
    (e) => isCustosError(e, "CUSTOS_DECODE"),
  );
});
