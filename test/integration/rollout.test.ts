/** The rollout controller against the real API server (pods need not run). */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { parse } from "yaml";
import { sharedEnv } from "../env/shared.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { RolloutController } from "../../src/controllers/rollout/controller.ts";
import { configMapHash, reloaderHash, ANN } from "../../src/controllers/rollout/match.ts";
import { silentLogger } from "../../src/util/log.ts";

let api: KubeApi;
before(async () => {
  api = KubeApi.fromDefault((await sharedEnv(["kube"])).kubeconfig);
});

interface Dep {
  metadata: { generation: number; annotations?: Record<string, string> };
  spec: {
    template: {
      metadata?: { annotations?: Record<string, string> };
      spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] };
    };
  };
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
const b64 = (s: string): string => Buffer.from(s).toString("base64");

test("document 003's Reloader flow: a rotation restarts the Deployment once; no change and restarts of the operator do nothing", async () => {
  const manifest = parse(
    readFileSync(join(import.meta.dirname, "..", "fixtures", "rollout", "deployment.yaml"), "utf8"),
  ) as { metadata: { namespace: string } };
  // The document's manifest, in a namespace of its own (the end-to-end test of document 003 uses
  // secrets-demo with the whole ESO + Reloader flow).
  const ns = `reloader-${randomBytes(3).toString("hex")}`;
  manifest.metadata.namespace = ns;
  await api.create("/api/v1/namespaces", { metadata: { name: ns } }).catch(() => undefined);
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "ext-postgres-secret" },
    data: { username: b64("admin"), password: b64("one") },
  });
  await api.create(`/apis/apps/v1/namespaces/${ns}/deployments`, manifest);
  const path = `/apis/apps/v1/namespaces/${ns}/deployments/reloader-demo`;
  const secretPath = `/api/v1/namespaces/${ns}/secrets/ext-postgres-secret`;
  let ctl = new RolloutController({
    api,
    log: silentLogger,
    namespace: ns,
    strategy: "env-vars",
    coalesceMs: 300,
  });
  await ctl.start();
  const g0 = (await api.get<Dep>(path)).metadata.generation;

  await api.mergePatch(secretPath, { metadata: { labels: { touched: "yes" } } });
  await sleep(1500);
  assert.equal((await api.get<Dep>(path)).metadata.generation, g0, "metadata-only change restarts nothing");

  await api.mergePatch(secretPath, { data: { password: b64("two") } });
  const expected = reloaderHash({ username: b64("admin"), password: b64("two") });
  const dep = await until("the marker", async () => {
    const d = await api.get<Dep>(path);
    const env = d.spec.template.spec.containers[0]?.env?.find(
      (e) => e.name === "STAKATER_EXT_POSTGRES_SECRET_SECRET",
    );
    return env?.value === expected ? d : undefined;
  });
  assert.equal(dep.metadata.generation, g0 + 1);

  await ctl.stop();
  ctl = new RolloutController({
    api,
    log: silentLogger,
    namespace: ns,
    strategy: "env-vars",
    coalesceMs: 300,
  });
  await ctl.start();
  await sleep(1500);
  assert.equal(
    (await api.get<Dep>(path)).metadata.generation,
    g0 + 1,
    "an operator restart restarts nothing",
  );
  await ctl.stop();
});

test("a burst of changes to several Secrets of one workload gives one restart; annotations strategy", async () => {
  const ns = `burst-${randomBytes(3).toString("hex")}`;
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  for (const n of ["a", "b"])
    await api.create(`/api/v1/namespaces/${ns}/secrets`, { metadata: { name: n }, data: { k: b64("0") } });
  await api.create(`/apis/apps/v1/namespaces/${ns}/deployments`, {
    metadata: { name: "w", annotations: { [ANN.secretReload]: "a,b" } },
    spec: {
      selector: { matchLabels: { app: "w" } },
      template: {
        metadata: { labels: { app: "w" } },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      },
    },
  });
  const ctl = new RolloutController({
    api,
    log: silentLogger,
    namespace: ns,
    strategy: "annotations",
    coalesceMs: 800,
  });
  await ctl.start();
  const path = `/apis/apps/v1/namespaces/${ns}/deployments/w`;
  const g0 = (await api.get<Dep>(path)).metadata.generation;
  for (let i = 1; i <= 3; i++) {
    await api.mergePatch(`/api/v1/namespaces/${ns}/secrets/a`, { data: { k: b64(String(i)) } });
    await api.mergePatch(`/api/v1/namespaces/${ns}/secrets/b`, { data: { k: b64(String(i)) } });
  }
  const d = await until("the annotation", async () => {
    const x = await api.get<Dep>(path);
    return x.spec.template.metadata?.annotations?.[ANN.lastReloadedFrom] ? x : undefined;
  });
  await sleep(1500);
  assert.equal((await api.get<Dep>(path)).metadata.generation, g0 + 1, "one restart for the burst");
  const marker = JSON.parse(d.spec.template.metadata!.annotations![ANN.lastReloadedFrom]!) as {
    type: string;
    namespace: string;
  };
  assert.equal(marker.type, "SECRET");
  assert.equal(marker.namespace, ns);
  await ctl.stop();
});

test("a Deployment applied a moment before its Secret changes is restarted (listed from the API server, not a cache)", async () => {
  const ns = `lag-${randomBytes(3).toString("hex")}`;
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  await api.create(`/api/v1/namespaces/${ns}/secrets`, { metadata: { name: "s" }, data: { k: b64("0") } });
  const ctl = new RolloutController({
    api,
    log: silentLogger,
    namespace: ns,
    strategy: "annotations",
    coalesceMs: 300,
  });
  await ctl.start();
  const deployment = (name: string) => ({
    metadata: { name, annotations: { [ANN.secretReload]: "s" } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      },
    },
  });
  // applied, then the Secret changes at once: no watch event for the Deployment can have arrived
  await api.create(`/apis/apps/v1/namespaces/${ns}/deployments`, deployment("fresh"));
  await api.mergePatch(`/api/v1/namespaces/${ns}/secrets/s`, { data: { k: b64("1") } });
  const path = `/apis/apps/v1/namespaces/${ns}/deployments/fresh`;
  await until("the restart of the fresh Deployment", async () => {
    const x = await api.get<Dep>(path);
    return x.spec.template.metadata?.annotations?.[ANN.lastReloadedFrom] ? x : undefined;
  });
  await sleep(1500);
  assert.equal((await api.get<Dep>(path)).metadata.generation, 2, "restarted once");
  // a Deployment created after the batch is not restarted by it
  await api.create(`/apis/apps/v1/namespaces/${ns}/deployments`, deployment("later"));
  await sleep(1500);
  const later = await api.get<Dep>(`/apis/apps/v1/namespaces/${ns}/deployments/later`);
  assert.equal(later.metadata.generation, 1);
  await ctl.stop();
});

test("ConfigMaps as Reloader follows them: auto and named; binaryData counts; ignored with resources-to-ignore", async () => {
  const ns = `cm-${randomBytes(3).toString("hex")}`;
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  await api.create(`/api/v1/namespaces/${ns}/configmaps`, {
    metadata: { name: "app-config" },
    data: { "app.properties": "color=blue" },
  });
  const deployment = (name: string, annotations: Record<string, string>) => ({
    metadata: { name, annotations },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            { name: "sidecar", image: "busybox" },
            { name: "app", image: "busybox", envFrom: [{ configMapRef: { name: "app-config" } }] },
          ],
        },
      },
    },
  });
  await api.create(`/apis/apps/v1/namespaces/${ns}/deployments`, deployment("auto", { [ANN.auto]: "true" }));
  await api.create(
    `/apis/apps/v1/namespaces/${ns}/deployments`,
    deployment("named", { [ANN.configmapReload]: "app-.*" }),
  );
  await api.create(
    `/apis/apps/v1/namespaces/${ns}/deployments`,
    deployment("secrets-only", { [ANN.secretAuto]: "true" }),
  );
  const gen = async (name: string): Promise<number> =>
    (await api.get<Dep>(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`)).metadata.generation;
  const g0 = { auto: await gen("auto"), named: await gen("named"), secretsOnly: await gen("secrets-only") };
  const cmPath = `/api/v1/namespaces/${ns}/configmaps/app-config`;

  // with ConfigMaps ignored, a change restarts nothing
  const ignoring = new RolloutController({
    api,
    log: silentLogger,
    namespace: ns,
    strategy: "env-vars",
    coalesceMs: 300,
    ignore: new Set(["configMaps"]),
  });
  await ignoring.start();
  assert.equal(ignoring.configMaps, undefined);
  await api.mergePatch(cmPath, { data: { "app.properties": "color=green" } });
  await sleep(1500);
  await ignoring.stop();
  assert.equal(await gen("auto"), g0.auto);

  const ctl = new RolloutController({
    api,
    log: silentLogger,
    namespace: ns,
    strategy: "env-vars",
    coalesceMs: 300,
  });
  await ctl.start();
  await api.mergePatch(cmPath, { binaryData: { blob: Buffer.from([0, 1, 2]).toString("base64") } });
  const expected = configMapHash(
    { "app.properties": "color=green" },
    { blob: Buffer.from([0, 1, 2]).toString("base64") },
  );
  for (const name of ["auto", "named"]) {
    const d = await until(`${name} restarted`, async () => {
      const dep = await api.get<Dep>(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`);
      return dep.spec.template.spec.containers.some((c) =>
        c.env?.some((e) => e.name === "STAKATER_APP_CONFIG_CONFIGMAP" && e.value === expected),
      )
        ? dep
        : undefined;
    });
    // auto: on the container that uses it; named: the same (it uses it too)
    assert.equal(
      d.spec.template.spec.containers.find((c) => c.env?.length)?.name,
      "app",
      `${name}: env var on the using container`,
    );
  }
  await sleep(1000);
  assert.equal(await gen("secrets-only"), g0.secretsOnly, "secret.reloader…/auto does not follow ConfigMaps");
  await ctl.stop();
});

test("CronJobs get a Job from their template (once per rotation) and Argo Rollouts are patched when their CRD is served", async () => {
  // Argo Rollouts' CRD (group, names and scope as Argo's; the schema left open as its own is huge)
  await api
    .create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
      metadata: { name: "rollouts.argoproj.io" },
      spec: {
        group: "argoproj.io",
        scope: "Namespaced",
        names: { kind: "Rollout", plural: "rollouts", singular: "rollout", listKind: "RolloutList" },
        versions: [
          {
            name: "v1alpha1",
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
          },
        ],
      },
    })
    .catch((e: unknown) => {
      if ((e as { status?: number }).status !== 409) throw e;
    });
  await until("the Rollout CRD served", async () =>
    (
      await api.get<{ resources?: { name: string }[] }>("/apis/argoproj.io/v1alpha1").catch(() => undefined)
    )?.resources?.some((r) => r.name === "rollouts")
      ? true
      : undefined,
  );
  const ns = `cron-${randomBytes(3).toString("hex")}`;
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  await api.create(`/api/v1/namespaces/${ns}/secrets`, { metadata: { name: "db" }, data: { k: b64("0") } });
  const podSpec = {
    restartPolicy: "Never",
    containers: [{ name: "c", image: "busybox", envFrom: [{ secretRef: { name: "db" } }] }],
  };
  await api.create(`/apis/batch/v1/namespaces/${ns}/cronjobs`, {
    metadata: { name: "nightly", annotations: { [ANN.auto]: "true" } },
    spec: {
      schedule: "0 3 * * *",
      suspend: true,
      jobTemplate: { metadata: { labels: { team: "a" } }, spec: { template: { spec: podSpec } } },
    },
  });
  await api.create(`/apis/argoproj.io/v1alpha1/namespaces/${ns}/rollouts`, {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Rollout",
    metadata: { name: "canary", annotations: { [ANN.secretReload]: "db" } },
    spec: {
      template: {
        spec: {
          containers: [
            { name: "side", image: "busybox", env: [{ name: "KEEP", value: "1" }] },
            { name: "app", image: "busybox", envFrom: [{ secretRef: { name: "db" } }] },
          ],
        },
      },
    },
  });
  await api.create(`/apis/argoproj.io/v1alpha1/namespaces/${ns}/rollouts`, {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Rollout",
    metadata: {
      name: "restarted",
      annotations: { [ANN.secretReload]: "db", [ANN.rolloutStrategy]: "restart" },
    },
    spec: { template: { spec: { containers: [{ name: "app", image: "busybox" }] } } },
  });
  const ctl = new RolloutController({
    api,
    log: silentLogger,
    namespace: ns,
    strategy: "env-vars",
    coalesceMs: 300,
  });
  await ctl.start();
  await api.mergePatch(`/api/v1/namespaces/${ns}/secrets/db`, { data: { k: b64("1") } });
  const expected = reloaderHash({ k: b64("1") });

  interface Job {
    metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  }
  const jobs = await until("a Job from the CronJob", async () => {
    const l = await api.list<Job>(`/apis/batch/v1/namespaces/${ns}/jobs`);
    return l.items.length ? l.items : undefined;
  });
  assert.equal(jobs.length, 1);
  assert.match(jobs[0]!.metadata.name, /^nightly-[0-9a-f]{10}$/);
  assert.equal(jobs[0]!.metadata.annotations?.["cronjob.kubernetes.io/instantiate"], "manual");
  assert.equal(jobs[0]!.metadata.labels?.team, "a");

  interface Rollout {
    spec: {
      restartAt?: string;
      template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } };
    };
  }
  const canary = await until("the Rollout's marker", async () => {
    const r = await api.get<Rollout>(`/apis/argoproj.io/v1alpha1/namespaces/${ns}/rollouts/canary`);
    const app = r.spec.template.spec.containers.find((c) => c.name === "app");
    return app?.env?.some((e) => e.name === "STAKATER_DB_SECRET" && e.value === expected) ? r : undefined;
  });
  assert.deepEqual(
    canary.spec.template.spec.containers.find((c) => c.name === "side")?.env,
    [{ name: "KEEP", value: "1" }],
    "the other container is kept whole",
  );
  const restarted = await until("restartAt", async () => {
    const r = await api.get<Rollout>(`/apis/argoproj.io/v1alpha1/namespaces/${ns}/rollouts/restarted`);
    return r.spec.restartAt ? r : undefined;
  });
  assert.equal(
    restarted.spec.template.spec.containers[0]?.env,
    undefined,
    "restart strategy leaves the template",
  );
  await ctl.stop();
});

test("--reload-on-create and --reload-on-delete: a Secret created or deleted while running restarts its workloads", async () => {
  const ns = `ondel-${randomBytes(3).toString("hex")}`;
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  await api.create(`/apis/apps/v1/namespaces/${ns}/deployments`, {
    metadata: { name: "w", annotations: { [ANN.secretReload]: "late" } },
    spec: {
      selector: { matchLabels: { app: "w" } },
      template: {
        metadata: { labels: { app: "w" } },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      },
    },
  });
  const marker = async (): Promise<string | undefined> =>
    (
      await api.get<Dep>(`/apis/apps/v1/namespaces/${ns}/deployments/w`)
    ).spec.template.spec.containers[0]?.env?.find((e) => e.name === "STAKATER_LATE_SECRET")?.value;
  const ctl = new RolloutController({
    api,
    log: silentLogger,
    namespace: ns,
    strategy: "env-vars",
    coalesceMs: 300,
    reloadOnCreate: true,
    reloadOnDelete: true,
  });
  await ctl.start();
  await api.create(`/api/v1/namespaces/${ns}/secrets`, { metadata: { name: "late" }, data: { k: b64("v") } });
  const created = reloaderHash({ k: b64("v") });
  await until("restart on create", async () => ((await marker()) === created ? true : undefined));
  await api.delete(`/api/v1/namespaces/${ns}/secrets/late`);
  const empty = reloaderHash({});
  await until("restart on delete", async () => ((await marker()) === empty ? true : undefined));
  await ctl.stop();
});
