/**
 * Operating Custos: the operator running with its own ServiceAccount token (the manifests' RBAC),
 * leader election between two processes (one active, fail-over within the lease, release on a
 * clean stop, no double writes) and the metrics it exposes after a scripted set of syncs.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import {
  applyCrds,
  createNamespace,
  eventually,
  kubectl,
  secretData,
  serviceAccountKubeconfig,
  sleep,
  startOperator,
  suffix,
  KubeApi,
} from "./helpers.ts";

const root = join(import.meta.dirname, "..", "..");
let env: SharedEnv;
let api: KubeApi;
let dir: string;
let saKubeconfig: string;

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  await kubectl(env, ["apply", "-k", join(root, "deploy", "manifests")]);
  const token = (
    await api.create<{ status: { token: string } }>(
      "/api/v1/namespaces/custos-system/serviceaccounts/custos/token",
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
    )
  ).status.token;
  dir = mkdtempSync(join(tmpdir(), "custos-operate-"));
  saKubeconfig = join(dir, "kubeconfig");
  writeFileSync(saKubeconfig, serviceAccountKubeconfig(env, token));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const fakeStore = (value: string): string => `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: fake }
spec:
  provider:
    fake:
      data:
      - { key: app, value: '{"password":"${value}"}' }
`;
const es = (name: string): string => `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: fake }
  data: [ { secretKey: password, remoteRef: { key: app, property: password } } ]
`;

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/**
 * A denial of the operator's own ServiceAccount. Other tests' objects in the shared environment may
 * log denials of *their* identities (a tenant's kubernetes store without rights): not the RBAC here.
 */
const operatorDenied = (log: string): boolean =>
  log.split("\n").some((l) => /forbidden/i.test(l) && /system:serviceaccount:custos-system:/.test(l));

test("with the ServiceAccount's own token (least-privilege RBAC): sync, unseal keys, rollouts and leader election all work", async () => {
  const ns = await createNamespace(api, "sa");
  const op = await startOperator(env, [
    "--kubeconfig",
    saKubeconfig,
    "--enable-leader-election",
    "--leader-election-namespace",
    "custos-system",
    "--leader-election-id",
    `sa-${suffix()}`,
    "--sealed-secrets-namespace",
    "custos-system",
    "--sealing-port",
    "0",
  ]);
  try {
    await kubectl(env, ["apply", "-n", ns, "-f", "-"], `${fakeStore("rbac-ok")}---\n${es("app")}`);
    assert.deepEqual(await eventually("Secret", async () => secretData(api, ns, "app")), {
      password: "rbac-ok",
    });
    // the sealed-secret controller starts its keyring alongside the others: wait for its first key
    const keys = await eventually("a sealing key", async () => {
      const list = await api.list("/api/v1/namespaces/custos-system/secrets", {
        labelSelector: "sealedsecrets.bitnami.com/sealed-secrets-key=active",
      });
      return list.items.length >= 1 ? list : undefined;
    });
    assert.ok(keys.items.length >= 1, "the sealing key was created with the ServiceAccount's rights");
    // a rollout: a Deployment using the Secret restarts when the store's value changes
    await api.create(`/apis/apps/v1/namespaces/${ns}/deployments`, {
      metadata: { name: "web", annotations: { "reloader.stakater.com/auto": "true" } },
      spec: {
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "c", image: "busybox", envFrom: [{ secretRef: { name: "app" } }] }] },
        },
      },
    });
    await sleep(1500); // the rollout controller has seen the Deployment and the current Secret
    await kubectl(env, ["apply", "-n", ns, "-f", "-"], fakeStore("rbac-rotated"));
    await kubectl(env, ["annotate", "-n", ns, "es/app", `force-sync=${Date.now()}`, "--overwrite"]);
    await eventually("rotated Secret", async () =>
      (await secretData(api, ns, "app"))?.password === "rbac-rotated" ? true : undefined,
    );
    const env0 = await eventually("restart marker", async () => {
      const d = await api.get<{
        spec: { template: { spec: { containers: { env?: { name: string }[] }[] } } };
      }>(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
      return d.spec.template.spec.containers[0]?.env?.find((e) => e.name === "STAKATER_APP_SECRET");
    });
    assert.ok(env0, "the Deployment was patched with Reloader's marker using the ServiceAccount's rights");
    assert.ok(
      !operatorDenied(op.output()),
      `no RBAC denial in the logs:\n${op
        .output()
        .split("\n")
        .filter((l) => operatorDenied(l))
        .slice(0, 3)
        .join("\n")}`,
    );
  } finally {
    await op.stop();
  }
});

test("leader election: one active replica, fail-over within the lease after a crash, release on a clean stop, metrics", async () => {
  const ns = await createNamespace(api, "le");
  const lease = `le-${suffix()}`;
  const args = [
    "--controllers",
    "externalsecret",
    "--enable-leader-election",
    "--leader-election-namespace",
    "custos-system",
    "--leader-election-id",
    lease,
    "--lease-duration",
    "4s",
    // only this test's namespace: other tests' leftovers must not delay the fail-over
    "--namespace",
    ns,
  ];
  const a = await startOperator(env, args);
  const b = await startOperator(env, args);
  const holder = async (): Promise<string> =>
    (
      await api.get<{ spec: { holderIdentity?: string | null } }>(
        `/apis/coordination.k8s.io/v1/namespaces/custos-system/leases/${lease}`,
      )
    ).spec.holderIdentity ?? "";
  await eventually("a leader", async () => ((await holder()) ? true : undefined));
  await kubectl(env, ["apply", "-n", ns, "-f", "-"], `${fakeStore("v1")}---\n${es("one")}---\n${es("two")}`);
  await eventually("synced", async () => (await secretData(api, ns, "two"))?.password === "v1");
  await sleep(1000);
  const [ma, mb] = [await a.metrics(), await b.metrics()];
  const writesA = metric(ma, "custos_secret_writes_total");
  const writesB = metric(mb, "custos_secret_writes_total");
  assert.ok((writesA === 0) !== (writesB === 0), `exactly one replica writes (a=${writesA}, b=${writesB})`);
  const [leader, standby] = writesA > 0 ? [a, b] : [b, a];
  const lm = writesA > 0 ? ma : mb;
  assert.equal(
    metric(lm, "externalsecret_status_condition", {
      name: "one",
      namespace: ns,
      condition: "Ready",
      status: "True",
    }),
    1,
  );
  assert.ok(metric(lm, "externalsecret_sync_calls_total", { name: "one", namespace: ns }) >= 1);
  assert.ok(
    metric(lm, "externalsecret_provider_api_calls_count", {
      provider: "fake",
      call: "GetSecret",
      status: "success",
    }) >= 1,
  );
  assert.ok(lm.includes("workqueue_depth{"));
  assert.ok(lm.includes("externalsecret_reconcile_duration{"));

  // crash the leader: the standby takes over within the lease duration and syncs new work
  leader.child.kill("SIGKILL");
  await kubectl(env, ["apply", "-n", ns, "-f", "-"], es("three"));
  await eventually("fail-over", async () =>
    (await secretData(api, ns, "three"))?.password === "v1" ? true : undefined,
  );
  assert.ok(metric(await standby.metrics(), "custos_secret_writes_total") >= 1);

  // a clean stop releases the lease
  await standby.stop();
  assert.equal(await holder(), "");
  await leader.stop();
});
