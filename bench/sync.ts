/**
 * Benchmark: N ExternalSecrets (default 1,000) in 10 namespaces reading 50 distinct Vault secrets
 * through one ClusterSecretStore.
 *   - time from operator start (cold) until every ExternalSecret is Ready
 *   - Vault requests (from Vault's audit log) and API-server writes per refresh cycle
 *   - operator memory: peak RSS (VmHWM) and RSS after the refresh cycles, V8 heap
 *   - operator CPU and requests to the API server (its `rest_client_requests_total`), cold start
 *     and per cycle; event-loop lag p99
 * Usage: npx tsx bench/sync.ts [N] [refreshSeconds]
 *   BENCH_ENTRY=dist  runs bin/custos.js over the compiled CLI (dist/, built first with
 *                     tsconfig.build.json), as the image does; default: the sources through tsx,
 *                     as the tests do. BENCH_SKIP_BUILD=1: use dist/ as it is.
 *   BENCH_NODE_OPTIONS, BENCH_NODE_ARGS  NODE_OPTIONS, or node arguments, for the operator.
 */
import { readFileSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
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

  const root = join(import.meta.dirname, "..");
  // BENCH_ENTRY=dist: bin/custos.js over a fresh build, as the image runs it (heap defaults included)
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  if (process.env.BENCH_ENTRY === "dist" && !process.env.BENCH_SKIP_BUILD)
    execFileSync(
      process.execPath,
      [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
      {
        cwd: root,
        stdio: "inherit",
      },
    );
  const entry =
    process.env.BENCH_ENTRY === "dist"
      ? [...nodeArgs, join(root, "bin/custos.js")]
      : [...nodeArgs, "--import", "tsx", join(root, "src/cli/main.ts")];
  const extraEnv = process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {};
  const t0 = Date.now();
  const op = await startOperator(
    env,
    ["--controllers", "externalsecret", "--concurrent", "8", "--log-level", "warn"],
    extraEnv,
    entry,
  );
  const readyCount = async (): Promise<number> => {
    const list = await api.list<{ status?: { conditions?: { type: string; status: string }[] } }>(
      "/apis/external-secrets.io/v1/externalsecrets",
    );
    return list.items.filter((e) =>
      e.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    ).length;
  };
  // each poll lists every ExternalSecret: poll less often at scale (its own load on the API server)
  while ((await readyCount()) < N) await sleep(Math.max(250, N / 10));
  const coldMs = Date.now() - t0;
  const vaultAtReady = auditCount();
  const pid = op.child.pid ?? 0;
  const memMiB = (field: "VmRSS" | "VmHWM"): number => {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return +(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024).toFixed(1);
  };
  const rss = async (): Promise<number> => memMiB("VmRSS");
  /** utime + stime of the operator process, in seconds (clock ticks of 1/100 s on Linux). */
  const cpuSeconds = (): number => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };
  const kubeRequests = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const x of (await op.metrics()).matchAll(/^rest_client_requests_total\{([^}]*)\} (\d+)/gm)) {
      const method = /method="([^"]*)"/.exec(x[1] ?? "")?.[1] ?? "?";
      out[method] = (out[method] ?? 0) + Number(x[2]);
    }
    return out;
  };
  const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);
  const cpuAtReady = cpuSeconds();
  const requestsAtReady = await kubeRequests();
  const rssAtReady = memMiB("VmRSS");
  const peakAtReady = memMiB("VmHWM");
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
  // BENCH_CYCLES=0: cold start only (quick comparisons of runtime settings)
  const cycles = Number(process.env.BENCH_CYCLES ?? 2);
  if (cycles > 0) await sleep(cycleMs - (Date.now() % cycleMs) + settle);
  const w0 = await writes();
  const v0 = auditCount();
  const c0 = cpuSeconds();
  const r0 = total(await kubeRequests());
  await sleep(cycles * cycleMs);
  const lag = Number(/^nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(await op.metrics())?.[1] ?? 0);
  const result = {
    externalSecrets: N,
    distinctRemoteSecrets: DISTINCT,
    entry: process.env.BENCH_ENTRY === "dist" ? "dist" : "tsx",
    nodeOptions: process.env.BENCH_NODE_OPTIONS ?? "",
    nodeArgs: nodeArgs.join(" "),
    // as running (bin/custos.js adds its heap defaults by re-executing itself)
    operatorNodeFlags: ((args) =>
      args
        .slice(
          1,
          args.findIndex((a) => /\.(js|ts)$/.test(a)),
        )
        .join(" "))(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")),
    coldStartToAllReadySeconds: +(coldMs / 1000).toFixed(1),
    operatorCpuSecondsColdStart: +cpuAtReady.toFixed(2),
    apiRequestsDuringColdStart: total(requestsAtReady),
    apiRequestsDuringColdStartByMethod: requestsAtReady,
    vaultRequestsDuringColdStart: vaultAtReady,
    vaultRequestsPerRefreshCycle: +((auditCount() - v0) / Math.max(cycles, 1)).toFixed(1),
    secretWritesPerRefreshCycle: ((await writes()) - w0) / Math.max(cycles, 1),
    apiRequestsPerRefreshCycle: (total(await kubeRequests()) - r0) / Math.max(cycles, 1),
    operatorCpuSecondsPerRefreshCycle: +((cpuSeconds() - c0) / Math.max(cycles, 1)).toFixed(2),
    rssAtReadyMiB: rssAtReady,
    peakRssAtReadyMiB: peakAtReady,
    peakRssMiB: memMiB("VmHWM"),
    operatorRssMiB: +(await rss()).toFixed(1),
    eventLoopLagP99Ms: +(lag * 1000).toFixed(1),
    ...(await heap()),
    runId: suffix(),
  };
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  await op.stop();
} finally {
  await full.stop();
  rmSync(auditDir, { recursive: true, force: true });
}
