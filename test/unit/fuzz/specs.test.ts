/**
 * Property-based fuzzing of everything that parses a tenant's object before any I/O: random
 * objects that the CRDs' schemas admit (so the API server would store them), with hostile strings,
 * through validation, store access, read planning, data building with random store answers,
 * templates, Secret planning, SealedSecret unsealing and rollout decisions. Properties:
 * - nothing throws but a CustosError (a typed error becomes a condition; anything else is a bug);
 * - no shared prototype gains or changes anything;
 * - every case finishes (its worst time is printed, never asserted).
 * `CUSTOS_FUZZ_RUNS` raises the number of cases (`npm run fuzz -- specs` runs a long campaign).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { toStructural } from "../../../src/api/crd.ts";
import {
  ExternalSecretSpec,
  ClusterExternalSecretSpec,
  storeSpec,
} from "../../../src/api/externalsecrets.ts";
import { SEALED_SECRET_SPEC } from "../../../src/api/sealedsecrets.ts";
import { allProviders } from "../../../src/providers/registry.ts";
import { validateExternalSecret } from "../../../src/controllers/externalsecret/validate.ts";
import { syncDecision } from "../../../src/controllers/externalsecret/status.ts";
import {
  buildSecretData,
  remoteRefsOf,
  refId,
  findId,
  type FetchResults,
} from "../../../src/controllers/externalsecret/data.ts";
import { planSecret } from "../../../src/controllers/externalsecret/plan.ts";
import {
  renderBytesForExternalSecret,
  renderForExternalSecret,
} from "../../../src/controllers/externalsecret/render.ts";
import type { ExternalSecret } from "../../../src/controllers/externalsecret/types.ts";
import { clusterStoreDenial, type StoreCondition } from "../../../src/controllers/secretstore/access.ts";
import {
  desiredExternalSecret,
  targetNamespaces,
  type ClusterExternalSecret,
} from "../../../src/controllers/clusterexternalsecret/plan.ts";
import { restartPatch, shouldRestart, type Workload } from "../../../src/controllers/rollout/match.ts";
import { generateSealingKey, publicKeyOf } from "../../../src/sealing/keys.ts";
import {
  sealSecret,
  unsealValues,
  secretFromValues,
  type SealedSecret,
} from "../../../src/sealing/sealedsecret.ts";
import { renderEsoTemplate } from "../../../src/template/index.ts";
import type { RemoteSecret, StoreContext } from "../../../src/providers/types.ts";
import { CustosError } from "../../../src/util/errors.ts";
import { parseDuration } from "../../../src/util/duration.ts";
import { getPath } from "../../../src/util/gjson.ts";
import { fromSchema, hostileString, prototypesClean } from "./arbitrary.ts";

const RUNS = Number(process.env.CUSTOS_FUZZ_RUNS ?? 300);
const worst = new Map<string, number>();
const reached = { valid: 0, built: 0 };

/** Runs `fn`; a CustosError is an accepted outcome, anything else fails the property. */
function typedOnly(what: string, fn: () => unknown): void {
  const t0 = performance.now();
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CustosError)) {
      const err = e as Error;
      assert.fail(
        `${what} threw ${err?.name ?? typeof e}: ${err?.message ?? String(e)}\n${err?.stack ?? ""}`,
      );
    }
  } finally {
    const ms = performance.now() - t0;
    if (ms > (worst.get(what) ?? 0)) worst.set(what, ms);
    const dirty = prototypesClean();
    assert.equal(dirty, undefined, `${what}: ${dirty}`);
  }
}

test.after(() => {
  const line = [...worst].map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(", ");
  process.stdout.write(
    `# spec fuzz: ${RUNS} cases per property; ExternalSecrets valid ${reached.valid}, built ${reached.built}; worst: ${line}\n`,
  );
});

const remoteSecret: fc.Arbitrary<RemoteSecret | Error> = fc.oneof(
  fc
    .dictionary(hostileString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 })
    .map((o) => ({ kind: "map" as const, value: JSON.parse(JSON.stringify(o)) as Record<string, unknown> })),
  fc
    .oneof(
      hostileString,
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    )
    .map((s) => ({ kind: "bytes" as const, value: new TextEncoder().encode(s) })),
  fc.uint8Array({ maxLength: 32 }).map((value) => ({ kind: "bytes" as const, value })),
  fc.constant(new CustosError("CUSTOS_SECRET_NOT_FOUND", "not found")),
  fc.constant(new CustosError("CUSTOS_THROTTLED", "slow down")),
);

type Spec = NonNullable<ExternalSecret["spec"]>;
/**
 * Schema-valid specs, nudged past validation most of the time (a store named, dataFrom entries
 * with one source, a parseable interval) so the data, template and plan code is what gets fuzzed.
 */
const esSpec = fc
  .tuple(fromSchema(toStructural(ExternalSecretSpec)) as fc.Arbitrary<Spec>, fc.boolean())
  .map(([spec, nudge]): Spec => {
    if (!nudge) return spec;
    const { refreshInterval, ...rest } = spec;
    return {
      ...rest,
      secretStoreRef: {
        name: "store",
        ...(spec.secretStoreRef?.kind ? { kind: spec.secretStoreRef.kind } : {}),
      },
      ...(refreshInterval && /^[0-9]+(ns|ms|s|m|h)$/.test(refreshInterval) ? { refreshInterval } : {}),
      dataFrom: (spec.dataFrom ?? []).map(({ find, extract, ...d }) => ({
        ...d,
        ...(extract ? { extract } : { find: find ?? {} }),
      })),
      ...(spec.target?.name ? { target: { ...spec.target, name: "target" } } : {}),
    };
  });

test("ExternalSecrets: validation, read planning, data, templates and Secret plans only fail typed", () => {
  fc.assert(
    fc.property(esSpec, fc.array(remoteSecret, { minLength: 1, maxLength: 4 }), (spec, answers) => {
      const es: ExternalSecret = {
        metadata: { name: "fuzz", namespace: "tenant", uid: "u", generation: 1 },
        spec,
      };
      let problems: string[] = [];
      typedOnly("validate", () => (problems = validateExternalSecret(es)));
      typedOnly("syncDecision", () => syncDecision(es, undefined, Date.now(), 5000));
      if (problems.length) return;
      reached.valid++;
      const results: FetchResults = { reads: new Map(), finds: new Map() };
      typedOnly("remoteRefsOf", () => {
        const { reads, finds } = remoteRefsOf(es);
        reads.forEach((r, i) =>
          results.reads.set(refId(r.storeRef ?? { name: "" }, r.ref), answers[i % answers.length]!),
        );
        finds.forEach((f, i) => {
          const a = answers[i % answers.length]!;
          results.finds.set(
            findId(f.storeRef ?? { name: "" }, f.query),
            a instanceof Error
              ? a
              : new Map([
                  [`found-${i}`, a],
                  ["__proto__", a],
                ]),
          );
        });
      });
      typedOnly("buildSecretData+planSecret", () => {
        const data = buildSecretData(es, results, renderForExternalSecret(es));
        reached.built++;
        planSecret({
          es,
          data,
          existing: undefined,
          templateSources: { configMaps: new Map(), secrets: new Map() },
          render: renderForExternalSecret(es),
          renderBytes: renderBytesForExternalSecret(es),
          now: new Date(0),
        });
      });
    }),
    { numRuns: RUNS },
  );
});

const context = (kind: "SecretStore" | "ClusterSecretStore"): StoreContext => ({
  storeKind: kind,
  storeName: "s",
  storeUid: "u",
  namespace: "tenant",
  kube: new Proxy({} as StoreContext["kube"], {
    get: () => () => Promise.reject(new CustosError("CUSTOS_MISSING_CREDENTIALS", "no access in fuzzing")),
  }),
});

test("stores: provider validation, identity and ClusterSecretStore conditions only fail typed", () => {
  const spec = fromSchema(toStructural(storeSpec(true))) as fc.Arbitrary<{
    provider?: Record<string, unknown>;
    conditions?: StoreCondition[];
  }>;
  fc.assert(
    fc.property(spec, fc.dictionary(hostileString, hostileString, { maxKeys: 3 }), (s, labels) => {
      for (const p of allProviders()) {
        const ps = s.provider?.[p.name];
        if (ps === undefined) continue;
        let problems: string[] = [];
        typedOnly(`${p.name}.validate`, () => (problems = p.validate(ps as never)));
        if (!problems.length) {
          typedOnly(`${p.name}.identity`, () => p.identity(ps as never, context("SecretStore")));
          typedOnly(`${p.name}.identity`, () => p.identity(ps as never, context("ClusterSecretStore")));
        }
      }
      typedOnly("clusterStoreDenial", () =>
        clusterStoreDenial(
          "s",
          s.conditions,
          "tenant",
          JSON.parse(JSON.stringify(labels)) as Record<string, string>,
        ),
      );
    }),
    { numRuns: RUNS },
  );
});

test("ClusterExternalSecrets: namespace selection and generated ExternalSecrets only fail typed", () => {
  const spec = fromSchema(toStructural(ClusterExternalSecretSpec)) as fc.Arbitrary<
    ClusterExternalSecret["spec"]
  >;
  fc.assert(
    fc.property(
      spec,
      fc.array(fc.dictionary(hostileString, hostileString, { maxKeys: 3 }), { maxLength: 3 }),
      (s, nsLabels) => {
        const ces = { metadata: { name: "c", uid: "u" }, spec } as ClusterExternalSecret;
        const namespaces = nsLabels.map((labels, i) => ({
          metadata: { name: `ns-${i}`, labels: JSON.parse(JSON.stringify(labels)) as Record<string, string> },
        }));
        typedOnly("targetNamespaces", () => targetNamespaces(ces, namespaces));
        typedOnly("desiredExternalSecret", () => desiredExternalSecret(ces, "ns-0"));
      },
    ),
    { numRuns: RUNS },
  );
});

test("SealedSecrets: random specs and tampered ciphertexts only fail typed and leak nothing", async () => {
  const key = await generateSealingKey({ bits: 2048 });
  const spec = fromSchema(SEALED_SECRET_SPEC) as fc.Arbitrary<SealedSecret["spec"]>;
  const sealed = sealSecret(
    {
      metadata: { name: "s", namespace: "tenant" },
      data: { password: Buffer.from("fuzz-plaintext-value").toString("base64") },
    },
    publicKeyOf(key),
    "strict",
  );
  const good = sealed.spec.encryptedData!.password!;
  fc.assert(
    fc.property(
      spec,
      fc.integer({ min: 0, max: Buffer.from(good, "base64").length - 1 }),
      fc.integer({ min: 1, max: 255 }),
      (s, at, flip) => {
        const ss = {
          apiVersion: "bitnami.com/v1alpha1",
          kind: "SealedSecret",
          metadata: { name: "s", namespace: "tenant" },
          spec: s,
        } as SealedSecret;
        typedOnly("unseal(random)", () =>
          secretFromValues(ss, unsealValues(ss, [key.privateKey]), renderEsoTemplate),
        );
        const bytes = Buffer.from(good, "base64");
        bytes[at] = bytes[at]! ^ flip;
        const tampered = {
          ...sealed,
          spec: { ...sealed.spec, encryptedData: { password: bytes.toString("base64") } },
        };
        try {
          unsealValues(tampered, [key.privateKey]);
          assert.fail("a tampered ciphertext must not unseal");
        } catch (e) {
          assert.ok(e instanceof CustosError, String(e));
          assert.ok(!e.message.includes("fuzz-plaintext"), "no plaintext in the error");
        }
        assert.equal(prototypesClean(), undefined);
      },
    ),
    { numRuns: Math.max(20, Math.floor(RUNS / 3)) },
  );
});

test("rollout annotations, durations and gjson paths only fail typed", () => {
  const annotations = fc.dictionary(
    fc.constantFrom(
      "reloader.stakater.com/auto",
      "secret.reloader.stakater.com/reload",
      "secret.reloader.stakater.com/auto",
      "reloader.stakater.com/search",
      "secrets.exclude.reloader.stakater.com/reload",
    ),
    fc.oneof(fc.constantFrom("true", "^(a+)+$", "a,b,(x", "db.*"), hostileString),
    { maxKeys: 4 },
  );
  fc.assert(
    fc.property(annotations, hostileString, hostileString, (ann, secretName, text) => {
      const w: Workload = {
        kind: "Deployment",
        metadata: { name: "w", namespace: "tenant", annotations: ann },
        spec: {
          template: { spec: { containers: [{ name: "c", envFrom: [{ secretRef: { name: secretName } }] }] } },
        },
      };
      typedOnly("shouldRestart", () => shouldRestart(w, { name: secretName, namespace: "tenant" }));
      typedOnly("restartPatch", () =>
        restartPatch(
          w,
          [{ secret: { name: secretName, namespace: "tenant" }, hash: "h" }],
          "env-vars",
          new Date(0),
        ),
      );
      typedOnly("parseDuration", () => parseDuration(text));
      typedOnly("getPath", () => getPath({ a: { b: [1, 2] }, [text]: "v" }, text));
    }),
    { numRuns: RUNS },
  );
});
