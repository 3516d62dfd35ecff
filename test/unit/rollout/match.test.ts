import { test } from "node:test";
import assert from "node:assert/strict";
import {
  reloaderHash,
  envVarName,
  shouldRestart,
  restartPatch,
  ANN,
  type Workload,
} from "../../../src/controllers/rollout/match.ts";

const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");

test("Reloader's hash (vectors computed with Go's sha1 over Reloader's input format)", () => {
  assert.equal(
    reloaderHash({ username: b64("admin"), password: b64("s3cr3t") }),
    "c6cceb2f1c84498af4f4cda76071f8bc2afd425b",
  );
  assert.equal(reloaderHash({}), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(
    reloaderHash({ bin: b64(Buffer.from([0xff, 0x00, 0x10])), a: b64("é") }),
    "81a4c70d976dd8c61186f42b99ad6100323ab4f1",
  );
});

test("env var name", () => {
  assert.equal(envVarName("ext-postgres-secret"), "STAKATER_EXT_POSTGRES_SECRET_SECRET");
  assert.equal(envVarName("a.b"), "STAKATER_A_B_SECRET");
  // runs of other characters collapse into one "_", as Reloader's ConvertToEnvVarName does
  assert.equal(envVarName("db--creds"), "STAKATER_DB_CREDS_SECRET");
  assert.equal(envVarName("a.-b.9"), "STAKATER_A_B_9_SECRET");
});

function wl(opts: {
  ann?: Record<string, string>;
  podAnn?: Record<string, string>;
  ref?: "env" | "envFrom" | "volume" | "projected" | "init" | "none";
}): Workload {
  const ref = opts.ref ?? "env";
  const container = {
    name: "app",
    ...(ref === "env" ? { env: [{ name: "P", valueFrom: { secretKeyRef: { name: "db" } } }] } : {}),
    ...(ref === "envFrom" ? { envFrom: [{ secretRef: { name: "db" } }] } : {}),
    ...(ref === "volume" || ref === "projected" ? { volumeMounts: [{ name: "v" }] } : {}),
  };
  return {
    kind: "Deployment",
    metadata: { name: "w", namespace: "ns", ...(opts.ann ? { annotations: opts.ann } : {}) },
    spec: {
      template: {
        ...(opts.podAnn ? { metadata: { annotations: opts.podAnn } } : {}),
        spec: {
          containers: [{ name: "first" }, container],
          ...(ref === "init"
            ? {
                initContainers: [
                  { name: "init", env: [{ name: "P", valueFrom: { secretKeyRef: { name: "db" } } }] },
                ],
              }
            : {}),
          ...(ref === "volume" ? { volumes: [{ name: "v", secret: { secretName: "db" } }] } : {}),
          ...(ref === "projected"
            ? { volumes: [{ name: "v", projected: { sources: [{ secret: { name: "db" } }] } }] }
            : {}),
        },
      },
    },
  };
}

const secret = (annotations?: Record<string, string>, name = "db") => ({
  name,
  namespace: "ns",
  annotations,
});
const cases: [string, Workload, ReturnType<typeof secret>, boolean][] = [
  ["auto + env reference", wl({ ann: { [ANN.auto]: "true" } }), secret(), true],
  ["auto + envFrom", wl({ ann: { [ANN.auto]: "true" }, ref: "envFrom" }), secret(), true],
  ["auto + volume", wl({ ann: { [ANN.auto]: "true" }, ref: "volume" }), secret(), true],
  ["auto + projected volume", wl({ ann: { [ANN.auto]: "true" }, ref: "projected" }), secret(), true],
  ["auto + init container", wl({ ann: { [ANN.auto]: "true" }, ref: "init" }), secret(), true],
  ["auto without a reference", wl({ ann: { [ANN.auto]: "true" }, ref: "none" }), secret(), false],
  ["auto false", wl({ ann: { [ANN.auto]: "false" } }), secret(), false],
  ["typed auto", wl({ ann: { [ANN.secretAuto]: "true" } }), secret(), true],
  ["no annotation", wl({}), secret(), false],
  ["named", wl({ ann: { [ANN.secretReload]: "other,db" }, ref: "none" }), secret(), true],
  ["named regex", wl({ ann: { [ANN.secretReload]: "d.*" }, ref: "none" }), secret(), true],
  ["named regex is anchored", wl({ ann: { [ANN.secretReload]: "d" }, ref: "none" }), secret(), false],
  ["named other", wl({ ann: { [ANN.secretReload]: "other" } }), secret(), false],
  ["search + match", wl({ ann: { [ANN.search]: "true" } }), secret({ [ANN.match]: "true" }), true],
  // Reloader treats search/match like auto: the workload must use the Secret
  [
    "search + match without a reference",
    wl({ ann: { [ANN.search]: "true" }, ref: "none" }),
    secret({ [ANN.match]: "true" }),
    false,
  ],
  [
    "exclusions are exact names, not patterns",
    wl({ ann: { [ANN.auto]: "true", [ANN.secretExclude]: "d.*" } }),
    secret(),
    true,
  ],
  ["search without match", wl({ ann: { [ANN.search]: "true" } }), secret(), false],
  ["ignore on the Secret", wl({ ann: { [ANN.auto]: "true" } }), secret({ [ANN.ignore]: "true" }), false],
  ["ignore beats named", wl({ ann: { [ANN.secretReload]: "db" } }), secret({ [ANN.ignore]: "true" }), false],
  ["excluded from auto", wl({ ann: { [ANN.auto]: "true", [ANN.secretExclude]: "db" } }), secret(), false],
  ["pod-template annotations", wl({ podAnn: { [ANN.auto]: "true" } }), secret(), true],
  [
    "other namespace",
    wl({ ann: { [ANN.auto]: "true" } }),
    { name: "db", namespace: "other", annotations: undefined },
    false,
  ],
];
for (const [name, w, s, expected] of cases) {
  test(`restart decision: ${name}`, () => assert.equal(shouldRestart(w, s), expected));
}

test("env-vars patch targets the container using the Secret, and is idempotent", () => {
  const w = wl({ ann: { [ANN.auto]: "true" } });
  const p = restartPatch(w, [{ secret: secret(), hash: "h1" }], "env-vars", new Date(0)) as {
    spec: { template: { spec: { containers: { name: string; env: { name: string; value: string }[] }[] } } };
  };
  assert.deepEqual(p.spec.template.spec.containers, [
    { name: "app", env: [{ name: "STAKATER_DB_SECRET", value: "h1" }] },
  ]);
  const applied = structuredClone(w);
  applied.spec!.template!.spec!.containers[1]!.env!.push({ name: "STAKATER_DB_SECRET", value: "h1" });
  assert.equal(restartPatch(applied, [{ secret: secret(), hash: "h1" }], "env-vars", new Date(0)), undefined);
  assert.ok(restartPatch(applied, [{ secret: secret(), hash: "h2" }], "env-vars", new Date(0)));
});

test("named reload without reference puts the env var on the first container", () => {
  const w = wl({ ann: { [ANN.secretReload]: "db" }, ref: "none" });
  const p = restartPatch(w, [{ secret: secret(), hash: "h" }], "env-vars", new Date(0)) as {
    spec: { template: { spec: { containers: { name: string }[] } } };
  };
  assert.equal(p.spec.template.spec.containers[0]?.name, "first");
});

test("annotations strategy writes Reloader's last-reloaded-from JSON, idempotently", () => {
  const w = wl({ ann: { [ANN.auto]: "true" } });
  const p = restartPatch(w, [{ secret: secret(), hash: "h1" }], "annotations", new Date(5000)) as {
    spec: { template: { metadata: { annotations: Record<string, string> } } };
  };
  const value = JSON.parse(p.spec.template.metadata.annotations[ANN.lastReloadedFrom]!) as Record<
    string,
    unknown
  >;
  assert.deepEqual(value, {
    type: "SECRET",
    name: "db",
    namespace: "ns",
    hash: "h1",
    containerRefs: ["app"],
    observedAt: 5,
  });
  const applied = structuredClone(w);
  applied.spec!.template!.metadata = {
    annotations: { [ANN.lastReloadedFrom]: p.spec.template.metadata.annotations[ANN.lastReloadedFrom]! },
  };
  assert.equal(
    restartPatch(applied, [{ secret: secret(), hash: "h1" }], "annotations", new Date(9000)),
    undefined,
  );
});
