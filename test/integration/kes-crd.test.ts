/**
 * The KES controller against the real API server: idle (no error) while the
 * kubernetes-client.io CRD is not installed, serving once it is, and gone quietly with it.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { parseAllDocuments } from "yaml";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import { ensureTool } from "../env/index.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { EventRecorder } from "../../src/kube/events.ts";
import { createKubeAccess } from "../../src/kube/access.ts";
import { Metrics } from "../../src/manager/metrics.ts";
import { HttpEndpoints } from "../../src/manager/http.ts";
import { SessionPool } from "../../src/engine/sessions.ts";
import { ReadCache } from "../../src/engine/reads.ts";
import { KesController } from "../../src/controllers/kes/controller.ts";
import { kesOptions } from "../../src/controllers/kes/config.ts";
import type { OperatorOptions } from "../../src/manager/index.ts";
import { silentLogger } from "../../src/util/log.ts";

const CRD = join(
  import.meta.dirname,
  "..",
  "..",
  "deploy",
  "crds-kes",
  "kubernetes-client.io_externalsecrets.yaml",
);
const run = promisify(execFile);
let env: SharedEnv;
let api: KubeApi;

const kubectl = async (...args: string[]): Promise<string> =>
  (await run(env.bin.kubectl, ["--kubeconfig", env.kubeconfig, ...args])).stdout;

async function until(what: string, fn: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  env = await sharedEnv(["kube"]);
  api = KubeApi.fromDefault(env.kubeconfig);
});

after(async () => {
  await kubectl("delete", "-f", CRD, "--ignore-not-found", "--wait=false").catch(() => undefined);
});

test("the KES controller waits for its CRD without error, then serves kubernetes-client.io/v1 objects", async () => {
  await kubectl("delete", "-f", CRD, "--ignore-not-found", "--wait=true");
  const ns = `kes-crd-${randomBytes(4).toString("hex")}`;
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  const metrics = new Metrics({ defaultMetrics: false });
  const deps = { recordCall: () => undefined, redact: () => undefined };
  const sessions = new SessionPool(deps);
  const options = { concurrent: 2, namespace: ns } as Partial<OperatorOptions> as OperatorOptions;
  const controller = new KesController(
    {
      api,
      log: silentLogger,
      metrics,
      events: new EventRecorder(api, "custos-test", silentLogger),
      http: new HttpEndpoints(metrics),
      options,
      sessions,
      reads: new ReadCache(),
      kube: createKubeAccess(api),
    },
    { ...kesOptions({ vaultAddr: "http://127.0.0.1:1" }, {}), crdPollMs: 200 },
  );
  try {
    await controller.start(); // resolves: nothing to serve yet
    assert.equal(controller.running, false);
    assert.equal(await controller.crdServed(), "absent");

    await kubectl("apply", "-f", CRD);
    await kubectl("wait", "--for=condition=Established", "crd/externalsecrets.kubernetes-client.io");
    await until("the controller to start", () => controller.running);

    await api.create(`/apis/kubernetes-client.io/v1/namespaces/${ns}/externalsecrets`, {
      apiVersion: "kubernetes-client.io/v1",
      kind: "ExternalSecret",
      metadata: { name: "legacy" },
      secretDescriptor: { backendType: "akeyless", properties: [{ key: "a", name: "b" }] },
    });
    await until("a status in KES's words", async () => {
      const o = await api.get<{ status?: { status?: string; observedGeneration?: number } }>(
        `/apis/kubernetes-client.io/v1/namespaces/${ns}/externalsecrets/legacy`,
      );
      return /^ERROR, backend akeyless is not supported/.test(o.status?.status ?? "");
    });
  } finally {
    await controller.stop();
    await sessions.close();
    await api.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
  }
});

test("helm: controllers.kes installs the CRD, its RBAC, a token Role for the one KES service account and the --kes-* flags; off by default", async () => {
  const helm = join(await ensureTool("helm"), "bin", "helm");
  const chart = join(import.meta.dirname, "..", "..", "deploy", "helm", "custos");
  const render = async (...set: string[]): Promise<Record<string, unknown>[]> =>
    parseAllDocuments(
      (await run(helm, ["template", "rel", chart, "-n", "custos", ...set.flatMap((x) => ["--set", x])]))
        .stdout,
    )
      .map((d) => d.toJS() as Record<string, unknown> | null)
      .filter((d): d is Record<string, unknown> => d !== null);
  const text = (docs: Record<string, unknown>[]): string => JSON.stringify(docs);
  const off = await render();
  assert.doesNotMatch(text(off), /kubernetes-client\.io|--kes-/);
  const on = await render(
    "controllers.kes=true",
    "kes.serviceAccount=external-secrets/kes",
    "kes.vaultAddr=https://vault:8200",
    "kes.disablePolling=true",
  );
  const crds = on
    .filter((d) => d.kind === "CustomResourceDefinition")
    .map((d) => (d.metadata as { name: string }).name);
  assert.ok(crds.includes("externalsecrets.kubernetes-client.io"), crds.join(", "));
  const role = on.find((d) => d.kind === "ClusterRole") as {
    rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  };
  assert.ok(
    role.rules.some(
      (r) => r.apiGroups.includes("kubernetes-client.io") && r.resources.includes("externalsecrets/status"),
    ),
  );
  const tokenRole = on.find(
    (d) => d.kind === "Role" && (d.metadata as { name: string }).name === "rel-custos-kes-token",
  ) as {
    metadata: { namespace: string };
    rules: { resourceNames: string[] }[];
  };
  assert.equal(tokenRole.metadata.namespace, "external-secrets");
  assert.deepEqual(tokenRole.rules[0]?.resourceNames, ["kes"]);
  const deploy = on.find((d) => d.kind === "Deployment") as {
    spec: { template: { spec: { containers: { args: string[] }[] } } };
  };
  const args = deploy.spec.template.spec.containers[0]!.args;
  for (const a of [
    "--controllers=externalsecret,sealedsecret,rollout,kes,vso,pushsecret,generatorstate",
    "--kes-service-account=external-secrets/kes",
    "--kes-vault-addr=https://vault:8200",
    "--kes-disable-polling",
  ])
    assert.ok(args.includes(a), `${a} in ${args.join(" ")}`);
  const keep = await render("controllers.kes=true", "kes.installCRD=false");
  assert.ok(
    !keep.some(
      (d) =>
        d.kind === "CustomResourceDefinition" &&
        (d.metadata as { name: string }).name === "externalsecrets.kubernetes-client.io",
    ),
    "KES's own CRD kept",
  );
});
