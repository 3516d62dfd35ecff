/** The Kubernetes layer against the real API server: REST client, informer, leader election. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { sharedEnv } from "../env/shared.ts";
import {
  KubeApi,
  KubeApiError,
  isNotFound,
  resourcePath,
  SECRETS,
  type KubeObject,
} from "../../src/kube/api.ts";
import { Informer } from "../../src/kube/informer.ts";
import { LeaderElector } from "../../src/kube/leader.ts";
import { createKubeAccess } from "../../src/kube/access.ts";
import { isCustosError } from "../../src/util/errors.ts";

let api: KubeApi;
const suffix = (): string => randomBytes(4).toString("hex");

before(async () => {
  const env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
});

async function namespace(): Promise<string> {
  const ns = `kl-${suffix()}`;
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  return ns;
}

async function until(what: string, fn: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("REST client: typed errors, get-or-undefined, merge patch, server-side apply", async () => {
  const ns = await namespace();
  await assert.rejects(
    api.get(`/api/v1/namespaces/${ns}/configmaps/nope`),
    (e) => e instanceof KubeApiError && e.status === 404 && isNotFound(e),
  );
  assert.equal(await api.getOrUndefined(`/api/v1/namespaces/${ns}/configmaps/nope`), undefined);
  await api.apply(
    `/api/v1/namespaces/${ns}/configmaps/a`,
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" }, data: { x: "1" } },
    "custos-test",
  );
  const patched = await api.mergePatch<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${ns}/configmaps/a`,
    { data: { y: "2" } },
  );
  assert.deepEqual(patched.data, { x: "1", y: "2" });
});

test("informer: lists, then follows adds, updates and deletes; label selectors scope it", async () => {
  const ns = await namespace();
  await api.create(resourcePath({ ...SECRETS, namespace: ns }), {
    metadata: { name: "pre", labels: { watched: "yes" } },
  });
  await api.create(resourcePath({ ...SECRETS, namespace: ns }), { metadata: { name: "other" } });
  const events: string[] = [];
  const inf = new Informer<KubeObject>(api, `/api/v1/namespaces/${ns}/secrets`, {
    labelSelector: "watched=yes",
    watchTimeoutSeconds: [1, 2],
  });
  inf.on((ev, obj) => events.push(`${ev}:${obj.metadata.name ?? ""}`));
  await inf.start();
  assert.deepEqual(events, ["add:pre"]);
  await api.create(resourcePath({ ...SECRETS, namespace: ns }), {
    metadata: { name: "new", labels: { watched: "yes" } },
  });
  await until("add", () => events.includes("add:new"));
  // survive a few server-side watch closes (timeout 1-2 s), then see an update
  await new Promise((r) => setTimeout(r, 2500));
  await api.mergePatch(resourcePath({ ...SECRETS, namespace: ns, name: "new" }), { stringData: { k: "v" } });
  await until("update", () => events.includes("update:new"));
  await api.delete(resourcePath({ ...SECRETS, namespace: ns, name: "pre" }));
  await until("delete", () => events.includes("delete:pre"));
  assert.equal(inf.get(`${ns}/other`), undefined, "unlabelled Secret is outside the informer");
  assert.equal(inf.size, 1);
  // no duplicate adds after watch renewals
  assert.equal(events.filter((e) => e === "add:new").length, 1);
  await inf.stop();
});

test("kube access: secret keys, missing keys are typed, TokenRequest works", async () => {
  const ns = await namespace();
  await api.create(resourcePath({ ...SECRETS, namespace: ns }), {
    metadata: { name: "creds" },
    stringData: { token: "kube-access-value" },
  });
  await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, {
    metadata: { name: "sa", annotations: { "eks.amazonaws.com/role-arn": "arn:x" } },
  });
  const access = createKubeAccess(api);
  assert.equal(Buffer.from(await access.secretKey(ns, "creds", "token")).toString(), "kube-access-value");
  await assert.rejects(access.secretKey(ns, "creds", "nope"), (e) =>
    isCustosError(e, "CUSTOS_MISSING_CREDENTIALS"),
  );
  await assert.rejects(access.secretKey(ns, "nope", "token"), (e) =>
    isCustosError(e, "CUSTOS_MISSING_CREDENTIALS"),
  );
  const jwt = await access.serviceAccountToken(ns, "sa", ["vault"], 600);
  const claims = JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()) as {
    aud: string[];
    sub: string;
  };
  assert.deepEqual(claims.aud, ["vault"]);
  assert.equal(claims.sub, `system:serviceaccount:${ns}:sa`);
  assert.equal((await access.serviceAccountAnnotations(ns, "sa"))["eks.amazonaws.com/role-arn"], "arn:x");
});

test("leader election: one leader; a clean stop hands over at once", async () => {
  const ns = await namespace();
  const leading: string[] = [];
  const mk = (id: string): LeaderElector =>
    new LeaderElector(api, {
      namespace: ns,
      name: "lease",
      identity: id,
      leaseDurationMs: 3000,
      retryPeriodMs: 200,
      onStartedLeading: () => void leading.push(id),
      onStoppedLeading: () => undefined,
    });
  const a = mk("a");
  const b = mk("b");
  a.start();
  await until("a leads", () => a.leading);
  b.start();
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(b.leading, false);
  const t = Date.now();
  await a.stop();
  await until("b leads", () => b.leading, 10_000);
  assert.ok(Date.now() - t < 3000, "handover after release is faster than the lease duration");
  assert.deepEqual(leading, ["a", "b"]);
  await b.stop();
});

test("leader election: a crashed leader's lease is taken over after the lease duration", async () => {
  const ns = await namespace();
  // A holder that stopped renewing (crashed): its record never changes again.
  await api.create(`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, {
    metadata: { name: "lease" },
    spec: {
      holderIdentity: "crashed",
      leaseDurationSeconds: 2,
      renewTime: new Date()
        .toISOString()
        .replace("Z", "000Z")
        .replace(/\.(\d{3})000Z$/, ".$1000Z"),
    },
  });
  const b = new LeaderElector(api, {
    namespace: ns,
    name: "lease",
    identity: "b",
    leaseDurationMs: 2000,
    retryPeriodMs: 200,
    onStartedLeading: () => undefined,
    onStoppedLeading: () => undefined,
  });
  const t = Date.now();
  b.start();
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(b.leading, false, "b waits while the lease may still be held");
  await until("b takes over", () => b.leading, 10_000);
  assert.ok(Date.now() - t >= 2000, "not before the lease duration has passed");
  const lease = await api.get<{ spec: { holderIdentity: string; leaseTransitions: number } }>(
    `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/lease`,
  );
  assert.equal(lease.spec.holderIdentity, "b");
  await b.stop();
});
