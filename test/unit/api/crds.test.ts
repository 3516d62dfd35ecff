import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const dir = join(import.meta.dirname, "..", "..", "..", "deploy", "crds");
const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));

interface Crd {
  spec: {
    names: { shortNames?: string[]; kind: string };
    versions: { name: string; served: boolean; storage: boolean; additionalPrinterColumns?: unknown[] }[];
  };
}

test("every CRD fits client-side kubectl apply (under 262,144 bytes)", () => {
  assert.ok(files.length >= 4);
  for (const f of files) assert.ok(readFileSync(join(dir, f)).length < 262_144, f);
});

test("external-secrets.io: v1 stored, v1beta1 served with the same schema; short names", () => {
  const expect: Record<string, string> = {
    externalsecrets: "es",
    secretstores: "ss",
    clustersecretstores: "css",
  };
  for (const [plural, short] of Object.entries(expect)) {
    const c = parse(readFileSync(join(dir, `external-secrets.io_${plural}.yaml`), "utf8")) as Crd;
    assert.deepEqual(c.spec.names.shortNames, [short]);
    const [v1, beta] = c.spec.versions;
    assert.equal(v1?.name, "v1");
    assert.equal(v1?.storage, true);
    assert.equal(beta?.name, "v1beta1");
    assert.equal(beta?.served, true);
    assert.equal(beta?.storage, false);
    assert.deepEqual((beta as Record<string, unknown>).schema, (v1 as Record<string, unknown>).schema);
    assert.ok(v1?.additionalPrinterColumns?.length);
  }
});

test("no server-side defaults anywhere (GitOps drift)", () => {
  for (const f of files) assert.ok(!/^\s*default:/m.test(readFileSync(join(dir, f), "utf8")), f);
});

test("strategy enums are validated", () => {
  const text = readFileSync(join(dir, "external-secrets.io_externalsecrets.yaml"), "utf8");
  for (const v of ["Base64URL", "KeysAndValues", "CreatedOnce", "Orphan", "Fetch", "Unicode"])
    assert.match(text, new RegExp(`- ${v}$`, "m"));
});
