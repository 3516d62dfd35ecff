/**
 * hardenIntrinsics(), the second wall: with the operator's modules loaded and the intrinsics
 * frozen (in a child process, so this runner is unaffected), pollution attempts fail, libraries
 * and templates work, and instances can still override name/toString (the override mistake).
 * The whole unit suite also passes hardened before any module loads:
 *   node --import tsx --import ./test/unit/template/harden-preload.ts --test "test/unit/**\/*.test.ts"
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

test("frozen intrinsics: pollution fails, the engine and libraries keep working", () => {
  const out = execFileSync(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "harden-child.ts")],
    {
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  const r = JSON.parse(out) as Record<string, unknown>;
  assert.ok((r.frozen as number) > 40, `frozen ${String(r.frozen)} objects`);
  assert.equal(r.hardened, true);
  assert.equal(r.assignObjectPrototype, "TypeError");
  assert.equal(r.assignProtoViaLiteral, "TypeError");
  assert.equal(r.defineOnArrayPrototype, "TypeError");
  assert.equal(r.replaceJsonParse, "TypeError");
  assert.equal(r.instanceOverrides, "no error");
  assert.equal(r.custosError, "no error");
  assert.equal(r.libraries, "no error");
  assert.equal(r.templates, "no error");
  assert.match(String(r.templateOutput), /^\{"a":\[1,2\],"b":"V"\}012[0-9a-f]{8}00042a-b$/);
  assert.equal(r.templatePollution, "CustosError");
  assert.equal(r.prototypeClean, true);
  assert.deepEqual(r.async, [2, 4]);
  assert.equal(r.awsCredentials, true);
  assert.equal(r.awsCall, "network error");
  assert.equal(r.undici, "network error");
});
