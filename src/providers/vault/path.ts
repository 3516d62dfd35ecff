/**
 * Vault request paths. Every URL the Vault client calls is a `VaultPath`, and the only way to make
 * one is from segments checked here: no `.`/`..`, no percent-encoded characters (`%2e%2e`, `%2f`),
 * no backslashes, no control characters, no empty segments; each segment is percent-encoded when
 * the URL is built. So a remote key stays below its store's mount: URL resolution has nothing to
 * collapse and Vault nothing to decode into a separator. KV paths never start at Vault's own API
 * roots (`sys`, `auth`, `identity`), where no secrets engine can be mounted.
 */
import { CustosError } from "../../util/errors.ts";

/** Vault refuses to mount a secrets engine under these: a KV path there is never a secret. */
const API_ROOTS = new Set(["sys", "auth", "identity"]);
const MAX_KEY = 2048;

class VaultPath {
  readonly #segments: readonly string[];

  constructor(segments: readonly string[]) {
    this.#segments = segments;
  }

  /** The path below `/v1/`, each segment percent-encoded. */
  get encoded(): string {
    return this.#segments.map((s) => encodeURIComponent(s)).join("/");
  }

  get segments(): readonly string[] {
    return this.#segments;
  }

  /** As Vault names it (for messages and metrics). */
  toString(): string {
    return this.#segments.join("/");
  }
}

// The class is not exported: a VaultPath can only come from the functions below.
export type { VaultPath };

/** What is wrong with one segment, or undefined. */
export function segmentProblem(seg: string): string | undefined {
  if (seg === "") return "an empty segment";
  if (seg === "." || seg === "..") return `a "${seg}" segment`;
  if (/%[0-9a-f]{2}/i.test(seg)) return "a percent-encoded character";
  if (seg.includes("\\")) return "a backslash";
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(seg)) return "a control character";
  return undefined;
}

/** A user's key for messages: quoted, escaped, bounded (it is spec, never a value). */
export function quoteKey(key: string): string {
  return JSON.stringify(key.length > 200 ? `${key.slice(0, 200)}...` : key);
}

function invalidKey(key: string, what: string, why: string): CustosError {
  return new CustosError("CUSTOS_INVALID_REMOTE_KEY", `${what} ${quoteKey(key)} is not allowed: ${why}`, {
    retryable: false,
  });
}

/** Problems of a slash-separated path (leading slashes ignored, as ESO; optionally trailing ones). */
export function pathProblem(path: string, opts: { trimTrailing?: boolean } = {}): string | undefined {
  if (path.length > MAX_KEY) return `it is longer than ${MAX_KEY} characters`;
  let p = path.replace(/^\/+/, "");
  if (opts.trimTrailing) p = p.replace(/\/+$/, "");
  if (!p) return "it is empty";
  for (const seg of p.split("/")) {
    const problem = segmentProblem(seg);
    if (problem) return `it has ${problem}`;
  }
  return undefined;
}

function segmentsOf(path: string, what: string, opts: { trimTrailing?: boolean } = {}): string[] {
  const problem = pathProblem(path, opts);
  if (problem) throw invalidKey(path, what, problem);
  let p = path.replace(/^\/+/, "");
  if (opts.trimTrailing) p = p.replace(/\/+$/, "");
  return p.split("/");
}

/** Problems of a mount path in the spec (a KV mount when `kv`, else an auth method's). */
export function mountProblem(mount: string, kv: boolean): string | undefined {
  const problem = pathProblem(mount, { trimTrailing: true });
  if (problem) return problem;
  const first = mount.replace(/^\/+/, "").split("/")[0] ?? "";
  if (kv && API_ROOTS.has(first)) return `"${first}" is Vault's own API, not a secrets engine`;
  return undefined;
}

function mountSegments(mount: string, what: string, kv: boolean): string[] {
  const problem = mountProblem(mount, kv);
  if (problem)
    throw new CustosError("CUSTOS_INVALID_SPEC", `${what} ${quoteKey(mount)} is not allowed: ${problem}`, {
      retryable: false,
    });
  return mount.replace(/^\/+|\/+$/g, "").split("/");
}

const startsWith = (segs: readonly string[], prefix: readonly string[]): boolean =>
  segs.length > prefix.length && prefix.every((p, i) => segs[i] === p);

function kvOnly(segs: string[], key: string, what: string): VaultPath {
  if (API_ROOTS.has(segs[0] ?? ""))
    throw invalidKey(key, what, `"${segs[0]}" is Vault's own API, not a secrets engine`);
  return new VaultPath(segs);
}

/**
 * The KV path of a remote key, with ESO's rules: a key may repeat the store's mount (and, on v2,
 * `data/` or `metadata/` after it); a store without a mount takes the key's first segment as the
 * mount, and a v2 key that already names `data`/`metadata` is kept as is.
 */
export function kvPath(
  key: string,
  mount: string | undefined,
  version: "v1" | "v2",
  kind: "data" | "metadata" = "data",
): VaultPath {
  const segs = segmentsOf(key, "remote key");
  if (mount) {
    const m = mountSegments(mount, "spec.provider.vault.path", true);
    let rest = segs;
    if (startsWith(segs, m)) {
      rest = segs.slice(m.length);
      if (version === "v2" && rest.length > 1 && (rest[0] === "data" || rest[0] === "metadata"))
        rest = rest.slice(1);
    }
    return kvOnly(version === "v2" ? [...m, kind, ...rest] : [...m, ...rest], key, "remote key");
  }
  if (version === "v1") return kvOnly(segs, key, "remote key");
  const inner = (name: string): number =>
    segs.findIndex((s, i) => s === name && i > 0 && i < segs.length - 1);
  if (inner(kind) >= 0) return kvOnly(segs, key, "remote key");
  const data = inner("data");
  if (kind === "metadata" && data >= 0)
    return kvOnly(
      segs.map((s, i) => (i === data ? "metadata" : s)),
      key,
      "remote key",
    );
  return kvOnly([segs[0]!, kind, ...segs.slice(1)], key, "remote key");
}

/** `find.path` as segments (leading and trailing slashes ignored; empty: the whole mount). */
export function findPathSegments(path: string | undefined): string[] {
  if (path === undefined || path.replace(/\/+/g, "") === "") return [];
  return segmentsOf(path, "find.path", { trimTrailing: true });
}

/**
 * A name Vault listed under a folder ("name" or "folder/"): one segment, checked for structure only
 * (a literal `%` or `\` in a stored name is harmless once encoded; `..` or `a/b` never is).
 */
export function listedSegment(name: string): { segment: string; folder: boolean } {
  const folder = name.endsWith("/");
  const segment = folder ? name.slice(0, -1) : name;
  if (
    segment === "" ||
    segment === "." ||
    segment === ".." ||
    segment.includes("/") ||
    // eslint-disable-next-line no-control-regex -- control characters are what is refused
    /[\u0000-\u001f\u007f]/.test(segment)
  )
    throw invalidKey(name, "Vault listed a key", "it is not a single path segment");
  return { segment, folder };
}

/**
 * A KV path from a mount and a relative path already made of checked segments (find results):
 * `<mount>/<kind>/<rel>` on v2, `<mount>/<rel>` on v1.
 */
export function kvPathOf(
  mount: readonly string[],
  rel: readonly string[],
  version: "v1" | "v2",
  kind: "data" | "metadata",
): VaultPath {
  const segs = version === "v2" ? [...mount, kind, ...rel] : [...mount, ...rel];
  return kvOnly(segs, segs.join("/"), "path");
}

/** The mount segments of a store (its `path`), or of a path-less find (the find path's first one). */
export function storeMount(mount: string): string[] {
  return mountSegments(mount, "spec.provider.vault.path", true);
}

/** `auth/<mount>/<rest...>` for an auth method; `rest` are single segments (e.g. a username). */
export function authPath(mount: string, what: string, ...rest: string[]): VaultPath {
  const segs = ["auth", ...mountSegments(mount, what, false)];
  for (const r of rest) {
    // Vault decodes the URL path: an encoded `/` would still separate
    const problem = r.includes("/") ? "a slash" : segmentProblem(r);
    if (problem) throw invalidKey(r, "path segment", `it has ${problem}`);
    segs.push(r);
  }
  return new VaultPath(segs);
}

/** A path fixed in the code (e.g. `auth/token/lookup-self`). */
export function fixedPath(path: string): VaultPath {
  return new VaultPath(segmentsOf(path, "path"));
}

/**
 * A path below a secrets engine's mount for engines other than KV (dynamic credentials, PKI):
 * `<mount>/<rest>`, every segment checked as above. Which paths a token may call is Vault's
 * policy's to decide; this only keeps the request on the path that was written.
 */
export function enginePath(mount: string, ...rest: string[]): VaultPath {
  const segs = mountSegments(mount, "mount", false);
  for (const r of rest) segs.push(...segmentsOf(r, "path", { trimTrailing: true }));
  return new VaultPath(segs);
}
