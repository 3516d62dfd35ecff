/**
 * Random template programs and data for fuzzing the engine (fuzz.test.ts runs a bounded number of
 * cases, `npm run fuzz -- templates <cases>` a long campaign).
 *
 * Programs come from a grammar of Go templates: text, actions, pipelines with declarations and
 * assignments, if/with/range (with $i, $v, else, break, continue), define/template (recursion
 * included) and calls of the real function table with random arguments, biased towards the
 * values that hurt: huge counts and widths, printf formats, keys naming JavaScript internals,
 * JSON/YAML/PEM texts, and structures built by doubling.
 */
import fc from "fast-check";
import { isCustosError } from "../../../src/util/errors.ts";
import {
  DEFAULT_LIMITS,
  lastRenderUsage,
  renderTemplate,
  templateFunctionNames,
  type TemplateLimits,
} from "../../../src/template/index.ts";

const HOSTILE_STRINGS = [
  "",
  "x",
  "a,b,c",
  "%v",
  "%s%s",
  "%500000000d",
  "%1000000d",
  "%*d",
  "%.*s",
  "%x",
  "%q",
  "%.200f",
  "%!",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "polluted",
  "hasOwnProperty",
  '{"a":1,"b":[1,2,{"c":"d"}]}',
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  "[[[[[[[[1]]]]]]]]",
  "a: 1\nb: [x, y]\n",
  "__proto__:\n  polluted: yes\n",
  "a: &x [1,2]\nb: [*x, *x, *x]\n",
  "-----BEGIN CERTIFICATE-----\nQQ==\n-----END CERTIFICATE-----\n",
  "-----BEGIN A-----\n-----BEGIN A-----\n",
  "\n\n\n",
  "2006-01-02",
  "rsa",
  "ecdsa",
  "ed25519",
  "RSA-OAEP",
  "None",
  "SHA256",
  "AP8=",
  "MZXW6===",
];

const INTS = [0, 1, 2, 3, -1, 7, 10, 64, 100, 1000, 100_000, 1_000_000, 100_000_000, 2_147_483_647];

const KEYS = [
  "a",
  "b",
  "password",
  "json",
  "yaml",
  "pem",
  "n",
  "list",
  "m",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
];

/** Functions weighted up: the ones that allocate, loop, or take keys. */
const HOT = [
  "printf",
  "repeat",
  "indent",
  "nindent",
  "concat",
  "append",
  "until",
  "list",
  "dict",
  "set",
  "get",
  "unset",
  "index",
  "dig",
  "pluck",
  "merge",
  "mergeOverwrite",
  "hasKey",
  "toJson",
  "fromJson",
  "mustFromJson",
  "toYaml",
  "fromYaml",
  "split",
  "splitList",
  "join",
  "replace",
  "cat",
  "uniq",
  "has",
  "without",
  "filterPEM",
  "trimAll",
  "keys",
  "values",
  "fail",
  "required",
];

const quote = (s: string): string => JSON.stringify(s);

export function templateArbitrary(): fc.Arbitrary<string> {
  const names = templateFunctionNames().filter((n) => n !== "and" && n !== "or");
  const fname = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOT.filter((n) => names.includes(n))) },
    { weight: 2, arbitrary: fc.constantFrom(...names) },
    { weight: 1, arbitrary: fc.constantFrom("and", "or", "not", "eq", "len", "print") },
  );
  const stringLit = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  );
  const simpleOperand = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...KEYS).map((k) => (/^[A-Za-z_]\w*$/.test(k) ? `.${k}` : ".")) },
    { weight: 3, arbitrary: stringLit.map(quote) },
    { weight: 3, arbitrary: fc.constantFrom(...INTS).map(String) },
    { weight: 1, arbitrary: fc.constantFrom("1.5", "0.1", "1e300", "-0.0") },
    {
      weight: 2,
      arbitrary: fc.constantFrom("true", "false", "nil", ".", "$", "$a", "$b", "$c", "$.m", "$c.k", "$a.x"),
    },
  );
  const { list } = fc.letrec<{
    operand: string;
    call: string;
    command: string;
    pipeline: string;
    action: string;
    node: string;
    list: string;
  }>((tie) => ({
    operand: fc.oneof(
      { depthSize: "small", withCrossShrink: true, depthIdentifier: "tpl" },
      { weight: 5, arbitrary: simpleOperand },
      { weight: 1, arbitrary: tie("pipeline").map((p) => `(${p})`) },
    ),
    call: fc
      .tuple(fname, fc.array(tie("operand"), { maxLength: 4 }))
      .map(([f, args]) => [f, ...args].join(" ")),
    command: fc.oneof(
      { depthSize: "small", withCrossShrink: true, depthIdentifier: "tpl" },
      { weight: 1, arbitrary: tie("operand") },
      { weight: 4, arbitrary: tie("call") },
    ),
    // a pipeline: any first command, then functions (a constant after "|" is an error in Go)
    pipeline: fc
      .tuple(tie("command"), fc.array(tie("call"), { maxLength: 2 }))
      .map(([first, rest]) => [first, ...rest].join(" | ")),
    // actions may assign the variables declared at the top
    action: fc
      .tuple(fc.constantFrom("", "", "", "$a = ", "$b = ", "$c = "), tie("pipeline"))
      .map(([decl, p]) => `{{ ${decl}${p} }}`),
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true, depthIdentifier: "tpl" },
      { weight: 3, arbitrary: fc.constantFrom("", "x", "\n", "  ", "text ") },
      { weight: 6, arbitrary: tie("action") },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom("if", "with"), tie("pipeline"), tie("list"), fc.option(tie("list")))
          .map(
            ([k, p, body, els]) => `{{ ${k} ${p} }}${body}${els === null ? "" : `{{ else }}${els}`}{{ end }}`,
          ),
      },
      {
        weight: 3,
        arbitrary: fc
          .tuple(
            fc.constantFrom("", "$v := ", "$i, $v := "),
            tie("pipeline"),
            tie("list"),
            fc.constantFrom(
              "",
              "",
              "{{ break }}",
              "{{ continue }}",
              "{{ $a = concat $a $a }}",
              '{{ $b = printf "%s%s" $b $b }}',
            ),
            fc.option(tie("list")),
          )
          .map(
            ([decl, p, body, ctl, els]) =>
              `{{ range ${decl}${p} }}${body}${ctl}${els === null ? "" : `{{ else }}${els}`}{{ end }}`,
          ),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom("t1", "t2"), tie("pipeline"))
          .map(([n, p]) => `{{ template "${n}" ${p} }}`),
      },
    ),
    list: fc.array(tie("node"), { maxLength: 4 }).map((ns) => ns.join("")),
  }));
  // variables are declared at the top of every body (define bodies have a scope of their own)
  const VARS = '{{ $a := list 1 }}{{ $b := "ab" }}{{ $c := dict "k" "v" }}';
  return fc
    .tuple(list, fc.option(list), fc.option(list))
    .map(
      ([body, t1, t2]) =>
        VARS +
        body +
        (t1 === null ? "" : `{{ define "t1" }}${VARS}${t1}{{ end }}`) +
        (t2 === null ? "" : `{{ define "t2" }}${VARS}${t2}{{ template "t1" . }}{{ end }}`),
    );
}

export function dataArbitrary(): fc.Arbitrary<Record<string, unknown>> {
  const scalar = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
    { weight: 2, arbitrary: fc.string({ maxLength: 16 }) },
    { weight: 1, arbitrary: fc.integer().map(String) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }) },
  );
  const value = fc.oneof(
    { weight: 4, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(scalar, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...KEYS), scalar, { maxKeys: 4 }) },
  );
  // every key present (own properties, "__proto__" included), so field access mostly succeeds
  return fc.tuple(...KEYS.map(() => value), fc.boolean()).map((vals) => {
    const out: Record<string, unknown> = {};
    KEYS.forEach((k, i) => {
      Object.defineProperty(out, k, { value: vals[i], enumerable: true, writable: true, configurable: true });
    });
    return out;
  });
}

export interface CaseResult {
  ok: boolean;
  /** A failure of a property, with what was observed. */
  problem?: string;
  ms: number;
  heapGrowth: number;
  steps: number;
  bytes: number;
}

const SHARED_PROTOTYPES: [string, object][] = [
  ["Object.prototype", Object.prototype],
  ["Array.prototype", Array.prototype],
  ["Function.prototype", Function.prototype],
  ["String.prototype", String.prototype],
  ["Map.prototype", Map.prototype],
  ["Error.prototype", Error.prototype],
];
const snapshot = (): string =>
  SHARED_PROTOTYPES.map(([n, p]) => `${n}:${Reflect.ownKeys(p).map(String).sort().join(",")}`).join(";");
const BASELINE = snapshot();

/** The fuzz cases' budget: the defaults, with the cost budget lowered so RSA keys are never made. */
export const FUZZ_LIMITS: TemplateLimits = { ...DEFAULT_LIMITS, maxCost: 200 };

/**
 * Renders one case and checks the properties: only template errors (typed, Go-formed), shared
 * prototypes unchanged, no render completing over its budget. Time and heap are recorded.
 */
export function runCase(src: string, data: unknown, limits: TemplateLimits = FUZZ_LIMITS): CaseResult {
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let problem: string | undefined;
  let rendered = false;
  try {
    renderTemplate("fuzz", src, data, { missingKey: "error", limits });
    rendered = true;
  } catch (e) {
    if (!(isCustosError(e, "CUSTOS_TEMPLATE") || isCustosError(e, "CUSTOS_TEMPLATE_BUDGET")))
      problem = `threw something else than a template error: ${e instanceof Error ? `${e.name}: ${e.message}` : typeof e}`;
    else if (!e.message.startsWith("template: fuzz:"))
      problem = `template error not in Go's form: ${e.message}`;
  }
  const ms = performance.now() - t0;
  const heapGrowth = process.memoryUsage().heapUsed - heap0;
  const usage = lastRenderUsage();
  if (!problem && snapshot() !== BASELINE) problem = "a shared prototype changed";
  if (
    !problem &&
    rendered &&
    (usage.steps > limits.maxSteps || usage.bytes > limits.maxBytes || usage.cost > limits.maxCost)
  )
    problem = `rendered over budget: ${JSON.stringify(usage)}`;
  return {
    ok: !problem,
    ...(problem ? { problem } : {}),
    ms,
    heapGrowth,
    steps: usage.steps,
    bytes: usage.bytes,
  };
}

export interface Stats {
  cases: number;
  rendered: number;
  worstMs: number;
  worstMsCase?: string;
  worstHeapGrowth: number;
  maxHeapUsed: number;
  maxSteps: number;
  maxBytes: number;
}

export function newStats(): Stats {
  return { cases: 0, rendered: 0, worstMs: 0, worstHeapGrowth: 0, maxHeapUsed: 0, maxSteps: 0, maxBytes: 0 };
}

export function record(stats: Stats, src: string, r: CaseResult): void {
  stats.cases++;
  if (r.ms > stats.worstMs) {
    stats.worstMs = r.ms;
    stats.worstMsCase = src.length > 300 ? `${src.slice(0, 300)}...` : src;
  }
  stats.worstHeapGrowth = Math.max(stats.worstHeapGrowth, r.heapGrowth);
  stats.maxSteps = Math.max(stats.maxSteps, r.steps);
  stats.maxBytes = Math.max(stats.maxBytes, r.bytes);
  if (stats.cases % 64 === 0) stats.maxHeapUsed = Math.max(stats.maxHeapUsed, process.memoryUsage().heapUsed);
}
