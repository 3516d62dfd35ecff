import { test } from "node:test";
import assert from "node:assert/strict";
import { filePathProblem, objectVersion, parseMode, parsePermission } from "../../../src/csi/files.ts";

test("file paths: relative, clean, printable; everything else named", () => {
  for (const ok of ["a", "db/password", "a.b/c-d_e", "config/log_level", ".hidden"])
    assert.equal(filePathProblem(ok), undefined, ok);
  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["/etc/passwd", /relative/],
    ["../x", /"\.\." segment/],
    ["a/../b", /"\.\." segment/],
    ["./a", /"\." segment/],
    ["a//b", /empty segment/],
    ["a/", /empty segment/],
    ["a\\b", /backslash/],
    ["a\nb", /control/],
    ["x".repeat(1025), /longer/],
  ];
  for (const [p, re] of bad) assert.match(filePathProblem(p) ?? "", re, JSON.stringify(p));
});

test("modes: octal strings up to 0777; numbers refused (YAML reads 0400 as decimal)", () => {
  assert.equal(parseMode("0400", 0o644, "o"), 0o400);
  assert.equal(parseMode("644", 0o600, "o"), 0o644);
  assert.equal(parseMode(undefined, 0o600, "o"), 0o600);
  assert.equal(parseMode("", 0o600, "o"), 0o600);
  assert.throws(() => parseMode(400, 0o644, "o"), /octal string/);
  assert.throws(() => parseMode("0800", 0o644, "o"), /not an octal mode/);
  assert.throws(() => parseMode("01777", 0o644, "o"), /not an octal mode/);
});

test("the driver's permission: decimal os.FileMode, else 0644", () => {
  assert.equal(parsePermission("420"), 0o644);
  assert.equal(parsePermission("256"), 0o400);
  for (const bad of ["", "abc", "-1", "512", "0x1a4", " 420x"])
    assert.equal(parsePermission(bad), 0o644, bad);
});

test("object versions: change with bytes, mode or config; stable otherwise; keyed", () => {
  const key = Buffer.alloc(32, 1);
  const f = (text: string, mode = 0o644) => [{ path: "a", mode, contents: Buffer.from(text) }];
  const v = objectVersion(key, { k: 1 }, f("x"));
  assert.match(v, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(objectVersion(key, { k: 1 }, f("x")), v);
  assert.notEqual(objectVersion(key, { k: 1 }, f("y")), v);
  assert.notEqual(objectVersion(key, { k: 1 }, f("x", 0o400)), v);
  assert.notEqual(objectVersion(key, { k: 2 }, f("x")), v);
  assert.notEqual(objectVersion(Buffer.alloc(32, 2), { k: 1 }, f("x")), v);
  // no ambiguity between a path and contents boundaries
  assert.notEqual(
    objectVersion(key, null, [{ path: "ab", mode: 1, contents: Buffer.from("c") }]),
    objectVersion(key, null, [{ path: "a", mode: 1, contents: Buffer.from("bc") }]),
  );
});
