/**
 * ESO's Password generator (github.com/sethvargo/go-password as ESO calls it): `length` (24),
 * `digits` and `symbols` (a quarter of the length each, rounded down), `symbolCharacters`,
 * `noUpper`, `allowRepeat` (false: no character appears twice), one password per `secretKeys`
 * entry (["password"]), then `encoding`. Letters, digits and symbols are each inserted at uniformly
 * random positions; randomness from the OS CSPRNG.
 */
import { randomInt } from "node:crypto";
import { CustosError } from "../util/errors.ts";
import type { PasswordSpecT } from "./schema.ts";

export const DEFAULT_SYMBOLS = '~!@#$%^&*()_+`-={}|[]\\:"<>?,./';
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS = "0123456789";
/** Far above any real password; bounds the work of one generation. */
export const MAX_LENGTH = 4096;

function invalid(message: string): CustosError {
  return new CustosError("CUSTOS_INVALID_SPEC", `Password generator: ${message}`, { retryable: false });
}

export interface PasswordConfig {
  length: number;
  digits: number;
  symbols: number;
  symbolCharacters: string;
  noUpper: boolean;
  allowRepeat: boolean;
}

export function passwordConfig(spec: PasswordSpecT): PasswordConfig {
  const length = spec.length && spec.length > 0 ? spec.length : 24;
  return {
    length,
    digits: spec.digits ?? Math.floor(length * 0.25),
    symbols: spec.symbols ?? Math.floor(length * 0.25),
    symbolCharacters: spec.symbolCharacters ?? DEFAULT_SYMBOLS,
    noUpper: spec.noUpper ?? false,
    allowRepeat: spec.allowRepeat ?? false,
  };
}

/** One password; `rand(n)` is uniform in [0, n). */
export function generatePassword(
  c: PasswordConfig,
  rand: (n: number) => number = (n) => randomInt(n),
): string {
  if (c.length > MAX_LENGTH) throw invalid(`length ${c.length} is over ${MAX_LENGTH}`);
  if (c.digits < 0 || c.symbols < 0) throw invalid("digits and symbols must not be negative");
  const letters = Array.from(c.noUpper ? LOWER : LOWER + UPPER);
  const symbols = Array.from(c.symbolCharacters);
  const chars = c.length - c.digits - c.symbols;
  if (chars < 0) throw invalid("number of digits and symbols exceeds the length");
  if (!c.allowRepeat && chars > letters.length)
    throw invalid("number of letters exceeds available letters and repeats are not allowed");
  if (!c.allowRepeat && c.digits > DIGITS.length)
    throw invalid("number of digits exceeds available digits and repeats are not allowed");
  if (!c.allowRepeat && c.symbols > symbols.length)
    throw invalid("number of symbols exceeds available symbols and repeats are not allowed");
  if (c.symbols > 0 && symbols.length === 0) throw invalid("symbolCharacters is empty");
  const out: string[] = [];
  const add = (set: string[], n: number): void => {
    // without repeats: draw from what is left (the same distribution as go-password's retry loop)
    const pool = [...set].filter((ch) => c.allowRepeat || !out.includes(ch));
    for (let i = 0; i < n; i++) {
      const at = rand(pool.length);
      const ch = pool[at]!;
      if (!c.allowRepeat) pool.splice(at, 1);
      out.splice(rand(out.length + 1), 0, ch);
    }
  };
  add(letters, chars);
  add(Array.from(DIGITS), c.digits);
  add(symbols, c.symbols);
  return out.join("");
}

/** Go's base32.StdEncoding. */
function base32(b: Uint8Array): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of b) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet.charAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet.charAt((value << (5 - bits)) & 31);
  while (out.length % 8) out += "=";
  return out;
}

export function encodePassword(p: string, encoding: PasswordSpecT["encoding"]): Uint8Array {
  const b = Buffer.from(p, "utf8");
  switch (encoding ?? "raw") {
    case "base64":
      return Buffer.from(b.toString("base64"));
    case "base64url":
      // Go's base64.URLEncoding keeps the padding
      return Buffer.from(b.toString("base64").replace(/\+/g, "-").replace(/\//g, "_"));
    case "base32":
      return Buffer.from(base32(b));
    case "hex":
      return Buffer.from(b.toString("hex"));
    default:
      return new Uint8Array(b);
  }
}

/** The Password generator's output: one encoded password per secret key. */
export function passwords(spec: PasswordSpecT): Record<string, Uint8Array> {
  const keys = spec.secretKeys?.length ? spec.secretKeys : ["password"];
  if (keys.some((k) => !k) || new Set(keys).size !== keys.length)
    throw invalid("secretKeys must be non-empty and unique");
  const config = passwordConfig(spec);
  const out: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
  for (const k of keys) out[k] = encodePassword(generatePassword(config), spec.encoding);
  return out;
}
