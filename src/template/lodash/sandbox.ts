/**
 * KES templates (lodash `template` over every string of `spec.template`, with `data` and js-yaml's
 * `yaml` in scope) run in a QuickJS interpreter compiled to WebAssembly: no host objects at all
 * (no process, require, Buffer, fs or network), a fresh runtime per render with a memory limit, a
 * stack limit and a time budget enforced by QuickJS's interrupt handler. lodash 4.17.21 and
 * js-yaml 3.14 (the versions KES ran) are loaded into the sandbox as source text, so the template
 * semantics are lodash's own; the operator never evaluates template text itself.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import {
  getQuickJS,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSWASMModule,
} from "quickjs-emscripten";
import { CustosError } from "../../util/errors.ts";
import { PRELUDE } from "./prelude.ts";

export interface SandboxLimits {
  /** bytes the sandbox's heap may hold (libraries included, about 2 MiB of it) */
  memoryBytes: number;
  /** milliseconds one render (all strings of one object) may run */
  timeMs: number;
  /** bytes of interpreter stack (deep recursion); above about 400 KiB Node's own stack overflows first */
  stackBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  memoryBytes: 32 * 1024 * 1024,
  timeMs: 1000,
  stackBytes: 256 * 1024,
};

/** A rendered template object: the same shape, each non-empty string replaced by its output. */
export type TemplateObject = Record<string, unknown>;

export type TemplateRenderer = (
  template: TemplateObject,
  data: Record<string, string>,
) => Promise<TemplateObject>;

const require = createRequire(import.meta.url);

let sources: string | undefined;
function librarySources(): string {
  if (sources === undefined) {
    const lodash = readFileSync(require.resolve("lodash/lodash.min.js"), "utf8");
    const jsyaml = readFileSync(require.resolve("js-yaml-3/dist/js-yaml.min.js"), "utf8");
    // each library is a classic script (UMD): with no module or define it sets a global
    sources = `${lodash}\n;\n${jsyaml}\n;\n${PRELUDE}`;
  }
  return sources;
}

let engine: Promise<QuickJSWASMModule> | undefined;
function quickjs(): Promise<QuickJSWASMModule> {
  engine ??= getQuickJS().catch((e: unknown) => {
    engine = undefined; // a failed load is tried again on the next render
    throw e;
  });
  return engine;
}

interface Described {
  name?: unknown;
  message?: unknown;
  at?: unknown;
}

/** Allowance for loading the libraries into a fresh sandbox, before the template's own budget. */
export const LOAD_MS = 10_000;
const TIME = "template stopped: it ran longer than its time budget";
const budget = (what: string): CustosError =>
  new CustosError("CUSTOS_TEMPLATE_BUDGET", what, { retryable: false });

/** Maps an error QuickJS raised to a typed error; the message names the error, never a value. */
function sandboxError(d: Described): CustosError {
  const name = typeof d.name === "string" ? d.name : "Error";
  const message = typeof d.message === "string" ? d.message : "";
  const at = typeof d.at === "string" && d.at !== "" ? `template.${d.at}: ` : "";
  if (/interrupted/i.test(message)) return budget(`${at}${TIME}`);
  if (/stack overflow/i.test(message))
    return budget(`${at}template stopped: it recursed deeper than its stack budget`);
  // QuickJS raises InternalError for exhausted resources: memory, string length, stack
  if (name === "InternalError" || /out of memory/i.test(message))
    return budget(`${at}template stopped: it used more than its memory budget`);
  // ReferenceError names an identifier of the template text (process, require...), not a value;
  // other messages (JSON.parse, yaml) may quote the data, so only their kind is reported
  const detail = name === "ReferenceError" ? `${name}: ${message}` : name;
  return new CustosError(
    "CUSTOS_TEMPLATE",
    `${at}template failed (${detail}); KES templates see only data, yaml, Buffer.from and JavaScript's built-ins`,
    { retryable: false },
  );
}

function dumpError(vm: QuickJSContext, h: QuickJSHandle): Described {
  try {
    const d: unknown = vm.dump(h);
    return d !== null && typeof d === "object" ? d : { message: String(d) };
  } catch {
    return { message: "" };
  }
}

/**
 * Renders a KES template object in a fresh sandbox: lodash's template with `variable: 'data'` and
 * `imports: { yaml, Buffer }` on each non-empty string, plain objects recursed, everything else kept.
 */
export async function renderInSandbox(
  template: TemplateObject,
  data: Record<string, string>,
  limits: SandboxLimits = DEFAULT_LIMITS,
): Promise<TemplateObject> {
  const qjs = await quickjs();
  const code = librarySources();
  const rt = qjs.newRuntime();
  let outOfTime = false;
  try {
    rt.setMemoryLimit(limits.memoryBytes);
    rt.setMaxStackSize(limits.stackBytes);
    // loading the libraries (about 40 ms) has its own allowance, so a busy machine does not fail
    // innocent templates; the template's own budget starts when they are loaded
    let deadline = Date.now() + LOAD_MS;
    rt.setInterruptHandler(() => {
      if (Date.now() > deadline) outOfTime = true;
      return outOfTime;
    });
    const vm = rt.newContext();
    try {
      const loaded = vm.evalCode(code, "custos-kes-template.js");
      if (loaded.error) {
        const d = dumpError(vm, loaded.error);
        loaded.error.dispose();
        if (outOfTime) throw budget(TIME);
        throw sandboxError(d);
      }
      const render = loaded.value;
      deadline = Date.now() + limits.timeMs;
      const args = [vm.newString(JSON.stringify(template)), vm.newString(JSON.stringify(data))];
      const called = vm.callFunction(render, vm.undefined, ...args);
      for (const a of args) a.dispose();
      render.dispose();
      if (called.error) {
        const d = dumpError(vm, called.error);
        called.error.dispose();
        if (outOfTime) throw budget(TIME);
        throw sandboxError(d);
      }
      const out = vm.getString(called.value);
      called.value.dispose();
      let parsed: { ok?: unknown; error?: Described };
      try {
        parsed = JSON.parse(out) as { ok?: unknown; error?: Described };
      } catch {
        parsed = {};
      }
      if (parsed.error !== undefined) throw sandboxError(parsed.error);
      if (parsed.ok === null || typeof parsed.ok !== "object" || Array.isArray(parsed.ok))
        throw new CustosError("CUSTOS_TEMPLATE", "template did not render to an object", {
          retryable: false,
        });
      return parsed.ok as TemplateObject;
    } finally {
      vm.dispose();
    }
  } catch (e) {
    if (e instanceof CustosError) throw e;
    // the engine itself failed (an abort in the WebAssembly module): start a new one next time
    engine = undefined;
    if (outOfTime) throw budget(TIME);
    throw budget("template stopped: the sandbox ran out of memory or stack");
  } finally {
    try {
      rt.dispose();
    } catch {
      engine = undefined;
    }
  }
}

/**
 * A renderer that remembers the last outcomes (output or error) by a hash of template and data:
 * a poll that fetched the same values does not run the sandbox again, and a hostile template
 * costs its budget once per change, not once per poll.
 */
export function cachedRenderer(
  limits: SandboxLimits = DEFAULT_LIMITS,
  entries = 2048,
  render: (
    t: TemplateObject,
    d: Record<string, string>,
    l: SandboxLimits,
  ) => Promise<TemplateObject> = renderInSandbox,
): TemplateRenderer {
  const memo = new Map<string, { ok: TemplateObject } | { error: unknown }>();
  return async (template, data) => {
    const key = createHash("sha256")
      .update(JSON.stringify([template, data]))
      .digest("base64");
    let hit = memo.get(key);
    if (hit === undefined) {
      try {
        hit = { ok: await render(template, data, limits) };
      } catch (e) {
        hit = { error: e };
      }
      memo.set(key, hit);
      if (memo.size > entries) memo.delete(memo.keys().next().value as string);
    } else {
      memo.delete(key); // most recently used last
      memo.set(key, hit);
    }
    if ("error" in hit) throw hit.error;
    return structuredClone(hit.ok);
  };
}
