/**
 * Benchmark: the refresh-cycle cost per replica when R replicas share the work (ADR 0008).
 * N ExternalSecrets (default 1,000) in 30 namespaces over 50 distinct Vault secrets through one
 * ClusterSecretStore, as bench/sync.ts; R operator processes (default 3) with --sharding, or one
 * without it when R = 1. Reports per replica, per refresh cycle (two cycles measured once all are
 * Ready): operator CPU, API requests and Secret writes, and the shards owned; and Vault reads per
 * cycle in total (Vault's audit log).
 * Usage: npx tsx bench/shards.ts [N] [replicas] [refreshSeconds]
 * Compare `shards 1000 1` with `shards 1000 3`. Prints JSON; never asserts timings.
 */
import { readFileSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEnv } from "../test/env/index.ts";
import { describeEnv } from "../test/env/shared.ts";
import {
  applyCrds,
  kubectl,
  startOperator,
  vaultClient,
  sleep,
  type OperatorProcess,
} from "../test/e2e/helpers.ts";
import { KubeApi } from "../src/kube/api.ts";

const N = Number(process.argv[2] ?? 1000);
const REPLICAS = Math.max(1, Number(process.argv[3] ?? 3));
const REFRESH = Number(process.argv[4] ?? 60);
const NAMESPACES = 30;
const DISTINCT = 50;

const full = await startEnv({ components: ["kube", "vault"] });
const env = describeEnv(full);
const api = KubeApi.fromDefault(env.kubeconfig);
const vault = vaultClient(env);
const auditDir = mkdtempSync(join(tmpdir(), "custos-bench-shards-"));
const ops: OperatorProcess[] = [];
try {
  await applyCrds(env);
  await vault.call("PUT", "sys/audit/file", {
    type: "file",
    options: { file_path: join(auditDir, "audit.log") },
  });
  const mount = "bench";
  await vault.call("POST", `sys/mounts/${mount}`, { type: "kv", options: { version: "2" } });
  for (let i = 0; i < DISTINCT; i++)
    await vault.call("POST", `${mount}/data/s${i}`, { data: { v: `value-${i}` } });
  for (const ns of ["bench-home", "custos-system"])
    await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  await api.create("/api/v1/namespaces/bench-home/secrets", {
    metadata: { name: "vault-token" },
    stringData: { token: env.vault.token },
  });
  await kubectl(
    env,
    ["apply", "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: bench }
spec:
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${mount}
      version: v2
      auth:
        tokenSecretRef: { name: vault-token, key: token, namespace: bench-home }
`,
  );
  for (let n = 0; n < NAMESPACES; n++)
    await api.create("/api/v1/namespaces", { metadata: { name: `bench-${n}` } });
  const docs: string[] = [];
  for (let i = 0; i < N; i++)
    docs.push(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: es-${i}, namespace: bench-${i % NAMESPACES} }
spec:
  refreshInterval: ${REFRESH}s
  secretStoreRef: { name: bench, kind: ClusterSecretStore }
  data:
  - secretKey: v
    remoteRef: { key: s${i % DISTINCT}, property: v }
`);
  for (let i = 0; i < docs.length; i += 200)
    await kubectl(env, ["apply", "-f", "-"], docs.slice(i, i + 200).join("---\n"));
  const auditCount = (): number =>
    existsSync(join(auditDir, "audit.log"))
      ? readFileSync(join(auditDir, "audit.log"), "utf8")
          .split("\n")
          .filter((l) => l.includes('"type":"request"')).length
      : 0;

  const base = ["--controllers", "externalsecret", "--concurrent", "8", "--log-level", "warn"];
  const sharding = (i: number): string[] =>
    REPLICAS === 1
      ? []
      : [
          "--sharding",
          "--replica-id",
          `bench-${i}`,
          "--leader-election-namespace",
          "custos-system",
          "--lease-duration",
          "15s",
        ];
  ops.push(
    ...(await Promise.all(
      Array.from({ length: REPLICAS }, (_, i) => startOperator(env, [...base, ...sharding(i)])),
    )),
  );
  const readyCount = async (): Promise<number> => {
    const list = await api.list<{ status?: { conditions?: { type: string; status: string }[] } }>(
      "/apis/external-secrets.io/v1/externalsecrets",
    );
    return list.items.filter((e) =>
      e.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    ).length;
  };
  const t0 = Date.now();
  while ((await readyCount()) < N) await sleep(Math.max(500, N / 10));
  const coldMs = Date.now() - t0;

  const cpuSeconds = (op: OperatorProcess): number => {
    const stat = readFileSync(`/proc/${op.child.pid ?? 0}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };
  const sum = (text: string, name: string): number =>
    [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "gm"))].reduce(
      (a, x) => a + Number(x[1]),
      0,
    );
  const sample = async (): Promise<{ cpu: number; requests: number; writes: number; shards: number }[]> =>
    Promise.all(
      ops.map(async (op) => {
        const m = await op.metrics();
        return {
          cpu: cpuSeconds(op),
          requests: sum(m, "rest_client_requests_total"),
          writes: sum(m, "custos_secret_writes_total"),
          shards: sum(m, "custos_shards_owned"),
        };
      }),
    );
  const cycleMs = REFRESH * 1000;
  const cycles = 2;
  await sleep(cycleMs - (Date.now() % cycleMs) + cycleMs * 0.05 + 2000);
  const s0 = await sample();
  const v0 = auditCount();
  await sleep(cycles * cycleMs);
  const s1 = await sample();
  const perReplica = s1.map((s, i) => ({
    shardsOwned: s.shards,
    cpuSecondsPerCycle: +((s.cpu - s0[i]!.cpu) / cycles).toFixed(2),
    apiRequestsPerCycle: (s.requests - s0[i]!.requests) / cycles,
    secretWritesPerCycle: (s.writes - s0[i]!.writes) / cycles,
    cpuSecondsColdStart: +s0[i]!.cpu.toFixed(2),
  }));
  process.stdout.write(
    JSON.stringify(
      {
        externalSecrets: N,
        namespaces: NAMESPACES,
        replicas: REPLICAS,
        refreshSeconds: REFRESH,
        coldStartToAllReadySeconds: +(coldMs / 1000).toFixed(1),
        vaultRequestsPerRefreshCycle: +((auditCount() - v0) / cycles).toFixed(1),
        perReplica,
        maxCpuSecondsPerCycle: Math.max(...perReplica.map((r) => r.cpuSecondsPerCycle)),
        totalCpuSecondsPerCycle: +perReplica.reduce((a, r) => a + r.cpuSecondsPerCycle, 0).toFixed(2),
      },
      null,
      2,
    ) + "\n",
  );
} finally {
  for (const op of ops) await op.stop().catch(() => undefined);
  await full.stop();
  rmSync(auditDir, { recursive: true, force: true });
}
