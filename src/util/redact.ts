/**
 * Value-based redaction. Every secret value Custos fetches, decrypts or renders is registered here;
 * everything that leaves the process as text (logs, events, conditions, metrics labels, error
 * messages) is passed through `redact()` first. Registration is by value, so a value leaks nowhere
 * even when it is embedded in an upstream error message.
 */
const MIN_LENGTH = 4; // shorter strings would redact ordinary words; they are weak secrets anyway
const MAX_VALUES = 200_000;

export const REDACTED = "[REDACTED]";

export class Redactor {
  readonly #values = new Set<string>();
  #pattern: RegExp | undefined;

  /** Registers a value (string or bytes) and its common encodings. */
  add(value: string | Uint8Array): void {
    const text = typeof value === "string" ? value : Buffer.from(value).toString("utf8");
    for (const candidate of [text, Buffer.from(text, "utf8").toString("base64")]) {
      if (candidate.length < MIN_LENGTH || this.#values.has(candidate)) continue;
      if (this.#values.size >= MAX_VALUES) this.#values.clear(); // bounded memory; oldest go first
      this.#values.add(candidate);
      this.#pattern = undefined;
    }
    // JSON documents: their leaf strings are secrets too (a property may be extracted from them).
    if (text.length > 1 && (text.startsWith("{") || text.startsWith("["))) {
      try {
        collectLeaves(JSON.parse(text) as unknown, (leaf) => {
          this.add(leaf);
        });
      } catch {
        /* not JSON */
      }
    }
  }

  redact(text: string): string {
    if (this.#values.size === 0 || text.length < MIN_LENGTH) return text;
    this.#pattern ??= new RegExp(
      [...this.#values]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join("|"),
      "g",
    );
    return text.replace(this.#pattern, REDACTED);
  }

  get size(): number {
    return this.#values.size;
  }
}

function collectLeaves(v: unknown, out: (leaf: string) => void, depth = 0): void {
  if (depth > 20) return;
  if (typeof v === "string") out(v);
  else if (typeof v === "number" && String(v).length >= MIN_LENGTH) out(String(v));
  else if (Array.isArray(v)) for (const x of v) collectLeaves(x, out, depth + 1);
  else if (v !== null && typeof v === "object")
    for (const x of Object.values(v)) collectLeaves(x, out, depth + 1);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The process-wide redactor used by logs, events, conditions and metrics. */
export const redactor = new Redactor();
