/**
 * fast-check arbitraries for what a hostile tenant can put in an object: any value the CRD's
 * structural schema admits (so the API server would store it), with strings drawn mostly from an
 * attacker's dictionary (prototype keys, dot segments, encoded separators, template and regex
 * bombs, huge and odd Unicode) rather than random noise that no code path would notice.
 */
import fc from "fast-check";
import type { JsonSchema } from "../../../src/api/crd.ts";

export const HOSTILE_STRINGS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "",
  ".",
  "..",
  "../auth/token/lookup-self",
  "..%2f..%2fsys",
  "%2e%2e/x",
  "a/../../b",
  "a\\b",
  "a\u0000b",
  "\u202e\ufeff",
  "{{ range 100000000 }}x{{ end }}",
  '{{ printf "%500000000d" 1 }}',
  '{{ get (dict) "__proto__" }}',
  "{{ .password }}",
  "^(a+)+$",
  "(?P<n>a)(?P=n)",
  "(a|aa)*c",
  "1ns",
  "0",
  "-1s",
  "99999999999h",
  "1e309",
  "NaN",
  "x".repeat(300),
  "😀".repeat(50),
  "$1_x",
  "${1}",
  "secret",
  "db/password",
  "team-a",
];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
);

/** Arbitrary values admitted by a structural schema (as generated into deploy/crds). */
export function fromSchema(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (Array.isArray(schema.enum)) {
    const values = schema.enum as unknown[];
    return schema.nullable ? fc.constantFrom(...values, null) : fc.constantFrom(...values);
  }
  const maxLength = typeof schema.maxLength === "number" ? schema.maxLength : undefined;
  switch (schema.type) {
    case "string": {
      if (typeof schema.pattern === "string")
        return fc
          .oneof(
            fc.constantFrom("__proto__", "constructor", "..", "a", "-"),
            fc.stringMatching(new RegExp(schema.pattern)),
          )
          .filter((s) => new RegExp(schema.pattern as string).test(s) && s.length <= (maxLength ?? 1e9));
      return maxLength === undefined ? hostileString : hostileString.map((s) => s.slice(0, maxLength));
    }
    case "integer":
      return fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1, 2 ** 31 - 1, Number.MAX_SAFE_INTEGER));
    case "number":
      return fc.double({ noNaN: true });
    case "boolean":
      return fc.boolean();
    case "array": {
      const items = schema.items as JsonSchema | undefined;
      if (!items || depth > 6) return fc.constant([]);
      return fc.array(fromSchema(items, depth + 1), { maxLength: 4 });
    }
    case "object": {
      const props = schema.properties as Record<string, JsonSchema> | undefined;
      if (props && depth <= 8) {
        const required = new Set((schema.required as string[] | undefined) ?? []);
        const record: Record<string, fc.Arbitrary<unknown>> = {};
        for (const [k, v] of Object.entries(props)) record[k] = fromSchema(v, depth + 1);
        return fc.record(record, { requiredKeys: [...required] });
      }
      const additional = schema.additionalProperties as JsonSchema | undefined;
      if (additional)
        return fc.dictionary(hostileString, fromSchema(additional, depth + 1), { maxKeys: 4 }).map(own);
      return preserved(depth);
    }
    default:
      return schema["x-kubernetes-preserve-unknown-fields"] ? preserved(depth) : fc.constant(undefined);
  }
}

/** A free-form JSON value, as an `x-kubernetes-preserve-unknown-fields` field may hold. */
function preserved(depth: number): fc.Arbitrary<unknown> {
  if (depth > 8) return fc.constant({});
  return fc.dictionary(hostileString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }).map(own);
}

/**
 * fc.dictionary builds objects by assignment, where a "__proto__" key would set the prototype
 * instead of adding a key; JSON.parse (what the operator receives) makes it an own key. Rebuild
 * the object as JSON.parse would.
 */
function own(o: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(
    `{${Object.keys(o)
      .map((k) => `${JSON.stringify(k)}:${JSON.stringify(o[k]) ?? "null"}`)
      .join(",")}}`,
  ) as Record<string, unknown>;
}

/** What must hold after any hostile input: nothing added to or changed in the shared prototypes. */
export function prototypesClean(): string | undefined {
  for (const [name, proto] of [
    ["Object.prototype", Object.prototype],
    ["Array.prototype", Array.prototype],
    ["String.prototype", String.prototype],
    ["Function.prototype", Function.prototype],
  ] as const) {
    const keys = Reflect.ownKeys(proto).map(String);
    const expected = BASELINE.get(name)!;
    const extra = keys.filter((k) => !expected.has(k));
    if (extra.length) return `${name} gained ${extra.join(", ")}`;
  }
  if (Object.getPrototypeOf({}) !== Object.prototype) return "the prototype of {} changed";
  return undefined;
}

const BASELINE = new Map<string, Set<string>>(
  (
    [
      ["Object.prototype", Object.prototype],
      ["Array.prototype", Array.prototype],
      ["String.prototype", String.prototype],
      ["Function.prototype", Function.prototype],
    ] as const
  ).map(([n, p]) => [n, new Set(Reflect.ownKeys(p).map(String))]),
);
