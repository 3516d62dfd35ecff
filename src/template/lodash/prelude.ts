/**
 * JavaScript that runs INSIDE the QuickJS sandbox after lodash and js-yaml 3 (their dist files, as
 * source text). It evaluates to the render function the host calls:
 * render(templateJson, dataJson) -> JSON of { ok: renderedObject } or { error: { name, message, at } }.
 * Kept as text (never evaluated by the operator); sandbox.ts loads it into each fresh context.
 */
export const PRELUDE = String.raw`
(function () {
  "use strict";
  var g = Function("return this")();
  var _ = g._;
  var jsyaml = g.jsyaml;
  var yaml = Object.freeze({
    dump: jsyaml.dump,
    safeDump: jsyaml.safeDump,
    load: jsyaml.load,
    safeLoad: jsyaml.safeLoad,
  });

  // A small Buffer: the Buffer.from(s[, enc]).toString(enc) helpers KES templates use.
  var B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  function utf8Encode(s) {
    var out = [];
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        var d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        } else c = 0xfffd;
      } else if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return out;
  }
  function utf8Decode(b) {
    var s = "";
    for (var i = 0; i < b.length; ) {
      var c = b[i++];
      var n = c < 0x80 ? 0 : c >= 0xf0 && c < 0xf8 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : -1;
      if (n < 0 || i + n > b.length) {
        s += "\ufffd";
        continue;
      }
      var cp = n === 0 ? c : c & (0x3f >> n);
      var ok = true;
      for (var k = 0; k < n; k++) {
        var x = b[i + k];
        if ((x & 0xc0) !== 0x80) ok = false;
        cp = (cp << 6) | (x & 63);
      }
      if (!ok) {
        s += "\ufffd";
        continue;
      }
      i += n;
      s += String.fromCodePoint(cp);
    }
    return s;
  }
  function b64Encode(b) {
    var s = "";
    for (var i = 0; i < b.length; i += 3) {
      var x = (b[i] << 16) | ((b[i + 1] || 0) << 8) | (b[i + 2] || 0);
      s += B64[(x >> 18) & 63] + B64[(x >> 12) & 63];
      s += i + 1 < b.length ? B64[(x >> 6) & 63] : "=";
      s += i + 2 < b.length ? B64[x & 63] : "=";
    }
    return s;
  }
  function b64Decode(s) {
    var out = [];
    var acc = 0;
    var bits = 0;
    for (var i = 0; i < s.length; i++) {
      var ch = s[i] === "-" ? "+" : s[i] === "_" ? "/" : s[i];
      var v = B64.indexOf(ch);
      if (v < 0) continue;
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push((acc >> bits) & 255);
      }
    }
    return out;
  }
  function hexEncode(b) {
    var s = "";
    for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
    return s;
  }
  function hexDecode(s) {
    var out = [];
    for (var i = 0; i + 1 < s.length; i += 2) {
      var v = parseInt(s.substr(i, 2), 16);
      if (v !== v) break;
      out.push(v);
    }
    return out;
  }
  function norm(enc) {
    var e = String(enc === undefined ? "utf8" : enc).toLowerCase();
    if (e === "utf-8") return "utf8";
    if (e === "base64url") return "base64";
    if (e === "binary") return "latin1";
    if (e === "utf8" || e === "base64" || e === "hex" || e === "ascii" || e === "latin1") return e;
    throw new TypeError("Unknown encoding: " + e);
  }
  function Bytes(b) {
    this.bytes = b;
    this.length = b.length;
  }
  Bytes.prototype.toString = function (enc) {
    var e = norm(enc);
    var b = this.bytes;
    if (e === "utf8") return utf8Decode(b);
    if (e === "base64") return b64Encode(b);
    if (e === "hex") return hexEncode(b);
    var s = "";
    for (var i = 0; i < b.length; i++) s += String.fromCharCode(e === "ascii" ? b[i] & 127 : b[i]);
    return s;
  };
  var Buffer = Object.freeze({
    from: function (v, enc) {
      if (v instanceof Bytes) return new Bytes(v.bytes.slice());
      if (Array.isArray(v)) return new Bytes(v.map((x) => x & 255));
      if (typeof v !== "string") throw new TypeError("Buffer.from takes a string in templates");
      var e = norm(enc);
      if (e === "utf8") return new Bytes(utf8Encode(v));
      if (e === "base64") return new Bytes(b64Decode(v));
      if (e === "hex") return new Bytes(hexDecode(v));
      var out = [];
      for (var i = 0; i < v.length; i++) out.push(v.charCodeAt(i) & 255);
      return new Bytes(out);
    },
    isBuffer: function (v) {
      return v instanceof Bytes;
    },
  });

  var template = _.template;
  var imports = { _: Object.freeze({ escape: _.escape }), yaml: yaml, Buffer: Buffer };

  // KES: lodash.template(value, { imports: { yaml }, variable: 'data' })(data) on every non-empty
  // string of the template object, recursing into plain objects (not arrays).
  // the built-ins render itself needs, taken before any template runs: a template may replace
  // JSON.stringify or Array.prototype.push, which then only breaks its own output
  var stringify = JSON.stringify;
  var parse = JSON.parse;
  var keys = Object.keys;
  var isArray = Array.isArray;
  var freeze = Object.freeze;
  var toString = String;
  var ErrorType = Error;
  var at = [];
  var depth = 0;
  function walk(v, data) {
    var out = {};
    var ks = keys(v);
    for (var i = 0; i < ks.length; i++) {
      var k = ks[i];
      var x = v[k];
      at[depth++] = k;
      at.length = depth;
      if (x && typeof x === "string") out[k] = toString(template(x, { imports: imports, variable: "data" })(data));
      else if (x && typeof x === "object" && !isArray(x)) out[k] = walk(x, data);
      else out[k] = x;
      depth--;
    }
    return out;
  }
  function path() {
    var s = "";
    for (var i = 0; i < depth; i++) s += (i ? "." : "") + at[i];
    return s;
  }
  function describe(e) {
    var name = "Error";
    var message = "";
    try {
      if (e instanceof ErrorType) {
        name = toString(e.name);
        message = toString(e.message);
      } else name = "a thrown " + (e === null ? "null" : typeof e);
    } catch (_e) {
      name = "Error";
    }
    return { name: name, message: message, at: path() };
  }

  // Only what KES templates use stays in scope.
  ["_", "jsyaml", "globalThis", "eval", "Function", "Reflect", "Proxy", "WeakRef", "FinalizationRegistry"].forEach(
    function (name) {
      delete g[name];
    },
  );

  return function render(templateJson, dataJson) {
    depth = 0;
    var result;
    try {
      result = { ok: walk(parse(templateJson), freeze(parse(dataJson))) };
    } catch (e) {
      return stringify({ error: describe(e) });
    }
    return stringify(result);
  };
})();
`;
