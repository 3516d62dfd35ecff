/** Reloader's ConfigMap rules: hash, annotations of their own, env var and marker names. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ANN,
  configMapHash,
  envVarName,
  jobFromCronJob,
  restartPatch,
  shouldRestart,
  type PodSpec,
  type SecretRef,
  type Workload,
} from "../../../src/controllers/rollout/match.ts";
import { configMapForRollout } from "../../../src/controllers/rollout/controller.ts";

test("ConfigMap hash (vectors from Go's sha1 over Reloader's input: data, binaryData as base64, byte order)", () => {
  assert.equal(
    configMapHash({ "app.properties": "color=blue\nsize=3", b: "x" }, undefined),
    "5f7bff0794b30443fa647facff02330e40b1744c",
  );
  // sorted by UTF-8 bytes as Go sorts strings ("ａ" U+FF41 before "😀" in bytes, not in UTF-16)
  assert.equal(
    configMapHash(
      { z: "é", Z: "ü", a: "\u{1F600}", "\uFF41": "wide" },
      { bin: Buffer.from([0xff, 0x00, 0x10]).toString("base64") },
    ),
    "9631b67591becf4d15e3c0fb2de8e16716cc214e",
  );
  assert.equal(configMapHash(undefined, undefined), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
});

test("the cache keeps a ConfigMap's hash and annotations, never its data", () => {
  const kept = configMapForRollout({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "cfg", namespace: "ns", annotations: { a: "b" } },
    data: { k: "v" },
    binaryData: { b: "AAE=" },
  } as Parameters<typeof configMapForRollout>[0]);
  assert.equal(JSON.stringify(kept).includes('"k"'), false);
  assert.equal(kept.dataHash, configMapHash({ k: "v" }, { b: "AAE=" }));
  assert.deepEqual(kept.metadata.annotations, { a: "b" });
});

test("ConfigMap env var name", () => {
  assert.equal(envVarName("app-config", "ConfigMap"), "STAKATER_APP_CONFIG_CONFIGMAP");
  assert.equal(envVarName("app-config"), "STAKATER_APP_CONFIG_SECRET");
});

type Ref = "env" | "envFrom" | "volume" | "projected" | "secret-volume" | "none";
function wl(ann: Record<string, string>, ref: Ref = "env", podAnn?: Record<string, string>): Workload {
  const app = {
    name: "app",
    ...(ref === "env" ? { env: [{ name: "C", valueFrom: { configMapKeyRef: { name: "cfg" } } }] } : {}),
    ...(ref === "envFrom" ? { envFrom: [{ configMapRef: { name: "cfg" } }] } : {}),
    ...(ref === "volume" || ref === "projected" || ref === "secret-volume"
      ? { volumeMounts: [{ name: "v" }] }
      : {}),
  };
  const volumes: PodSpec["volumes"] =
    ref === "volume"
      ? [{ name: "v", configMap: { name: "cfg" } }]
      : ref === "projected"
        ? [{ name: "v", projected: { sources: [{ configMap: { name: "cfg" } }] } }]
        : ref === "secret-volume"
          ? [{ name: "v", secret: { secretName: "cfg" } }]
          : [];
  return {
    kind: "Deployment",
    metadata: { name: "w", namespace: "ns", annotations: ann },
    spec: {
      template: {
        ...(podAnn ? { metadata: { annotations: podAnn } } : {}),
        spec: { containers: [{ name: "first" }, app], volumes },
      },
    },
  };
}
const cm = (annotations?: Record<string, string>): SecretRef => ({
  kind: "ConfigMap",
  name: "cfg",
  namespace: "ns",
  annotations,
});
const sec: SecretRef = { name: "cfg", namespace: "ns" };

const cases: [string, Workload, SecretRef, boolean][] = [
  ["auto covers ConfigMaps (env)", wl({ [ANN.auto]: "true" }), cm(), true],
  ["auto + envFrom", wl({ [ANN.auto]: "true" }, "envFrom"), cm(), true],
  ["auto + volume", wl({ [ANN.auto]: "true" }, "volume"), cm(), true],
  ["auto + projected", wl({ [ANN.auto]: "true" }, "projected"), cm(), true],
  [
    "auto: a Secret volume of that name is not a ConfigMap reference",
    wl({ [ANN.auto]: "true" }, "secret-volume"),
    cm(),
    false,
  ],
  ["configmap auto", wl({ [ANN.configmapAuto]: "true" }), cm(), true],
  ["secret auto does not follow ConfigMaps", wl({ [ANN.secretAuto]: "true" }), cm(), false],
  [
    "configmap auto does not follow Secrets",
    wl({ [ANN.configmapAuto]: "true" }, "secret-volume"),
    sec,
    false,
  ],
  ["named ConfigMap, no reference needed", wl({ [ANN.configmapReload]: "other,c.g" }, "none"), cm(), true],
  ["a Secret reload list does not name ConfigMaps", wl({ [ANN.secretReload]: "cfg" }, "none"), cm(), false],
  ["ConfigMap exclusion", wl({ [ANN.auto]: "true", [ANN.configmapExclude]: "cfg" }), cm(), false],
  [
    "a Secret exclusion does not exclude the ConfigMap",
    wl({ [ANN.auto]: "true", [ANN.secretExclude]: "cfg" }),
    cm(),
    true,
  ],
  ["search + match", wl({ [ANN.search]: "true" }), cm({ [ANN.match]: "true" }), true],
  ["ignore on the ConfigMap", wl({ [ANN.auto]: "true" }), cm({ [ANN.ignore]: "true" }), false],
  ["pod-template annotations", wl({}, "env", { [ANN.configmapAuto]: "true" }), cm(), true],
  // Reloader reads one set: the workload's relevant annotations hide the pod template's
  [
    "the workload's set wins as a whole (its exclusion list is not mixed with the pod's)",
    wl({ [ANN.configmapAuto]: "false" }, "env", { [ANN.configmapAuto]: "true" }),
    cm(),
    false,
  ],
];
for (const [name, w, ref, expected] of cases) {
  test(`ConfigMap restart decision: ${name}`, () => assert.equal(shouldRestart(w, ref), expected));
}

test("a workload's set without relevant keys falls back to the pod template's, whole", () => {
  // the workload has only an exclusion (not a relevant key): the pod template's set is read,
  // and that set has no exclusion, so the ConfigMap restarts the workload
  const w = wl({ [ANN.configmapExclude]: "cfg" }, "env", { [ANN.auto]: "true" });
  assert.equal(shouldRestart(w, cm()), true);
});

test("ConfigMap restarts: env var STAKATER_<NAME>_CONFIGMAP on the using container; marker type CONFIGMAP", () => {
  const w = wl({ [ANN.auto]: "true" }, "volume");
  const p = restartPatch(w, [{ secret: cm(), hash: "h1" }], "env-vars", new Date(0)) as {
    spec: { template: { spec: { containers: { name: string; env: { name: string; value: string }[] }[] } } };
  };
  assert.deepEqual(p.spec.template.spec.containers, [
    { name: "app", env: [{ name: "STAKATER_CFG_CONFIGMAP", value: "h1" }] },
  ]);
  const a = restartPatch(w, [{ secret: cm(), hash: "h1" }], "annotations", new Date(7000)) as {
    spec: { template: { metadata: { annotations: Record<string, string> } } };
  };
  assert.deepEqual(JSON.parse(a.spec.template.metadata.annotations[ANN.lastReloadedFrom]!), {
    type: "CONFIGMAP",
    name: "cfg",
    namespace: "ns",
    hash: "h1",
    containerRefs: ["app"],
    observedAt: 7,
  });
});

test("a Secret and a ConfigMap of the same name are two changes with two env vars", () => {
  const w = wl({ [ANN.configmapReload]: "cfg", [ANN.secretReload]: "cfg" }, "none");
  const p = restartPatch(
    w,
    [
      { secret: cm(), hash: "c" },
      { secret: sec, hash: "s" },
    ],
    "env-vars",
    new Date(0),
  ) as { spec: { template: { spec: { containers: { name: string; env: { name: string }[] }[] } } } };
  assert.deepEqual(
    p.spec.template.spec.containers[0]?.env.map((e) => e.name),
    ["STAKATER_CFG_CONFIGMAP", "STAKATER_CFG_SECRET"],
  );
});

test("CronJob: the Job Reloader creates, named by the rotation so a retry never starts a second one", () => {
  const cj: Workload = {
    kind: "CronJob",
    metadata: { name: "nightly", namespace: "ns", uid: "u1", annotations: { [ANN.auto]: "true" } },
    spec: {
      template: { spec: { containers: [{ name: "c" }] } },
      jobTemplate: {
        metadata: { labels: { team: "a" }, annotations: { note: "x" } },
        spec: { template: { spec: { containers: [{ name: "c" }], restartPolicy: "Never" } } },
      },
    },
  };
  const job = jobFromCronJob(cj, [{ secret: cm(), hash: "h1" }]) as {
    metadata: {
      name: string;
      labels: Record<string, string>;
      annotations: Record<string, string>;
      ownerReferences: { kind: string; uid: string; controller: boolean }[];
    };
    spec: unknown;
  };
  assert.match(job.metadata.name, /^nightly-[0-9a-f]{10}$/);
  assert.deepEqual(job.metadata.annotations, { note: "x", "cronjob.kubernetes.io/instantiate": "manual" });
  assert.deepEqual(job.metadata.labels, { team: "a" });
  assert.deepEqual(
    job.metadata.ownerReferences.map((o) => [o.kind, o.uid, o.controller]),
    [["CronJob", "u1", true]],
  );
  assert.deepEqual(job.spec, cj.spec!.jobTemplate!.spec);
  const again = jobFromCronJob(cj, [{ secret: cm(), hash: "h1" }]) as { metadata: { name: string } };
  const next = jobFromCronJob(cj, [{ secret: cm(), hash: "h2" }]) as { metadata: { name: string } };
  assert.equal(again.metadata.name, job.metadata.name);
  assert.notEqual(next.metadata.name, job.metadata.name);
  // a 52-character CronJob name still gives a valid 63-character Job name
  const long = jobFromCronJob({ ...cj, metadata: { ...cj.metadata, name: "x".repeat(52) } }, [
    { secret: cm(), hash: "h1" },
  ]) as { metadata: { name: string } };
  assert.equal(long.metadata.name.length, 63);
});

test("Argo Rollout: a merge patch with the whole container list; rollout-strategy restart sets restartAt", () => {
  const r: Workload = {
    kind: "Rollout",
    metadata: { name: "canary", namespace: "ns", annotations: { [ANN.auto]: "true" } },
    spec: {
      template: {
        spec: {
          containers: [
            { name: "side", env: [{ name: "KEEP", value: "1" }] },
            {
              name: "app",
              env: [
                { name: "STAKATER_CFG_CONFIGMAP", value: "old" },
                { name: "C", valueFrom: { configMapKeyRef: { name: "cfg" } } },
              ],
            },
          ],
        },
      },
    },
  };
  const p = restartPatch(r, [{ secret: cm(), hash: "new" }], "env-vars", new Date(0)) as {
    spec: { template: { spec: { containers: { name: string; env: { name: string; value?: string }[] }[] } } };
  };
  const [side, app] = p.spec.template.spec.containers;
  assert.deepEqual(side, { name: "side", env: [{ name: "KEEP", value: "1" }] }); // kept: merge patch replaces lists
  assert.deepEqual(
    app?.env.map((e) => [e.name, e.value]),
    [
      ["C", undefined],
      ["STAKATER_CFG_CONFIGMAP", "new"],
    ],
  );
  const restart = restartPatch(
    {
      ...r,
      metadata: { ...r.metadata, annotations: { [ANN.auto]: "true", [ANN.rolloutStrategy]: "restart" } },
    },
    [{ secret: cm(), hash: "new" }],
    "env-vars",
    new Date(Date.UTC(2026, 11, 2, 4, 0, 0, 123)),
  );
  assert.deepEqual(restart, { spec: { restartAt: "2026-12-02T04:00:00Z" } });
});

test("--auto-reload-all: workloads follow what they use unless they opt out; unused sources still do nothing", () => {
  const all = { autoReloadAll: true };
  assert.equal(shouldRestart(wl({}), cm(), all), true);
  assert.equal(shouldRestart(wl({}), cm()), false, "off by default");
  assert.equal(shouldRestart(wl({}, "none"), cm(), all), false, "needs a reference, as auto does");
  assert.equal(shouldRestart(wl({ [ANN.auto]: "false" }), cm(), all), false);
  assert.equal(shouldRestart(wl({ [ANN.configmapAuto]: "false" }), cm(), all), false);
  assert.equal(
    shouldRestart(wl({ [ANN.secretAuto]: "false" }), cm(), all),
    true,
    "a Secret opt-out is not a ConfigMap one",
  );
  assert.equal(shouldRestart(wl({}), cm({ [ANN.ignore]: "true" }), all), false);
});
