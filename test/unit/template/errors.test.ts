/**
 * Template errors never carry a data value: not as it is, not hex, base64, quoted or JSON-escaped,
 * whatever the template does to reach an error with it. Template source text may be quoted (it is
 * the tenant's own manifest); fail/required show their message only when it is a literal of the
 * template, a computed one (which could carry a secret) is withheld.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { renderEsoTemplate } from "../../../src/template/index.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const SECRET = 'hunter2-Canary:{"x"}';
const PIN = "918273";
const forms = (v: string): string[] => [
  v,
  Buffer.from(v).toString("hex"),
  Buffer.from(v).toString("hex").toUpperCase(),
  Buffer.from(v).toString("base64"),
  JSON.stringify(v).slice(1, -1),
  "hunter2",
  "Canary",
];
const FORBIDDEN = [...forms(SECRET), PIN];
const data = {
  password: SECRET,
  pin: PIN,
  list: "a,b",
  json: `{"password": "${SECRET}"`,
  yaml: `a: [${SECRET}`,
};

const HOSTILE = [
  "{{ .password | mustFromJson }}",
  "{{ .json | mustFromJson }}",
  '{{ fail (printf "%x" .password) }}',
  "{{ fail .password }}",
  '{{ fail (printf "%s" .password | b64enc) }}',
  "{{ fail (cat .pin) }}",
  "{{ fail (quote .password) }}",
  '{{ required (printf "missing %s" .password) .nothing }}',
  "{{ .nothing | required (print .password) }}",
  "{{ range .password }}{{ end }}",
  "{{ range .pin }}{{ end }}",
  "{{ index (list 1 2) (atoi .pin) }}",
  "{{ index .password (atoi .pin) }}",
  "{{ .password.field }}",
  "{{ .password | b64dec }}",
  "{{ .password | b32dec }}",
  '{{ toDate "2006-01-02" .password }}',
  "{{ .password | fromYaml | toJson }}",
  "{{ .yaml | fromYaml }}",
  "{{ .password | jwkPrivateKeyPem }}",
  "{{ .password | jwkPublicKeyPem }}",
  "{{ .password | pkcs12key }}",
  "{{ .password | pkcs12cert }}",
  "{{ pemToPkcs12 .password .password }}",
  "{{ .password | certSANs }}",
  '{{ filterCertChain "leaf" (printf "-----BEGIN CERTIFICATE-----\\n%s\\n-----END CERTIFICATE-----" (b64enc .password)) }}',
  '{{ rsaDecrypt .password "SHA256" "x" "y" }}',
  '{{ rsaDecrypt "RSA-OAEP" "SHA256" .password .password }}',
  "{{ eq .password 1 }}",
  "{{ lt .password 1 }}",
  "{{ len (atoi .pin) }}",
  '{{ substr (atoi .pin) 0 "abc" }}',
  "{{ div 1 (sub (atoi .pin) (atoi .pin)) }}",
  "{{ dict .password }}{{ dig .password (dict) }}",
  "{{ get (list) .password }}",
  "{{ slice .password 1 }}",
  "{{ keys .password }}",
  '{{ printf "%.500f" (float64 .pin) }}',
  "{{ template .password }}",
];

for (const [i, src] of HOSTILE.entries()) {
  test(`no value in the error: ${src}`, () => {
    let err: unknown;
    try {
      renderEsoTemplate(`k${i}`, src, data);
    } catch (e) {
      err = e;
    }
    if (err === undefined) return; // rendered: the output goes to the Secret, not to a status
    assert.ok(isCustosError(err), `a typed error, got ${err instanceof Error ? err.name : typeof err}`);
    assert.match(err.message, new RegExp(`^template: k${i}:`));
    for (const f of FORBIDDEN)
      assert.ok(!err.message.includes(f), `error quotes a value (${f}): ${err.message}`);
  });
}

test("fail and required show a literal message of the template (the tenant's own text)", () => {
  assert.throws(
    () => renderEsoTemplate("t", '{{ fail "the password must be rotated" }}', data),
    /error calling fail: the password must be rotated$/,
  );
  assert.throws(
    () => renderEsoTemplate("t", '{{ required "password is required" .nothing }}', data),
    /map has no entry|password is required/,
  );
  assert.throws(
    () => renderEsoTemplate("t", '{{ required "password is required" "" }}', data),
    /error calling required: password is required$/,
  );
  assert.throws(
    () => renderEsoTemplate("t", '{{ fail (printf "%x" .password) }}', data),
    /error calling fail: \(message withheld: fail and required show only string literals/,
  );
});

test("a value equal to a literal of the template is not a secret: shown", () => {
  assert.throws(
    () => renderEsoTemplate("t", '{{ $m := "bad input" }}{{ fail (print $m) }}', data),
    /error calling fail: bad input$/,
  );
});
