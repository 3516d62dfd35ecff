/**
 * Scenario 6, soak: one operator refreshes N ExternalSecrets (each over its own Vault secret) for a
 * long time while 1% of the remote values change every refresh cycle (written to Vault directly).
 * Observed: the operator's RSS (/proc) and V8 heap (its /metrics: nodejs_heap_size_used_bytes) with
 * their least-squares slope after a warm-up, the event-loop lag p99 (nodejs_eventloop_lag_p99_seconds,
 * per scrape window), the latency of every change until its Secret holds the new value, and the
 * operator's Secret writes (API server audit log): none for an object whose source did not change.
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { sleep } from "../../test/e2e/helpers.ts";
import { Cluster, describeLoad, loadAt, type Load } from "./cluster.ts";
import { isSecretDelete, isSecretWrite } from "./audit.ts";
import { checkState, spuriousWrites, wrongDeletions, type Row } from "./invariants.ts";
import type { Options, Scenario } from "./scenarios.ts";

export interface SoakParams {
  minutes: number;
  externalSecrets: number;
  refreshSeconds: number;
  /** fraction of the remote values changed per cycle (default 0.01) */
  changeFraction?: number;
  /** seconds between samples of memory and metrics (default 10) */
  sampleSeconds?: number;
  /** warm-up excluded from the slopes, seconds (default: a quarter of the run, at most 10 minutes) */
  warmupSeconds?: number;
  /** a change is on time if its Secret holds it within refresh × 1.1 (the jitter) + this (default 5 s) */
  marginSeconds?: number;
}

export interface Sample {
  /** ms since the soak began */
  t: number;
  rssMiB: number;
  heapMiB: number | undefined;
  lagP99Seconds: number | undefined;
}

export interface SoakResult {
  row: Row;
  samples: Sample[];
  /** MiB per hour after the warm-up */
  rssSlope: number;
  heapSlope: number | undefined;
  /** ms from the Vault write until the Secret held the value, one per delivered change */
  latencies: number[];
  changes: number;
  undelivered: number;
  /** changes later than the bound */
  late: number;
  boundMs: number;
  lagP99: { median: number; max: number } | undefined;
  spurious: string[];
}

/** Least-squares slope of y over x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export function quantile(xs: readonly number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** One gauge's value from a Prometheus text exposition (the first series of that name). */
export function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+|NaN)`, "m").exec(text);
  if (!m) return undefined;
  const v = Number(m[1]);
  return Number.isFinite(v) ? v : undefined;
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat. */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // fields after the command (which may hold spaces) in parentheses; utime and stime are 14 and 15
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

function rssOf(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Deterministic PRNG (mulberry32): the same changes for the same seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fmt = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : "-");

export async function runSoak(
  p: SoakParams,
  log: (m: string) => void = () => undefined,
): Promise<SoakResult> {
  // one Vault secret per ExternalSecret: 1% of the values is 1% of the objects
  const load: Load = { ...loadAt(p.externalSecrets, p.refreshSeconds), remoteSecrets: p.externalSecrets };
  const c = await Cluster.start(load);
  try {
    return await soakIn(c, p, log);
  } finally {
    c.saveLogs(process.env.CUSTOS_FAULTS_LOG_DIR ?? "/tmp/custos-faults-logs", "soak");
    await c.stop();
  }
}

async function soakIn(c: Cluster, p: SoakParams, log: (m: string) => void): Promise<SoakResult> {
  const interval = p.refreshSeconds * 1000;
  const durationMs = p.minutes * 60_000;
  const sampleMs = (p.sampleSeconds ?? 10) * 1000;
  const warmupMs = (p.warmupSeconds ?? Math.min(600, (p.minutes * 60) / 4)) * 1000;
  const boundMs = interval * 1.1 + (p.marginSeconds ?? 5) * 1000;
  const perCycle = Math.max(1, Math.round(c.load.remoteSecrets * (p.changeFraction ?? 0.01)));

  await c.applyExternalSecrets();
  const op = await c.startReplica();
  log(`  soak: initial sync of ${c.es.size} ExternalSecrets`);
  const initial = await c.waitConverged(Math.max(300_000, c.es.size * 200));
  if (initial === undefined) throw new Error("soak: initial sync did not converge");
  log(`  soak: initial sync ${(initial / 1000).toFixed(0)} s; soaking ${p.minutes} min`);
  await sleep(2000);

  // remote key -> ExternalSecret key (one each)
  const esOf = new Map([...c.es].map(([k, e]) => [e.remote, k]));
  const remotes = [...esOf.keys()];
  const pending = new Map<string, { esKey: string; value: string; t0: number }>();
  const latencies: number[] = [];
  const allowed = new Map<string, number>();
  const samples: Sample[] = [];
  const random = prng(16);
  let changes = 0;
  let stop = false;
  const from = Date.now();
  const cpu0 = cpuSecondsOf(op.proc?.child.pid);

  const sampler = (async () => {
    while (!stop) {
      const t = Date.now() - from;
      const rss = rssOf(op.proc?.child.pid);
      let heap: number | undefined;
      let lag: number | undefined;
      try {
        const text = (await op.proc?.metrics()) ?? "";
        const used = metricValue(text, "nodejs_heap_size_used_bytes");
        heap = used === undefined ? undefined : used / 2 ** 20;
        lag = metricValue(text, "nodejs_eventloop_lag_p99_seconds");
      } catch {
        /* restarting */
      }
      if (rss !== undefined) samples.push({ t, rssMiB: rss, heapMiB: heap, lagP99Seconds: lag });
      await sleep(sampleMs);
    }
  })();

  const poller = (async () => {
    while (!stop || pending.size) {
      for (const [remote, ch] of [...pending]) {
        const [ns, name] = ch.esKey.split("/") as [string, string];
        try {
          const s = await c.api.get<{ data?: Record<string, string> }>(
            `/api/v1/namespaces/${ns}/secrets/${name}`,
          );
          const v = s?.data?.v === undefined ? undefined : Buffer.from(s.data.v, "base64").toString("utf8");
          if (v === ch.value) {
            latencies.push(Date.now() - ch.t0);
            pending.delete(remote);
          }
        } catch {
          /* retried next round */
        }
      }
      // after the last cycle, stop waiting for changes two bounds old
      if (stop) for (const [r, ch] of pending) if (Date.now() - ch.t0 > 2 * boundMs) pending.delete(r);
      await sleep(1000);
    }
  })();

  let cycle = 0;
  while (Date.now() - from < durationMs) {
    const cycleStart = Date.now();
    cycle++;
    for (let i = 0; i < perCycle; i++) {
      let remote: string;
      do remote = remotes[Math.floor(random() * remotes.length)]!;
      while (pending.has(remote) && pending.size < remotes.length);
      const value = `${remote}-cycle-${cycle}`;
      await c.setRemote(remote, value);
      const esKey = esOf.get(remote)!;
      pending.set(remote, { esKey, value, t0: Date.now() });
      allowed.set(esKey, (allowed.get(esKey) ?? 0) + 1);
      changes++;
    }
    if (cycle % 10 === 1) {
      const last = samples[samples.length - 1];
      log(
        `  soak: cycle ${cycle}, ${changes} changes, ${latencies.length} delivered, RSS ${fmt(last?.rssMiB ?? NaN)} MiB, heap ${fmt(last?.heapMiB ?? NaN)} MiB`,
      );
    }
    await sleep(Math.max(0, cycleStart + interval - Date.now()));
  }
  stop = true;
  const cpu1 = cpuSecondsOf(op.proc?.child.pid);
  const cpuShare =
    cpu0 === undefined || cpu1 === undefined ? undefined : (cpu1 - cpu0) / ((Date.now() - from) / 1000);
  const undeliveredBefore = pending.size;
  await poller;
  await sampler;
  const undelivered = changes - latencies.length;
  const convergedMs = await c.waitConverged(Math.max(120_000, 3 * interval));
  const end = Date.now();
  await sleep(1000);

  const events = c.audit(from, end + 1000);
  const spurious = spuriousWrites(events.filter(isSecretWrite), allowed);
  const deletions = wrongDeletions(events.filter(isSecretDelete), new Set());
  const state = checkState(c.expected(), await c.actual());

  const after = samples.filter((s) => s.t >= warmupMs);
  const perHour = 3_600_000;
  const rssSlope = slope(after.map((s) => ({ x: s.t / perHour, y: s.rssMiB })));
  const heapPts = after
    .filter((s) => s.heapMiB !== undefined)
    .map((s) => ({ x: s.t / perHour, y: s.heapMiB! }));
  const heapSlope = heapPts.length >= 2 ? slope(heapPts) : undefined;
  const lags = samples.map((s) => s.lagP99Seconds).filter((x): x is number => x !== undefined);
  const lagP99 = lags.length ? { median: quantile(lags, 0.5), max: Math.max(...lags) } : undefined;
  const late = latencies.filter((l) => l > boundMs).length;

  const failed: string[] = [];
  if (undelivered) failed.push(`${undelivered} of ${changes} changes never reached their Secret`);
  if (late) failed.push(`${late} of ${changes} changes later than ${fmt(boundMs / 1000)} s`);
  if (c.operatorRestarts) failed.push(`${c.operatorRestarts} operator restarts`);
  const first = after[0];
  const last = after[after.length - 1];
  const notes = [
    `${cycle} cycles of ${p.refreshSeconds} s, ${perCycle} of ${remotes.length} remote values changed per cycle (${changes} changes)`,
    `change to Secret: p50 ${fmt(quantile(latencies, 0.5) / 1000)} s, p99 ${fmt(quantile(latencies, 0.99) / 1000)} s, max ${fmt(Math.max(0, ...latencies) / 1000)} s (bound ${fmt(boundMs / 1000)} s = refresh + 10% jitter + ${p.marginSeconds ?? 5} s); ${undeliveredBefore} pending at the end of the last cycle`,
    `RSS ${fmt(first?.rssMiB ?? NaN)} → ${fmt(last?.rssMiB ?? NaN)} MiB after a ${fmt(warmupMs / 60_000)} min warm-up, slope ${fmt(rssSlope)} MiB/h; V8 heap used ${fmt(first?.heapMiB ?? NaN)} → ${fmt(last?.heapMiB ?? NaN)} MiB, slope ${heapSlope === undefined ? "-" : fmt(heapSlope)} MiB/h (least squares over ${after.length} samples every ${sampleMs / 1000} s)`,
    `event-loop lag p99 per ${sampleMs / 1000} s window (nodejs_eventloop_lag_p99_seconds): median ${lagP99 ? fmt(lagP99.median * 1000) : "-"} ms, max ${lagP99 ? fmt(lagP99.max * 1000) : "-"} ms`,
    `operator CPU ${cpuShare === undefined ? "-" : `${(cpuShare * 100).toFixed(0)}% of one core`} on average (/proc/PID/stat); machine load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" / ")} at the end`,
    `Secret writes by the operator during the soak: ${events.filter(isSecretWrite).length} (${changes} changes); initial sync ${fmt(initial / 1000)} s`,
  ];
  const row: Row = {
    scenario: "soak (1% of remote values change per cycle)",
    load: describeLoad(c.load),
    faults: `${p.minutes} min soak, ${changes} remote value changes; RSS slope ${fmt(rssSlope)} MiB/h, heap slope ${heapSlope === undefined ? "-" : fmt(heapSlope)} MiB/h; change→Secret max ${fmt(Math.max(0, ...latencies) / 1000)} s; event-loop lag p99 max ${lagP99 ? fmt(lagP99.max * 1000) : "-"} ms`,
    lost: state.missing.length,
    corrupted: state.wrong.length,
    spurious: spurious.length,
    wrongDeletions: deletions.length,
    convergeSeconds: convergedMs === undefined ? undefined : convergedMs / 1000,
    storeCalls: `${c.proxy.count(from, end)} in ${fmt((end - from) / 60_000)} min`,
    operatorRestarts: c.operatorRestarts,
    lists: events.filter((e) => e.verb === "list").length,
    failed,
    notes: [...notes, ...(spurious.length ? [`spurious: ${spurious.slice(0, 5).join(", ")}`] : [])],
  };
  return {
    row,
    samples,
    rssSlope,
    heapSlope,
    latencies,
    changes,
    undelivered,
    late,
    boundMs,
    lagP99,
    spurious,
  };
}

/** `npm run faults -- --only soak [--soak-minutes N] [--scale M] [--refresh S]`: defaults 120 min, 5,000. */
export const soak: Scenario = {
  name: "soak",
  async run(o: Options): Promise<Row> {
    const r = await runSoak(
      {
        minutes: o.soakMinutes ?? 120,
        externalSecrets: o.scaleGiven === false ? 5000 : o.scale,
        refreshSeconds: o.refreshSeconds,
      },
      o.log,
    );
    return r.row;
  },
};
