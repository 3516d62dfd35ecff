/**
 * Template functions: Go's built-ins, the Sprig functions ESO users rely on, and ESO's own.
 * `env` and `expandenv` are absent on purpose: templates come from tenants and must not read the
 * operator's environment. Nothing here touches files or the network.
 */
import {
  createHash,
  randomBytes,
  randomUUID,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  constants,
  X509Certificate,
} from "node:crypto";
import bcrypt from "bcryptjs";
import forge from "node-forge";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { GoFloat, NO_VALUE, goType, type Func } from "./exec.ts";
import { sprintf, goQuote } from "./printf.ts";
import { formatValue, isTrue, toInt, toNumber, toStr, utf8OrBytes } from "./values.ts";
import { compileRegex, quoteMeta } from "../util/regex.ts";
import { isCustosError } from "../util/errors.ts";

const MAX_STRING = 1 << 20;

function cap(n: number, what: string): number {
  if (n > MAX_STRING) throw new Error(`${what} would exceed ${MAX_STRING} bytes`);
  return n;
}

function list(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  throw new Error(`cannot use ${goType(v)} as a list`);
}

function dict(v: unknown): Record<string, unknown> {
  if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  if (v === undefined || v === null) return {};
  throw new Error(`cannot use ${goType(v)} as a dict`);
}

function eqValues(a: unknown, b: unknown): boolean {
  if ((a instanceof GoFloat && typeof b === "number") || (b instanceof GoFloat && typeof a === "number")) {
    throw new Error(`incompatible types for comparison: ${goType(a)} and ${goType(b)}`);
  }
  const na = a instanceof GoFloat ? a.value : a;
  const nb = b instanceof GoFloat ? b.value : b;
  if (typeof na === "number" && typeof nb === "number") return na === nb;
  if (typeof na !== typeof nb) {
    if ((na === undefined || na === null) && (nb === undefined || nb === null)) return true;
    throw new Error("incompatible types for comparison");
  }
  if (typeof na === "object") throw new Error("non-comparable type");
  return na === nb;
}

function compare(a: unknown, b: unknown): number {
  const na = a instanceof GoFloat ? a.value : a;
  const nb = b instanceof GoFloat ? b.value : b;
  if (typeof na === "number" && typeof nb === "number") return na - nb;
  if (typeof na === "string" && typeof nb === "string") return na < nb ? -1 : na > nb ? 1 : 0;
  throw new Error("incompatible types for comparison");
}

function lengthOf(v: unknown): number {
  if (typeof v === "string") return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v instanceof Uint8Array) return v.length;
  if (v && typeof v === "object") return Object.keys(v).length;
  throw new Error(`len of type ${goType(v)}`);
}

/** Go's json.Marshal: keys sorted, HTML-escaped. */
function goJson(v: unknown, indent?: string, escapeHtml = true): string {
  const norm = (x: unknown): unknown => {
    if (x instanceof GoFloat) return x.value;
    if (x === NO_VALUE) return null;
    if (Array.isArray(x)) return x.map(norm);
    if (x && typeof x === "object" && !(x instanceof Uint8Array)) {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(x).sort()) out[k] = norm((x as Record<string, unknown>)[k]);
      return out;
    }
    if (x instanceof Uint8Array) return Buffer.from(x).toString("base64");
    return x ?? null;
  };
  let s = JSON.stringify(norm(v), null, indent) ?? "null";
  if (escapeHtml) s = s.replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
  return s;
}

function fromJsonValue(x: unknown): unknown {
  if (typeof x === "number") return new GoFloat(x);
  if (Array.isArray(x)) return x.map(fromJsonValue);
  if (x && typeof x === "object")
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, fromJsonValue(v)]));
  return x;
}

function randomString(n: number, chars: string): string {
  cap(n, "random string");
  const bytes = randomBytes(n);
  let out = "";
  for (let i = 0; i < n; i++) out += chars[bytes[i]! % chars.length] ?? "";
  return out;
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Sprig's regex functions on Go's RE2 semantics (src/util/regex.ts): linear time, and an invalid
 * pattern is an error naming the problem without quoting the pattern (it may be a secret). As in
 * Sprig, regexMatch answers false for an invalid pattern; a pattern or input over the limits is an
 * error everywhere.
 */
function regexFuncs(): Record<string, Func> {
  const re = (p: unknown) => compileRegex(toStr(p));
  const all = {
    regexFind: (p: unknown, s: unknown) => re(p).find(toStr(s)),
    regexFindAll: (p: unknown, s: unknown, n: unknown) => re(p).findAll(toStr(s), toInt(n)),
    regexReplaceAll: (p: unknown, s: unknown, repl: unknown) => re(p).replaceAll(toStr(s), toStr(repl)),
    regexReplaceAllLiteral: (p: unknown, s: unknown, repl: unknown) =>
      re(p).replaceAllLiteral(toStr(s), toStr(repl)),
    regexSplit: (p: unknown, s: unknown, n: unknown) => re(p).split(toStr(s), toInt(n)),
  };
  return {
    ...all,
    regexMatch: (p, s) => {
      try {
        return re(p).test(toStr(s));
      } catch (e) {
        if (isCustosError(e, "CUSTOS_REGEX_INVALID")) return false;
        throw e;
      }
    },
    mustRegexMatch: (p, s) => re(p).test(toStr(s)),
    mustRegexFind: all.regexFind,
    mustRegexFindAll: all.regexFindAll,
    mustRegexReplaceAll: all.regexReplaceAll,
    mustRegexReplaceAllLiteral: all.regexReplaceAllLiteral,
    mustRegexSplit: all.regexSplit,
    regexQuoteMeta: (s) => quoteMeta(toStr(s)),
  };
}

function title(s: string): string {
  // strings.Title: letters, digits and "_" continue a word; anything else separates words
  return s.replace(/(^|[^\p{L}\p{N}_])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase());
}

function pemBlocks(input: string): { type: string; text: string }[] {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
  return [...input.matchAll(re)].map((m) => ({ type: m[1]!, text: m[0] }));
}

/**
 * The bytes of a value as Go sees a string: binary values (not valid UTF-8) reach templates as
 * Uint8Array and are used as they are; text is its UTF-8 bytes.
 */
function bytesOf(v: unknown): Buffer {
  return v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(toStr(v), "utf8");
}

function pkcs12(data: unknown, password: string): forge.pkcs12.Pkcs12Pfx {
  // ESO takes the archive's raw bytes (decodingStrategy: Base64 yields them from a base64 store
  // value); an archive still in base64 text is accepted too, as engine v1 did.
  let raw = bytesOf(data);
  const text = raw.toString("latin1").trim();
  if (/^[A-Za-z0-9+/\r\n]+=*$/.test(text)) raw = Buffer.from(text, "base64");
  return forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(raw.toString("binary")), password);
}

function pkcs12Key(data: unknown, password: string): string {
  const p12 = pkcs12(data, password);
  const shrouded = forge.pki.oids.pkcs8ShroudedKeyBag!;
  const plain = forge.pki.oids.keyBag!;
  const bags = [
    ...(p12.getBags({ bagType: shrouded })[shrouded] ?? []),
    ...(p12.getBags({ bagType: plain })[plain] ?? []),
  ];
  const key = bags[0]?.key;
  if (!key) throw new Error("pkcs12: no private key");
  const info = forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(key));
  return forge.pki.privateKeyInfoToPem(info);
}

function pkcs12Cert(data: unknown, password: string): string {
  const p12 = pkcs12(data, password);
  const certBag = forge.pki.oids.certBag!;
  const certs = p12.getBags({ bagType: certBag })[certBag] ?? [];
  return certs.map((b: forge.pkcs12.Bag) => (b.cert ? forge.pki.certificateToPem(b.cert) : "")).join("");
}

function pemToPkcs12(cert: string, key: string, password: string): string {
  const certs = pemBlocks(cert).map((b) => forge.pki.certificateFromPem(b.text));
  const k = forge.pki.privateKeyFromPem(
    createPrivateKey(key).export({ type: "pkcs1", format: "pem" }).toString(),
  );
  const asn = forge.pkcs12.toPkcs12Asn1(k, certs, password, { algorithm: "3des" });
  return forge.util.encode64(forge.asn1.toDer(asn).getBytes());
}

export function builtinFuncs(): Map<string, Func> {
  const f: Record<string, Func> = {
    // Go text/template built-ins (and/or are evaluated lazily by the executor)
    and: () => undefined,
    or: () => undefined,
    not: (a) => !isTrue(a),
    eq: (a, ...bs) => {
      if (!bs.length) throw new Error("missing argument for comparison");
      return bs.some((b) => eqValues(a, b));
    },
    ne: (a, b) => !eqValues(a, b),
    lt: (a, b) => compare(a, b) < 0,
    le: (a, b) => compare(a, b) <= 0,
    gt: (a, b) => compare(a, b) > 0,
    ge: (a, b) => compare(a, b) >= 0,
    len: (a) => lengthOf(a),
    index: (v, ...keys) => {
      let cur = v;
      for (const k of keys) {
        if (Array.isArray(cur) || typeof cur === "string") {
          const i = toNumber(k);
          if (i < 0 || i >= cur.length) throw new Error(`index out of range: ${i}`);
          cur = Array.isArray(cur) ? cur[i] : cur.charCodeAt(i);
        } else if (cur && typeof cur === "object") {
          cur = (cur as Record<string, unknown>)[String(k)];
        } else if (cur === undefined || cur === null) {
          throw new Error("index of untyped nil");
        } else throw new Error(`can't index item of type ${goType(cur)}`);
      }
      return cur;
    },
    // Sprig replaces Go's slice with a list-only one
    slice: (v, ...idx) => {
      if (!Array.isArray(v)) throw new Error(`list should be type of slice or array but ${goType(v)}`);
      const n = idx.map(toNumber);
      return (v as unknown[]).slice(n[0] ?? 0, n[1]);
    },
    print: (...a) =>
      a
        .map(
          (x, i) =>
            (i > 0 && typeof x !== "string" && typeof a[i - 1] !== "string" ? " " : "") + formatValue(x),
        )
        .join(""),
    println: (...a) => `${a.map(formatValue).join(" ")}\n`,
    printf: (fmt, ...a) => sprintf(toStr(fmt), a),
    html: (...a) =>
      a
        .map(toStr)
        .join("")
        .replace(/&/g, "&amp;")
        .replace(/</g, "&lt;")
        .replace(/>/g, "&gt;")
        .replace(/"/g, "&#34;")
        .replace(/'/g, "&#39;"),
    js: (...a) =>
      a
        .map(toStr)
        .join("")
        .replace(
          /[\\'"<>&=]/g,
          (c) =>
            ({
              "\\": "\\\\",
              "'": "\\'",
              '"': '\\"',
              "<": "\\u003C",
              ">": "\\u003E",
              "&": "\\u0026",
              "=": "\\u003D",
            })[c] ?? c,
        ),
    urlquery: (...a) =>
      encodeURIComponent(a.map(toStr).join(""))
        .replace(/%20/g, "+")
        .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),

    // Sprig: strings
    trim: (s) => toStr(s).trim(),
    trimAll: (c, s) =>
      toStr(s).replace(new RegExp(`^[${escapeClass(toStr(c))}]+|[${escapeClass(toStr(c))}]+$`, "g"), ""),
    trimPrefix: (p, s) => (toStr(s).startsWith(toStr(p)) ? toStr(s).slice(toStr(p).length) : toStr(s)),
    trimSuffix: (x, s) =>
      toStr(x) && toStr(s).endsWith(toStr(x)) ? toStr(s).slice(0, -toStr(x).length) : toStr(s),
    upper: (s) => toStr(s).toUpperCase(),
    lower: (s) => toStr(s).toLowerCase(),
    title: (s) => title(toStr(s)),
    replace: (o, n, s) => toStr(s).split(toStr(o)).join(toStr(n)),
    contains: (sub, s) => toStr(s).includes(toStr(sub)),
    hasPrefix: (p, s) => toStr(s).startsWith(toStr(p)),
    hasSuffix: (x, s) => toStr(s).endsWith(toStr(x)),
    split: (sep, s) =>
      Object.fromEntries(
        toStr(s)
          .split(toStr(sep))
          .map((p, i) => [`_${i}`, p]),
      ),
    splitList: (sep, s) => toStr(s).split(toStr(sep)),
    join: (sep, l) => list(l).map(toStr).join(toStr(sep)),
    quote: (...a) =>
      a
        .filter((x) => x !== undefined && x !== null)
        .map((x) => goQuote(toStr(x)))
        .join(" "),
    squote: (...a) =>
      a
        .filter((x) => x !== undefined && x !== null)
        .map((x) => `'${toStr(x)}'`)
        .join(" "),
    indent: (n, s) => {
      const pad = " ".repeat(cap(toInt(n), "indent"));
      return pad + toStr(s).replace(/\n/g, `\n${pad}`);
    },
    nindent: (n, s) => {
      const pad = " ".repeat(cap(toInt(n), "nindent"));
      return `\n${pad}${toStr(s).replace(/\n/g, `\n${pad}`)}`;
    },
    repeat: (n, s) =>
      toStr(s).repeat(
        Math.max(0, Math.floor(cap(toInt(n) * toStr(s).length, "repeat") / Math.max(1, toStr(s).length))),
      ),
    // Sprig slices bytes, not characters
    substr: (a, b, s) => {
      const str = Buffer.from(toStr(s));
      const start = toInt(a);
      const end = toInt(b);
      const bounds = (lo: number, hi: number): string => {
        if (lo < 0 || hi > str.length || lo > hi)
          throw new Error(`runtime error: slice bounds out of range [${lo}:${hi}]`);
        return str.subarray(lo, hi).toString();
      };
      if (start < 0) return bounds(0, end);
      if (end < 0 || end > str.length) return bounds(start, str.length);
      return bounds(start, end);
    },
    trunc: (n, s) => {
      const str = Buffer.from(toStr(s));
      const c = toInt(n);
      if (c < 0) return -c < str.length ? str.subarray(str.length + c).toString() : str.toString();
      return c < str.length ? str.subarray(0, c).toString() : str.toString();
    },
    nospace: (s) => toStr(s).replace(/\s/g, ""),
    cat: (...a) =>
      a
        .filter((x) => x !== undefined && x !== null)
        .map(toStr)
        .join(" "),
    ...regexFuncs(),
    toString: (v: unknown) => toStr(v),
    toStrings: (l) => list(l).map(toStr),
    // defaults and flow
    default: (d, ...rest) => {
      const v = rest.length ? rest[0] : undefined;
      return isTrue(v) ? v : d;
    },
    empty: (v) => !isTrue(v),
    coalesce: (...a) => a.find((x) => isTrue(x)) ?? null,
    ternary: (t, f, c) => (isTrue(c) ? t : f),
    required: (msg, v) => {
      if (v === undefined || v === null || v === "") throw new Error(toStr(msg));
      return v;
    },
    fail: (msg) => {
      throw new Error(toStr(msg));
    },
    // lists and dicts
    list: (...a) => a,
    dict: (...a) => {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < a.length; i += 2) out[toStr(a[i])] = a[i + 1] ?? "";
      return out;
    },
    get: (d, k) => dict(d)[toStr(k)] ?? "",
    set: (d, k, v) => {
      dict(d)[toStr(k)] = v;
      return d;
    },
    unset: (d, k) => {
      const o = dict(d);
      const key = toStr(k);
      Reflect.deleteProperty(o, key);
      return o;
    },
    hasKey: (d, k) => Object.hasOwn(dict(d), toStr(k)),
    keys: (...ds) => ds.flatMap((d) => Object.keys(dict(d))),
    values: (d) => Object.values(dict(d)),
    pluck: (k, ...ds) => ds.map((d) => dict(d)[toStr(k)]).filter((x) => x !== undefined),
    merge: (dst, ...srcs) => {
      const out = dict(dst);
      for (const s of srcs) for (const [k, v] of Object.entries(dict(s))) if (!(k in out)) out[k] = v;
      return out;
    },
    mergeOverwrite: (dst, ...srcs): Record<string, unknown> =>
      Object.assign(dict(dst), ...srcs.map(dict)) as Record<string, unknown>,
    first: (l) => list(l)[0] ?? null,
    last: (l) => list(l).at(-1) ?? null,
    rest: (l) => list(l).slice(1),
    initial: (l) => list(l).slice(0, -1),
    append: (l, v) => [...list(l), v],
    prepend: (l, v) => [v, ...list(l)],
    uniq: (l) => list(l).filter((x, i, a) => a.findIndex((y) => formatValue(y) === formatValue(x)) === i),
    without: (l, ...w) => list(l).filter((x) => !w.some((y) => formatValue(y) === formatValue(x))),
    has: (v, l) => list(l).some((x) => formatValue(x) === formatValue(v)),
    sortAlpha: (l) => list(l).map(toStr).sort(),
    reverse: (l) => [...list(l)].reverse(),
    concat: (...ls) => ls.flatMap(list),
    compact: (l) => list(l).filter((x) => isTrue(x)),
    until: (n) => Array.from({ length: cap(toInt(n), "until") }, (_x, i) => i),
    // encodings and conversions
    b64enc: (s) => bytesOf(s).toString("base64"),
    b64dec: (s) => {
      const t = toStr(s);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 === 1) throw new Error("illegal base64 data");
      return utf8OrBytes(Buffer.from(t, "base64"));
    },
    b32enc: (s) => base32(bytesOf(s)),
    b32dec: (s) => utf8OrBytes(base32dec(toStr(s))),
    toJson: (v) => goJson(v),
    toPrettyJson: (v) => goJson(v, "  "),
    toRawJson: (v) => goJson(v, undefined, false),
    fromJson: (s) => {
      try {
        return fromJsonValue(JSON.parse(toStr(s)));
      } catch {
        return {};
      }
    },
    mustFromJson: (s) => fromJsonValue(JSON.parse(toStr(s))),
    atoi: (s) => {
      const n = Number.parseInt(toStr(s), 10);
      return Number.isNaN(n) || !/^[+-]?\d+$/.test(toStr(s).trim()) ? 0 : n;
    },
    int: (v) => toInt(v),
    int64: (v) => toInt(v),
    float64: (v) => new GoFloat(toNumber(v)),
    // hashes and crypto
    sha1sum: (s) => createHash("sha1").update(bytesOf(s)).digest("hex"),
    sha256sum: (s) => createHash("sha256").update(bytesOf(s)).digest("hex"),
    sha512sum: (s) => createHash("sha512").update(bytesOf(s)).digest("hex"),
    adler32sum: (s) => String(adler32(bytesOf(s))),
    bcrypt: (s) => bcrypt.hashSync(toStr(s), 10),
    htpasswd: (u, p) =>
      toStr(u).includes(":")
        ? "invalid username: " + toStr(u)
        : `${toStr(u)}:${bcrypt.hashSync(toStr(p), 10)}`,
    genPrivateKey: (type) => {
      const t = toStr(type);
      if (t === "rsa")
        return generateKeyPairSync("rsa", { modulusLength: 4096 })
          .privateKey.export({ type: "pkcs1", format: "pem" })
          .toString();
      if (t === "ecdsa")
        return generateKeyPairSync("ec", { namedCurve: "P-256" })
          .privateKey.export({ type: "sec1", format: "pem" })
          .toString();
      if (t === "ed25519")
        return generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
      return "Unknown type " + t;
    },
    uuidv4: () => randomUUID(),
    randAlphaNum: (n) => randomString(toInt(n), ALNUM),
    randAlpha: (n) => randomString(toInt(n), ALNUM.slice(0, 52)),
    randNumeric: (n) => randomString(toInt(n), "0123456789"),
    randAscii: (n) =>
      randomString(toInt(n), Array.from({ length: 94 }, (_x, i) => String.fromCharCode(33 + i)).join("")),
    // math
    add: (...a) => a.reduce<number>((s, x) => s + toInt(x), 0),
    add1: (a) => toInt(a) + 1,
    sub: (a, b) => toInt(a) - toInt(b),
    mul: (...a) => a.reduce<number>((s, x) => s * toInt(x), 1),
    div: (a, b) => {
      if (toInt(b) === 0) throw new Error("integer divide by zero");
      return Math.trunc(toInt(a) / toInt(b));
    },
    mod: (a, b) => {
      if (toInt(b) === 0) throw new Error("integer divide by zero");
      return toInt(a) % toInt(b);
    },
    max: (...a) => Math.max(...a.map(toInt)),
    min: (...a) => Math.min(...a.map(toInt)),
    floor: (a) => new GoFloat(Math.floor(toNumber(a))),
    ceil: (a) => new GoFloat(Math.ceil(toNumber(a))),
    round: (a, p) => {
      const m = 10 ** toInt(p);
      return new GoFloat(Math.round(toNumber(a) * m) / m);
    },
    // dates
    now: () => new Date(),
    unixEpoch: (d) => String(Math.floor(asDate(d).getTime() / 1000)),
    date: (fmt, d) => goDate(toStr(fmt), asDate(d), "Local"),
    dateInZone: (fmt, d, zone) => goDate(toStr(fmt), asDate(d), toStr(zone)),
    toDate: (fmt, s) => parseGoDate(toStr(fmt), toStr(s)),
    // Sprig accepts a string or an int64 (results of math functions); a plain int literal is 0
    duration: (s) => goDuration(typeof s === "string" ? toInt(s) : 0),
    // ESO
    toYaml: (v) => stringifyYaml(v instanceof GoFloat ? v.value : v).replace(/\n$/, ""),
    fromYaml: (s) => (parseYaml(toStr(s)) as unknown) ?? {},
    filterPEM: (type, s) =>
      pemBlocks(toStr(s))
        .filter((b) => b.type === toStr(type))
        .map((b) => `${b.text}\n`)
        .join(""),
    filterCertChain: (kind, s) => filterCertChain(toStr(s), toStr(kind)),
    pkcs12key: (d) => pkcs12Key(d, ""),
    pkcs12keyPass: (pass, d) => pkcs12Key(d, toStr(pass)),
    pkcs12cert: (d) => pkcs12Cert(d, ""),
    pkcs12certPass: (pass, d) => pkcs12Cert(d, toStr(pass)),
    pemToPkcs12: (cert, key) => pemToPkcs12(toStr(cert), toStr(key), ""),
    pemToPkcs12Pass: (cert, key, pass) => pemToPkcs12(toStr(cert), toStr(key), toStr(pass)),
    fullPemToPkcs12: (cert, key) => pemToPkcs12(toStr(cert), toStr(key), ""),
    jwkPublicKeyPem: (jwk) => createPrivateOrPublic(toStr(jwk), false),
    jwkPrivateKeyPem: (jwk) => createPrivateOrPublic(toStr(jwk), true),
    certSANs: (pem) => {
      const c = new X509Certificate(toStr(pem));
      return (c.subjectAltName ?? "")
        .split(", ")
        .filter(Boolean)
        .map((x) => x.replace(/^[A-Za-z ]+:/, ""));
    },
    // ESO's rsaDecrypt(scheme, hash, ciphertext, privateKey): "None" passes the input through;
    // "RSA-OAEP" with SHA1/SHA256/SHA512 (default SHA256) over the raw ciphertext bytes (a
    // base64 text is accepted too)
    rsaDecrypt: (scheme, hash, ciphertext, key) => {
      const sch = toStr(scheme);
      if (sch === "None") return ciphertext;
      if (sch !== "RSA-OAEP") throw new Error(`decryption scheme ${sch} is not supported`);
      const oaepHash = ({ SHA1: "sha1", SHA256: "sha256", SHA512: "sha512" } as Record<string, string>)[
        toStr(hash)
      ];
      const k = createPrivateKey(toStr(key));
      const open = (b: Buffer): Buffer =>
        privateDecrypt(
          { key: k, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaepHash ?? "sha256" },
          b,
        );
      const raw = bytesOf(ciphertext);
      try {
        return utf8OrBytes(open(raw));
      } catch (e) {
        const text = raw.toString("latin1").trim();
        if (!/^[A-Za-z0-9+/\r\n]+=*$/.test(text)) throw e;
        return utf8OrBytes(open(Buffer.from(text, "base64")));
      }
    },
  };
  return new Map(Object.entries(f));
}

function escapeClass(s: string): string {
  return s.replace(/[\\\]^-]/g, "\\$&");
}

/** ESO's jwkPrivateKeyPem (PKCS#8 "PRIVATE KEY") and jwkPublicKeyPem (PKIX "PUBLIC KEY"). */
function createPrivateOrPublic(jwk: string, priv: boolean): string {
  const j = JSON.parse(jwk) as import("node:crypto").JsonWebKey;
  if (priv)
    return createPrivateKey({ key: j, format: "jwk" }).export({ type: "pkcs8", format: "pem" }).toString();
  // a private JWK holds its public part too
  return createPublicKey({ key: j, format: "jwk" }).export({ type: "spki", format: "pem" }).toString();
}

function filterCertChain(pem: string, kind: string): string {
  const certs = pemBlocks(pem)
    .filter((b) => b.type === "CERTIFICATE")
    .map((b) => ({ b, c: new X509Certificate(b.text) }));
  const isCA = (c: X509Certificate): boolean => c.ca;
  const pick = certs.filter(({ c }) =>
    kind === "leaf"
      ? !isCA(c)
      : kind === "root"
        ? isCA(c) && c.issuer === c.subject
        : isCA(c) && c.issuer !== c.subject,
  );
  return pick.map(({ b }) => `${b.text}\n`).join("");
}

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const x of buf) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
function base32(buf: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const x of buf) {
    value = (value << 8) | x;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31] ?? "";
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31] ?? "";
  while (out.length % 8) out += "=";
  return out;
}
function base32dec(s: string): Uint8Array {
  const clean = s.replace(/=+$/, "");
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const i = B32.indexOf(ch);
    if (i < 0) throw new Error("illegal base32 data");
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function asDate(d: unknown): Date {
  if (d instanceof Date) return d;
  if (typeof d === "number") return new Date(d * 1000);
  if (d instanceof GoFloat) return new Date(d.value * 1000);
  if (typeof d === "string") return new Date(d);
  return new Date();
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** Go's reference-time layouts (2006-01-02 15:04:05), in UTC or a fixed zone name. */
function goDate(layout: string, d: Date, zone: string): string {
  const utc = zone === "UTC" || zone === "Local" || zone === "";
  const p2 = (n: number): string => String(n).padStart(2, "0");
  const Y = d.getUTCFullYear();
  const M = d.getUTCMonth();
  const D = d.getUTCDate();
  const h = d.getUTCHours();
  const tokens: [string, () => string][] = [
    ["2006", () => String(Y)],
    ["January", () => MONTHS[M]!],
    ["Jan", () => MONTHS[M]!.slice(0, 3)],
    ["Monday", () => DAYS[d.getUTCDay()]!],
    ["Mon", () => DAYS[d.getUTCDay()]!.slice(0, 3)],
    ["MST", () => (utc ? "UTC" : zone)],
    ["Z07:00", () => "Z"],
    ["-07:00", () => "+00:00"],
    ["-0700", () => "+0000"],
    ["01", () => p2(M + 1)],
    ["02", () => p2(D)],
    ["_2", () => String(D).padStart(2, " ")],
    ["15", () => p2(h)],
    ["03", () => p2(h % 12 || 12)],
    ["04", () => p2(d.getUTCMinutes())],
    ["05", () => p2(d.getUTCSeconds())],
    ["06", () => p2(Y % 100)],
    ["PM", () => (h >= 12 ? "PM" : "AM")],
    [".000", () => `.${String(d.getUTCMilliseconds()).padStart(3, "0")}`],
    ["1", () => String(M + 1)],
    ["2", () => String(D)],
    ["3", () => String(h % 12 || 12)],
    ["4", () => String(d.getUTCMinutes())],
    ["5", () => String(d.getUTCSeconds())],
  ];
  let out = "";
  let i = 0;
  outer: while (i < layout.length) {
    for (const [t, fn] of tokens) {
      if (layout.startsWith(t, i)) {
        out += fn();
        i += t.length;
        continue outer;
      }
    }
    out += layout[i++] ?? "";
  }
  return out;
}

function parseGoDate(layout: string, s: string): Date {
  if (layout === "2006-01-02") return new Date(`${s}T00:00:00Z`);
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new Error(`parsing time "${s}" as "${layout}": cannot parse`);
  return d;
}

function goDuration(seconds: number): string {
  if (seconds === 0) return "0s";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${s}s`;
}
