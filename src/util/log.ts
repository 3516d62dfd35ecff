/**
 * Structured logs (pino): JSON by default, readable text with `--log-format text`. Every line is
 * passed through the value redactor before it is written, whatever field a value hides in.
 */
import { pino, type Logger as PinoLogger, type DestinationStream } from "pino";
import { redactor } from "./redact.ts";

export type Logger = PinoLogger;
export type LogFormat = "json" | "text";

export interface LogOptions {
  level?: string;
  format?: LogFormat;
  /** Where to write (default stderr). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const out = opts.destination ?? process.stderr;
  const format = opts.format ?? "json";
  const stream: DestinationStream = {
    write(line: string) {
      const clean = redactor.redact(line);
      out.write(format === "text" ? toText(clean) : clean);
    },
  };
  return pino(
    { level: opts.level ?? "info", base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    stream,
  );
}

const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

function toText(line: string): string {
  try {
    const { level, time, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    return `${String(time)} ${LEVELS[level as number] ?? String(level)} ${String(msg)}${fields ? " " + fields : ""}\n`;
  } catch {
    return line;
  }
}

/** A logger that discards everything (tests, library use). */
export const silentLogger: Logger = pino({ level: "silent" });
