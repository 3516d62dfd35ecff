import { test } from "node:test";
import assert from "node:assert/strict";
import { restartsFor, type SecretChange } from "../../../src/controllers/rollout/restarts.ts";
import { ANN } from "../../../src/controllers/rollout/match.ts";
import type { KubeList } from "../../../src/kube/api.ts";

/** A fake API server: what each LIST returns, and every path asked for. */
function fakeApi(items: Record<string, unknown[]>) {
  const calls: string[] = [];
  return {
    calls,
    list: <T>(path: string): Promise<KubeList<T>> => {
      calls.push(path);
      return Promise.resolve({ metadata: {}, items: (items[path] ?? []) as T[] });
    },
  };
}

const wl = (name: string, annotations: Record<string, string>) => ({
  metadata: { name, namespace: "team", annotations },
  spec: { template: { spec: { containers: [{ name: "c", envFrom: [{ secretRef: { name: "db" } }] }] } } },
});
const change = (name: string): SecretChange => ({ ref: { name, namespace: "team" } });

test("one LIST per workload kind of the namespace, however many Secrets changed", async () => {
  const api = fakeApi({});
  await restartsFor(api, "team", [change("db"), change("cache"), change("other")]);
  assert.deepEqual(api.calls, [
    "/apis/apps/v1/namespaces/team/deployments",
    "/apis/apps/v1/namespaces/team/statefulsets",
    "/apis/apps/v1/namespaces/team/daemonsets",
    "/apis/batch/v1/namespaces/team/cronjobs",
  ]);
  // Argo Rollouts only where their CRD is served
  const argo = fakeApi({});
  await restartsFor(argo, "team", [change("db")], { argoRollouts: true });
  assert.equal(argo.calls.at(-1), "/apis/argoproj.io/v1alpha1/namespaces/team/rollouts");
  // nothing changed: no call at all
  const idle = fakeApi({});
  assert.deepEqual(await restartsFor(idle, "team", []), []);
  assert.equal(idle.calls.length, 0);
});

test("a workload the API server lists is restarted (no watch cache involved), with every change it follows", async () => {
  const api = fakeApi({
    "/apis/apps/v1/namespaces/team/deployments": [
      wl("app", { [ANN.secretReload]: "db,cache" }),
      wl("auto", { [ANN.auto]: "true" }),
      wl("unrelated", { [ANN.secretReload]: "other-name" }),
    ],
    "/apis/apps/v1/namespaces/team/statefulsets": [wl("store", { [ANN.secretAuto]: "true" })],
  });
  const out = await restartsFor(api, "team", [change("db"), change("cache")]);
  assert.deepEqual(
    out.map((r) => [r.kind, r.workload.metadata.name, r.secrets.map((s) => s.name)]),
    [
      ["Deployment", "app", ["db", "cache"]],
      ["Deployment", "auto", ["db"]], // auto: only the Secret it references
      ["StatefulSet", "store", ["db"]],
    ],
  );
  assert.equal(out[0]!.workload.kind, "Deployment");
});

test("a LIST that fails fails the batch (the controller keeps it for the retry)", async () => {
  const api = {
    list: (): Promise<never> => Promise.reject(new Error("503 from the API server")),
  };
  await assert.rejects(restartsFor(api, "team", [change("db")]), /503/);
});

test("a CronJob is seen through its job template, and an Argo Rollout as a workload", async () => {
  const api = fakeApi({
    "/apis/batch/v1/namespaces/team/cronjobs": [
      {
        metadata: { name: "nightly", namespace: "team", uid: "u1", annotations: { [ANN.auto]: "true" } },
        spec: {
          jobTemplate: {
            spec: {
              template: { spec: { containers: [{ name: "c", envFrom: [{ secretRef: { name: "db" } }] }] } },
            },
          },
        },
      },
    ],
    "/apis/argoproj.io/v1alpha1/namespaces/team/rollouts": [wl("canary", { [ANN.secretReload]: "db" })],
  });
  const r = await restartsFor(api, "team", [change("db")], { argoRollouts: true });
  assert.deepEqual(
    r.map((x) => [x.kind, x.workload.metadata.name]),
    [
      ["CronJob", "nightly"],
      ["Rollout", "canary"],
    ],
  );
});
