import { test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { goQuote, formsOf, Redactor, REDACTED } from "../../../src/util/redact.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const leaks = (r: Redactor, message: string): boolean => r.redact(message) === message;

test("a value is redacted as itself, JSON-escaped, %q, percent-encoded, base64, base64url and hex", () => {
  const r = new Redactor();
  const v = 'pa"ss\\wo\nrd<&>/+?é';
  r.add(v);
  const bytes = Buffer.from(v);
  const forms = [
    v,
    JSON.stringify(v),
    JSON.stringify(JSON.stringify(v)),
    JSON.stringify(v).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026"),
    `"pa\\"ss\\\\wo\\nrd<&>/+?é"`, // Go %q
    encodeURIComponent(v),
    bytes.toString("base64"),
    bytes.toString("base64url"),
    bytes.toString("hex"),
    bytes.toString("hex").toUpperCase(),
  ];
  for (const f of forms) {
    const out = r.redact(`error: got ${f} here`);
    assert.ok(!out.includes(f), `form ${f} redacted: ${out}`);
    assert.ok(out.startsWith("error: got ") && out.endsWith(" here") && out.includes(REDACTED));
  }
});

test("a value inside a longer base64 text is found at any byte alignment", () => {
  const r = new Redactor();
  const v = "s3cr3t-value-xyz";
  r.add(v);
  for (const prefix of ["", "a", "ab", "abc", '{"password":"']) {
    const b64 = Buffer.from(`${prefix}${v}","user":"admin"}`).toString("base64");
    const out = r.redact(b64);
    assert.notEqual(out, b64, `alignment of ${JSON.stringify(prefix)}`);
    // nothing that decodes back to the value is left
    assert.ok(!Buffer.from(out.replaceAll(REDACTED, ""), "base64").toString("latin1").includes(v));
  }
});

test("binary values are matched by their bytes: base64, hex, latin1 and Go %q with \\x escapes", () => {
  const r = new Redactor();
  const bin = Buffer.from([0xff, 0x00, 0xfe, 0x41, 0x42, 0x80, 0x7f, 0x22, 0x0a, 0xc3]);
  r.add(bin);
  assert.equal(goQuote(bin), '\\xff\\x00\\xfeAB\\x80\\x7f\\"\\n\\xc3');
  for (const f of [
    bin.toString("base64"),
    bin.toString("base64url"),
    bin.toString("hex"),
    bin.toString("latin1"),
    goQuote(bin),
  ])
    assert.ok(!leaks(r, `x ${f} y`) && !r.redact(`x ${f} y`).includes(f), f);
  // matched by its bytes: the lossy UTF-8 decoding (U+FFFD for each bad byte) is not the key
  assert.ok(formsOf(bin).includes(bin.toString("latin1")));
  const other = Buffer.from(bin);
  other[0] = 0xfe; // same lossy UTF-8 text, different bytes
  assert.equal(other.toString("utf8"), bin.toString("utf8"));
  assert.ok(leaks(r, `x ${other.toString("base64")} y`), "a different binary value is not redacted");
});

test("Go %q escapes like strconv.Quote", () => {
  assert.equal(goQuote(Buffer.from('a"b\\c\td\u0007\u00ad€😀')), 'a\\"b\\\\c\\td\\a\\u00ad€😀');
  assert.equal(goQuote(Buffer.from("\u0001\u007f")), "\\x01\\x7f");
});

test("values under 4 characters are not registered (they would blank ordinary words)", () => {
  const r = new Redactor();
  r.add("abc");
  r.add(Buffer.from([1, 2, 3]));
  assert.equal(r.size, 0);
  assert.equal(r.redact("abc abc"), "abc abc");
});

test("JSON documents: their leaves are registered too", () => {
  const r = new Redactor();
  r.add('{"user":"admin-user","password":"hunter2-long","n":123456}');
  assert.equal(r.redact("x hunter2-long admin-user 123456"), `x ${REDACTED} ${REDACTED} ${REDACTED}`);
});

test("overlapping occurrences are redacted as one run; the longest form wins", () => {
  const r = new Redactor();
  r.add("abcdefgh12");
  r.add("gh12345678");
  assert.equal(r.redact("<abcdefgh12345678>"), `<${REDACTED}>`);
  assert.equal(r.redact("abcdefgh12"), REDACTED);
});

test("an owner's values live as long as the owner: released explicitly, or when it is collected", async () => {
  const r = new Redactor();
  const session = {};
  const other = {};
  r.add("token-of-session", session);
  r.add("shared-value-1", session);
  r.add("shared-value-1", other);
  assert.equal(r.size, 2);
  r.release(session);
  assert.ok(leaks(r, "token-of-session"), "released with its owner");
  assert.ok(!leaks(r, "shared-value-1"), "still held by another owner");

  (() => {
    r.add("held-by-gc-owner", {}); // an owner nothing else holds
  })();
  for (let i = 0; i < 20 && !leaks(r, "held-by-gc-owner"); i++) {
    gc();
    await new Promise((res) => setTimeout(res, 10));
  }
  assert.ok(leaks(r, "held-by-gc-owner"), "collected owner: its values go");
  assert.ok(!leaks(r, "shared-value-1"), "a live owner's value never goes");
});

test("the ambient owner: values registered in a scope (and what it awaits) go when it ends", async () => {
  const r = new Redactor();
  const session = {};
  await r.scoped(async () => {
    r.add("reconcile-value");
    await new Promise((res) => setTimeout(res, 1));
    r.add("after-await-value");
    r.add("session-token-xyz", session); // an explicit owner wins
    r.run(session, () => {
      r.add("login-credential");
    });
    assert.equal(r.redact("reconcile-value after-await-value"), `${REDACTED} ${REDACTED}`);
  });
  assert.ok(leaks(r, "reconcile-value") && leaks(r, "after-await-value"));
  assert.ok(!leaks(r, "session-token-xyz") && !leaks(r, "login-credential"));
});

test("no unbounded set: an owner's oldest registrations go past its cap, a re-registered value stays", () => {
  const r = new Redactor({ maxOwnerValues: 500, maxProcessValues: 100 });
  const owner = {};
  r.add("keep-me-alive-0", owner);
  for (let i = 0; i < 510; i++) {
    r.add(`value-${i}-xxxx`, owner);
    if (i % 10 === 0) r.add("keep-me-alive-0", owner); // in use: registered again on use
  }
  assert.equal(r.size, 500);
  assert.ok(!leaks(r, "keep-me-alive-0"));
  assert.ok(leaks(r, "value-0-xxxx"));
  assert.equal(r.evicted, 11);
  // the process owner (no owner known) is capped the same way
  for (let i = 0; i < 150; i++) r.add(`process-${i}-xxxx`);
  assert.equal(r.size, 600);
});

test("releasing everything leaves no pattern behind", () => {
  const r = new Redactor();
  const o = {};
  for (let i = 0; i < 500; i++) r.add(`${"p".repeat(i % 40)}value-${i}`, o);
  assert.ok(r.patterns > 0);
  r.release(o);
  assert.equal(r.size, 0);
  assert.equal(r.patterns, 0);
});

test("many values sharing long prefixes are all found", () => {
  const r = new Redactor();
  const prefix = "A".repeat(40);
  for (let i = 0; i < 300; i++) r.add(`${prefix}${i}-tail`);
  for (const i of [0, 7, 150, 299]) assert.equal(r.redact(`x ${prefix}${i}-tail y`), `x ${REDACTED} y`);
  assert.equal(r.redact(`x ${prefix}-none y`), `x ${prefix}-none y`);
});

test("a very long message is cut at 64 KiB, and a value across the cut is still redacted whole", () => {
  const r = new Redactor();
  const v = "straddling-secret-value-0123456789";
  r.add(v);
  const text = `${"x".repeat(64 * 1024 - 10)}${v}${"y".repeat(100_000)}`;
  const out = r.redact(text);
  assert.ok(out.length < 64 * 1024 + 40);
  assert.ok(out.endsWith("…[truncated]"));
  assert.ok(!out.includes(v.slice(0, 6)), "no prefix of the value is left before the cut");
});

test("work per registration is bounded: values past 64 KiB are not kept, a document gives 10,000 leaves at most", () => {
  const r = new Redactor({ maxOwnerValues: 1_000_000 });
  r.add("v".repeat(65 * 1024));
  assert.equal(r.size, 0);
  const doc: Record<string, string> = {};
  for (let i = 0; i < 12_000; i++) doc[`k${i}`] = `leaf-value-${i}`;
  const owner = {};
  r.add(JSON.stringify(doc), owner);
  assert.equal(r.size, 10_000, "the leaves (the ~300 KB document itself is past 64 KiB)");
});
