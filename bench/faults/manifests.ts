/**
 * A schema-aware generator of ExternalSecrets, SecretStores and SealedSecrets for the bad-input
 * scenario: objects are generated from the project's own schemas (src/api/*.ts, the Vault
 * provider's; fast-check arbitraries built by walking them), then some are mutated into edge cases
 * (unicode, long but legal strings, deep nesting where unknown fields are kept, zero and huge
 * durations) or invalid input (wrong types, missing required fields, strings beyond their limits,
 * bad durations, bad regular expressions, template bombs, references to other namespaces and to
 * stores that do not exist, keys the store does not have). Deterministic for a seed. Pure: no I/O.
 */
import fc from "fast-check";
import type { TSchema } from "@sinclair/typebox";
import { ExternalSecretSpec, storeSpec } from "../../src/api/externalsecrets.ts";
import { SEALED_SECRET_SPEC } from "../../src/api/sealedsecrets.ts";
import { VaultProviderSchema } from "../../src/providers/vault/schema.ts";

export type Kind = "ExternalSecret" | "SecretStore" | "SealedSecret";
export type Variant = "valid" | "edge" | "invalid";

export interface Manifest {
  kind: Kind;
  variant: Variant;
  /** what was done to the object ("none" for a valid one) */
  mutation: string;
  doc: { apiVersion: string; kind: Kind; metadata: { name: string; namespace: string }; spec: unknown };
}

export interface World {
  /** namespaces the flood goes to */
  namespaces: string[];
  /** a working ClusterSecretStore and the keys it has (property `v`) */
  clusterStore: string;
  keys: string[];
  /** a working store's Vault address */
  vaultUrl: string;
  /** a ClusterSecretStore no flood namespace may use */
  restrictedStore: string;
  /** a namespaced store that exists in another namespace only */
  foreignStore: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = TSchema & Record<string, unknown>;

/** Strings by the name of the field they fill: valid values first, then legal oddities. */
function palette(field: string, w: World): string[] {
  switch (field) {
    case "name":
      return [w.clusterStore, "token", "missing", "db-creds", "app"];
    case "key":
      return [...w.keys.slice(0, 5), "token", "missing/key", "a/b/c"];
    case "property":
      return ["v", "missing", "a.b", "v"];
    case "secretKey":
      return ["v", "password", "user.name", "A-b_c.9"];
    case "refreshInterval":
    case "retryInterval":
      return ["1h", "30s", "5m", "0", "1h30m"];
    case "regexp":
    case "source":
      return ["^s[0-9]+$", ".*", "s(\\d)", "^$"];
    case "target":
      return ["x-$1", "$0", ""];
    case "template":
      return ["{{ .value }}", "{{ .value | upper }}"];
    case "server":
      return [w.vaultUrl, "http://127.0.0.1:1", "https://127.0.0.1:1"];
    case "path":
      return ["faults", "secret", "kv/data"];
    case "namespace":
      return [w.namespaces[0]!, "kube-system"];
    case "type":
      return ["Opaque", "kubernetes.io/tls", "custom/type"];
    case "apiVersion":
      return ["generators.external-secrets.io/v1alpha1"];
    case "kind":
      return ["Password", "Fake", "Unknown"];
    case "literal":
      return ["k: {{ .v }}", "x"];
    default:
      return ["value", "x", "a-b"];
  }
}

/** An arbitrary of schema-valid values (depth-bounded; optional fields included now and then). */
export function fromSchema(schema: Schema, w: World, field = "", depth = 0): fc.Arbitrary<Json> {
  if ("const" in schema) return fc.constant(schema.const as Json);
  const anyOf = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (anyOf) return fc.oneof(...anyOf.map((s) => fromSchema(s, w, field, depth)));
  const type = schema.type as string | undefined;
  if (type === "string") {
    if (schema.format === "byte") return fc.constantFrom("aGVsbG8=", "");
    if (schema.format === "date-time") return fc.constant("2026-01-01T00:00:00Z");
    return fc.constantFrom(...palette(field, w));
  }
  if (type === "boolean") return fc.boolean();
  if (type === "integer" || type === "number") return fc.integer({ min: 0, max: 100 });
  if (type === "array") {
    const items = schema.items as Schema | undefined;
    if (!items || depth > 6) return fc.constant([]);
    return fc.array(fromSchema(items, w, field, depth + 1), { minLength: 1, maxLength: 3 });
  }
  if (type === "object") {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    const required = new Set((schema.required ?? []) as string[]);
    const names = Object.keys(props);
    if (!names.length) {
      const values = (schema.additionalProperties ??
        Object.values((schema.patternProperties ?? {}) as Record<string, Schema>)[0]) as Schema | undefined;
      if (values && typeof values === "object")
        return fc.dictionary(
          fc.constantFrom("v", "k1", "user", "tls.crt"),
          fromSchema(values, w, field, depth + 1),
          {
            maxKeys: 3,
          },
        );
      return fc.constant({}); // x-kubernetes-preserve-unknown-fields: filled by mutations
    }
    if (schema.maxProperties === 1) {
      // exactly one of its fields
      return fc.oneof(
        ...names.map((n) => fromSchema(props[n]!, w, n, depth + 1).map((v) => ({ [n]: v }) as Json)),
      );
    }
    const entries: Record<string, fc.Arbitrary<Json>> = {};
    for (const n of names) {
      const sub = fromSchema(props[n]!, w, n, depth + 1);
      entries[n] = required.has(n)
        ? sub
        : depth > 5
          ? fc.constant(null)
          : fc.option(sub, { freq: 2, nil: null });
    }
    return fc.record(entries).map((r) => {
      const out: Record<string, Json> = {};
      for (const [k, v] of Object.entries(r)) if (v !== null) out[k] = v;
      return out;
    });
  }
  return fc.constant(null);
}

/** Deterministic PRNG (mulberry32) for the mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Obj = Record<string, Json>;
const isObj = (v: Json | undefined): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every (parent, key) in a value, for mutating a random place. */
function places(v: Json, out: [Obj | Json[], string | number][] = []): [Obj | Json[], string | number][] {
  if (Array.isArray(v))
    v.forEach((x, i) => {
      out.push([v, i]);
      places(x, out);
    });
  else if (isObj(v))
    for (const k of Object.keys(v)) {
      out.push([v, k]);
      places(v[k]!, out);
    }
  return out;
}

const set = (parent: Obj | Json[], key: string | number, value: Json): void => {
  (parent as Record<string | number, Json>)[key] = value;
};

function deep(depth: number): Json {
  let v: Json = "bottom";
  for (let i = 0; i < depth; i++) v = { n: v };
  return v;
}

const DEEP_MARK = "__deeper_than_the_stack__";
const DEEP_LEVELS = 20_000;

/** The request body of a manifest (nesting beyond what JSON.stringify can walk spliced in). */
export function body(m: Manifest): string {
  const text = JSON.stringify(m.doc);
  return text.includes(DEEP_MARK)
    ? text.replace(`"${DEEP_MARK}"`, `${'{"n":'.repeat(DEEP_LEVELS)}"bottom"${"}".repeat(DEEP_LEVELS)}`)
    : text;
}

const UNICODE = ["ключ", "密钥", "🔑🔑", "a\u200bb", "\u202eevil", "e\u0301", "Ω≈ç√"];
const BAD_DURATIONS = [
  "5x",
  "-1s",
  "1e9h",
  "forever",
  "",
  " 10s",
  "10 s",
  "9999999999999h",
  "1.5.5s",
  "0x10s",
];
const BAD_REGEXES = ["(", "[a-", "(?<=x)y", "a{100000}", "(a+)+\\1", "*", "(?P<n>x", "\\"];
const BOMBS = [
  "{{ range $i := until 100000 }}{{ range $j := until 100000 }}x{{ end }}{{ end }}",
  '{{ "x" | repeat 100000000 }}',
  `${"{{ if true }}".repeat(2000)}x${"{{ end }}".repeat(2000)}`,
  '{{ template "t" . }}{{ define "t" }}{{ template "t" . }}{{ end }}',
  "{{ .missing.deeper.still | toJson }}",
  '{{ bcrypt (repeat 1000 "x") }}',
  '{{ genPrivateKey "rsa" }}{{ genPrivateKey "rsa" }}{{ genPrivateKey "rsa" }}',
  "{{ unclosed",
  "{{ nosuchfunction . }}",
];

interface Mutation {
  name: string;
  variant: Variant;
  kinds: Kind[];
  apply(spec: Obj, r: () => number, w: World, doc: Manifest["doc"]): void;
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function anyPlace(spec: Obj, r: () => number): [Obj | Json[], string | number] | undefined {
  const ps = places(spec);
  return ps.length ? pick(r, ps) : undefined;
}

function stringPlaces(spec: Obj): [Obj | Json[], string | number][] {
  return places(spec).filter(([p, k]) => typeof (p as Record<string | number, Json>)[k] === "string");
}

const es = (spec: Obj): { data: Obj[]; target: Obj } => {
  const target = isObj(spec.target) ? spec.target : ((spec.target = {}) as Obj);
  const data = Array.isArray(spec.data) ? (spec.data.filter(isObj) as Obj[]) : [];
  return { data, target };
};

const MUTATIONS: Mutation[] = [
  // edge cases: legal, odd
  {
    name: "unicode strings",
    variant: "edge",
    kinds: ["ExternalSecret", "SecretStore", "SealedSecret"],
    apply(spec, r) {
      for (const [p, k] of stringPlaces(spec)) if (r() < 0.5) set(p, k, pick(r, UNICODE));
    },
  },
  {
    name: "deep nesting in kept unknown fields",
    variant: "edge",
    kinds: ["ExternalSecret"],
    apply(spec, r) {
      es(spec).target.manifest = { apiVersion: "v1", kind: "ConfigMap", extra: deep(pick(r, [20, 60, 90])) };
    },
  },
  {
    name: "zero, tiny and huge refresh intervals",
    variant: "edge",
    kinds: ["ExternalSecret"],
    apply(spec, r) {
      spec.refreshInterval = pick(r, ["0", "0s", "1ms", "8760h", "1s"]);
    },
  },
  {
    name: "long legal strings",
    variant: "edge",
    kinds: ["ExternalSecret", "SealedSecret"],
    apply(spec, r) {
      const s = stringPlaces(spec);
      const place = s.length ? pick(r, s) : undefined;
      if (place) set(place[0], place[1], "x".repeat(pick(r, [253, 4096, 65_536])));
    },
  },
  {
    name: "many data entries",
    variant: "edge",
    kinds: ["ExternalSecret"],
    apply(spec, r, w) {
      spec.data = Array.from({ length: pick(r, [50, 500]) }, (_, i) => ({
        secretKey: `k${i}`,
        remoteRef: { key: pick(r, w.keys), property: "v" },
      }));
    },
  },
  // invalid: the API server's schema should refuse these
  {
    name: "wrong types",
    variant: "invalid",
    kinds: ["ExternalSecret", "SecretStore", "SealedSecret"],
    apply(spec, r) {
      const p = anyPlace(spec, r);
      if (p) set(p[0], p[1], pick(r, [42, true, ["a"], { a: 1 }, 3.5] as Json[]));
    },
  },
  {
    name: "missing required fields",
    variant: "invalid",
    kinds: ["ExternalSecret", "SecretStore", "SealedSecret"],
    apply(spec, r, _w, doc) {
      const { data } = es(spec);
      const choice = r();
      if (doc.kind === "SealedSecret") delete spec.encryptedData;
      else if (doc.kind === "SecretStore") {
        const v = isObj(spec.provider) && isObj(spec.provider.vault) ? spec.provider.vault : undefined;
        if (v) delete v.server;
        else delete spec.provider;
      } else if (choice < 0.5 && data[0]) delete data[0].remoteRef;
      else {
        delete spec.data;
        delete spec.dataFrom;
      }
    },
  },
  {
    name: "strings beyond their limits",
    variant: "invalid",
    kinds: ["ExternalSecret"],
    apply(spec, r) {
      const ref = isObj(spec.secretStoreRef) ? spec.secretStoreRef : (spec.secretStoreRef = {});
      if (r() < 0.5) ref.name = "s".repeat(300);
      else es(spec).target.name = "t".repeat(300);
    },
  },
  {
    name: "bad enum values and secretKeys",
    variant: "invalid",
    kinds: ["ExternalSecret"],
    apply(spec, r) {
      const { data, target } = es(spec);
      if (r() < 0.5) target.creationPolicy = pick(r, ["owner", "Sometimes", ""]);
      else if (data[0]) data[0].secretKey = pick(r, ["bad key!", "a/b", "🔑", ""]);
      else spec.refreshPolicy = "Never";
    },
  },
  {
    name: "huge strings",
    variant: "invalid",
    kinds: ["ExternalSecret", "SealedSecret"],
    apply(spec, r) {
      const s = stringPlaces(spec);
      const place = s.length ? pick(r, s) : undefined;
      // beyond what etcd stores in one object (1.5 MiB) or within it
      if (place) set(place[0], place[1], "y".repeat(pick(r, [300_000, 2_000_000])));
    },
  },
  {
    name: "excessive nesting",
    variant: "invalid",
    kinds: ["ExternalSecret"],
    apply(spec) {
      // too deep for JSON.stringify: spliced into the request body (see body())
      es(spec).target.manifest = { extra: DEEP_MARK };
    },
  },
  // invalid content the schema cannot know about: admitted, and the status must name it
  {
    name: "bad durations",
    variant: "invalid",
    kinds: ["ExternalSecret", "SecretStore"],
    apply(spec, r, _w, doc) {
      if (doc.kind === "SecretStore") spec.retrySettings = { retryInterval: pick(r, BAD_DURATIONS) };
      else spec.refreshInterval = pick(r, BAD_DURATIONS);
    },
  },
  {
    name: "bad regular expressions",
    variant: "invalid",
    kinds: ["ExternalSecret"],
    apply(spec, r, w) {
      const bad = pick(r, BAD_REGEXES);
      spec.dataFrom = [
        r() < 0.5
          ? { find: { name: { regexp: bad } } }
          : { extract: { key: pick(r, w.keys) }, rewrite: [{ regexp: { source: bad, target: "x" } }] },
      ];
    },
  },
  {
    name: "template bombs",
    variant: "invalid",
    kinds: ["ExternalSecret"],
    apply(spec, r) {
      es(spec).target.template = { engineVersion: "v2", data: { out: pick(r, BOMBS) } };
    },
  },
  {
    name: "references to other namespaces and missing stores",
    variant: "invalid",
    kinds: ["ExternalSecret"],
    apply(spec, r, w) {
      spec.secretStoreRef = pick(r, [
        { name: w.foreignStore, kind: "SecretStore" },
        { name: w.restrictedStore, kind: "ClusterSecretStore" },
        { name: "no-such-store", kind: "ClusterSecretStore" },
        { name: "no-such-store", kind: "SecretStore" },
      ] as Json[]);
      if (r() < 0.3)
        es(spec).target.template = {
          templateFrom: [{ configMap: { name: "in-another-namespace", items: [{ key: "k" }] } }],
        };
    },
  },
  {
    name: "keys the store does not have",
    variant: "invalid",
    kinds: ["ExternalSecret"],
    apply(spec, r, w) {
      spec.secretStoreRef = { name: w.clusterStore, kind: "ClusterSecretStore" };
      spec.data = [
        {
          secretKey: "v",
          remoteRef: {
            key: pick(r, ["does-not-exist", "../../sys/seal", "a%2F..%2Fb", "x\u0000y"]),
            property: "v",
          },
        },
      ];
    },
  },
  {
    name: "undecryptable sealed data",
    variant: "invalid",
    kinds: ["SealedSecret"],
    apply(spec, r) {
      spec.encryptedData = { v: pick(r, ["AgBy3i4OJSWK+PiTySYZZA==", "not base64 at all", "", "QUJD"]) };
    },
  },
  {
    name: "store provider config that cannot work",
    variant: "invalid",
    kinds: ["SecretStore"],
    apply(spec, r) {
      spec.provider = pick(r, [
        { vault: { server: "not a url" } },
        { vault: { server: "ftp://127.0.0.1/", auth: {} } },
        { vault: { server: "http://127.0.0.1:1", version: "v3" } },
        { nosuchprovider: { x: 1 } },
        {},
        { vault: { server: "http://127.0.0.1:1" }, aws: { service: "SecretsManager", region: "x" } },
      ] as Json[]);
    },
  },
];

/** The valid ExternalSecret spec every one starts from (generated fields are then merged in). */
function baseEs(w: World, r: () => number): Obj {
  return {
    secretStoreRef: { name: w.clusterStore, kind: "ClusterSecretStore" },
    refreshInterval: "1h",
    target: { creationPolicy: "Owner" },
    data: [{ secretKey: "v", remoteRef: { key: pick(r, w.keys), property: "v" } }],
  };
}

const DNS = (kind: Kind, i: number): string => `${kind.toLowerCase()}-${i}`;

const ARBS = (w: World): Record<Kind, fc.Arbitrary<Json>> => ({
  ExternalSecret: fromSchema(ExternalSecretSpec as Schema, w),
  SecretStore: fromSchema(storeSpec(false) as Schema, w).chain((spec) =>
    fromSchema(VaultProviderSchema as Schema, w).map(
      (vault) => ({ ...(spec as Obj), provider: { vault } }) as Json,
    ),
  ),
  SealedSecret: fromSchema(SEALED_SECRET_SPEC as Schema, w),
});

/**
 * `n` manifests: about a fifth valid, a fifth edge cases, the rest invalid; 70% ExternalSecrets,
 * 15% SecretStores, 15% SealedSecrets; spread over the world's namespaces.
 */
export function generateManifests(n: number, seed: number, w: World): Manifest[] {
  const arbs = ARBS(w);
  const kindArb = fc.constantFrom<Kind>(
    ...Array<Kind>(14).fill("ExternalSecret"),
    "SecretStore",
    "SecretStore",
    "SecretStore",
    "SealedSecret",
    "SealedSecret",
    "SealedSecret",
  );
  const plan = fc.sample(
    fc.tuple(kindArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 99 })),
    { seed, numRuns: n },
  );
  const out: Manifest[] = [];
  plan.forEach(([kind, s, roll], i) => {
    const r = rng(s);
    const generated = fc.sample(arbs[kind], { seed: s, numRuns: 1 })[0] as Obj;
    let spec: Obj = generated;
    if (kind === "ExternalSecret") {
      // the schema knows no store names or keys: keep the generated fields the base does not set
      const base = baseEs(w, r);
      spec = {
        ...generated,
        ...base,
        target: { ...(isObj(generated.target) ? generated.target : {}), creationPolicy: "Owner" },
      };
      delete spec.dataFrom; // dataFrom from the schema alone names no source
    }
    // a store of another controller class is another operator's to report on
    if (kind === "SecretStore") delete spec.controller;
    if (kind === "SealedSecret") spec = { ...spec, encryptedData: { v: "AgBy3i4OJSWK+PiTySYZZA==" } };
    const doc: Manifest["doc"] = {
      apiVersion: kind === "SealedSecret" ? "bitnami.com/v1alpha1" : "external-secrets.io/v1",
      kind,
      metadata: { name: DNS(kind, i), namespace: w.namespaces[i % w.namespaces.length]! },
      spec,
    };
    let variant: Variant = "valid";
    let mutation = "none";
    if (roll >= 20) {
      const wanted: Variant = roll < 40 ? "edge" : "invalid";
      const options = MUTATIONS.filter((m) => m.variant === wanted && m.kinds.includes(kind));
      const m = pick(r, options);
      m.apply(spec, r, w, doc);
      variant = m.variant;
      mutation = m.name;
    }
    out.push({ kind, variant, mutation, doc });
  });
  return out;
}

export const PLURAL: Record<Kind, string> = {
  ExternalSecret: "externalsecrets",
  SecretStore: "secretstores",
  SealedSecret: "sealedsecrets",
};

/**
 * A status message that names no problem: empty, our own bug, or a JavaScript error leaking out
 * (what a crash-on-bad-input path looks like from the outside).
 */
export function genericMessage(message: string | undefined): boolean {
  if (!message || !message.trim()) return true;
  return /internal error|TypeError|ReferenceError|RangeError|SyntaxError: Unexpected|cannot read propert|is not a function|is not iterable|undefined is not|\[object Object\]|unexpected error|maximum call stack/i.test(
    message,
  );
}
