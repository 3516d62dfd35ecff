/**
 * `npm run bench -- compare [N] [refreshSeconds] [options]`: the floor, Custos and the External
 * Secrets Operator on the same load, one after another, each in a fresh environment (kube-apiserver
 * + etcd + Vault, nothing left over from the run before): N ExternalSecrets (default 1,000) over
 * N/20 Vault secrets in 10 namespaces through one ClusterSecretStore, refresh 60 s, concurrency 8.
 *
 *   floor    bench/floor.ts: one LIST, N/20 Vault reads, N Secret creates, N status writes
 *   custos   bin/custos.js over dist/ (built first), as the image runs it
 *   eso      ESO v2.9.0 (test/env/build.sh eso, cached; never built here), its defaults
 *   eso-qps  the same with --client-qps 1000 --client-burst 2000 (with --eso-qps)
 *
 * Every process talks to the API server as its own ServiceAccount; API requests are counted in the
 * API server's audit log (one per request, a watch once), Vault requests in Vault's audit log, CPU
 * (utime+stime) and memory (VmHWM, VmRSS) in /proc/<pid>. Measured: cold start until every
 * ExternalSecret is Ready, then `cycles` refresh cycles (aligned to Custos' wall-clock grid), and P4:
 * a new ExternalSecret created 1.5 s into a refresh cycle, until Ready (excluded from the counts).
 *
 * Options: --eso-qps, --only floor,custos,eso,eso-qps, --cycles K (default 1), --json FILE.
 *   BENCH_NODE_ARGS: node arguments for Custos (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 *   BENCH_SKIP_BUILD=1: use dist/ as it is.
 * Prints JSON per system to stderr and the table (markdown) to stdout. Never asserts timings.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, readVersions, startEnv, type TestEnv } from "../test/env/index.ts";
import { describeEnv } from "../test/env/shared.ts";
import { kubectl, serviceAccountKubeconfig, startOperator, vaultClient, sleep } from "../test/e2e/helpers.ts";
import { KubeApi } from "../src/kube/api.ts";
import { AUDIT_POLICY } from "./faults/audit.ts";

type System = "floor" | "custos" | "eso" | "eso-qps";

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(name);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const positional = argv.filter(
  (a, i) => !a.startsWith("--") && !argv[i - 1]?.match(/^--(only|cycles|json)$/),
);
const N = Number(positional[0] ?? 1000);
const REFRESH = Number(positional[1] ?? 60);
const CYCLES = Number(opt("--cycles") ?? 1);
const NAMESPACES = 10;
const DISTINCT = Math.max(1, Math.round(N / 20));
const CONCURRENCY = 8;
const MOUNT = "bench";
const root = join(import.meta.dirname, "..");
const say = (m: string): void => {
  process.stderr.write(`compare: ${new Date().toISOString().slice(11, 19)} ${m}\n`);
};

const esoDir = join(homedir(), ".cache", "custos", `eso-${readVersions().ESO_VERSION ?? "v2.9.0"}`);
const esoBin = join(esoDir, "bin", "external-secrets");
let systems: System[] = (opt("--only")?.split(",") as System[] | undefined) ?? [
  "floor",
  "custos",
  "eso",
  ...(flag("--eso-qps") ? (["eso-qps"] as const) : []),
];
if (systems.some((s) => s.startsWith("eso")) && !existsSync(esoBin)) {
  say(`ESO is skipped: ${esoBin} is missing (build it once with: bash test/env/build.sh eso)`);
  systems = systems.filter((s) => !s.startsWith("eso"));
}

interface Result {
  system: System;
  coldStartSeconds: number;
  apiRequestsColdStart: number;
  apiRequestsColdStartByVerb: Record<string, number>;
  cpuSecondsColdStart: number;
  vaultRequestsColdStart?: number;
  vaultRequestsPerCycle?: number;
  apiRequestsPerCycle?: number;
  apiRequestsPerCycleByVerb?: Record<string, number>;
  cpuSecondsPerCycle?: number;
  peakRssMiB: number;
  rssAfterCyclesMiB?: number;
  eventLoopLagP99Ms?: number;
  p4Seconds?: number;
  timedOut?: boolean;
}

interface Audit {
  user: string;
  verb: string;
  resource: string;
  subresource?: string;
  name?: string;
  time: number;
}

/** Requests by a user in the API server's audit log: one per audit ID (a watch counts once). */
function readKubeAudit(dir: string, user: string): Audit[] {
  const file = join(dir, "audit.log");
  if (!existsSync(file)) return [];
  const seen = new Set<string>();
  const out: Audit[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.includes(user)) continue;
    let e: {
      auditID?: string;
      verb?: string;
      user?: { username?: string };
      objectRef?: { resource?: string; subresource?: string; name?: string };
      requestReceivedTimestamp?: string;
    };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue;
    }
    if (e.user?.username !== user || !e.auditID || seen.has(e.auditID)) continue;
    seen.add(e.auditID);
    out.push({
      user,
      verb: e.verb ?? "",
      resource: e.objectRef?.resource ?? "",
      ...(e.objectRef?.subresource ? { subresource: e.objectRef.subresource } : {}),
      ...(e.objectRef?.name ? { name: e.objectRef.name } : {}),
      time: Date.parse(e.requestReceivedTimestamp ?? "") || 0,
    });
  }
  return out;
}

const isP4 = (a: Audit): boolean => a.name?.startsWith("p4") ?? false;
function byVerb(events: readonly Audit[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) {
    const k = `${e.verb} ${e.resource}${e.subresource ? `/${e.subresource}` : ""}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

/** Vault requests (audit log "request" entries) received in [from, to), P4's own excluded. */
function vaultRequests(file: string, from: number, to: number): number {
  if (!existsSync(file)) return 0;
  let n = 0;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.includes('"type":"request"') || line.includes("/data/p4")) continue;
    const t = Date.parse(/"time":"([^"]+)"/.exec(line)?.[1] ?? "");
    if (t >= from && t < to) n++;
  }
  return n;
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}
function memMiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  return +(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) / 1024).toFixed(1);
}

interface Stage {
  env: TestEnv;
  api: KubeApi;
  user: string;
  kubeconfig: string;
  token: string;
  auditDir: string;
  vaultAudit: string;
}

/** A fresh environment with the load: CRDs (Custos' or ESO's), Vault data, store, N ExternalSecrets. */
async function stage(system: System): Promise<Stage> {
  const auditDir = mkdtempSync(join(tmpdir(), `custos-compare-${system}-`));
  writeFileSync(join(auditDir, "policy.yaml"), AUDIT_POLICY);
  const env = await startEnv({
    components: ["kube", "vault"],
    apiServerArgs: [
      `--audit-policy-file=${join(auditDir, "policy.yaml")}`,
      `--audit-log-path=${join(auditDir, "audit.log")}`,
      "--audit-log-maxsize=0",
      "--audit-log-mode=batch",
    ],
  });
  const shared = describeEnv(env);
  const api = KubeApi.fromDefault(env.kubeconfig);
  const crdDir = system.startsWith("eso") ? join(esoDir, "crds") : join(root, "deploy", "crds");
  for (const f of readdirSync(crdDir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml"))
    await kubectl(shared, ["create", "-f", join(crdDir, f)]);
  await kubectl(shared, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=120s"]);
  const vault = vaultClient(shared);
  const vaultAudit = join(auditDir, "vault-audit.log");
  await vault.call("PUT", "sys/audit/file", { type: "file", options: { file_path: vaultAudit } });
  await vault.call("POST", `sys/mounts/${MOUNT}`, { type: "kv", options: { version: "2" } });
  for (let i = 0; i < DISTINCT; i++)
    await vault.call("POST", `${MOUNT}/data/s${i}`, { data: { v: `value-${i}` } });
  await vault.call("POST", `${MOUNT}/data/p4`, { data: { v: "p4" } });
  for (const ns of [
    "bench-home",
    "bench-system",
    ...Array.from({ length: NAMESPACES }, (_, n) => `bench-${n}`),
  ])
    await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  await api.create("/api/v1/namespaces/bench-home/secrets", {
    metadata: { name: "vault-token" },
    stringData: { token: env.vault.token },
  });
  await api.create("/apis/external-secrets.io/v1/clustersecretstores", {
    apiVersion: "external-secrets.io/v1",
    kind: "ClusterSecretStore",
    metadata: { name: "bench" },
    spec: {
      provider: {
        vault: {
          server: env.vault.addr,
          path: MOUNT,
          version: "v2",
          auth: { tokenSecretRef: { name: "vault-token", key: "token", namespace: "bench-home" } },
        },
      },
    },
  });
  // the operator's identity: a ServiceAccount (cluster-admin, the same for every system)
  const sa = system;
  await api.create("/api/v1/namespaces/bench-system/serviceaccounts", { metadata: { name: sa } });
  await api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    metadata: { name: `bench-${sa}` },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ kind: "ServiceAccount", name: sa, namespace: "bench-system" }],
  });
  const token = (
    await api.create<{ status: { token: string } }>(
      `/api/v1/namespaces/bench-system/serviceaccounts/${sa}/token`,
      {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 6 * 3600 },
      },
    )
  ).status.token;
  const kubeconfig = join(auditDir, "operator.kubeconfig");
  writeFileSync(kubeconfig, serviceAccountKubeconfig(shared, token));
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < N)
        await api.create(
          `/apis/external-secrets.io/v1/namespaces/bench-${next % NAMESPACES}/externalsecrets`,
          es(`es-${next}`, `s${next++ % DISTINCT}`),
        );
    }),
  );
  return {
    env,
    api,
    user: `system:serviceaccount:bench-system:${sa}`,
    kubeconfig,
    token,
    auditDir,
    vaultAudit,
  };
}

function es(name: string, key: string): Record<string, unknown> {
  return {
    apiVersion: "external-secrets.io/v1",
    kind: "ExternalSecret",
    metadata: { name },
    spec: {
      refreshInterval: `${REFRESH}s`,
      secretStoreRef: { name: "bench", kind: "ClusterSecretStore" },
      data: [{ secretKey: "v", remoteRef: { key, property: "v" } }],
    },
  };
}

interface EsReady {
  status?: { conditions?: { type: string; status: string }[] };
}
const isReady = (e: EsReady | undefined): boolean =>
  e?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

async function readyCount(api: KubeApi): Promise<number> {
  const list = await api.list<EsReady>("/apis/external-secrets.io/v1/externalsecrets", {
    resourceVersion: "0",
  });
  return list.items.filter(isReady).length;
}

async function stopChild(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once("exit", () => r()));
  p.kill("SIGTERM");
  const t = setTimeout(() => p.kill("SIGKILL"), 20_000);
  await gone;
  clearTimeout(t);
}

interface FloorOut {
  cpuSeconds: number;
  maxRssMiB: number;
}

interface Running {
  pid: number;
  t0: number;
  /** Resolves when the floor is done (its own end); operators: never. */
  done?: Promise<FloorOut>;
  lagP99Ms?: () => Promise<number>;
  stop: () => Promise<void>;
}

async function launch(system: System, s: Stage): Promise<Running> {
  const shared = describeEnv(s.env);
  if (system === "floor") {
    const t0 = Date.now();
    const child = spawn(process.execPath, [join(import.meta.dirname, "floor.ts")], {
      env: {
        ...process.env,
        FLOOR_CONFIG: JSON.stringify({
          apiUrl: s.env.apiUrl,
          caPem: s.env.caPem,
          token: s.token,
          vaultAddr: s.env.vault.addr,
          vaultToken: s.env.vault.token,
          mount: MOUNT,
          concurrency: CONCURRENCY,
        }),
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    // /proc/<pid> is gone once the process is reaped: the floor reports its own CPU and VmHWM
    // (process.cpuUsage, resourceUsage().maxRSS: the same counters) as its last act
    const done = new Promise<FloorOut>((resolve, reject) =>
      child.once("exit", (code) =>
        code === 0 ? resolve(JSON.parse(out) as FloorOut) : reject(new Error(`floor exited ${code}: ${out}`)),
      ),
    );
    return { pid: child.pid ?? 0, t0, done, stop: () => stopChild(child) };
  }
  if (system === "custos") {
    // bin/custos.js runs the sources through tsx when dist/ is older than src/: not what is measured
    const built = statSync(join(root, "dist", "cli", "main.js")).mtimeMs;
    const newer = readdirSync(join(root, "src"), { recursive: true, withFileTypes: true }).find(
      (e) => e.isFile() && statSync(join(e.parentPath, e.name)).mtimeMs > built,
    );
    if (newer)
      throw new Error(
        `dist/ is older than src/${newer.name}: build it (npm run build) or drop BENCH_SKIP_BUILD`,
      );
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const t0 = Date.now();
    const op = await startOperator(
      { ...shared, kubeconfig: s.kubeconfig },
      ["--controllers", "externalsecret", "--concurrent", String(CONCURRENCY), "--log-level", "warn"],
      {},
      [...nodeArgs, join(root, "bin/custos.js")],
    );
    return {
      pid: op.child.pid ?? 0,
      t0,
      lagP99Ms: async () =>
        +(
          Number(/^nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(await op.metrics())?.[1] ?? 0) * 1000
        ).toFixed(1),
      stop: () => op.stop(),
    };
  }
  const live = await freePort();
  const log = openSync(join(s.auditDir, `${system}.log`), "w");
  const t0 = Date.now();
  const child = spawn(
    esoBin,
    [
      "--concurrent",
      String(CONCURRENCY),
      "--metrics-addr",
      `127.0.0.1:${await freePort()}`,
      "--live-addr",
      `127.0.0.1:${live}`,
      ...(system === "eso-qps" ? ["--client-qps", "1000", "--client-burst", "2000"] : []),
    ],
    { env: { ...process.env, KUBECONFIG: s.kubeconfig }, stdio: ["ignore", log, log] },
  );
  process.once("exit", () => child.kill("SIGKILL"));
  return { pid: child.pid ?? 0, t0, stop: () => stopChild(child) };
}

async function measure(system: System): Promise<Result> {
  say(`${system}: starting a fresh environment and ${N} ExternalSecrets`);
  const s = await stage(system);
  try {
    say(`${system}: load in place; starting`);
    const run = await launch(system, s);
    let cpuCold = 0;
    let peakCold = 0;
    let coldMs: number;
    let timedOut = false;
    if (run.done) {
      const out = await run.done;
      coldMs = Date.now() - run.t0;
      cpuCold = out.cpuSeconds;
      peakCold = out.maxRssMiB;
      const ready = await readyCount(s.api);
      if (ready !== N) throw new Error(`floor: ${ready} of ${N} Ready`);
    } else {
      const deadline = Date.now() + 3600_000;
      while ((await readyCount(s.api)) < N) {
        if (Date.now() > deadline) {
          timedOut = true;
          break;
        }
        await sleep(Math.max(250, N / 10));
      }
      coldMs = Date.now() - run.t0;
      cpuCold = cpuSeconds(run.pid);
      peakCold = memMiB(run.pid, "VmHWM");
    }
    const tReady = run.t0 + coldMs;
    say(`${system}: all Ready after ${(coldMs / 1000).toFixed(1)} s`);
    const result: Result = {
      system,
      coldStartSeconds: +(coldMs / 1000).toFixed(1),
      apiRequestsColdStart: 0,
      apiRequestsColdStartByVerb: {},
      cpuSecondsColdStart: +cpuCold.toFixed(2),
      vaultRequestsColdStart: vaultRequests(s.vaultAudit, run.t0, tReady + 1),
      peakRssMiB: peakCold,
      ...(timedOut ? { timedOut } : {}),
    };
    if (!run.done && CYCLES > 0) {
      // whole cycles: from just after a cycle's work (boundary + spread + margin) for CYCLES cycles
      const cycleMs = REFRESH * 1000;
      const settle = cycleMs * 0.05 + 2000;
      await sleep(cycleMs - (Date.now() % cycleMs) + settle);
      const w0 = Date.now();
      const c0 = cpuSeconds(run.pid);
      // P4: a new ExternalSecret 1.5 s into the next cycle, while every other one refreshes
      const p4 = (async () => {
        await sleep(cycleMs - (Date.now() % cycleMs) + 1500);
        const t = Date.now();
        await s.api.create(`/apis/external-secrets.io/v1/namespaces/bench-0/externalsecrets`, es("p4", "p4"));
        for (;;) {
          const e = await s.api.getOrUndefined<EsReady>(
            "/apis/external-secrets.io/v1/namespaces/bench-0/externalsecrets/p4",
          );
          if (isReady(e)) return (Date.now() - t) / 1000;
          if (Date.now() - t > cycleMs * CYCLES) return NaN;
          await sleep(50);
        }
      })();
      await sleep(CYCLES * cycleMs);
      const w1 = Date.now();
      result.cpuSecondsPerCycle = +((cpuSeconds(run.pid) - c0) / CYCLES).toFixed(2);
      result.p4Seconds = +(await p4).toFixed(2);
      result.rssAfterCyclesMiB = memMiB(run.pid, "VmRSS");
      result.peakRssMiB = memMiB(run.pid, "VmHWM");
      if (run.lagP99Ms) result.eventLoopLagP99Ms = await run.lagP99Ms();
      await sleep(3000); // audit log batches reach the file
      const cycle = readKubeAudit(s.auditDir, s.user).filter((a) => a.time >= w0 && a.time < w1 && !isP4(a));
      result.apiRequestsPerCycle = +(cycle.length / CYCLES).toFixed(1);
      result.apiRequestsPerCycleByVerb = byVerb(cycle);
      result.vaultRequestsPerCycle = +(vaultRequests(s.vaultAudit, w0, w1) / CYCLES).toFixed(1);
    }
    await run.stop();
    await sleep(3000);
    const cold = readKubeAudit(s.auditDir, s.user).filter((a) => a.time >= run.t0 - 1000 && a.time <= tReady);
    result.apiRequestsColdStart = cold.length;
    result.apiRequestsColdStartByVerb = byVerb(cold);
    process.stderr.write(JSON.stringify(result) + "\n");
    return result;
  } finally {
    await s.env.stop();
    rmSync(s.auditDir, { recursive: true, force: true });
  }
}

if (systems.includes("custos") && !process.env.BENCH_SKIP_BUILD)
  execFileSync(
    process.execPath,
    [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
const load0 = loadavg();
const results = new Map<System, Result>();
for (const system of systems) results.set(system, await measure(system));
const load1 = loadavg();

const fmt = (v: number | undefined, digits = 1): string =>
  v === undefined || Number.isNaN(v) ? "–" : v.toLocaleString("en-US", { maximumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !b || Number.isNaN(a) ? "–" : `${(a / b).toFixed(2)}×`;
const rows: [string, (r: Result) => number | undefined][] = [
  ["cold start to all Ready (s)", (r) => r.coldStartSeconds],
  ["API requests during cold start", (r) => r.apiRequestsColdStart],
  ["CPU, cold start (s)", (r) => r.cpuSecondsColdStart],
  ["Vault requests per refresh cycle", (r) => r.vaultRequestsPerCycle],
  ["API requests per refresh cycle", (r) => r.apiRequestsPerCycle],
  ["CPU per refresh cycle (s)", (r) => r.cpuSecondsPerCycle],
  ["RSS peak, VmHWM (MiB)", (r) => r.peakRssMiB],
  ["RSS after the cycles (MiB)", (r) => r.rssAfterCyclesMiB],
  ["event-loop lag p99 (ms)", (r) => r.eventLoopLagP99Ms],
  ["P4: new ExternalSecret Ready during a refresh (s)", (r) => r.p4Seconds],
];
const cols = systems;
const names: Record<System, string> = {
  floor: "floor",
  custos: "Custos",
  eso: "ESO (defaults)",
  "eso-qps": "ESO (qps 1000, burst 2000)",
};
const c = results.get("custos");
const f = results.get("floor");
const e = results.get("eso");
const q = results.get("eso-qps");
let table = `${N.toLocaleString("en-US")} ExternalSecrets over ${DISTINCT} Vault secrets, ${NAMESPACES} namespaces, refresh ${REFRESH} s, concurrency ${CONCURRENCY}, ${CYCLES} cycle(s); ${new Date().toISOString().slice(0, 10)}; load average ${load0[0]!.toFixed(2)} → ${load1[0]!.toFixed(2)}\n\n`;
table += `| | ${cols.map((s) => names[s]).join(" | ")} | Custos ÷ floor | ESO ÷ Custos${q ? " | ESO qps ÷ Custos" : ""} |\n`;
table += `|---|${cols.map(() => "---:").join("|")}|---:|---:|${q ? "---:|" : ""}\n`;
for (const [label, get] of rows)
  table += `| ${label} | ${cols.map((s) => fmt(get(results.get(s)!))).join(" | ")} | ${ratio(c && get(c), f && get(f))} | ${ratio(e && get(e), c && get(c))} |${q ? ` ${ratio(get(q), c && get(c))} |` : ""}\n`;
if (c && f)
  table += `\nCustos' cold-start throughput: ${((100 * f.coldStartSeconds) / c.coldStartSeconds).toFixed(0)}% of the floor's.`;
if (c && e) table += ` ${(e.coldStartSeconds / c.coldStartSeconds).toFixed(1)}× faster than ESO (defaults)`;
if (c && q) table += `, ${(q.coldStartSeconds / c.coldStartSeconds).toFixed(1)}× faster than ESO (qps 1000)`;
table += "\n";
process.stdout.write(table);
const jsonOut = opt("--json");
if (jsonOut)
  writeFileSync(
    jsonOut,
    JSON.stringify({ N, REFRESH, CYCLES, load: [load0, load1], results: [...results.values()] }, null, 2),
  );
