/**
 * Go's time.ParseDuration syntax ("1h0m0s", "1.5h", "300ms", "0") and Duration.String() output,
 * which ESO's refreshInterval uses. Durations are returned in milliseconds.
 */
import { CustosError } from "./errors.ts";

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

export function parseDuration(text: string): number {
  const s = text.trim();
  const fail = (): never => {
    throw new CustosError(
      "CUSTOS_INVALID_DURATION",
      `invalid duration "${text}": use Go syntax such as "1h", "30m", "1h30m" or "0"`,
    );
  };
  if (s === "0" || s === "+0" || s === "-0") return 0;
  if (s === "") fail();
  let rest = s;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest.startsWith("-")) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "") fail();
  let total = 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) fail();
    total += Number(m![1]) * UNITS[m![2]!]!;
    rest = rest.slice(m![0].length);
  }
  return sign * total;
}

/** Go's Duration.String() for a whole number of milliseconds (e.g. 3600000 -> "1h0m0s"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const neg = ms < 0;
  let rest = Math.abs(ms);
  if (rest < 1000) return `${neg ? "-" : ""}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const sec = rest / 1000;
  const secText = Number.isInteger(sec) ? String(sec) : String(+sec.toFixed(9));
  let out = "";
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  out += `${secText}s`;
  return (neg ? "-" : "") + out;
}
