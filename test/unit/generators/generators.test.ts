import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_SYMBOLS,
  encodePassword,
  generatePassword,
  passwordConfig,
  passwords,
} from "../../../src/generators/password.ts";
import { generate, generatorRefProblem } from "../../../src/generators/index.ts";
import { buildSecretData } from "../../../src/controllers/externalsecret/data.ts";
import { validateExternalSecret } from "../../../src/controllers/externalsecret/validate.ts";
import type { ExternalSecret } from "../../../src/controllers/externalsecret/types.ts";
import { isCustosError } from "../../../src/util/errors.ts";
import { redactor } from "../../../src/util/redact.ts";

const count = (s: string, set: string): number => Array.from(s).filter((c) => set.includes(c)).length;
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = LOWER.toUpperCase();

test("Password defaults as ESO: 24 characters, a quarter digits, a quarter symbols, no repeats", () => {
  assert.deepEqual(passwordConfig({}), {
    length: 24,
    digits: 6,
    symbols: 6,
    symbolCharacters: DEFAULT_SYMBOLS,
    noUpper: false,
    allowRepeat: false,
  });
  for (let i = 0; i < 200; i++) {
    const p = new TextDecoder().decode(passwords({}).password);
    assert.equal(Array.from(p).length, 24);
    assert.equal(count(p, "0123456789"), 6);
    assert.equal(count(p, DEFAULT_SYMBOLS), 6);
    assert.equal(count(p, LOWER + UPPER), 12);
    assert.equal(new Set(p).size, 24, "no character twice");
  }
  assert.equal(passwordConfig({ length: 10 }).digits, 2, "rounded down");
});

test("Password options: noUpper, symbolCharacters, allowRepeat, secretKeys, encodings", () => {
  const p = generatePassword({
    ...passwordConfig({ length: 40, noUpper: true, symbols: 3, digits: 5 }),
    symbolCharacters: "#%",
    allowRepeat: true,
  });
  assert.equal(p.length, 40);
  assert.equal(count(p, UPPER), 0);
  assert.equal(count(p, "#%"), 3);
  const many = passwords({ secretKeys: ["a", "b"], length: 8, digits: 0, symbols: 0 });
  assert.deepEqual(Object.keys(many), ["a", "b"]);
  assert.notEqual(Buffer.from(many.a!).toString(), Buffer.from(many.b!).toString());
  const s = (enc: Parameters<typeof encodePassword>[1]): string =>
    Buffer.from(encodePassword("foobar?>", enc)).toString();
  assert.equal(s("raw"), "foobar?>");
  assert.equal(s("base64"), "Zm9vYmFyPz4=");
  assert.equal(s("base64url"), "Zm9vYmFyPz4=");
  assert.equal(Buffer.from(encodePassword("fo?>", "base64url")).toString(), "Zm8_Pg==");
  assert.equal(s("hex"), "666f6f6261723f3e");
  assert.equal(Buffer.from(encodePassword("foobar", "base32")).toString(), "MZXW6YTBOI======");
});

test("Password refusals with go-password's reasons", () => {
  const bad = (spec: Parameters<typeof passwords>[0], re: RegExp): void =>
    assert.throws(
      () => passwords(spec),
      (e: unknown) => isCustosError(e, "CUSTOS_INVALID_SPEC") && re.test(e.message),
    );
  bad({ length: 4, digits: 3, symbols: 3 }, /exceeds the length/);
  bad({ length: 60, digits: 0, symbols: 0 }, /letters exceeds available letters/);
  bad({ length: 20, digits: 11, symbols: 0 }, /digits exceeds available digits/);
  bad({ length: 20, symbols: 3, digits: 0, symbolCharacters: "#" }, /symbols exceeds available symbols/);
  bad({ secretKeys: ["a", "a"] }, /unique/);
  bad({ length: 100_000, allowRepeat: true }, /over/);
  assert.equal(
    new TextDecoder().decode(passwords({ length: 60, digits: 0, symbols: 0, allowRepeat: true }).password)
      .length,
    60,
  );
});

test("UUID and Fake generators; generated values are registered for redaction", () => {
  const u = new TextDecoder().decode(generate("UUID", {}).uuid);
  assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(redactor.redact(`value ${u} here`).includes(u), false);
  const f = generate("Fake", { data: { user: "fake-user", pass: "fake-pass-1" } });
  assert.deepEqual(Object.fromEntries(Object.entries(f).map(([k, v]) => [k, new TextDecoder().decode(v)])), {
    user: "fake-user",
    pass: "fake-pass-1",
  });
  const pw = new TextDecoder().decode(passwords({}).password);
  assert.equal(redactor.redact(pw), pw, "passwords() alone registers nothing");
  const g = new TextDecoder().decode(generate("Password", {}).password);
  assert.ok(!redactor.redact(`x ${g} y`).includes(g));
  assert.throws(() => generate("VaultDynamicSecret", {}), /not supported yet/);
});

test("generatorRef checks and an ExternalSecret with only generators needs no store", () => {
  assert.equal(
    generatorRefProblem({
      apiVersion: "generators.external-secrets.io/v1alpha1",
      kind: "Password",
      name: "p",
    }),
    undefined,
  );
  assert.equal(generatorRefProblem({ kind: "ClusterGenerator", name: "p" }), undefined);
  assert.match(generatorRefProblem({ kind: "Password", name: "p", apiVersion: "v1" }) ?? "", /apiVersion/);
  assert.match(generatorRefProblem({ kind: "GithubAccessToken", name: "p" }) ?? "", /not supported yet/);
  const es: ExternalSecret = {
    metadata: { name: "e", namespace: "n" },
    spec: { dataFrom: [{ sourceRef: { generatorRef: { kind: "Password", name: "p" } } }] },
  } as ExternalSecret;
  assert.deepEqual(validateExternalSecret(es), []);
  const withRead = {
    ...es,
    spec: { ...es.spec, data: [{ secretKey: "x", remoteRef: { key: "k" } }] },
  } as ExternalSecret;
  assert.match(validateExternalSecret(withRead).join(), /secretStoreRef.name is required/);
});

test("generated values in the Secret data: rewrites apply, keys are not converted, data[] wins", () => {
  const es = {
    metadata: { name: "e", namespace: "n" },
    spec: {
      secretStoreRef: { name: "s" },
      dataFrom: [
        {
          sourceRef: { generatorRef: { kind: "Password", name: "p" } },
          rewrite: [{ regexp: { source: "password", target: "db_pass" } }],
        },
        { sourceRef: { generatorRef: { kind: "Fake", name: "f" } } },
      ],
    },
  } as unknown as ExternalSecret;
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  const built = buildSecretData(
    es,
    {
      reads: new Map(),
      finds: new Map(),
      generated: new Map<number, Record<string, Uint8Array>>([
        [0, { password: enc("pw") }],
        [1, { "a/b": enc("x") }],
      ]),
    },
    () => "",
  );
  assert.deepEqual(Object.keys(built.data).sort(), ["a/b", "db_pass"]);
});
