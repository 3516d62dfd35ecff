import { test } from "node:test";
import assert from "node:assert/strict";
import { planSecret, MANAGED_LABEL, type PlanInput } from "../../../src/controllers/externalsecret/plan.ts";
import {
  buildSecretData,
  remoteRefsOf,
  refId,
  storeRefOf,
  convertKey,
  decode,
  applyRewrites,
} from "../../../src/controllers/externalsecret/data.ts";
import type { ExternalSecret, SecretObject } from "../../../src/controllers/externalsecret/types.ts";
import { esoDataHash, goMapOfBytes } from "../../../src/util/eso-hash.ts";
import { CustosError, isCustosError } from "../../../src/util/errors.ts";
import type { RemoteSecret } from "../../../src/providers/types.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const noRender = (): string => {
  throw new Error("no templates here");
};

function es(spec: ExternalSecret["spec"], meta: Partial<ExternalSecret["metadata"]> = {}): ExternalSecret {
  return {
    metadata: { name: "app", namespace: "ns", uid: "uid-1", generation: 1, ...meta },
    spec: { secretStoreRef: { name: "vault" }, ...spec },
  };
}

function input(
  e: ExternalSecret,
  data: Record<string, string>,
  existing?: SecretObject,
  missing: string[] = [],
): PlanInput {
  const d: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(data)) d[k] = enc(v);
  return {
    es: e,
    data: { data: d, missingKeys: missing, anyMissing: missing.length > 0, missingRemote: missing },
    existing,
    templateSources: { configMaps: new Map(), secrets: new Map() },
    render: noRender,
    now: new Date(0),
  };
}

test("ESO's data hash: Go's %+v of map[string][]byte, SHA3-224", () => {
  assert.equal(goMapOfBytes({ b: enc(""), a: enc("hi") }), "map[a:[104 105] b:[]]");
  assert.match(esoDataHash({ a: enc("hi") }), /^[0-9a-f]{56}$/);
});

test("Owner: creates a labelled, hashed, owned Secret named after the ExternalSecret", () => {
  const p = planSecret(input(es({ data: [] }, { labels: { team: "a" } }), { password: "x" }));
  assert.equal(p.action, "create");
  const s = p.secret!;
  assert.equal(s.metadata.name, "app");
  assert.equal(s.metadata.labels?.[MANAGED_LABEL], "true");
  assert.equal(s.metadata.labels?.team, "a", "labels copied without a template");
  // ESO's created-by label: SHA3-224 of "ns/app" (value computed with Python's hashlib)
  assert.equal(
    s.metadata.labels?.["reconcile.external-secrets.io/created-by"],
    "167f89bed2a98a8e396edb2463d96fd47c9f917511cc1c2a3817e80e",
  );
  assert.equal(
    s.metadata.annotations?.["reconcile.external-secrets.io/data-hash"],
    esoDataHash({ password: enc("x") }),
  );
  assert.equal(s.metadata.ownerReferences?.[0]?.uid, "uid-1");
  assert.equal(s.metadata.ownerReferences?.[0]?.controller, true);
  assert.equal(Buffer.from(s.data!.password!, "base64").toString(), "x");
  assert.equal(s.type, "Opaque");
});

test("an identical existing Secret gives no write", () => {
  const first = planSecret(input(es({}), { a: "1" }));
  const existing = {
    ...first.secret!,
    metadata: { ...first.secret!.metadata, resourceVersion: "5", uid: "s1" },
  };
  assert.equal(planSecret(input(es({}), { a: "1" }, existing)).action, "none");
  assert.equal(planSecret(input(es({}), { a: "2" }, existing)).action, "update");
});

test("Orphan sets no owner; Merge keeps keys and needs an existing Secret; None writes nothing", () => {
  const orphan = planSecret(input(es({ target: { creationPolicy: "Orphan" } }), { a: "1" }));
  assert.equal(orphan.secret?.metadata.ownerReferences, undefined);
  const existing: SecretObject = {
    metadata: { name: "app", namespace: "ns", resourceVersion: "1" },
    data: { keep: Buffer.from("k").toString("base64") },
  };
  const merge = planSecret(input(es({ target: { creationPolicy: "Merge" } }), { a: "1" }, existing));
  assert.equal(merge.action, "update");
  assert.deepEqual(Object.keys(merge.secret!.data!).sort(), ["a", "keep"]);
  // ESO's mutation adds its managed label to the Secret it merges into (no owner label, no ref)
  assert.equal(merge.secret!.metadata.labels?.[MANAGED_LABEL], "true");
  assert.equal(merge.secret!.metadata.labels?.["reconcile.external-secrets.io/created-by"], undefined);
  assert.equal(merge.secret!.metadata.ownerReferences, undefined);
  const missing = planSecret(input(es({ target: { creationPolicy: "Merge" } }), { a: "1" }));
  assert.equal(missing.action, "none");
  // ESO's markAsDone: Ready=True, reason SecretMissing, its exact message
  assert.deepEqual(missing.condition, {
    ok: true,
    reason: "SecretMissing",
    message: "secret will not be created due to CreationPolicy=Merge",
  });
  assert.equal(planSecret(input(es({ target: { creationPolicy: "None" } }), { a: "1" })).action, "none");
});

test("deletionPolicy when the remote secret is gone (ESO's semantics)", () => {
  const existing: SecretObject = {
    metadata: { name: "app", namespace: "ns", labels: { [MANAGED_LABEL]: "true" } },
    data: {},
  };
  const gone = [{ secretKey: "a", remoteRef: { key: "gone" } }];
  // Delete: nothing left at all -> the managed Secret is deleted, with ESO's message
  const del = planSecret(
    input(es({ target: { deletionPolicy: "Delete" }, data: gone }), {}, existing, ["a"]),
  );
  assert.equal(del.action, "delete");
  assert.deepEqual(del.condition, {
    ok: true,
    reason: "SecretDeleted",
    message: "secret deleted due to DeletionPolicy=Delete",
  });
  // Orphan with Delete (accepted at admission, as by ESO): the Secret it does not own is kept, with ESO's error
  const orphan = planSecret(
    input(es({ target: { creationPolicy: "Orphan", deletionPolicy: "Delete" }, data: gone }), {}, existing, [
      "a",
    ]),
  );
  assert.equal(orphan.action, "none");
  assert.deepEqual(orphan.condition, {
    ok: false,
    reason: "SecretSyncedError",
    message: "could not delete secret: unable to delete secret app: creationPolicy=Orphan is not Owner",
  });
  // ...but never a Secret it does not manage
  const foreign: SecretObject = { metadata: { name: "app", namespace: "ns" }, data: {} };
  assert.equal(
    planSecret(input(es({ target: { deletionPolicy: "Delete" }, data: gone }), {}, foreign, ["a"])).action,
    "none",
  );
  // Delete with some data left: the missing entries are skipped, the rest is written
  const partial = planSecret(
    input(
      es({
        target: { deletionPolicy: "Delete" },
        data: [
          { secretKey: "a", remoteRef: { key: "gone" } },
          { secretKey: "b", remoteRef: { key: "here" } },
        ],
      }),
      { b: "2" },
      existing,
      ["a"],
    ),
  );
  assert.equal(partial.action, "update");
  assert.deepEqual(Object.keys(partial.secret!.data!), ["b"]);
  // a partial sync says so (ESO reports it as plainly synced)
  assert.equal(partial.condition.ok, true);
  assert.match(partial.condition.message, /left out: "a"/);
  // Retain (the default): a missing remote secret is an error; the Secret stays as it is
  for (const e of [es({ target: { deletionPolicy: "Retain" }, data: gone }), es({ data: gone })])
    assert.throws(
      () => planSecret(input(e, {}, existing, ["a"])),
      (err) => isCustosError(err, "CUSTOS_SECRET_NOT_FOUND"),
    );
  // Retain with nothing found and nothing missing (an empty find): retained, as ESO says
  const empty = planSecret(
    input(
      es({ target: { deletionPolicy: "Retain" }, dataFrom: [{ find: { name: { regexp: "^none$" } } }] }),
      {},
      existing,
    ),
  );
  assert.equal(empty.action, "none");
  assert.deepEqual(empty.condition, {
    ok: true,
    reason: "SecretSynced",
    message: "secret retained due to DeletionPolicy=Retain",
  });
  const merge = planSecret(
    input(
      es({ target: { deletionPolicy: "Merge" } }),
      { b: "2" },
      { metadata: { name: "app", namespace: "ns" }, data: { a: "YQ==", b: "Mg==" } },
      ["a"],
    ),
  );
  assert.deepEqual(Object.keys(merge.secret!.data!), ["b"]);
});

test("another ExternalSecret's Secret is an ownership conflict, not a takeover", () => {
  const existing: SecretObject = {
    metadata: {
      name: "app",
      namespace: "ns",
      ownerReferences: [
        { apiVersion: "x", kind: "ExternalSecret", name: "other", uid: "uid-2", controller: true },
      ],
    },
  };
  assert.throws(
    () => planSecret(input(es({}), { a: "1" }, existing)),
    (e) => isCustosError(e, "CUSTOS_OWNERSHIP_CONFLICT") && /other/.test(e.message),
  );
});

test("immutable Secrets are not modified in place", () => {
  const p = planSecret(input(es({ target: { immutable: true } }), { a: "1" }));
  assert.equal(p.secret?.immutable, true);
  const existing = { ...p.secret!, immutable: true };
  assert.throws(
    () => planSecret(input(es({ target: { immutable: true } }), { a: "2" }, existing)),
    /immutable/,
  );
});

test("target name and template type/metadata", () => {
  const e = es({
    target: { name: "other", template: { type: "kubernetes.io/tls", metadata: { labels: { l: "v" } } } },
  });
  const p = planSecret({ ...input(e, { "tls.crt": "c", "tls.key": "k" }), render: (_n, text) => text });
  assert.equal(p.secret?.metadata.name, "other");
  assert.equal(p.secret?.type, "kubernetes.io/tls");
  assert.equal(p.secret?.metadata.labels?.l, "v");
  assert.deepEqual(
    Object.keys(p.secret!.data!).sort(),
    ["tls.crt", "tls.key"],
    "no data templates: fetched data kept",
  );
});

const map = (v: Record<string, unknown>): RemoteSecret => ({ kind: "map", value: v });
const bytes = (s: string): RemoteSecret => ({ kind: "bytes", value: enc(s) });

function results(e: ExternalSecret, values: Record<string, RemoteSecret | Error>) {
  const reads = new Map<string, RemoteSecret | Error>();
  for (const r of remoteRefsOf(e).reads)
    reads.set(
      refId(r.storeRef!, r.ref),
      values[r.ref.key + (r.ref.version ? `@${r.ref.version}` : "")] ??
        new CustosError("CUSTOS_SECRET_NOT_FOUND", "nf"),
    );
  return { reads, finds: new Map() };
}

test("properties: exact key first, then gjson; no property: whole secret as JSON; bytes with JSON", () => {
  const e = es({
    data: [
      { secretKey: "exact", remoteRef: { key: "k", property: "a.b" } },
      { secretKey: "path", remoteRef: { key: "k", property: "n.x" } },
      { secretKey: "idx", remoteRef: { key: "k", property: "l.1" } },
      { secretKey: "num", remoteRef: { key: "k", property: "num" } },
      { secretKey: "whole", remoteRef: { key: "k" } },
      { secretKey: "aws", remoteRef: { key: "b", property: "user" } },
      { secretKey: "raw", remoteRef: { key: "b" } },
    ],
  });
  const value = { "a.b": "dotted", n: { x: "deep" }, l: ["p", "q"], num: 3 };
  const out = buildSecretData(e, results(e, { k: map(value), b: bytes('{"user":"admin"}') }), noRender);
  const s = (k: string): string => new TextDecoder().decode(out.data[k]);
  assert.equal(s("exact"), "dotted");
  assert.equal(s("path"), "deep");
  assert.equal(s("idx"), "q");
  assert.equal(s("num"), "3");
  assert.deepEqual(JSON.parse(s("whole")), value);
  assert.equal(s("aws"), "admin");
  assert.equal(s("raw"), '{"user":"admin"}');
});

test("a missing property is a typed error naming key and property but no value", () => {
  const e = es({ data: [{ secretKey: "x", remoteRef: { key: "db", property: "nope" } }] });
  assert.throws(
    () => buildSecretData(e, results(e, { db: map({ password: "canary-value-123" }) }), noRender),
    (err) =>
      isCustosError(err, "CUSTOS_PROPERTY_NOT_FOUND") &&
      /db/.test(err.message) &&
      /nope/.test(err.message) &&
      !err.message.includes("canary"),
  );
});

test("dataFrom extract first, data[] overrides; versions are distinct reads", () => {
  const e = es({
    dataFrom: [{ extract: { key: "k" } }],
    data: [
      { secretKey: "a", remoteRef: { key: "k", property: "b" } },
      { secretKey: "old", remoteRef: { key: "k", property: "a", version: "1" } },
    ],
  });
  assert.equal(remoteRefsOf(e).reads.length, 2);
  const out = buildSecretData(
    e,
    results(e, { k: map({ a: "A", b: "B", c: { d: 1 } }), "k@1": map({ a: "A1" }) }),
    noRender,
  );
  const s = (k: string): string => new TextDecoder().decode(out.data[k]);
  assert.equal(s("a"), "B");
  assert.equal(s("c"), '{"d":1}');
  assert.equal(s("old"), "A1");
});

test("not-found remote secrets are reported for deletionPolicy, not thrown", () => {
  const e = es({ data: [{ secretKey: "a", remoteRef: { key: "gone" } }] });
  const out = buildSecretData(e, results(e, {}), noRender);
  assert.equal(out.anyMissing, true);
  assert.deepEqual(out.missingKeys, ["a"]);
});

test("decoding strategies", () => {
  assert.equal(Buffer.from(decode(enc("aGk="), "Base64", "x")).toString(), "hi");
  // Go's base64.URLEncoding, as ESO: padding required (the real ESO refuses "aGk")
  assert.equal(Buffer.from(decode(enc("aGk="), "Base64URL", "x")).toString(), "hi");
  assert.throws(() => decode(enc("aGk"), "Base64URL", "x"), /base64url/);
  assert.throws(() => decode(enc("aGk"), "Base64", "x"), /base64/);
  assert.throws(() => decode(enc(" aGk="), "Base64", "x"), /base64/);
  assert.equal(Buffer.from(decode(enc("aG\nk="), "Base64", "x")).toString(), "hi");
  // Auto: standard, then URL-safe, then the value itself
  assert.equal(Buffer.from(decode(enc("Pz4-"), "Auto", "x")).toString(), "?>>");
  assert.equal(Buffer.from(decode(enc("aGk"), "Auto", "x")).toString(), "aGk");
  assert.equal(Buffer.from(decode(enc("aGk="), "Auto", "x")).toString(), "hi");
  assert.equal(Buffer.from(decode(enc("not base64!"), "Auto", "x")).toString(), "not base64!");
  assert.equal(Buffer.from(decode(enc("aGk="), "None", "x")).toString(), "aGk=");
  assert.throws(() => decode(enc("!!"), "Base64", "x"), /base64/);
});

test("key conversion and Go regexp rewrites", () => {
  assert.equal(convertKey("path/to/key", "Default"), "path_to_key");
  assert.equal(convertKey("a b", "Unicode"), "a_U0020_b");
  // Go's unicode.IsLetter/IsNumber: non-ASCII letters are kept, as ESO keeps them
  assert.equal(convertKey("ключ/١", "Default"), "ключ_١");
  assert.equal(convertKey("x@😀", "Unicode"), "x_U0040__U1f600_");
  const out = applyRewrites(
    { "db/user": enc("u"), "db/pass": enc("p") },
    [{ regexp: { source: "^db/(?P<rest>.*)$", target: "DB_${rest}" } }],
    noRender,
  );
  assert.deepEqual(Object.keys(out).sort(), ["DB_pass", "DB_user"]);
});

test("store refs: per-entry sourceRef overrides the ExternalSecret's store", () => {
  const e = es({
    data: [
      {
        secretKey: "a",
        remoteRef: { key: "k" },
        sourceRef: { storeRef: { name: "other", kind: "ClusterSecretStore" } },
      },
    ],
  });
  assert.deepEqual(storeRefOf(e, e.spec!.data![0]!.sourceRef?.storeRef), {
    name: "other",
    kind: "ClusterSecretStore",
  });
  assert.deepEqual(storeRefOf(e, undefined), { name: "vault", kind: "SecretStore" });
});

test("remote keys named __proto__ or constructor are ordinary Secret keys (as in Go maps), never prototypes", () => {
  const e = es({ dataFrom: [{ extract: { key: "hostile" } }] });
  const remote: RemoteSecret = {
    kind: "map",
    value: JSON.parse('{"__proto__":"p","constructor":"c","ok":"v"}') as Record<string, unknown>,
  };
  const reads = new Map<string, RemoteSecret | Error>([
    [refId(storeRefOf(e, undefined), { key: "hostile" }), remote],
  ]);
  const built = buildSecretData(e, { reads, finds: new Map() }, noRender);
  assert.deepEqual(Object.keys(built.data).sort(), ["__proto__", "constructor", "ok"]);
  const p = planSecret({ ...input(e, {}), data: built });
  const data = p.secret!.data!;
  assert.ok(Object.hasOwn(data, "__proto__"));
  assert.equal(Buffer.from(data["__proto__"]!, "base64").toString(), "p");
  const sent = JSON.parse(JSON.stringify(p.secret)) as { data: Record<string, string> };
  assert.equal(sent.data.constructor, Buffer.from("c").toString("base64"));
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
});

test("duplicate secretKeys (deletionPolicy Delete or Merge): the last entry found wins, as in ESO", () => {
  const e = es({
    target: { deletionPolicy: "Merge" },
    data: [
      { secretKey: "a", remoteRef: { key: "one" } },
      { secretKey: "a", remoteRef: { key: "two" } },
      { secretKey: "b", remoteRef: { key: "one" } },
      { secretKey: "b", remoteRef: { key: "gone" } },
    ],
  });
  const built = buildSecretData(e, results(e, { one: bytes("1"), two: bytes("2") }), noRender);
  const plan = planSecret({
    es: e,
    data: built,
    existing: undefined,
    templateSources: { configMaps: new Map(), secrets: new Map() },
    render: noRender,
    now: new Date(0),
  });
  const s = (k: string): string => Buffer.from(plan.secret!.data![k]!, "base64").toString();
  assert.equal(plan.action, "create");
  assert.equal(s("a"), "2", "the later entry overrides the earlier one");
  // a later entry whose remote secret is gone is skipped: the earlier value stays (ESO's `continue`)
  assert.equal(s("b"), "1");
});
