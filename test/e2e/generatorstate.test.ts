/**
 * End to end: ESO's GeneratorState garbage collection through the operator process and the real
 * API server: held by ESO's finalizer, deleted at its deadline, kept (with a reason) when its
 * generator kind is not one Custos serves.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import {
  applyCrds,
  createNamespace,
  eventually,
  startOperator,
  KubeApi,
  type OperatorProcess,
} from "./helpers.ts";

const API = "/apis/generators.external-secrets.io/v1alpha1";
const FINALIZER = "generatorstate.externalsecrets.io/finalizer";

let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let ns: string;

interface GS {
  metadata: { name: string; finalizers?: string[]; deletionTimestamp?: string };
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
}

before(async () => {
  env = await sharedEnv(["kube"]);
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  ns = await createNamespace(api, "genstate");
  op = await startOperator(env, ["--controllers", "generatorstate", "--namespace", ns]);
});

after(async () => {
  await op.stop();
  // release what the operator kept so the namespace can go
  const left = await api.list<GS>(`${API}/namespaces/${ns}/generatorstates`);
  for (const g of left.items)
    await api
      .mergePatch(`${API}/namespaces/${ns}/generatorstates/${g.metadata.name}`, {
        metadata: { finalizers: null },
      })
      .catch(() => undefined);
});

const state = (name: string, kind: string, deadline?: string) => ({
  apiVersion: "generators.external-secrets.io/v1alpha1",
  kind: "GeneratorState",
  metadata: { name },
  spec: {
    ...(deadline ? { garbageCollectionDeadline: deadline } : {}),
    resource: {
      apiVersion: "generators.external-secrets.io/v1alpha1",
      kind,
      spec: { length: 12 },
    },
    state: { id: "x" },
  },
});
const path = (name: string): string => `${API}/namespaces/${ns}/generatorstates/${name}`;

test("a GeneratorState gets ESO's finalizer and Ready; one past its deadline is deleted; one with a future deadline is scheduled", async () => {
  await api.create(`${API}/namespaces/${ns}/generatorstates`, state("live", "Password"));
  await api.create(
    `${API}/namespaces/${ns}/generatorstates`,
    state("expired", "Password", new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, "Z")),
  );
  await api.create(
    `${API}/namespaces/${ns}/generatorstates`,
    state("later", "UUID", new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z")),
  );
  const live = await eventually("live held and Ready", async () => {
    const g = await api.get<GS>(path("live"));
    return g.metadata.finalizers?.includes(FINALIZER) && g.status?.conditions?.some((c) => c.type === "Ready")
      ? g
      : undefined;
  });
  assert.equal(live.status?.conditions?.find((c) => c.type === "Ready")?.reason, "Created");
  await eventually("expired deleted", async () =>
    (await api.getOrUndefined<GS>(path("expired"))) === undefined ? true : undefined,
  );
  const later = await eventually("later scheduled", async () => {
    const g = await api.get<GS>(path("later"));
    return g.status?.conditions?.some((c) => c.type === "DeletionScheduled") ? g : undefined;
  });
  assert.match(
    later.status?.conditions?.find((c) => c.type === "DeletionScheduled")?.message ?? "",
    /^Deletion scheduled to: /,
  );
  // deleted by a user: the finalizer is released (the served generators keep no remote state)
  await api.delete(path("live"));
  await eventually("live gone", async () =>
    (await api.getOrUndefined<GS>(path("live"))) === undefined ? true : undefined,
  );
});

test("a GeneratorState of a generator kind Custos does not serve keeps its finalizer and says why", async () => {
  await api.create(`${API}/namespaces/${ns}/generatorstates`, state("foreign", "GrafanaServiceAccountToken"));
  await api.mergePatch(path("foreign"), { metadata: { finalizers: [FINALIZER] } });
  await api.delete(path("foreign"));
  const g = await eventually("the reason", async () => {
    const x = await api.get<GS>(path("foreign"));
    return x.status?.conditions?.some((c) => c.type === "PendingDeletion") ? x : undefined;
  });
  assert.ok(g.metadata.deletionTimestamp);
  assert.deepEqual(g.metadata.finalizers, [FINALIZER]);
  assert.match(g.status?.conditions?.find((c) => c.type === "PendingDeletion")?.message ?? "", /not served/);
});
