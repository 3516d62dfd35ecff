/**
 * The second wall against prototype pollution: freezes the shared intrinsics (Object.prototype,
 * Array.prototype, Function.prototype, the other built-in prototypes and namespaces) so that no
 * code path, template engine or library, can add or change an inherited property. Call once at
 * operator start, after every module is loaded.
 *
 * Freezing a prototype makes its properties read-only, and in JavaScript an assignment to a
 * property that is read-only on the prototype fails even on an instance ("the override mistake":
 * `err.name = "X"`, `obj.toString = f`). Libraries do this routinely, so, as SES and Node's
 * --frozen-intrinsics do, the properties that are commonly overridden become accessors: reading
 * gives the original value, assigning on an instance defines an own property there, assigning on
 * the prototype itself throws.
 *
 * Left writable on purpose: the Error constructor (Error.stackTraceLimit and prepareStackTrace are
 * set by Node tooling and libraries), the Reflect, Symbol and Promise namespaces (polyfills add
 * to them) and globalThis. Their prototypes are frozen all the same.
 */

/**
 * Properties libraries assign on instances, per prototype, made overridable before freezing
 * (only where needed: an accessor on Array or Promise prototypes would disable V8's fast paths).
 */
const OVERRIDABLE: [() => object, string[]][] = [
  [
    () => Object.prototype,
    [
      "constructor",
      "toString",
      "toLocaleString",
      "valueOf",
      "hasOwnProperty",
      "isPrototypeOf",
      "propertyIsEnumerable",
    ],
  ],
  [() => Function.prototype, ["toString"]],
  ...[Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError].map(
    (E): [() => object, string[]] => [() => E.prototype, ["constructor", "name", "message", "toString"]],
  ),
];

let hardened = false;

function intrinsics(): object[] {
  const g = globalThis as unknown as Record<string, unknown>;
  const protoOf = (x: unknown): object | undefined =>
    x ? ((Object.getPrototypeOf(x) as object | null) ?? undefined) : undefined;
  const ctors = [
    "Object",
    "Function",
    "Array",
    "String",
    "Number",
    "Boolean",
    "Symbol",
    "BigInt",
    "Date",
    "RegExp",
    "Map",
    "Set",
    "WeakMap",
    "WeakSet",
    "WeakRef",
    "FinalizationRegistry",
    "Promise",
    "ArrayBuffer",
    "SharedArrayBuffer",
    "DataView",
    "Error",
    "EvalError",
    "RangeError",
    "ReferenceError",
    "SyntaxError",
    "TypeError",
    "URIError",
    "AggregateError",
    "Int8Array",
    "Uint8Array",
    "Uint8ClampedArray",
    "Int16Array",
    "Uint16Array",
    "Int32Array",
    "Uint32Array",
    "Float32Array",
    "Float64Array",
    "BigInt64Array",
    "BigUint64Array",
  ];
  const out: object[] = [];
  for (const c of ctors) {
    const ctor = g[c] as { prototype?: object } | undefined;
    if (ctor?.prototype) out.push(ctor.prototype);
  }
  // prototypes without a global constructor
  const typedArray = protoOf(Uint8Array.prototype);
  const iterator = protoOf(protoOf([][Symbol.iterator]()));
  const asyncGen = protoOf(async function* () {
    /* only its prototype chain is used */
  });
  const gen = protoOf(function* () {
    /* only its prototype chain is used */
  });
  for (const p of [
    typedArray,
    iterator,
    protoOf([][Symbol.iterator]()),
    protoOf(new Map().entries()),
    protoOf(new Set().values()),
    protoOf(""[Symbol.iterator]()),
    protoOf("a".matchAll(/a/g)),
    gen,
    protoOf(gen),
    asyncGen,
    protoOf(asyncGen),
    protoOf(async () => {
      /* only its prototype is used */
    }),
  ])
    if (p) out.push(p);
  // namespaces and constructors whose static methods code relies on (not Reflect, Symbol or
  // Promise: polyfills such as reflect-metadata add to them when they load)
  for (const n of ["Object", "Array", "JSON", "Math", "Number", "String"]) {
    const v = g[n];
    if (v && (typeof v === "object" || typeof v === "function")) out.push(v);
  }
  return out;
}

/** Turns own data properties into accessors that let instances override them. */
function enableOverrides(proto: object, keys: string[]): void {
  for (const key of keys) {
    const desc = Object.getOwnPropertyDescriptor(proto, key);
    if (!desc || !("value" in desc) || !desc.configurable || !desc.writable) continue;
    const value: unknown = desc.value;
    Object.defineProperty(proto, key, {
      configurable: false,
      enumerable: desc.enumerable ?? false,
      get(): unknown {
        return value;
      },
      set(this: unknown, v: unknown): void {
        if (this === proto || this === null || (typeof this !== "object" && typeof this !== "function"))
          throw new TypeError(`Cannot assign to read only property '${key}' of a frozen intrinsic`);
        Object.defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
      },
    });
  }
}

/** Freezes the intrinsics; idempotent. Returns how many objects were frozen. */
export function hardenIntrinsics(): number {
  if (hardened) return 0;
  hardened = true;
  for (const [proto, keys] of OVERRIDABLE) enableOverrides(proto(), keys);
  const objs = intrinsics();
  for (const o of objs) Object.freeze(o);
  return objs.length;
}

/** True once hardenIntrinsics has run (for the operator's startup log and tests). */
export function intrinsicsHardened(): boolean {
  return hardened && Object.isFrozen(Object.prototype);
}
