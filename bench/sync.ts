/**
 * Benchmark: N ExternalSecrets (default 1,000) in 10 namespaces reading 50 distinct Vault secrets
 * through one ClusterSecretStore.
 *   - time from operator start (cold) until every ExternalSecret is Ready
 *   - Vault requests (from Vault's audit log) and API-server writes per refresh cycle
 *   - operator RSS
 * Usage: npx tsx bench/sync.ts [N] [refreshSeconds]
 */
import { readFileSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEnv } from "../test/env/index.ts";
import { describeEnv } from "../test/env/shared.ts";
import { applyCrds, kubectl, startOperator, vaultClient, sleep, suffix } from "../test/e2e/helpers.ts";
import { KubeApi } from "../src/kube/api.ts";

const N = Number(process.argv[2] ?? 1000);
const REFRESH = Number(process.argv[3] ?? 60);
const NAMESPACES = 10;
const DISTINCT = 50;

const full = await startEnv({ components: ["kube", "controller-manager", "vault"] });
const env = describeEnv(full);
const api = KubeApi.fromDefault(env.kubeconfig);
const vault = vaultClient(env);
const auditDir = mkdtempSync(join(tmpdir(), "custos-bench-"));
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
  await api.create("/api/v1/namespaces", { metadata: { name: "bench-home" } });
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
  const docs: string[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    await api.create("/api/v1/namespaces", { metadata: { name: `bench-${n}` } });
  }
  for (let i = 0; i < N; i++) {
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
  }
  for (let i = 0; i < docs.length; i += 200)
    await kubectl(env, ["apply", "-f", "-"], docs.slice(i, i + 200).join("---\n"));
  const auditCount = (): number =>
    existsSync(join(auditDir, "audit.log"))
      ? readFileSync(join(auditDir, "audit.log"), "utf8")
          .split("\n")
          .filter((l) => l.includes('"type":"request"')).length
      : 0;

  const t0 = Date.now();
  const op = await startOperator(env, [
    "--controllers",
    "externalsecret",
    "--concurrent",
    "8",
    "--log-level",
    "warn",
  ]);
  const readyCount = async (): Promise<number> => {
    const list = await api.list<{ status?: { conditions?: { type: string; status: string }[] } }>(
      "/apis/external-secrets.io/v1/externalsecrets",
    );
    return list.items.filter((e) =>
      e.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    ).length;
  };
  while ((await readyCount()) < N) await sleep(250);
  const coldMs = Date.now() - t0;
  const vaultAtReady = auditCount();
  const rss = async (): Promise<number> => {
    const status = readFileSync(`/proc/${op.child.pid ?? 0}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  };
  const heap = async (): Promise<Record<string, number>> => {
    const m = await op.metrics();
    const g = (name: string): number =>
      +(Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "m").exec(m)?.[1] ?? 0) / 2 ** 20).toFixed(1);
    return {
      heapUsedMiB: g("nodejs_heap_size_used_bytes"),
      heapTotalMiB: g("nodejs_heap_size_total_bytes"),
      externalMiB: g("nodejs_external_memory_bytes"),
    };
  };
  const writes = async (): Promise<number> => {
    const m = await op.metrics();
    return [...m.matchAll(/^custos_secret_writes_total\{[^}]*\} (\d+)/gm)].reduce(
      (a, x) => a + Number(x[1]),
      0,
    );
  };
  // measure whole cycles: start after the next cycle boundary (plus its spread), end after two more
  const cycleMs = REFRESH * 1000;
  const settle = cycleMs * 0.05 + 2000;
  await sleep(cycleMs - (Date.now() % cycleMs) + settle);
  const w0 = await writes();
  const v0 = auditCount();
  const cycles = 2;
  await sleep(cycles * cycleMs);
  const result = {
    externalSecrets: N,
    distinctRemoteSecrets: DISTINCT,
    coldStartToAllReadySeconds: +(coldMs / 1000).toFixed(1),
    vaultRequestsDuringColdStart: vaultAtReady,
    vaultRequestsPerRefreshCycle: +((auditCount() - v0) / cycles).toFixed(1),
    secretWritesPerRefreshCycle: ((await writes()) - w0) / cycles,
    operatorRssMiB: +(await rss()).toFixed(1),
    ...(await heap()),
    runId: suffix(),
  };
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  await op.stop();
} finally {
  await full.stop();
  rmSync(auditDir, { recursive: true, force: true });
}
