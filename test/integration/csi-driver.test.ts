/**
 * The real Secrets Store CSI driver (built from its Go module, test/env/build.sh) mounting Custos
 * files, with no kubelet: this test plays the kubelet on the driver's CSI node socket
 * (NodePublishVolume with the volume context a kubelet sends: pod info and a real TokenRequest
 * token bound to a real Pod). The driver reads the SecretProviderClass from the pod's namespace,
 * mounts a tmpfs at the target path, calls `custos.sock` (started here in-process) exactly as it
 * calls any provider, writes the files with its atomic writer and records the object versions in
 * a SecretProviderClassPodStatus. The machine running the test must allow tmpfs mounts (root).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServiceError } from "@grpc/grpc-js";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import { ensureTool } from "../env/index.ts";
import {
  applyCrds,
  eventually,
  kubectl,
  sleep,
  suffix,
  vaultClient,
  KubeApi,
  type VaultClient,
} from "../e2e/helpers.ts";
import { runCsiProvider, type RunningCsiProvider } from "../../src/csi/run.ts";
import { createLogger } from "../../src/util/log.ts";
import type { PodRef } from "./csi/driver.ts";
import { KubeletNodeClient } from "./csi/node-client.ts";

const id = suffix();
const kv = `csid-kv-${id}`;
const mount = `csid-k8s-${id}`;
const nsA = `csid-a-${id}`;
const nsB = `csid-b-${id}`;
const node = `node-${id}`;
let env: SharedEnv;
let api: KubeApi;
let vault: VaultClient;
let provider: RunningCsiProvider;
let driver: ChildProcess;
let driverLog = "";
let kubelet: KubeletNodeClient;
let dir: string;
const published: { pod: PodRef; target: string }[] = [];
// the driver mounts a tmpfs for every volume: that takes root (CAP_SYS_ADMIN)
const skip = process.getuid?.() === 0 ? false : "the driver's tmpfs mounts need root";

async function pod(ns: string, sa: string): Promise<PodRef> {
  await api
    .create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: sa } })
    .catch(() => undefined);
  const name = `p-${suffix()}`;
  const p = await api.create<{ metadata: { uid: string } }>(`/api/v1/namespaces/${ns}/pods`, {
    metadata: { name },
    spec: {
      serviceAccountName: sa,
      nodeName: node,
      containers: [{ name: "c", image: "example.invalid/app" }],
    },
  });
  const t = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`,
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: {
        audiences: ["vault"],
        expirationSeconds: 600,
        boundObjectRef: { apiVersion: "v1", kind: "Pod", name, uid: p.metadata.uid },
      },
    },
  );
  return {
    name,
    namespace: ns,
    uid: p.metadata.uid,
    serviceAccountName: sa,
    tokens: { vault: t.status.token },
  };
}

function targetOf(p: PodRef): string {
  const t = join(dir, "kubelet", "pods", p.uid, "volumes", "kubernetes.io~csi", "secrets", "mount");
  mkdirSync(join(t, ".."), { recursive: true });
  return t;
}

const isMounted = (path: string): boolean =>
  readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[1] === path);

before(
  async () => {
    if (skip) return;
    env = await sharedEnv(["kube", "vault"]);
    api = KubeApi.fromDefault(env.kubeconfig);
    vault = vaultClient(env);
    const home = await ensureTool("secrets-store-csi-driver");
    await applyCrds(env);
    for (const f of readdirSync(join(home, "share", "crds")))
      await kubectl(env, ["apply", "-f", join(home, "share", "crds", f)]);
    await kubectl(env, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    for (const ns of [nsA, nsB]) await api.create("/api/v1/namespaces", { metadata: { name: ns } });

    await vault.call("POST", `sys/mounts/${kv}`, { type: "kv", options: { version: "2" } });
    await vault.call("POST", `${kv}/data/app/db`, { data: { user: "alice", password: "driver-pass-1" } });
    await vault.call("PUT", `sys/policies/acl/${kv}`, {
      policy: `path "${kv}/data/app/*" { capabilities = ["read"] }`,
    });
    await api.create(`/api/v1/namespaces/${nsA}/serviceaccounts`, { metadata: { name: "reviewer" } });
    await api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: `csid-reviewer-${id}` },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
      subjects: [{ kind: "ServiceAccount", name: "reviewer", namespace: nsA }],
    });
    const reviewer = await api.create<{ status: { token: string } }>(
      `/api/v1/namespaces/${nsA}/serviceaccounts/reviewer/token`,
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
    );
    await vault.call("POST", `sys/auth/${mount}`, { type: "kubernetes" });
    await vault.call("POST", `auth/${mount}/config`, {
      kubernetes_host: env.apiUrl,
      kubernetes_ca_cert: env.caPem,
      token_reviewer_jwt: reviewer.status.token,
    });
    await vault.call("POST", `auth/${mount}/role/app`, {
      bound_service_account_names: ["app"],
      bound_service_account_namespaces: [nsA],
      audience: "vault",
      token_policies: [kv],
    });
    const spc = (ns: string, store: string): string => `---
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata: { name: app-secrets, namespace: ${ns} }
spec:
  provider: custos
  parameters:
    secretStoreRef: "{name: ${store}}"
    objects: |
      - fileName: db/password
        mode: "0400"
        remoteRef: { key: app/db, property: password }
      - fileName: db-all
        extract: { key: app/db }
`;
    await kubectl(
      env,
      ["apply", "-f", "-"],
      `---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: vault, namespace: ${nsA} }
spec:
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${kv}
      auth: { kubernetes: { mountPath: ${mount}, role: app } }
` +
        spc(nsA, "vault") +
        // namespace B's class names a store that exists only in A
        spc(nsB, "vault"),
    );

    dir = mkdtempSync(join(tmpdir(), "custos-csid-"));
    const providers = join(dir, "providers");
    provider = await runCsiProvider({
      kubeconfig: env.kubeconfig,
      socketDir: providers,
      controllerClass: "default",
      dropIns: [],
      readWindowMs: 0,
      storeCacheMs: 0,
      metricsPort: 0,
      logger: createLogger({ level: "error" }),
    });
    const csiSock = join(dir, "csi.sock");
    driver = spawn(
      join(home, "bin", "secrets-store-csi-driver"),
      [
        `--endpoint=unix://${csiSock}`,
        `--nodeid=${node}`,
        `--provider-volume=${providers}`,
        `--additional-provider-volume-paths=${providers}`,
        "--metrics-addr=0",
        // rotation as kubelet republish drives it: every NodePublishVolume of a mounted volume remounts
        "--enable-secret-rotation=true",
        "--rotation-poll-interval=0s",
        "-v=2",
      ],
      { env: { ...process.env, KUBECONFIG: env.kubeconfig }, stdio: ["ignore", "pipe", "pipe"] },
    );
    driver.stdout?.on("data", (d: Buffer) => (driverLog += d.toString()));
    driver.stderr?.on("data", (d: Buffer) => (driverLog += d.toString()));
    await eventually(
      "the driver's CSI socket",
      async () => Promise.resolve(existsSync(csiSock) ? true : undefined),
      60_000,
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${driverLog.slice(-3000)}`);
    });
    kubelet = new KubeletNodeClient(join(home, "share", "csi.proto"), csiSock);
  },
  // a first run builds the driver from its Go module (minutes; cached afterwards)
  { timeout: 60 * 60_000 },
);

after(async () => {
  if (skip) return;
  for (const { pod: p, target } of published) await kubelet.unpublish(p, target).catch(() => undefined);
  kubelet.close();
  driver.kill("SIGTERM");
  await Promise.race([new Promise((r) => driver.once("exit", r)), sleep(10_000)]);
  if (driver.exitCode === null) driver.kill("SIGKILL");
  await provider.stop();
  // a tmpfs the driver left behind (it did not get to unpublish) is unmounted before the directory goes
  for (const { target } of published)
    if (isMounted(target)) await promisify(execFile)("umount", [target]).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  await api
    .delete(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/csid-reviewer-${id}`)
    .catch(() => undefined);
});

test(
  "the real driver mounts a tmpfs with Custos's files, modes and versions for a pod",
  { skip },
  async () => {
    const p = await pod(nsA, "app");
    const target = targetOf(p);
    try {
      await kubelet.publish(p, { secretProviderClass: "app-secrets" }, target);
    } catch (e) {
      throw new Error(`${(e as ServiceError).details}\n${driverLog.slice(-3000)}`, { cause: e });
    }
    published.push({ pod: p, target });
    assert.ok(isMounted(target), "a tmpfs at the target path");
    assert.equal(readFileSync(join(target, "db", "password"), "utf8"), "driver-pass-1");
    assert.equal(statSync(join(target, "db", "password")).mode & 0o777, 0o400);
    assert.equal(readFileSync(join(target, "db-all", "user"), "utf8"), "alice");
    assert.equal(statSync(join(target, "db-all", "user")).mode & 0o777, 0o644);
    // the driver recorded the object versions Custos returned
    const status = await eventually("SecretProviderClassPodStatus", () =>
      api.getOrUndefined<{ status: { mounted: boolean; objects?: { id: string; version: string }[] } }>(
        `/apis/secrets-store.csi.x-k8s.io/v1/namespaces/${nsA}/secretproviderclasspodstatuses/${p.name}-${nsA}-app-secrets`,
      ),
    );
    assert.equal(status.status.mounted, true);
    assert.deepEqual(status.status.objects?.map((o) => o.id).sort(), [
      "db-all/password",
      "db-all/user",
      "db/password",
    ]);
    for (const o of status.status.objects ?? []) assert.match(o.version, /^[A-Za-z0-9_-]{43}$/);

    // a republish (kubelet's, with rotation on) after the secret changed: new bytes in the same tmpfs,
    // and only the changed files' versions move
    const before = Object.fromEntries((status.status.objects ?? []).map((o) => [o.id, o.version]));
    await vault.call("POST", `${kv}/data/app/db`, { data: { user: "alice", password: "driver-pass-2" } });
    await kubelet.publish(p, { secretProviderClass: "app-secrets" }, target);
    assert.equal(readFileSync(join(target, "db", "password"), "utf8"), "driver-pass-2");
    assert.equal(readFileSync(join(target, "db-all", "password"), "utf8"), "driver-pass-2");
    const after = await eventually("the new versions", async () => {
      const s = await api.get<{ status: { objects?: { id: string; version: string }[] } }>(
        `/apis/secrets-store.csi.x-k8s.io/v1/namespaces/${nsA}/secretproviderclasspodstatuses/${p.name}-${nsA}-app-secrets`,
      );
      const v = Object.fromEntries((s.status.objects ?? []).map((o) => [o.id, o.version]));
      return v["db/password"] !== before["db/password"] ? v : undefined;
    });
    assert.notEqual(after["db-all/password"], before["db-all/password"]);
    assert.equal(after["db-all/user"], before["db-all/user"], "an unchanged file keeps its version");
  },
);

test(
  "the real driver fails the mount with Custos's reason when the pod's namespace may not use the store",
  { skip },
  async () => {
    const p = await pod(nsB, "app");
    const target = targetOf(p);
    const err = await kubelet.publish(p, { secretProviderClass: "app-secrets" }, target).then(
      () => assert.fail("mounted"),
      (e: unknown) => e as ServiceError,
    );
    assert.match(
      err.details,
      new RegExp(`CUSTOS_STORE_NOT_FOUND: SecretStore "vault" not found in namespace "${nsB}"`),
    );
    assert.ok(!isMounted(target), "the driver unmounted the tmpfs");
  },
);
