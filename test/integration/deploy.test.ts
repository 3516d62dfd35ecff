/**
 * Install artefacts against the real tools: helm (built from its Go module) lints and renders the
 * chart; rendered and plain manifests apply to the real API server; the ServiceAccount's RBAC
 * really grants what the operator needs and really denies the rest.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import { serviceAccountKubeconfig } from "../e2e/helpers.ts";
import { ensureTool } from "../env/index.ts";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeApi, KubeApiError } from "../../src/kube/api.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const chart = join(root, "deploy", "helm", "custos");
let env: SharedEnv;
let helm: string;
let api: KubeApi;

before(async () => {
  env = await sharedEnv();
  helm = join(await ensureTool("helm"), "bin", "helm");
  api = KubeApi.fromDefault(env.kubeconfig);
});

async function render(...set: string[]): Promise<Record<string, unknown>[]> {
  const { stdout } = await run(helm, [
    "template",
    "rel",
    chart,
    "-n",
    "custos-helm",
    ...set.flatMap((s) => ["--set", s]),
  ]);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((d): d is Record<string, unknown> => d !== null);
}
const kinds = (docs: Record<string, unknown>[]): string[] =>
  docs.map((d) => `${String(d.kind)}/${(d.metadata as { name: string }).name}`);
const args = (docs: Record<string, unknown>[]): string[] =>
  (
    docs.find((d) => d.kind === "Deployment")!.spec as {
      template: { spec: { containers: { args: string[] }[] } };
    }
  ).template.spec.containers[0]!.args;

test("helm lint passes", async () => {
  const { stdout } = await run(helm, ["lint", chart]);
  assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test("helm template: defaults, and toggles change arguments and RBAC", async () => {
  const d = await render();
  assert.ok(kinds(d).includes("Service/sealed-secrets-controller"));
  assert.ok(
    args(d).includes("--controllers=externalsecret,sealedsecret,rollout,vso,pushsecret,generatorstate"),
  );
  assert.ok(args(d).includes("--enable-leader-election"));
  assert.ok(kinds(d).some((k) => k.startsWith("Role/")));
  const off = await render(
    "controllers.sealedsecret=false",
    "leaderElection.enabled=false",
    "watchedNamespace=team-a",
    "logFormat=text",
  );
  assert.ok(!kinds(off).includes("Service/sealed-secrets-controller"));
  assert.ok(args(off).includes("--controllers=externalsecret,rollout,vso,pushsecret,generatorstate"));
  assert.ok(args(off).includes("--namespace=team-a"));
  assert.ok(args(off).includes("--log-format=text"));
  assert.ok(!args(off).includes("--enable-leader-election"));
  assert.ok(!kinds(off).some((k) => k.startsWith("Role/")));
  const rules = (off.find((x) => x.kind === "ClusterRole")!.rules as { apiGroups: string[] }[]).flatMap(
    (r) => r.apiGroups,
  );
  assert.ok(!rules.includes("bitnami.com"), "no Sealed Secrets rights when that controller is off");
});

test("helm template: sharding replaces leader election, and may list and delete Leases", async () => {
  const d = await render("sharding.enabled=true", "replicas=3");
  assert.ok(args(d).includes("--sharding"));
  assert.ok(args(d).includes("--shards=32"));
  assert.ok(args(d).includes("--leader-election-namespace=custos-helm"));
  assert.ok(!args(d).includes("--enable-leader-election"));
  const role = d.find(
    (x) => x.kind === "Role" && (x.rules as { resources: string[] }[])[0]!.resources.includes("leases"),
  );
  assert.deepEqual((role!.rules as { verbs: string[] }[])[0]!.verbs, [
    "get",
    "list",
    "create",
    "update",
    "delete",
  ]);
});

test("helm template: Secret rights follow the enabled controllers (least privilege)", async () => {
  const secretVerbs = (docs: Record<string, unknown>[]): string[] =>
    (docs.find((x) => x.kind === "ClusterRole")!.rules as { resources: string[]; verbs: string[] }[])
      .filter((r) => r.resources.includes("secrets"))
      .flatMap((r) => r.verbs)
      .sort();
  assert.deepEqual(secretVerbs(await render()), ["create", "delete", "get", "list", "update", "watch"]);
  assert.deepEqual(
    secretVerbs(
      await render(
        "controllers.externalsecret=false",
        "controllers.sealedsecret=false",
        "controllers.vso=false",
      ),
    ),
    ["get", "list", "watch"],
    "the rollout controller alone only watches Secrets",
  );
  assert.deepEqual(
    secretVerbs(await render("controllers.externalsecret=false", "controllers.vso=false")),
    ["create", "get", "list", "update", "watch"],
    "unsealing creates and updates, never deletes",
  );
});

test("plain manifests and the rendered chart apply to the real API server", async () => {
  await run(env.bin.kubectl, ["--kubeconfig", env.kubeconfig, "apply", "-f", join(root, "deploy", "crds")]);
  await run(env.bin.kubectl, [
    "--kubeconfig",
    env.kubeconfig,
    "apply",
    "-k",
    join(root, "deploy", "manifests"),
  ]);
  await api.create("/api/v1/namespaces", { metadata: { name: "custos-helm" } }).catch(() => undefined);
  const { stdout } = await run(helm, ["template", "rel", chart, "-n", "custos-helm"]);
  const p = run(env.bin.kubectl, ["--kubeconfig", env.kubeconfig, "apply", "-n", "custos-helm", "-f", "-"]);
  p.child.stdin?.end(stdout);
  const out = (await p).stdout;
  assert.match(out, /deployment.apps\/rel-custos (created|configured|unchanged)/);
  assert.match(out, /clusterrole.rbac.authorization.k8s.io\/rel-custos (created|configured|unchanged)/);
});

async function canI(
  verb: string,
  resource: string,
  namespace: string | undefined,
  group: string,
): Promise<boolean> {
  const res = await api.create<{ status: { allowed: boolean } }>(
    "/apis/authorization.k8s.io/v1/subjectaccessreviews",
    {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: {
        user: "system:serviceaccount:custos-system:custos",
        groups: ["system:serviceaccounts", "system:serviceaccounts:custos-system", "system:authenticated"],
        resourceAttributes: {
          verb,
          resource: resource.split("/")[0],
          subresource: resource.split("/")[1] ?? "",
          group,
          ...(namespace ? { namespace } : {}),
        },
      },
    },
  );
  return res.status.allowed;
}

test("RBAC: the operator's ServiceAccount can do its job, and nothing else", async () => {
  for (const [verb, resource, group, ns] of [
    ["list", "externalsecrets", "external-secrets.io", undefined],
    ["patch", "externalsecrets/status", "external-secrets.io", "x"],
    ["create", "externalsecrets", "external-secrets.io", "x"],
    ["patch", "clusterexternalsecrets/status", "external-secrets.io", undefined],
    ["create", "secrets", "", "x"],
    ["create", "serviceaccounts/token", "", "x"],
    ["patch", "deployments", "apps", "x"],
    ["list", "deployments", "apps", "x"],
    ["watch", "sealedsecrets", "bitnami.com", undefined],
    ["update", "leases", "coordination.k8s.io", "custos-system"],
  ] as const)
    assert.equal(await canI(verb, resource, ns, group), true, `${verb} ${resource}`);
  for (const [verb, resource, group, ns] of [
    ["delete", "namespaces", "", undefined],
    ["update", "secretstores", "external-secrets.io", "x"],
    ["delete", "clusterexternalsecrets", "external-secrets.io", undefined],
    ["delete", "deployments", "apps", "x"],
    ["update", "leases", "coordination.k8s.io", "kube-system"],
    ["create", "clusterrolebindings", "rbac.authorization.k8s.io", undefined],
    ["patch", "secrets", "", "x"],
    ["watch", "deployments", "apps", "x"],
    ["update", "externalsecrets/status", "external-secrets.io", "x"],
  ] as const)
    assert.equal(await canI(verb, resource, ns, group), false, `${verb} ${resource} must be denied`);

  // a real request with the ServiceAccount's own token is refused, another is allowed
  const token = (
    await api.create<{ status: { token: string } }>(
      "/api/v1/namespaces/custos-system/serviceaccounts/custos/token",
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} },
    )
  ).status.token;
  const kc = new KubeConfig();
  kc.loadFromString(serviceAccountKubeconfig(env, token));
  const sa = new KubeApi(kc);
  await sa.list("/apis/external-secrets.io/v1/externalsecrets");
  await assert.rejects(
    sa.delete("/api/v1/namespaces/kube-public"),
    (e) => e instanceof KubeApiError && e.status === 403,
  );
});
