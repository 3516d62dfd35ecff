/**
 * Writes test/fixtures/template/yaml-cases.json: hand-picked values for each rule of toYaml and
 * toJson (key order, quoting, block scalars, folding, numbers) and generated ones mixing them
 * (fixed seed, so the file is the same every run). See README.md.
 */
import { writeFileSync } from "node:fs";
import { goJsonMarshal } from "../../src/util/gojson.ts";

const ATOMS = [
  "a", "b", "a10", "a2", "a02", "A", "_", "-", "1", "y", "n", "yes", "No", "on", "OFF", "true", "null",
  "~", "", " ", "x ", " x", "a: b", "a:b", "#c", "a #c", "a#c", "- x", "-x", "---", "...", "? x", "?x",
  "[x]", "x, y", "{", "'q'", '"d"', "&a", "*a", "!t", "|", ">", "%", "@", "`", "0755", "0x1F", "0b101",
  "1_000", "1.5", ".5", "1e3", "1E+3", "+1", "-1", ".inf", ".NaN", "1:20", "12:30:45", "2001-12-14",
  "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2001-13-01", "2001-2-30", "1e400",
  ".5e3", "0b2", "-0b101", "08", "0o17", "9223372036854775808", "18446744073709551616", "1:60", "<<",
  "é", "日本", "\u{1F600}", "\t", "a\tb", "\r", "a\nb", "a\n", "a\n\n", "\n", "\na", " a\nb", "a \nb",
  "a\n b", "\u2028", "a\u2028b", "\u0085", "a\u0085b", "a \u0085\u0085 b", "\u00a0", "\ufeff", "\u0007",
  "\x7f", "\u0086", "\\", "a'b", "<&>", "x".repeat(90), "word ".repeat(25).trim(), "w  ".repeat(40).trim(),
  "a\tb ".repeat(30), "q' ".repeat(30), "x\ny ".repeat(20), "lead \u2028 ".repeat(20), " ".repeat(90) + "x",
  "long\u0085line ".repeat(12), "k".repeat(130),
]; // prettier-ignore
const NUMBERS = [
  0, 1, -1, 1.5, 1e21, 1e-7, 123456789012345680, 1e20, 1e6, 123456.5, 1234567.5, 0.0001, 0.00001, -0,
  3.14159, 2 ** 63, 2 ** 64, -(2 ** 63), 9007199254740992, 1e300,
]; // prettier-ignore

const HANDPICKED: unknown[] = [
  { b: 1, a: { z: "x", y: [1, 2] }, A: true, _u: null, a10: 1, a2: 2, a02: 3, "1": "n", é: "e", "-": "d" },
  { s: "yes", n: "123", e: "", sp: " lead", c: "a: b", h: "#x", m: "line1\nline2\n", amp: "<&>" },
  { ls: "\u2028", f: 1.5, big: 1e21, small: 1e-7, i: 123456789012345680, neg: -0, t: "true", nul: "null" },
  { long: "aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff gggggggggg hhhhhhhhhh" },
  ["a", { k: "v", j: "w" }, [], {}, [["x"]]],
  "plain",
  { nested: { list: [{ b: 1, a: 2 }], empty: {} } },
  { "a\nb": 1, ["k".repeat(130)]: 2 },
  { keep: "a\n\n", strip: "a", clip: "a\n", indent: " a\nb\n" },
];

let seed = 20261201;
const rnd = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
function gen(depth: number): unknown {
  const r = rnd();
  if (depth > 3 || r < 0.45) return pick(ATOMS);
  if (r < 0.55) return pick(NUMBERS);
  if (r < 0.6) return pick([true, false, null]);
  if (r < 0.78) {
    const o: Record<string, unknown> = {};
    const n = Math.floor(rnd() * 5);
    for (let i = 0; i < n; i++) o[pick(ATOMS)] = gen(depth + 1);
    return o;
  }
  return Array.from({ length: Math.floor(rnd() * 4) }, () => gen(depth + 1));
}

const cases = [
  ...HANDPICKED,
  ...Array.from({ length: 400 }, (_x, i) => (i < 60 ? { k: gen(0), [pick(ATOMS)]: gen(1) } : gen(0))),
];
writeFileSync(
  new URL("../../test/fixtures/template/yaml-cases.json", import.meta.url),
  `[\n${cases.map((c) => goJsonMarshal(c)).join(",\n")}\n]\n`,
);
