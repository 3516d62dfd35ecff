/**
 * Benchmark: KES-style load. N kubernetes-client.io ExternalSecrets (default 1,000) in 10
 * namespaces, each reading one of 50 Vault KV v2 secrets with Vault Kubernetes auth, polled every
 * POLL seconds (default 10, KES's default), served by `custos operator --controllers kes`.
 *   - time from operator start until every object's status is SUCCESS
 *   - Vault requests per minute at steady state (audit log): logins, lookup-self, reads
 *   - Secret writes per minute; operator RSS
 *   - what KES itself would make: per object and poll one lookup-self and one read per key, and
 *     one status PUT
 * Usage: npx tsx bench/kes.ts [N] [pollSeconds]
 */
import { readFileSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEnv } from "../test/env/index.ts";
import { describeEnv } from "../test/env/shared.ts";
import { kubectl, startOperator, vaultClient, sleep, suffix } from "../test/e2e/helpers.ts";
import { KubeApi } from "../src/kube/api.ts";

const N = Number(process.argv[2] ?? 1000);
const POLL = Number(process.argv[3] ?? 10);
const NAMESPACES = 10;
const DISTINCT = 50;
const root = join(import.meta.dirname, "..");

const full = await startEnv({ components: ["kube", "vault"] });
const env = describeEnv(full);
const api = KubeApi.fromDefault(env.kubeconfig);
const vault = vaultClient(env);
const auditDir = mkdtempSync(join(tmpdir(), "custos-bench-kes-"));
try {
  await kubectl(env, ["apply", "-f", join(root, "deploy", "crds-kes")]);
  await kubectl(env, ["wait", "--for=condition=Established", "crd/externalsecrets.kubernetes-client.io"]);
  await vault.call("PUT", "sys/audit/file", {
    type: "file",
    options: { file_path: join(auditDir, "audit.log") },
  });
  await vault.call("POST", "sys/mounts/bench", { type: "kv", options: { version: "2" } });
  for (let i = 0; i < DISTINCT; i++)
    await vault.call("POST", `bench/data/s${i}`, { data: { v: `value-${i}` } });
  await vault.call("PUT", "sys/policies/acl/bench", {
    policy: 'path "bench/data/*" { capabilities = ["read"] }',
  });
  await api.create("/api/v1/namespaces", { metadata: { name: "kes-system" } });
  for (const name of ["kes", "reviewer"])
    await api.create("/api/v1/namespaces/kes-system/serviceaccounts", { metadata: { name } });
  await api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    metadata: { name: "bench-reviewer" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
    subjects: [{ kind: "ServiceAccount", name: "reviewer", namespace: "kes-system" }],
  });
  const reviewer = await api.create<{ status: { token: string } }>(
    "/api/v1/namespaces/kes-system/serviceaccounts/reviewer/token",
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 7200 } },
  );
  await vault.call("POST", "sys/auth/kubernetes", { type: "kubernetes" });
  await vault.call("POST", "auth/kubernetes/config", {
    kubernetes_host: env.apiUrl,
    kubernetes_ca_cert: env.caPem,
    token_reviewer_jwt: reviewer.status.token,
  });
  await vault.call("POST", "auth/kubernetes/role/kes", {
    bound_service_account_names: ["kes"],
    bound_service_account_namespaces: ["kes-system"],
    token_policies: ["bench"],
    audience: "vault",
  });
  for (let n = 0; n < NAMESPACES; n++)
    await api.create("/api/v1/namespaces", { metadata: { name: `kes-bench-${n}` } });
  const docs: string[] = [];
  for (let i = 0; i < N; i++)
    docs.push(`apiVersion: kubernetes-client.io/v1
kind: ExternalSecret
metadata: { name: kes-${i}, namespace: kes-bench-${i % NAMESPACES} }
spec:
  backendType: vault
  vaultMountPoint: kubernetes
  vaultRole: kes
  data: [{ name: v, key: bench/data/s${i % DISTINCT}, property: v }]
`);
  for (let i = 0; i < docs.length; i += 200)
    await kubectl(env, ["apply", "-f", "-"], docs.slice(i, i + 200).join("---\n"));

  const requests = (): { path: string }[] =>
    existsSync(join(auditDir, "audit.log"))
      ? readFileSync(join(auditDir, "audit.log"), "utf8")
          .split("\n")
          .filter((l) => l.includes('"type":"request"'))
          .map((l) => (JSON.parse(l) as { request: { path: string } }).request)
      : [];
  const split = (r: { path: string }[]): Record<string, number> => ({
    total: r.length,
    logins: r.filter((x) => x.path === "auth/kubernetes/login").length,
    lookupSelf: r.filter((x) => x.path === "auth/token/lookup-self").length,
    reads: r.filter((x) => x.path.startsWith("bench/data/")).length,
  });

  const t0 = Date.now();
  const op = await startOperator(env, [
    "--controllers",
    "kes",
    "--kes-service-account",
    "kes-system/kes",
    "--kes-vault-addr",
    env.vault.addr,
    "--kes-poller-interval-ms",
    String(POLL * 1000),
    "--concurrent",
    "8",
    "--log-level",
    "warn",
  ]);
  const successCount = async (): Promise<number> => {
    const list = await api.list<{ status?: { status?: string } }>(
      "/apis/kubernetes-client.io/v1/externalsecrets",
    );
    return list.items.filter((e) => e.status?.status === "SUCCESS").length;
  };
  while ((await successCount()) < N) await sleep(250);
  const coldMs = Date.now() - t0;
  const atReady = requests().length;
  const rss = (): number =>
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${op.child.pid ?? 0}/status`, "utf8"))?.[1] ?? 0) / 1024;
  const writes = async (): Promise<number> =>
    [...(await op.metrics()).matchAll(/^custos_secret_writes_total\{controller="kes"[^}]*\} (\d+)/gm)].reduce(
      (a, x) => a + Number(x[1]),
      0,
    );
  const syncs = async (): Promise<number> =>
    [
      ...(await op.metrics()).matchAll(/^kubernetes_external_secrets_sync_calls_count\{[^}]*\} (\d+)/gm),
    ].reduce((a, x) => a + Number(x[1]), 0);
  await sleep(2 * POLL * 1000); // past the cold start's polls
  const w0 = await writes();
  const s0 = await syncs();
  const r0 = requests().length;
  const windowMs = 60_000;
  await sleep(windowMs);
  const steady = split(requests().slice(r0));
  const perMinute = (x: number): number => +((x * 60_000) / windowMs).toFixed(1);
  const syncsPerMinute = perMinute((await syncs()) - s0);
  const result = {
    objects: N,
    distinctVaultSecrets: DISTINCT,
    pollSeconds: POLL,
    coldStartToAllSuccessSeconds: +(coldMs / 1000).toFixed(1),
    vaultRequestsDuringColdStart: atReady,
    syncsPerMinute,
    vaultPerMinute: Object.fromEntries(Object.entries(steady).map(([k, v]) => [k, perMinute(v)])),
    secretWritesPerMinute: perMinute((await writes()) - w0),
    operatorRssMiB: +rss().toFixed(1),
    kesWouldMakePerMinute: {
      vaultLookupSelf: (N * 60) / POLL,
      vaultReads: (N * 60) / POLL,
      statusWrites: (N * 60) / POLL,
    },
    runId: suffix(),
  };
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  await op.stop();
} finally {
  await full.stop();
  rmSync(auditDir, { recursive: true, force: true });
}
