/**
 * Attack class: liveness — the Lease must stay renewed whatever the controllers do, so that no
 * hostile object (nor a slow start) turns into a crash loop, and no process acts as leader without
 * renewing its Lease (two writers).
 * - Hostile objects: a SealedSecret carrying 1,500 sealed values (seconds of RSA work) and an
 *   ExternalSecret whose template ranges over 10^8, applied by a tenant. The Lease's renewTime
 *   keeps advancing with no gap near the renew deadline, the holder never changes, the process
 *   never exits, and an innocent ExternalSecret syncs.
 * - A start that never finishes (the operator may not list SealedSecrets: that informer never
 *   syncs): the Lease is renewed all the same, while the controllers that did start work.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import { freePort } from "../env/index.ts";
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
  type OperatorProcess,
} from "../e2e/helpers.ts";
import { hybridEncrypt, scopeLabel } from "../../src/sealing/crypto.ts";
import { publicKeyFromCertificate } from "../../src/sealing/keys.ts";

const root = join(import.meta.dirname, "..", "..");
const id = suffix();
const cls = `sec-live-${id}`;
const LEASE = "15s"; // renew deadline 10 s, renewal every 2 s
const RENEW_DEADLINE_MS = 10_000;
let env: SharedEnv;
let api: KubeApi;
let dir: string;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  dir = mkdtempSync(join(tmpdir(), "custos-liveness-"));
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

interface Lease {
  spec: { holderIdentity?: string | null; renewTime?: string | null; leaseTransitions?: number };
}

/** Watches a Lease: every distinct renewTime seen, until stopped. */
function watchLease(ns: string, name: string): { stop(): Promise<Lease["spec"][]> } {
  const seen: Lease["spec"][] = [];
  let on = true;
  const loop = (async () => {
    while (on) {
      const l = await api.getOrUndefined<Lease>(
        `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${name}`,
      );
      if (l && l.spec.renewTime !== seen.at(-1)?.renewTime) seen.push(l.spec);
      await sleep(200);
    }
  })();
  return {
    async stop() {
      on = false;
      await loop;
      return seen;
    },
  };
}

function assertRenewed(seen: Lease["spec"][], forMs: number): void {
  assert.ok(seen.length >= 2, "the Lease was seen");
  const times = seen.map((s) => Date.parse(s.renewTime!));
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  const worst = Math.max(...gaps);
  assert.ok(seen.length >= forMs / 2_000 / 2, `renewed ${seen.length} times in ${forMs} ms`);
  assert.ok(worst < RENEW_DEADLINE_MS / 2, `longest gap between renewals ${worst} ms`);
  assert.equal(new Set(seen.map((s) => s.holderIdentity)).size, 1, "one holder throughout");
  assert.equal(new Set(seen.map((s) => s.leaseTransitions)).size, 1, "no new leader (no restart)");
}

const fakeStore = (ns: string): Promise<string> =>
  kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: fake }
spec:
  controller: ${cls}
  provider: { fake: { data: [ { key: app, value: innocent-value }, { key: pw, value: pw-value } ] } }
`,
  );
const externalSecret = (name: string, extra = ""): string => `---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: fake, kind: SecretStore }
  target: { name: ${name}${extra ? `, template: { data: { out: '${extra}' } }` : ""} }
  data: [ { secretKey: v, remoteRef: { key: app } } ]
`;

test("hostile objects (a 1,500-value SealedSecret, a huge template range) never stall Lease renewal", async () => {
  const ns = await createNamespace(api, "sec-live");
  const keyNs = await createNamespace(api, "sec-live-keys");
  await fakeStore(ns);
  const port = await freePort();
  const op: OperatorProcess = await startOperator(env, [
    "--controllers",
    "externalsecret,sealedsecret",
    "--controller-class",
    cls,
    "--namespace",
    ns,
    "--enable-leader-election",
    "--leader-election-namespace",
    ns,
    "--leader-election-id",
    "custos-leader",
    "--lease-duration",
    LEASE,
    "--sealed-secrets-namespace",
    keyNs,
    "--key-renew-period",
    "0",
    "--sealing-port",
    String(port),
  ]);
  cleanups.push(() => op.stop());
  // (ready means standing by too: the controllers start once the Lease is taken)
  const cert = await eventually("the sealing certificate", async () => {
    const res = await request(`http://127.0.0.1:${port}/v1/cert.pem`);
    const text = await res.body.text();
    return res.statusCode === 200 ? text : undefined;
  });
  const pub = publicKeyFromCertificate(cert);
  const label = scopeLabel("strict", ns, "flood");
  const encryptedData: Record<string, string> = {};
  for (let i = 0; i < 1_500; i++)
    encryptedData[`k${i}`] = hybridEncrypt(pub, Buffer.from(`value-${i}`), label).toString("base64");

  const lease = watchLease(ns, "custos-leader");
  const started = Date.now();
  // as a tenant would (create: apply's last-applied annotation would double the object's size)
  await kubectl(
    env,
    ["create", "-n", ns, "-f", "-"],
    JSON.stringify({
      apiVersion: "bitnami.com/v1alpha1",
      kind: "SealedSecret",
      metadata: { name: "flood" },
      spec: { encryptedData },
    }),
  );
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    externalSecret("range", "{{ range 100000000 }}x{{ end }}") + externalSecret("innocent"),
  );
  assert.deepEqual(await eventually("innocent", () => secretData(api, ns, "innocent"), 30_000), {
    v: "innocent-value",
  });
  const flood = await eventually(
    "the flood unsealed",
    async () => {
      const s = await secretData(api, ns, "flood");
      return s && Object.keys(s).length === 1_500 ? s : undefined;
    },
    120_000,
  );
  assert.equal(flood.k1499, "value-1499");
  await sleep(Math.max(0, 20_000 - (Date.now() - started)));
  const seen = await lease.stop();
  assertRenewed(seen, Date.now() - started);
  assert.equal(op.child.exitCode, null, "the operator never exited");
  assert.doesNotMatch(op.output(), /leadership lost/);
});

test("a start that never finishes (an informer that cannot list) does not stop Lease renewal", async () => {
  const ns = await createNamespace(api, "sec-live-start");
  const keyNs = await createNamespace(api, "sec-live-start-keys");
  await fakeStore(ns);
  // The operator's rights (deploy/manifests/rbac.yaml) without SealedSecrets: that informer's
  // first list is refused, and retried, forever.
  const sa = `custos-${id}`;
  const role = `sec-live-${id}`;
  await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: sa } });
  await api.create("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
    metadata: { name: role },
    rules: [
      { apiGroups: ["external-secrets.io"], resources: ["*"], verbs: ["*"] },
      { apiGroups: [""], resources: ["secrets", "configmaps", "namespaces", "events"], verbs: ["*"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["*"] },
    ],
  });
  cleanups.push(() => api.request("DELETE", `/apis/rbac.authorization.k8s.io/v1/clusterroles/${role}`));
  await api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    metadata: { name: role },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
    subjects: [{ kind: "ServiceAccount", name: sa, namespace: ns }],
  });
  cleanups.push(() =>
    api.request("DELETE", `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${role}`),
  );
  const token = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`,
    { spec: { expirationSeconds: 3600 } },
  );
  const kubeconfig = join(dir, "sa.kubeconfig");
  writeFileSync(kubeconfig, serviceAccountKubeconfig(env, token.status.token));
  const asSa = KubeApi.fromDefault(kubeconfig);
  await eventually("the binding takes effect", async () => {
    await asSa.list(`/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets`);
    return true;
  });
  await assert.rejects(asSa.list(`/apis/bitnami.com/v1alpha1/namespaces/${ns}/sealedsecrets`));

  // Not startOperator: that waits for /readyz, which this operator never reaches by design.
  const metricsPort = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(root, "src/cli/main.ts"),
      "operator",
      "--kubeconfig",
      kubeconfig,
      "--metrics-port",
      String(metricsPort),
      "--controllers",
      "externalsecret,sealedsecret",
      "--controller-class",
      cls,
      "--namespace",
      ns,
      "--enable-leader-election",
      "--leader-election-namespace",
      ns,
      "--leader-election-id",
      "custos-leader",
      "--lease-duration",
      LEASE,
      "--sealed-secrets-namespace",
      keyNs,
      "--key-renew-period",
      "0",
      "--sealing-port",
      String(await freePort()),
    ],
    { stdio: ["ignore", "pipe", "pipe"], cwd: root },
  );
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => child.once("exit", r));
  cleanups.push(async () => {
    if (child.exitCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(timer);
  });

  await eventually("the Lease is taken", async () =>
    api.getOrUndefined(`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/custos-leader`),
  );
  const lease = watchLease(ns, "custos-leader");
  const started = Date.now();
  await kubectl(env, ["apply", "-n", ns, "-f", "-"], externalSecret("innocent"));
  assert.deepEqual(await eventually("innocent", () => secretData(api, ns, "innocent"), 30_000), {
    v: "innocent-value",
  });
  await sleep(Math.max(0, 3 * 15_000 - (Date.now() - started)));
  const seen = await lease.stop();
  // the start indeed never finished: not ready, and the SealedSecret informer still failing
  const ready = await request(`http://127.0.0.1:${metricsPort}/readyz`);
  await ready.body.dump();
  assert.equal(ready.statusCode, 503, `controllers still starting:\n${out.slice(-2000)}`);
  assertRenewed(seen, Date.now() - started);
  assert.equal(child.exitCode, null, `the operator is still running:\n${out.slice(-2000)}`);
});
