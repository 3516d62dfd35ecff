/**
 * The per-render budget: template bombs stop with CUSTOS_TEMPLATE_BUDGET (a template error)
 * instead of exhausting the heap or blocking the event loop, and ordinary templates are within it.
 * Heap growth is checked with generous bounds (the bombs would need gigabytes).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import forge from "node-forge";
import { generateKeyPairSync } from "node:crypto";
import {
  DEFAULT_LIMITS,
  renderEsoTemplate,
  renderTemplate as renderWithClock,
  withTemplateBudget as withBudgetAndClock,
  type TemplateOptions,
} from "../../../src/template/index.ts";
import type { TemplateLimits } from "../../../src/template/exec.ts";
import { isCustosError } from "../../../src/util/errors.ts";
import { costly, Meter, withMeter } from "../../../src/template/budget.ts";

// What these tests assert are the step, byte, depth and cost budgets: the wall clock (tested on its
// own below, with an explicit maxMillis) is widened so a loaded machine never stops a render first.
const WIDE_CLOCK = { maxMillis: 600_000 };
const renderTemplate = (name: string, text: string, data: unknown, opts: TemplateOptions = {}): string =>
  renderWithClock(name, text, data, { ...opts, limits: { ...WIDE_CLOCK, ...opts.limits } });
const withTemplateBudget = <T>(fn: () => T, limits: Partial<TemplateLimits> = {}): T =>
  withBudgetAndClock(fn, { ...WIDE_CLOCK, ...limits });

const budget = (what: RegExp) => (e: unknown) =>
  isCustosError(e, "CUSTOS_TEMPLATE_BUDGET") &&
  /^template: t:\d+:\d+: /.test(e.message) &&
  what.test(e.message);

function heapGrowth(fn: () => void): number {
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  try {
    fn();
  } finally {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }
  return peak - before;
}

test("default budget: documented numbers", () => {
  assert.deepEqual(
    { ...DEFAULT_LIMITS },
    {
      maxSteps: 1_000_000,
      maxOutputBytes: 4 * 1024 * 1024,
      maxDepth: 100,
      maxBytes: 32 * 1024 * 1024,
      maxCost: 1000,
      maxMillis: 2000,
    },
  );
});

test("range over a huge integer iterates lazily and stops at the step budget", () => {
  const grew = heapGrowth(() => {
    assert.throws(
      () => renderTemplate("t", "{{ range 100000000 }}{{ end }}", {}),
      budget(/evaluation steps/),
    );
    assert.throws(
      () => renderTemplate("t", "{{ range $i := 100000000 }}{{ $i }}{{ end }}", {}),
      budget(/steps|output/),
    );
  });
  assert.ok(grew < 200 * 1024 * 1024, `heap grew ${grew} bytes`);
  // a small range still works, with break/continue and else
  assert.equal(
    renderTemplate("t", "{{ range $i := 5 }}{{ if eq $i 3 }}{{ break }}{{ end }}{{ $i }}{{ end }}", {}),
    "012",
  );
  assert.equal(renderTemplate("t", "{{ range 0 }}x{{ else }}empty{{ end }}", {}), "empty");
});

test("nested loops are charged per iteration", () => {
  assert.throws(
    () => renderTemplate("t", "{{ range 10000 }}{{ range 10000 }}{{ end }}{{ end }}", {}),
    budget(/evaluation steps/),
  );
  assert.throws(
    () =>
      renderTemplate(
        "t",
        '{{ define "r" }}{{ range 50 }}{{ template "r" }}{{ end }}{{ end }}{{ template "r" }}',
        {},
      ),
    budget(/steps|depth/),
  );
});

test("doubling a list with concat or append stops at the bytes budget", () => {
  const grew = heapGrowth(() => {
    assert.throws(
      () =>
        renderTemplate(
          "t",
          "{{ $l := list 1 }}{{ range 64 }}{{ $l = concat $l $l }}{{ end }}{{ len $l }}",
          {},
        ),
      budget(/bytes/),
    );
    assert.throws(
      () =>
        renderTemplate(
          "t",
          "{{ $l := list }}{{ range 100000 }}{{ $l = append $l 1 }}{{ end }}{{ len $l }}",
          {},
        ),
      budget(/bytes|steps/),
    );
  });
  assert.ok(grew < 300 * 1024 * 1024, `heap grew ${grew} bytes`);
});

test("doubling a string (printf, cat, replace, join) stops at the bytes budget", () => {
  for (const body of [
    '{{ $s = printf "%s%s" $s $s }}',
    "{{ $s = cat $s $s }}",
    '{{ $s = replace "x" "xx" $s }}',
    '{{ $s = list $s $s | join "" }}',
    "{{ $s = print $s $s }}",
  ]) {
    const src = `{{ $s := "xxxxxxxx" }}{{ range 60 }}${body}{{ end }}{{ len $s }}`;
    assert.throws(() => renderTemplate("t", src, {}), budget(/bytes/), body);
  }
});

test("printf widths and precisions are Go's (at most 1e6) and their padding is reserved", () => {
  // Go's fmt: a width over 1e6 swallows the rest of the verb ("%!(NOVERB)"), * gives BADWIDTH
  assert.equal(renderTemplate("t", '{{ printf "%500000000d" 1 }}', {}), "%!(NOVERB)%!(EXTRA int=1)");
  assert.equal(renderTemplate("t", '{{ printf "%*d" 500000000 1 }}', {}), "%!(BADWIDTH)1");
  assert.equal(renderTemplate("t", '{{ printf "%.*s" 500000000 "ab" }}', {}), "%!(BADPREC)ab");
  assert.equal(
    renderTemplate("t", '{{ printf "%-4d|%04d|%+d|%5.1f" 7 7 7 3.14159 }}', {}),
    "7   |0007|+7|  3.1",
  );
  assert.equal(renderTemplate("t", '{{ printf "%1000000d" 1 | len }}', {}), "1000000");
  assert.throws(
    () => renderTemplate("t", '{{ range 100 }}{{ $x := printf "%1000000d" 1 }}{{ end }}', {}),
    budget(/bytes/),
  );
  assert.throws(() => renderTemplate("t", '{{ printf "%.500f" 1.0 }}', {}), /precision above 100/);
});

test("indent, nindent and repeat: width bounded, size reserved before allocation", () => {
  assert.throws(() => renderTemplate("t", '{{ indent 500000000 "x" }}', {}), /indent width above 10000/);
  assert.throws(() => renderTemplate("t", '{{ nindent 500000000 "x" }}', {}), /indent width above 10000/);
  const many = "\n".repeat(100_000);
  assert.throws(() => renderTemplate("t", "{{ indent 10000 .s }}", { s: many }), budget(/exceed/));
  assert.throws(() => renderTemplate("t", '{{ repeat 100000000 "xx" }}', {}), budget(/exceed/));
  assert.throws(
    () => renderTemplate("t", '{{ range 100 }}{{ $x := repeat 500000 "xx" }}{{ end }}', {}),
    budget(/bytes/),
  );
  assert.equal(renderTemplate("t", '{{ indent 2 "a\\nb" }}|{{ nindent 2 "a" }}', {}), "  a\n  b|\n  a");
  assert.throws(() => renderTemplate("t", "{{ until 100000000 }}", {}), budget(/exceed/));
  assert.throws(() => renderTemplate("t", "{{ randAlphaNum 100000000 }}", {}), budget(/exceed/));
});

test("printing or encoding a shared or cyclic structure is charged per node", () => {
  // 2^40 leaves if printed naively
  const dag = "{{ $l := list 1 }}{{ range 40 }}{{ $l = list $l $l }}{{ end }}";
  for (const use of [
    "{{ $l }}",
    "{{ toJson $l }}",
    "{{ toYaml $l }}",
    '{{ printf "%v" $l }}',
    "{{ uniq $l }}",
  ])
    assert.throws(() => renderTemplate("t", dag + use, {}), budget(/steps|bytes/), use);
  const cyclic = '{{ $d := dict }}{{ $_ := set $d "self" $d }}';
  for (const use of ["{{ $d }}", "{{ toJson $d }}", "{{ toYaml $d }}"])
    assert.throws(() => renderTemplate("t", cyclic + use, {}), budget(/nesting|steps|bytes/), use);
});

test("all templates of one object share one budget: many keys do not multiply it", () => {
  const heavy = "{{ range 200000 }}{{ end }}"; // ~400k steps: one fits, three do not
  for (let i = 0; i < 5; i++) renderTemplate("t", heavy, {}); // separate renders: each its own budget
  assert.throws(
    () =>
      withTemplateBudget(() => {
        for (let i = 0; i < 5; i++) renderTemplate("t", heavy, {});
      }),
    budget(/evaluation steps/),
  );
  assert.equal(
    withTemplateBudget(() => renderTemplate("t", heavy + "ok", {})),
    "ok",
  );
});

test("a wall-clock backstop stops a render whose estimates prove wrong", () => {
  assert.throws(
    () =>
      renderTemplate(
        "t",
        "{{ range 100000000 }}{{ $x := add 1 2 }}{{ end }}",
        {},
        { limits: { maxMillis: 1 } },
      ),
    budget(/time budget of 1 ms/),
  );
});

test("time spent in cost-charged functions does not count against the wall clock (a slow node never fails a budgeted render)", () => {
  const busy = (ms: number): void => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      /* a slow bcrypt on a loaded node */
    }
  };
  const budget = { maxSteps: 1e9, maxBytes: 1e9, maxCost: 1e9, maxMillis: 200 };
  // 400 ms inside costly(): charged by cost, so the 200 ms clock still has room afterwards
  const charged = new Meter(budget);
  withMeter(charged, () => {
    costly(1, "test", () => {
      busy(400);
    });
    charged.checkTime();
  });
  // the same time spent outside costly() meets the clock
  const plain = new Meter(budget);
  assert.throws(
    () =>
      withMeter(plain, () => {
        busy(400);
        plain.checkTime();
      }),
    /time budget of 200 ms/,
  );
});

test("deep nesting in sources and values fails cleanly", () => {
  assert.throws(() => renderTemplate("t", "x".repeat(600 * 1024), {}), budget(/template source larger than/));
  assert.throws(
    () => renderTemplate("t", `{{ ${"(".repeat(5000)}1${")".repeat(5000)} }}`, {}),
    /nesting deeper than/,
  );
  assert.throws(
    () => renderTemplate("t", `${"{{ if 1 }}".repeat(5000)}${"{{ end }}".repeat(5000)}`, {}),
    /nesting deeper than/,
  );
  const deepJson = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
  assert.throws(() => renderTemplate("t", "{{ .j | mustFromJson }}", { j: deepJson }), budget(/nesting/));
});

test("quadratic functions are linear: uniq, has, without, filterPEM, trimAll, the lexer's trim", () => {
  assert.equal(renderTemplate("t", "{{ until 100000 | uniq | len }}", {}), "100000");
  assert.equal(renderTemplate("t", "{{ has 99999 (until 100000) }}", {}), "true");
  assert.equal(renderTemplate("t", "{{ without (until 100000) 1 2 | len }}", {}), "99998");
  const begins = "-----BEGIN CERTIFICATE-----\n".repeat(40_000);
  assert.equal(renderTemplate("t", '{{ .b | filterPEM "CERTIFICATE" }}', { b: begins }), "");
  const mismatched = "-----BEGIN A-----\n-----END B-----\n".repeat(20_000);
  assert.equal(renderTemplate("t", '{{ .b | filterPEM "A" }}', { b: mismatched }), "");
  assert.equal(renderTemplate("t", '{{ trimAll "a" .s | len }}', { s: `${"a".repeat(200_000)}b` }), "1");
  assert.equal(renderTemplate("t", `x${" ".repeat(200_000)}x {{- " y" }}`, {}), `x${" ".repeat(200_000)}x y`);
  assert.equal(renderTemplate("t", `x${" ".repeat(200_000)} {{- " y" }}`, {}), "x y");
  // filterPEM still finds blocks as Go's pem.Decode does
  const pem = "-----BEGIN A-----\nQQ==\n-----END A-----\n-----BEGIN B-----\nQg==\n-----END B-----\n";
  assert.equal(
    renderTemplate("t", '{{ .p | filterPEM "B" }}', { p: pem }),
    "-----BEGIN B-----\nQg==\n-----END B-----\n",
  );
});

test("bcrypt, htpasswd and genPrivateKey are charged to the cost budget", () => {
  const cheap = { limits: { maxCost: 200 } };
  assert.ok(renderTemplate("t", '{{ bcrypt "x" }}', {}, cheap).startsWith("$2"));
  assert.throws(
    () => renderTemplate("t", '{{ range 10 }}{{ bcrypt "x" }}{{ end }}', {}, cheap),
    budget(/cost units \(bcrypt/),
  );
  assert.throws(
    () => renderTemplate("t", '{{ range 10 }}{{ htpasswd "u" "p" }}{{ end }}', {}, cheap),
    budget(/bcrypt/),
  );
  // RSA-4096 generation is charged before it starts: with the default budget, one per render
  assert.throws(
    () => renderTemplate("t", '{{ genPrivateKey "rsa" }}', {}, cheap),
    budget(/genPrivateKey rsa/),
  );
  assert.throws(
    () => renderTemplate("t", '{{ range 2 }}{{ genPrivateKey "rsa" }}{{ end }}', {}),
    budget(/genPrivateKey rsa/),
  );
  assert.match(
    renderTemplate("t", '{{ range 100 }}{{ genPrivateKey "ecdsa" }}{{ end }}', {}),
    /EC PRIVATE KEY/,
  );
});

/** A PKCS#12 archive; with `macIterations`, its MAC iteration count is rewritten after signing. */
function p12(macIterations?: number): string {
  const keys = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const cert = forge.pki.createCertificate();
  const fkey = forge.pki.privateKeyFromPem(
    keys.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
  );
  cert.publicKey = forge.pki.publicKeyFromPem(
    keys.publicKey.export({ type: "spki", format: "pem" }).toString(),
  );
  cert.serialNumber = "01";
  cert.validity.notBefore = new Date();
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: "commonName", value: "x" }]);
  cert.setIssuer([{ name: "commonName", value: "x" }]);
  cert.sign(fkey);
  const asn = forge.pkcs12.toPkcs12Asn1(fkey, [cert], "", { algorithm: "3des", count: 2048 });
  const macData = (asn.value as forge.asn1.Asn1[])[2]!;
  if (macIterations !== undefined)
    (macData.value as forge.asn1.Asn1[])[2]!.value = forge.asn1.integerToDer(macIterations).getBytes();
  return forge.util.encode64(forge.asn1.toDer(asn).getBytes());
}

test("PKCS#12 key derivations are charged per iteration, before they run", () => {
  // run, these would take hours (forge derives ~150k iterations a second): refused up front
  const hostile = p12(2_000_000_000);
  assert.throws(
    () => renderEsoTemplate("t", "{{ .p | pkcs12cert }}", { p: hostile }),
    (e) => isCustosError(e, "CUSTOS_TEMPLATE") && /iteration count out of range/.test(e.message),
  );
  const costly = p12(500_000);
  assert.throws(
    () => renderEsoTemplate("t", "{{ .p | pkcs12cert }}", { p: costly }),
    budget(/PKCS#12 key derivation/),
  );
  // an ordinary archive still opens
  const ok = p12();
  assert.match(renderEsoTemplate("t", "{{ .p | pkcs12cert }}", { p: ok }), /BEGIN CERTIFICATE/);
});

test("ordinary ESO templates stay far inside the budget", () => {
  const data: Record<string, string> = {};
  for (let i = 0; i < 500; i++) data[`key${i}`] = `value-${i}-${"x".repeat(200)}`;
  const src = `{{- range $k, $v := . }}{{ $k | upper }}={{ $v | b64enc | quote }}
{{ end }}{{ toJson . | sha256sum }}{{ $d := dict }}{{ range $k, $v := . }}{{ $_ := set $d $k (trunc 10 $v) }}{{ end }}{{ len $d }}`;
  const out = renderEsoTemplate("t", src, data);
  assert.ok(out.endsWith("500"));
});
