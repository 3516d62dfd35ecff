import { test } from "node:test";
import assert from "node:assert/strict";
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  publicEncrypt,
  constants,
} from "node:crypto";
import bcrypt from "bcryptjs";
import { renderTemplate, renderEsoTemplate, renderEsoTemplateBytes } from "../../../src/template/index.ts";
import { generateSealingKey } from "../../../src/sealing/keys.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const r = (t: string, data: unknown = {}): string => renderTemplate("t", t, data);

test("uuidv4, random strings, now", () => {
  assert.match(r("{{ uuidv4 }}"), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.match(r("{{ randAlphaNum 16 }}"), /^[A-Za-z0-9]{16}$/);
  assert.match(r("{{ randNumeric 8 }}"), /^[0-9]{8}$/);
  assert.notEqual(r("{{ randAlpha 20 }}"), r("{{ randAlpha 20 }}"));
  assert.match(r('{{ now | date "2006" }}'), /^20\d\d$/);
});

test("bcrypt and htpasswd verify", () => {
  assert.ok(bcrypt.compareSync("pw", r('{{ bcrypt "pw" }}')));
  const [user, hash] = r('{{ htpasswd "alice" "pw" }}').split(":") as [string, string];
  assert.equal(user, "alice");
  assert.ok(bcrypt.compareSync("pw", hash));
});

test("genPrivateKey makes parseable keys", () => {
  for (const t of ["rsa", "ecdsa", "ed25519"]) assert.ok(createPrivateKey(r(`{{ genPrivateKey "${t}" }}`)));
});

test("ESO functions: PKCS#12 round trip, filterPEM, toYaml/fromYaml, jwk, rsaDecrypt, certSANs", async () => {
  const key = await generateSealingKey({ bits: 2048, commonName: "example.com" });
  const keyPem = key.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const p12 = renderEsoTemplate("p", "{{ pemToPkcs12 .cert .key }}", {
    cert: key.certificatePem,
    key: keyPem,
  });
  const back = renderEsoTemplate("p", "{{ .p12 | pkcs12cert }}", { p12 });
  assert.equal(back.replace(/\r/g, "").trim(), key.certificatePem.trim());
  // as ESO does, the archive's raw bytes (binary values reach templates as bytes)
  const raw = new Uint8Array(Buffer.from(p12, "base64"));
  assert.equal(
    renderEsoTemplate("p", "{{ .raw | pkcs12cert }}", { raw }).replace(/\r/g, "").trim(),
    key.certificatePem.trim(),
  );
  assert.equal(renderEsoTemplate("p", "{{ .raw | b64enc }}", { raw }), p12, "b64enc of bytes is lossless");
  const pk = renderEsoTemplate("p", "{{ .p12 | pkcs12key }}", { p12 });
  assert.equal(createPrivateKey(pk).export({ type: "pkcs8", format: "pem" }).toString(), keyPem);
  const withPass = renderEsoTemplate("p", '{{ pemToPkcs12Pass .cert .key "pw" }}', {
    cert: key.certificatePem,
    key: keyPem,
  });
  assert.match(
    renderEsoTemplate("p", '{{ .p | pkcs12certPass "pw" }}', { p: withPass }),
    /BEGIN CERTIFICATE/,
  );
  const bundle = `${key.certificatePem}${keyPem}`;
  assert.equal(
    renderEsoTemplate("p", '{{ .b | filterPEM "CERTIFICATE" }}', { b: bundle }).trim(),
    key.certificatePem.trim(),
  );
  // sigs.k8s.io/yaml goes through JSON: keys come out sorted
  assert.equal(renderEsoTemplate("p", "{{ .y | fromYaml | toYaml }}", { y: "b: 2\na: x\n" }), "a: x\nb: 2");
  const jwk = JSON.stringify(
    generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }),
  );
  assert.match(renderEsoTemplate("p", "{{ .j | jwkPrivateKeyPem }}", { j: jwk }), /BEGIN PRIVATE KEY/);
  // the public part as PKIX, from a private JWK and from a public one
  const pub = renderEsoTemplate("p", "{{ .j | jwkPublicKeyPem }}", { j: jwk });
  assert.match(pub, /^-----BEGIN PUBLIC KEY-----/);
  const publicJwk = JSON.stringify(createPublicKey(pub).export({ format: "jwk" }));
  assert.equal(renderEsoTemplate("p", "{{ .j | jwkPublicKeyPem }}", { j: publicJwk }), pub);
  const ct = publicEncrypt(
    { key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
    Buffer.from("hidden"),
  ).toString("base64");
  assert.equal(
    renderEsoTemplate("p", '{{ rsaDecrypt "RSA-OAEP" "SHA256" .c .k }}', { c: ct, k: keyPem }),
    "hidden",
  );
  // as ESO: the raw ciphertext bytes (here from b64dec), "None" passes through, others fail
  assert.equal(
    renderEsoTemplate("p", '{{ rsaDecrypt "RSA-OAEP" "SHA256" (b64dec .c) .k }}', { c: ct, k: keyPem }),
    "hidden",
  );
  assert.equal(renderEsoTemplate("p", '{{ rsaDecrypt "None" "SHA256" "plain" .k }}', { k: keyPem }), "plain");
  assert.throws(
    () => renderEsoTemplate("p", '{{ rsaDecrypt "RSA-PKCS1" "SHA256" .c .k }}', { c: ct, k: keyPem }),
    /decryption scheme is not supported \(supported: None, RSA-OAEP\)/,
  );
  // the bytes of a binary value are written as they are (Go writes a string's bytes)
  const binary = Buffer.from([0, 255, 254, 128, 10]);
  assert.deepEqual(
    Buffer.from(renderEsoTemplateBytes("p", "x{{ .b | b64dec }}y", { b: binary.toString("base64") })),
    Buffer.concat([Buffer.from("x"), binary, Buffer.from("y")]),
  );
  // binary survives b64dec | b64enc exactly
  const bin = Buffer.from([0, 255, 254, 128, 10]).toString("base64");
  assert.equal(renderEsoTemplate("p", "{{ .b | b64dec | b64enc }}", { b: bin }), bin);
});

test("env and expandenv do not exist; unknown functions are named", () => {
  for (const f of ["env", "expandenv", "nosuch"]) {
    assert.throws(
      () => r(`{{ ${f} "HOME" }}`),
      (e) => isCustosError(e, "CUSTOS_TEMPLATE") && e.message.includes(`function "${f}" not defined`),
    );
  }
});

test("errors carry template name, line and column, never data", () => {
  assert.throws(
    () => renderEsoTemplate("tls.crt", "line one\n{{ .missing }}", { secret: "canary-1234" }),
    (e) =>
      isCustosError(e) &&
      /^template: tls\.crt:2:4: /.test(e.message) &&
      e.message.includes('"missing"') &&
      !e.message.includes("canary"),
  );
  assert.throws(() => r("{{ if }}"), /template: t:1:\d+: missing value for if/);
});

test("limits: endless loops, huge output and deep recursion stop with an error", () => {
  const limits = { maxSteps: 10_000, maxOutputBytes: 10_000, maxDepth: 10 };
  assert.throws(
    () => renderTemplate("t", "{{ range until 1000000 }}{{ . }}{{ end }}", {}, { limits }),
    /exceeded 10000 evaluation steps|exceed/,
  );
  assert.throws(
    () =>
      renderTemplate(
        "t",
        "{{ range until 5000 }}xxxxxxxxxx{{ end }}",
        {},
        { limits: { ...limits, maxSteps: 1e9 } },
      ),
    /output exceeds/,
  );
  assert.throws(
    () =>
      renderTemplate(
        "t",
        '{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}',
        {},
        { limits },
      ),
    /maximum template depth/,
  );
  assert.throws(() => r('{{ repeat 100000000 "xx" }}'), /exceed/);
});

test("custom delimiters", () => {
  assert.equal(
    renderTemplate("t", "<< .a >> {{ .a }}", { a: "x" }, { leftDelim: "<<", rightDelim: ">>" }),
    "x {{ .a }}",
  );
});
