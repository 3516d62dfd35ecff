/**
 * The per-render budget. Templates come from tenants, so every render is charged for what it
 * really costs and stops with a template error before it can stall or exhaust the process:
 *
 * - steps: every node executed, operand evaluated, function called, range iteration, and every
 *   node a deep walk visits (printing, JSON/YAML, comparisons);
 * - bytes: every intermediate value produced (strings from printf/repeat/indent/join..., lists
 *   from concat/append/until...) and the strings and lists functions consume, not only the output;
 *   sizes that can blow up are reserved *before* anything is allocated;
 * - cost: functions whose price does not show in their size (bcrypt, RSA key generation, PKCS#12
 *   key derivation), in estimated milliseconds;
 * - time: a wall-clock backstop for estimates that prove wrong on a slow machine, far above what
 *   any real template takes (the three budgets above are what normally stops a render).
 *
 * Rendering is synchronous, so the meter of the render in progress is held here for the
 * functions to charge (they keep Go's signatures).
 */
import { GoFloat } from "./exec.ts";

export interface Budget {
  /** Evaluation steps. */
  maxSteps: number;
  /** Bytes of intermediate values produced and consumed (string length, 8 per list element...). */
  maxBytes: number;
  /** Estimated milliseconds of expensive functions (bcrypt, key generation, key derivation). */
  maxCost: number;
  /** Wall-clock milliseconds, checked between steps and charges (a backstop). */
  maxMillis: number;
}

/** Thrown by the meter; the executor turns it into a TemplateError at the current position. */
export class BudgetExceeded extends Error {
  override readonly name = "BudgetExceeded";
}

/** Most bytes one function result may have (repeat, indent, printf padding, random strings). */
export const MAX_VALUE_BYTES = 1 << 20;
/** Deepest nesting of values walked (printing, JSON, YAML, conversions); Go's json stops at 10000. */
export const MAX_VALUE_DEPTH = 1000;

export class Meter {
  steps = 0;
  bytes = 0;
  cost = 0;
  #deadline: number;
  constructor(readonly budget: Budget) {
    this.#deadline = performance.now() + budget.maxMillis;
  }

  /** The wall-clock backstop counts from the start of each render (a session spans several). */
  startRender(): void {
    this.#deadline = performance.now() + this.budget.maxMillis;
  }

  step(n = 1): void {
    const before = this.steps;
    this.steps += n;
    if (this.steps > this.budget.maxSteps)
      throw new BudgetExceeded(`template exceeded its budget of ${this.budget.maxSteps} evaluation steps`);
    if (this.steps >>> 10 !== before >>> 10) this.checkTime();
  }

  /** Charges bytes of a value about to be (or just) produced or consumed. */
  bytesUsed(n: number): void {
    this.bytes += n;
    if (this.bytes > this.budget.maxBytes)
      throw new BudgetExceeded(`template exceeded its budget of ${this.budget.maxBytes} bytes of values`);
    this.checkTime();
  }

  /** Time spent in work already charged by cost (costly()) does not count against the clock. */
  extendDeadline(ms: number): void {
    this.#deadline += ms;
  }

  checkTime(): void {
    if (performance.now() > this.#deadline)
      throw new BudgetExceeded(`template exceeded its time budget of ${this.budget.maxMillis} ms`);
  }

  costUsed(ms: number, what: string): void {
    this.checkTime();
    this.cost += ms;
    if (this.cost > this.budget.maxCost)
      throw new BudgetExceeded(
        `template exceeded its budget of ${this.budget.maxCost} cost units (${what} is expensive)`,
      );
  }
}

let active: Meter | undefined;
let session: Meter | undefined;
let last: Usage = { steps: 0, bytes: 0, cost: 0 };

export interface Usage {
  steps: number;
  bytes: number;
  cost: number;
}

/** Runs fn with meter charged by every function and value walk it reaches. */
export function withMeter<T>(meter: Meter, fn: () => T): T {
  const saved = active;
  active = meter;
  try {
    return fn();
  } finally {
    active = saved;
    last = { steps: meter.steps, bytes: meter.bytes, cost: meter.cost };
  }
}

/**
 * Runs fn with one budget for every render inside it: all the templates of one object (an
 * ExternalSecret's keys and rewrites, a SealedSecret's data) share it, so a tenant cannot multiply
 * the budget by writing many keys. fn must be synchronous (renders are).
 */
export function withSessionBudget<T>(budget: Budget, fn: () => T): T {
  const saved = session;
  session = new Meter(budget);
  try {
    return fn();
  } finally {
    session = saved;
  }
}

/** The meter of the session in progress, if any. */
export function sessionMeter(): Meter | undefined {
  return session;
}

/** What the last render used (for tests, fuzzing and benchmarks). */
export function lastRenderUsage(): Usage {
  return last;
}

/** The meter of the render in progress (undefined outside a render: nothing is charged). */
export function meter(): Meter | undefined {
  return active;
}

export function chargeSteps(n = 1): void {
  active?.step(n);
}

export function chargeBytes(n: number): void {
  active?.bytesUsed(n);
}

export function chargeCost(ms: number, what: string): void {
  active?.costUsed(ms, what);
}

/**
 * Charges `ms` of cost, then runs fn outside the wall-clock backstop: its price is the cost budget
 * (estimated on an idle machine), so a busy node makes it slower but never fails a render that the
 * budget allows (a 4096-bit RSA key takes 0.4 s idle and several seconds on a loaded 2-core node).
 */
export function costly<T>(ms: number, what: string, fn: () => T): T {
  chargeCost(ms, what);
  const m = active;
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    m?.extendDeadline(performance.now() - t0);
  }
}

/**
 * Checks a size before the value is built: one value may not exceed MAX_VALUE_BYTES, and it is
 * charged to the render's bytes. Returns n for use inline.
 */
export function reserve(n: number, what: string): number {
  if (!Number.isFinite(n) || n > MAX_VALUE_BYTES)
    throw new BudgetExceeded(`${what} would exceed ${MAX_VALUE_BYTES} bytes`);
  chargeBytes(Math.max(0, n));
  return n;
}

/** The shallow size of a value: what producing it (or a linear pass over it) costs. */
export function sizeOf(v: unknown): number {
  if (typeof v === "string") return v.length;
  if (v instanceof Uint8Array) return v.byteLength;
  if (Array.isArray(v)) return 8 * v.length;
  if (v instanceof Map) return 16 * v.size;
  if (v && typeof v === "object" && !(v instanceof GoFloat) && !(v instanceof Date))
    return 16 * Object.keys(v).length;
  return 0;
}

/** A depth guard for recursive walks over values (cycles end here too). */
export function checkDepth(depth: number): void {
  if (depth > MAX_VALUE_DEPTH)
    throw new BudgetExceeded(
      `value nesting exceeds ${MAX_VALUE_DEPTH} levels (or the value contains itself)`,
    );
}
