/** Go's fmt.Sprintf for the verbs templates use: %s %d %v %q %x %X %f %e %g %t %c %o %b %%, with flags, width and precision. */
import { GoFloat } from "./exec.ts";
import { formatFloat, formatValue, toNumber } from "./values.ts";

export function sprintf(format: string, args: unknown[]): string {
  let ai = 0;
  return (
    format.replace(
      /%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*))?([a-zA-Z%])/g,
      (_m, flags: string, widthS: string | undefined, precS: string | undefined, verb: string) => {
        if (verb === "%") return "%";
        const width = widthS === "*" ? toNumber(args[ai++]) : widthS ? Number(widthS) : undefined;
        const prec = precS === "*" ? toNumber(args[ai++]) : precS !== undefined ? Number(precS) : undefined;
        if (ai >= args.length) return `%!${verb}(MISSING)`;
        const a = args[ai++];
        let s: string;
        const num = (): number => (a instanceof GoFloat ? a.value : (a as number));
        const isNum = typeof a === "number" || a instanceof GoFloat;
        switch (verb) {
          case "v":
            s = formatValue(a);
            break;
          case "s":
            s =
              typeof a === "string"
                ? a
                : a instanceof Uint8Array
                  ? Buffer.from(a).toString("utf8")
                  : isNum || typeof a === "boolean"
                    ? `%!s(${typeName(a)}=${formatValue(a)})`
                    : formatValue(a);
            if (prec !== undefined) s = Array.from(s).slice(0, prec).join("");
            break;
          case "q":
            s =
              typeof a === "string"
                ? goQuote(a)
                : isNum
                  ? `'${String.fromCodePoint(num())}'`
                  : `%!q(${formatValue(a)})`;
            break;
          case "d":
            s =
              isNum && Number.isInteger(num())
                ? String(Math.trunc(num()))
                : `%!d(${typeName(a)}=${formatValue(a)})`;
            if (flags.includes("+") && isNum && num() >= 0) s = `+${s}`;
            break;
          case "t":
            s = typeof a === "boolean" ? String(a) : `%!t(${typeName(a)}=${formatValue(a)})`;
            break;
          case "f":
          case "F":
            s = isNum ? num().toFixed(prec ?? 6) : `%!f(${typeName(a)}=${formatValue(a)})`;
            if (flags.includes("+") && isNum && num() >= 0) s = `+${s}`;
            break;
          case "e":
            s = isNum
              ? num()
                  .toExponential(prec ?? 6)
                  .replace(/e([+-])(\d)$/, "e$10$2")
              : `%!e(${formatValue(a)})`;
            break;
          case "g":
            s = isNum
              ? prec !== undefined
                ? String(Number(num().toPrecision(prec)))
                : formatFloat(num())
              : `%!g(${formatValue(a)})`;
            break;
          case "x":
          case "X": {
            if (isNum) s = Math.trunc(num()).toString(16);
            else
              s = Buffer.from(
                typeof a === "string" ? a : a instanceof Uint8Array ? a : formatValue(a),
              ).toString("hex");
            if (verb === "X") s = s.toUpperCase();
            break;
          }
          case "o":
            s = isNum ? Math.trunc(num()).toString(8) : `%!o(${formatValue(a)})`;
            break;
          case "b":
            s = isNum ? Math.trunc(num()).toString(2) : `%!b(${formatValue(a)})`;
            break;
          case "c":
            s = isNum ? String.fromCodePoint(num()) : `%!c(${formatValue(a)})`;
            break;
          case "T":
            s = typeName(a);
            break;
          default:
            s = `%!${verb}(${typeName(a)}=${formatValue(a)})`;
        }
        if (width !== undefined && Array.from(s).length < width) {
          const pad = width - Array.from(s).length;
          if (flags.includes("-")) s = s + " ".repeat(pad);
          else if (flags.includes("0") && isNum && verb !== "s" && verb !== "v") {
            const neg = s.startsWith("-") || s.startsWith("+");
            s = neg ? s.slice(0, 1) + "0".repeat(pad) + s.slice(1) : "0".repeat(pad) + s;
          } else s = " ".repeat(pad) + s;
        }
        return s;
      },
    ) +
    (ai < args.length
      ? `%!(EXTRA ${args
          .slice(ai)
          .map((a) => `${typeName(a)}=${formatValue(a)}`)
          .join(", ")})`
      : "")
  );
}

function typeName(a: unknown): string {
  if (a === null || a === undefined) return "<nil>";
  if (a instanceof GoFloat) return "float64";
  if (typeof a === "number") return Number.isInteger(a) ? "int" : "float64";
  if (typeof a === "string") return "string";
  if (typeof a === "boolean") return "bool";
  if (Array.isArray(a)) return "[]interface {}";
  return "map[string]interface {}";
}

export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + '"';
}
