/**
 * What the driver accepts as a file of a mount, and each object's version. Pure.
 *
 * - A path is relative, clean (no `.`/`..` segment, no `//`, no leading or trailing `/`), and
 *   made of printable characters: the driver refuses anything else, and Custos checks before the
 *   reply so a mount fails with a message naming the object.
 * - A mode is an octal string ("0400", "644"), at most 0777; numbers are refused because YAML 1.2
 *   reads `0400` as four hundred.
 * - An object's version is an HMAC of its configuration and its bytes under a key of the process:
 *   it changes exactly when the file changes, and says nothing about the value to whoever reads
 *   the SecretProviderClassPodStatus (a plain hash of a short secret could be guessed).
 */
import { createHmac } from "node:crypto";
import { CustosError } from "../util/errors.ts";

const MAX_PATH = 1024;
// eslint-disable-next-line no-control-regex -- control characters are what is refused
const SEGMENT = /^[^\x00-\x1f\x7f/\\]+$/u;

export function invalid(message: string): CustosError {
  return new CustosError("CUSTOS_INVALID_SPEC", message, { retryable: false });
}

/** Undefined when `path` may name a file of the volume; else why not. */
export function filePathProblem(path: string): string | undefined {
  if (path === "") return "is empty";
  if (path.length > MAX_PATH) return `is longer than ${MAX_PATH} characters`;
  if (path.startsWith("/")) return "must be relative";
  for (const seg of path.split("/")) {
    if (seg === "") return "has an empty segment (// or a trailing /)";
    if (seg === "." || seg === "..") return `has a "${seg}" segment`;
    if (!SEGMENT.test(seg)) return "has a control character or a backslash";
  }
  return undefined;
}

export function checkFilePath(path: string, what: string): string {
  const problem = filePathProblem(path);
  if (problem) throw invalid(`${what}: file path ${JSON.stringify(path.slice(0, 100))} ${problem}`);
  return path;
}

/** An octal mode string ("0400", "644") as a number; `fallback` when absent. */
export function parseMode(mode: unknown, fallback: number, what: string): number {
  if (mode === undefined || mode === null || mode === "") return fallback;
  if (typeof mode !== "string")
    throw invalid(
      `${what}: mode must be an octal string such as "0400" (quote it: YAML reads 0400 as a decimal)`,
    );
  if (!/^0?[0-7]{1,3}$/.test(mode))
    throw invalid(`${what}: mode "${mode.slice(0, 10)}" is not an octal mode up to 0777`);
  return Number.parseInt(mode, 8);
}

/**
 * The driver's `permission`: JSON of Go's os.FileMode, a decimal number ("420" = 0644). Anything
 * else falls back to 0644, as the driver's own default.
 */
export function parsePermission(permission: string | undefined): number {
  const n = Number.parseInt((permission ?? "").trim(), 10);
  return Number.isInteger(n) && n >= 0 && n <= 0o777 && String(n) === (permission ?? "").trim() ? n : 0o644;
}

/** An object's version: base64url(HMAC-SHA256(key, JSON(config) ‖ 0 ‖ each file's path and bytes)). */
export function objectVersion(
  key: Uint8Array,
  config: unknown,
  files: readonly { path: string; mode: number; contents: Uint8Array }[],
): string {
  const h = createHmac("sha256", key)
    .update(JSON.stringify(config ?? null))
    .update("\0");
  for (const f of files) {
    h.update(`${f.path}\0${f.mode}\0${f.contents.length}\0`);
    h.update(f.contents);
  }
  return h.digest("base64url");
}
