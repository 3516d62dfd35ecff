/**
 * The operator's lean credentials (src/kube/credentials.ts) against the real API server: the
 * in-cluster service-account files with a real bound token, and a kubeconfig, each proved by the
 * identity the server sees.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { parse } from "yaml";
import { sharedEnv } from "../env/shared.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { loadCredentials } from "../../src/kube/credentials.ts";

let admin: KubeApi;
let kubeconfig: string;

before(async () => {
  const env = await sharedEnv();
  kubeconfig = env.kubeconfig;
  admin = KubeApi.fromDefault(kubeconfig);
});

async function whoAmI(api: KubeApi): Promise<string | undefined> {
  const review = await api.create<{ status?: { userInfo?: { username?: string } } }>(
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  );
  return review.status?.userInfo?.username;
}

test("in-cluster: the mounted service-account token and CA reach the API server as that service account", async () => {
  const ns = `cred-${randomBytes(4).toString("hex")}`;
  await admin.create("/api/v1/namespaces", { metadata: { name: ns } });
  await admin.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "op" } });
  const tr = await admin.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns}/serviceaccounts/op/token`,
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600 } },
  );
  const doc = parse(readFileSync(kubeconfig, "utf8")) as {
    clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
  };
  const cluster = doc.clusters[0]!.cluster;
  const server = new URL(cluster.server);
  const sa = mkdtempSync(join(tmpdir(), "custos-sa-"));
  writeFileSync(join(sa, "token"), tr.status.token);
  writeFileSync(join(sa, "ca.crt"), Buffer.from(cluster["certificate-authority-data"], "base64"));
  const creds = loadCredentials({
    env: { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port },
    home: mkdtempSync(join(tmpdir(), "custos-home-")),
    serviceAccountDir: sa,
  });
  assert.ok(creds, "in-cluster files give lean credentials");
  assert.equal(await whoAmI(new KubeApi(creds)), `system:serviceaccount:${ns}:op`);
  await admin.delete(`/api/v1/namespaces/${ns}`);
});

test("the operator's client runs on lean credentials from a kubeconfig, and still offers client-node's view", async () => {
  const api = KubeApi.forOperator(kubeconfig);
  const viaClientNode = KubeApi.fromDefault(kubeconfig);
  assert.equal(await whoAmI(api), await whoAmI(viaClientNode));
  assert.equal(api.kubeConfig.getCurrentCluster()?.server.replace(/\/+$/, ""), api.server);
});
