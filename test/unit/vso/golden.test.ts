/** `_raw` and status.secretMAC against what Go's encoding/json and crypto/hmac give (tools/vso-golden). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { rawOf, secretData, secretMac } from "../../../src/controllers/vso/static.ts";
import { parseJson } from "../../../src/util/json.ts";

const dir = join(import.meta.dirname, "..", "..", "fixtures", "vso");
interface Case {
  name: string;
  kind: "kv-v1" | "kv-v2";
  data: unknown;
  metadata: unknown;
  key: string;
}
// the cases file is read as the Vault client reads an answer (the project's JSON parser)
const cases = parseJson(readFileSync(join(dir, "cases.json"), "utf8")) as Case[];
const golden = JSON.parse(readFileSync(join(dir, "golden.json"), "utf8")) as {
  name: string;
  data: Record<string, string>;
  mac: string;
}[];

for (const c of cases) {
  test(`golden: ${c.name}`, () => {
    const want = golden.find((g) => g.name === c.name)!;
    const secret = c.data as Record<string, unknown>;
    const data = secretData({
      secret,
      raw: rawOf(c.kind, secret, c.metadata),
    });
    const got = Object.fromEntries(
      Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
    );
    assert.deepEqual(got, want.data);
    assert.equal(secretMac(Buffer.from(c.key, "base64"), data), want.mac);
  });
}
