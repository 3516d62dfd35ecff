/**
 * The fault scenarios. Each starts its own environment and load, injects its fault with the real
 * mechanism (signals to the real processes, etcd compaction, Vault seal, a blackholing proxy) and
 * returns one row of observations; the invariants are judged in invariants.ts.
 */
import { request } from "undici";
import { sleep } from "../../test/e2e/helpers.ts";
import { Cluster, compactEtcd, describeLoad, loadAt, type Replica } from "./cluster.ts";
import { startSlowProxy } from "./proxy.ts";
import { soak } from "./soak.ts";
import { badInput } from "./bad-input.ts";
import { isList, isListRequest, isSecretDelete, isSecretWrite, listsByResource } from "./audit.ts";
import {
  checkState,
  spuriousWrites,
  wrongDeletions,
  overlappingWriters,
  probeBound,
  type Row,
  type SecretContents,
} from "./invariants.ts";

export interface Options {
  /** ExternalSecrets in the load */
  scale: number;
  /** refresh interval of the ExternalSecrets, seconds */
  refreshSeconds: number;
  /** store outage length, seconds */
  outageSeconds: number;
  /** API server kills per scenario */
  apiKills: number;
  /** operator kills during a cold sync */
  operatorKills: number;
  /** leader kills */
  leaderKills: number;
  /** upper bound for convergence after a fault, seconds */
  convergeTimeoutSeconds: number;
  log: (msg: string) => void;
  /** where the operators' output is kept */
  logDir: string;
  /** soak length, minutes (scenario 6; default 120) */
  soakMinutes?: number;
  /** false when --scale was not given (the soak's default load is then 5,000) */
  scaleGiven?: boolean;
  /** manifests the bad-input flood applies (scenario 7; default 10,000) */
  manifests?: number;
}

export interface Scenario {
  name: string;
  run(o: Options): Promise<Row>;
}

const rand = (lo: number, hi: number): number => lo + Math.random() * (hi - lo);

/** Samples the Secrets while a fault lasts: any that vanish, or hold neither their old nor their expected data. */
class Sampler {
  readonly vanished = new Set<string>();
  readonly corrupt = new Set<string>();
  samples = 0;
  #stop = false;
  #loop: Promise<void> | undefined;
  constructor(
    readonly c: Cluster,
    readonly before: SecretContents,
    /** Secrets the scenario itself deletes or changes the source of */
    readonly exempt: Set<string> = new Set(),
  ) {}
  start(): this {
    this.#loop = (async () => {
      while (!this.#stop) {
        try {
          const now = await this.c.actual();
          const expected = this.c.expected();
          for (const [key, want] of expected) {
            if (this.exempt.has(key)) continue;
            const old = this.before.get(key);
            const got = now.get(key);
            if (!got) {
              if (old) this.vanished.add(key);
            } else if (!same(got, want) && !(old && same(got, old))) this.corrupt.add(key);
          }
          this.samples++;
        } catch {
          /* API server down: nothing to see */
        }
        await sleep(2000);
      }
    })();
    return this;
  }
  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
  }
}

function same(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

interface Finish {
  c: Cluster;
  name: string;
  faults: string;
  /** start of the observed window (fault injection) */
  from: number;
  /** when the fault ended (convergence is timed from here) */
  recoveredAt: number;
  convergedMs: number | undefined;
  allowedWrites: Map<string, number>;
  allowedDeletes?: Set<string>;
  sampler?: Sampler;
  storeCalls?: string;
  failed?: string[];
  notes?: string[];
}

async function finish(f: Finish): Promise<Row> {
  const { c } = f;
  const end = Date.now() + 1000;
  await sleep(1000);
  const events = c.audit(f.from, end);
  // one read of the Secrets for every check below
  const now = await c.actual();
  const expectedKeys = c.expected();
  const state = checkState(expectedKeys, now);
  const lost = new Set([...state.missing, ...(f.sampler?.vanished ?? [])]);
  // a Secret still holding its data from before the fault is late (the run did not converge), not corrupted
  const before = f.sampler?.before;
  const stale = state.wrong.filter((k) => {
    const old = before?.get(k);
    const got = now.get(k);
    return old !== undefined && got !== undefined && same(got, old);
  });
  const corrupted = new Set([
    ...state.wrong.filter((k) => !stale.includes(k)),
    ...(f.sampler?.corrupt ?? []),
  ]);
  const spurious = spuriousWrites(events.filter(isSecretWrite), f.allowedWrites);
  const deletions = wrongDeletions(events.filter(isSecretDelete), f.allowedDeletes ?? new Set());
  const orphans = [...now.keys()].filter(
    (k) => !expectedKeys.has(k) && !k.includes("/default-token") && !k.endsWith("/kube-root-ca.crt"),
  );
  const failed = [...(f.failed ?? [])];
  if (orphans.length) failed.push(`${orphans.length} orphaned Secrets (${orphans.slice(0, 3).join(", ")})`);
  const notes = [...(f.notes ?? [])];
  const detail = (label: string, xs: Iterable<string>): void => {
    const list = [...xs];
    if (list.length) notes.push(`${label}: ${list.slice(0, 5).join(", ")}${list.length > 5 ? ", ..." : ""}`);
  };
  detail("lost", lost);
  detail("corrupted", corrupted);
  detail("still holding their data from before the fault (late, not corrupted)", stale);
  detail("spurious", spurious);
  detail("wrongly deleted", deletions);
  const lists = listsByResource(events);
  notes.push(
    `LIST by resource: ${
      Object.entries(lists)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ") || "none"
    } (${events.filter(isListRequest).length} requests with the pages of lists over 500 objects)`,
  );
  notes.push(`operator RSS ${c.rss().toFixed(0)} MiB at the end`);
  return {
    scenario: f.name,
    load: describeLoad(c.load),
    faults: f.faults,
    lost: lost.size,
    corrupted: corrupted.size,
    spurious: spurious.length,
    wrongDeletions: deletions.length,
    convergeSeconds: f.convergedMs === undefined ? undefined : f.convergedMs / 1000,
    storeCalls: f.storeCalls ?? "-",
    operatorRestarts: c.operatorRestarts,
    lists: events.filter(isList).length,
    failed,
    notes,
  };
}

/** Every Secret of the load written once (its creation). */
function oncePerSecret(c: Cluster): Map<string, number> {
  return new Map([...c.expected().keys()].map((k) => [k, 1]));
}

async function converge(c: Cluster, o: Options, what: string): Promise<number> {
  const ms = await c.waitConverged(o.convergeTimeoutSeconds * 1000);
  if (ms === undefined) {
    const r = await c.readiness().catch(() => undefined);
    throw new Error(
      `${what}: not converged within ${o.convergeTimeoutSeconds} s (${r?.ready ?? "?"} Ready; ${[
        ...(r?.samples ?? []),
      ]
        .map(([k, v]) => `${k}: ${v}`)
        .join("; ")})`,
    );
  }
  return ms;
}

async function withCluster(o: Options, body: (c: Cluster) => Promise<Row>): Promise<Row> {
  const c = await Cluster.start(loadAt(o.scale, o.refreshSeconds));
  let name = "scenario";
  try {
    const row = await body(c);
    name = row.scenario;
    return row;
  } finally {
    c.saveLogs(o.logDir, name);
    await c.stop();
  }
}

/** Restarts per Deployment compared with the changes of the Secrets it uses. */
function rolloutCheck(
  before: Map<string, number>,
  after: Map<string, number>,
  expectedRestarts: (dep: string) => number,
): string[] {
  const dup: string[] = [];
  const missed: string[] = [];
  for (const [dep, g] of after) {
    const n = g - (before.get(dep) ?? 1);
    const want = expectedRestarts(dep);
    if (n > want) dup.push(`${dep} (${n} restarts, ${want} expected)`);
    if (n < want) missed.push(`${dep} (${n} restarts, ${want} expected)`);
  }
  const out: string[] = [];
  if (dup.length) out.push(`${dup.length} duplicate restarts (${dup.slice(0, 2).join(", ")})`);
  if (missed.length) out.push(`${missed.length} missed restarts (${missed.slice(0, 2).join(", ")})`);
  return out;
}

/**
 * Waits (up to a minute) until every Deployment has restarted as often as its Secrets changed, then
 * compares: a restart late because a watch was backing off is not a missed one.
 */
async function settleRollouts(
  c: Cluster,
  before: Map<string, number>,
  expectedRestarts: (dep: string) => number,
  notes: string[],
): Promise<string[]> {
  const t0 = Date.now();
  let failed: string[];
  for (;;) {
    failed = rolloutCheck(before, await c.generations(), expectedRestarts);
    if (!failed.some((f) => f.includes("missed")) || Date.now() - t0 > 60_000) break;
    await sleep(1000);
  }
  await sleep(2000); // and no duplicate arrives late
  failed = rolloutCheck(before, await c.generations(), expectedRestarts);
  if (Date.now() - t0 > 4000)
    notes.push(`rollouts complete ${((Date.now() - t0) / 1000).toFixed(0)} s after the Secrets converged`);
  return failed;
}

async function killApiServer(c: Cluster, downMs: number): Promise<void> {
  const ctl = c.env.control!;
  await ctl.signal("kube-apiserver", "SIGKILL");
  await sleep(downMs);
  await ctl.restart("kube-apiserver");
}

const apiServerColdSync: Scenario = {
  name: "kube-apiserver SIGKILL during cold sync",
  async run(o) {
    return withCluster(o, async (c) => {
      await c.applyExternalSecrets();
      const gens0 = await c.generations();
      const from = Date.now();
      await c.startReplica();
      // kill while the first Secrets are being written
      while ((await c.readiness()).ready < Math.max(1, c.es.size * 0.1)) await sleep(200);
      const sampler = new Sampler(c, new Map()).start();
      for (let i = 0; i < o.apiKills; i++) {
        o.log(`  kill ${i + 1}/${o.apiKills} of kube-apiserver`);
        await killApiServer(c, rand(500, 3000));
        await sleep(rand(1000, 4000));
      }
      const recoveredAt = Date.now();
      const convergedMs = await c.waitConverged(o.convergeTimeoutSeconds * 1000);
      await sampler.stop();
      await sleep(3000); // let the rollout controller see the last Secrets
      // a Secret created for the first time restarts nothing (as Reloader); at most one restart each
      const failed = rolloutCheck(gens0, await c.generations(), () => 1).filter((f) =>
        f.includes("duplicate"),
      );
      return finish({
        c,
        name: this.name,
        faults: `${o.apiKills} × kube-apiserver SIGKILL + restart (same etcd), 0.5-3 s down`,
        from,
        recoveredAt,
        convergedMs,
        allowedWrites: oncePerSecret(c),
        sampler,
        failed,
      });
    });
  },
};

const apiServerSteady: Scenario = {
  name: "kube-apiserver SIGKILL during steady refresh",
  async run(o) {
    return withCluster(o, async (c) => {
      await c.applyExternalSecrets();
      await c.startReplica();
      await converge(c, o, "initial sync");
      await sleep(3000);
      const gens0 = await c.generations();
      const before = await c.actual();
      const from = Date.now();
      // change a tenth of the remote values: every change must arrive despite the restarts
      const changed = new Set<string>();
      for (let i = 0; i < c.load.remoteSecrets; i += 10) {
        await c.setRemote(`s${i}`, `value-${i}-1`);
        changed.add(`s${i}`);
      }
      const affected = new Set([...c.es].filter(([, e]) => changed.has(e.remote)).map(([k]) => k));
      const sampler = new Sampler(c, before, affected).start();
      for (let i = 0; i < o.apiKills; i++) {
        o.log(`  kill ${i + 1}/${o.apiKills} of kube-apiserver`);
        await killApiServer(c, rand(500, 3000));
        await sleep(rand(1000, (c.load.refreshSeconds * 1000) / 2));
      }
      const recoveredAt = Date.now();
      const convergedMs = await c.waitConverged(o.convergeTimeoutSeconds * 1000);
      await sampler.stop();
      const notes = [`${affected.size} Secrets had to change`];
      const failed = await settleRollouts(
        c,
        gens0,
        (dep) => (affected.has(dep.replace("dep-", "es-")) ? 1 : 0),
        notes,
      );
      return finish({
        c,
        name: this.name,
        faults: `${o.apiKills} × kube-apiserver SIGKILL + restart during refresh; ${changed.size} remote values changed`,
        from,
        recoveredAt,
        convergedMs,
        allowedWrites: new Map([...affected].map((k) => [k, 1])),
        sampler,
        failed,
        notes,
      });
    });
  },
};

const watchExpiry: Scenario = {
  name: "watch expiry (etcd compaction, 410 Gone)",
  async run(o) {
    return withCluster(o, async (c) => {
      await c.applyExternalSecrets();
      const opStart = Date.now();
      const op = await c.startReplica();
      await converge(c, o, "initial sync");
      await sleep(2000);
      // one LIST per informer at start: the most a relist after the gap may cost
      const informers = listsByResource(c.audit(opStart));
      const before = await c.actual();
      const from = Date.now();
      // the operator stops seeing anything (SIGSTOP) while objects change under it
      c.pauseReplica(op, true);
      const n = Math.max(3, Math.round(c.load.externalSecrets / 100));
      const allowedWrites = new Map<string, number>();
      const exempt = new Set<string>();
      const N = c.load.externalSecrets;
      for (let i = 0; i < n; i++) {
        // a target Secret deleted by someone: must be re-created
        const del = c.es.get(`faults-${i % c.load.namespaces}/es-${i}`)!;
        await c.api.delete(`/api/v1/namespaces/${del.namespace}/secrets/${del.name}`);
        allowedWrites.set(`${del.namespace}/${del.name}`, 1);
        exempt.add(`${del.namespace}/${del.name}`);
      }
      const docs: string[] = [];
      for (let i = n; i < 2 * n; i++) {
        // an ExternalSecret pointed at another remote secret: its Secret must follow
        const remote = `s${(i + 1) % c.load.remoteSecrets}`;
        docs.push(c.esDoc(i, remote));
        const key = `faults-${i % c.load.namespaces}/es-${i}`;
        allowedWrites.set(key, 1);
        exempt.add(key);
      }
      for (let i = N; i < N + n; i++) {
        // a new ExternalSecret: its Secret must be created
        docs.push(c.esDoc(i));
        allowedWrites.set(`faults-${i % c.load.namespaces}/es-${i}`, 1);
      }
      await c.applyDocs(docs);
      // expire every watch: the API server restarts (its watch cache starts afresh) and etcd
      // compacts its history up to now, so the operator's resourceVersions are gone
      await c.env.control!.signal("kube-apiserver", "SIGKILL");
      const revision = await compactEtcd(c.env.etcdUrl!);
      await c.env.control!.restart("kube-apiserver");
      const resumed = Date.now();
      c.pauseReplica(op, false);
      const convergedMs = await c.waitConverged(o.convergeTimeoutSeconds * 1000);
      const lists = listsByResource(c.audit(resumed));
      const failed: string[] = [];
      // listed per rollout batch (restarts.ts), not by informers
      const workloads = new Set(["deployments", "statefulsets", "daemonsets", "cronjobs", "rollouts"]);
      for (const [res, count] of Object.entries(lists))
        if (!workloads.has(res) && count > (informers[res] ?? 0))
          failed.push(`${res} listed ${count} times after the gap (${informers[res] ?? 0} informers)`);
      return finish({
        c,
        name: this.name,
        faults: `operator paused; ${n} Secrets deleted, ${n} ES changed, ${n} ES created; kube-apiserver SIGKILL; etcd compacted at revision ${revision}; resumed`,
        from,
        recoveredAt: resumed,
        convergedMs,
        allowedWrites,
        sampler: undefined,
        failed,
        notes: [
          `${before.size} Secrets before the gap; LISTs at operator start (one per informer): ${Object.entries(
            informers,
          )
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")}`,
        ],
      });
    });
  },
};

type Outage = "sealed" | "stopped" | "blackhole";

function vaultOutage(kind: Outage): Scenario {
  return {
    name: `Vault ${kind} under refresh`,
    async run(o) {
      return withCluster(o, async (c) => {
        await c.applyExternalSecrets();
        await c.startReplica();
        await converge(c, o, "initial sync");
        await sleep(2000);
        const gens0 = await c.generations();
        const before = await c.actual();
        const baselineFrom = Date.now();
        await sleep(c.load.refreshSeconds * 1000);
        const baselineCalls = c.proxy.count(baselineFrom);
        const baselinePeak = c.proxy.peakPerSecond(baselineFrom);
        const sampler = new Sampler(c, before).start();
        const from = Date.now();
        const ctl = c.env.control!;
        if (kind === "sealed") {
          const r = await request(`${c.env.vault.addr}/v1/sys/seal`, {
            method: "PUT",
            headers: { "x-vault-token": c.env.vault.token },
          });
          await r.body.dump();
          if (!(await c.vaultSealed())) throw new Error("Vault did not seal");
        } else if (kind === "stopped") {
          await ctl.signal("vault", "SIGKILL");
        } else {
          c.proxy.mode = "blackhole";
        }
        // every ExternalSecret Ready=False within one refresh cycle (plus a request timeout)
        let allFalseAt: number | undefined;
        let samples = new Map<string, string>();
        let mostNotReady = 0;
        const deadline = from + o.outageSeconds * 1000;
        while (Date.now() < deadline) {
          if (allFalseAt === undefined) {
            const r = await c.readiness();
            mostNotReady = Math.max(mostNotReady, r.notReady);
            samples = r.samples;
            if (r.notReady === c.es.size) {
              allFalseAt = Date.now();
              samples = r.samples;
            }
          }
          await sleep(1000);
        }
        const outageCalls = c.proxy.count(from);
        // the store returns
        const returned = Date.now();
        if (kind === "sealed") {
          const r = await request(`${c.env.vault.addr}/v1/sys/unseal`, {
            method: "PUT",
            body: JSON.stringify({ key: c.vaultUnsealKey() }),
          });
          await r.body.dump();
        } else if (kind === "stopped") {
          await ctl.restart("vault");
          await c.seedVault();
        } else {
          c.proxy.mode = "forward";
        }
        const convergedMs = await c.waitConverged(o.convergeTimeoutSeconds * 1000);
        await sampler.stop();
        const recoveryTo = returned + (convergedMs ?? 0);
        const recoveryCalls = c.proxy.count(returned, recoveryTo + 1);
        const peak = c.proxy.peakPerSecond(returned, recoveryTo + 1);
        const failed: string[] = [];
        const cycle = c.load.refreshSeconds;
        if (allFalseAt === undefined) failed.push("not every ExternalSecret became Ready=False");
        else if (allFalseAt - from > (cycle + 30) * 1000)
          failed.push(`Ready=False after ${((allFalseAt - from) / 1000).toFixed(0)} s (> one cycle + 30 s)`);
        const bound = c.load.remoteSecrets * probeBound(returned - from);
        if (outageCalls > bound)
          failed.push(`${outageCalls} store calls during the outage (bound by the back-off: ${bound})`);
        const recoveryBound = (c.load.refreshSeconds + 30 + 15) * 1000;
        if (convergedMs !== undefined && convergedMs > recoveryBound)
          failed.push(
            `recovered ${(convergedMs / 1000).toFixed(0)} s after the store's return (> one refresh cycle + the 30 s maximum back-off + a 15 s request timeout)`,
          );
        failed.push(...rolloutCheck(gens0, await c.generations(), () => 0));
        return finish({
          c,
          name: this.name,
          faults: `Vault ${
            kind === "sealed"
              ? "sealed (sys/seal)"
              : kind === "stopped"
                ? "process SIGKILL, restarted and re-seeded"
                : "blackholed (proxy accepts, never answers)"
          } for ${o.outageSeconds} s`,
          from,
          recoveredAt: returned,
          convergedMs,
          allowedWrites: new Map(),
          sampler,
          storeCalls: `${outageCalls} / ${recoveryCalls} / ${peak}`,
          failed,
          notes: [
            `baseline: ${baselineCalls} store calls per ${cycle} s cycle, peak ${baselinePeak}/s; bound during the outage ${bound}`,
            allFalseAt === undefined
              ? `at most ${mostNotReady} of ${c.es.size} Ready=False: ${[...samples].map(([k, v]) => `${k} "${v}"`).join("; ")}`
              : `all Ready=False ${((allFalseAt - from) / 1000).toFixed(1)} s after the outage began: ${[
                  ...samples,
                ]
                  .map(([k, v]) => `${k} "${v}"`)
                  .join("; ")}`,
            `deletionPolicy Retain/Delete/Merge: ${c.es.size} ES, one third each`,
          ],
        });
      });
    },
  };
}

/**
 * Kills at random points of cold syncs until `operatorKills` kills are made: a cold sync of 1,000
 * takes seconds, so after each converged round the operator is stopped, every Secret of the load
 * deleted, and the next round is a cold sync again (all 1,000 Secrets to write).
 */
const operatorKillCold: Scenario = {
  name: "operator SIGKILL during cold sync",
  async run(o) {
    return withCluster(o, async (c) => {
      await c.applyExternalSecrets();
      const gens0 = await c.generations();
      const from = Date.now();
      // the first cold sync, timed: kills land at random points of the later ones
      const t0 = Date.now();
      const op = await c.startReplica();
      await converge(c, o, "first cold sync");
      const coldMs = Date.now() - t0;
      const sampler = new Sampler(c, new Map()).start();
      let kills = 0;
      let midSync = 0;
      let rounds = 1;
      const perRound: number[] = [];
      while (kills < o.operatorKills && rounds <= o.operatorKills) {
        rounds++;
        // the next cold sync: operator down, every Secret of the load gone
        await c.killReplica(op, false);
        for (let n = 0; n < c.load.namespaces; n++)
          await c.api.request("DELETE", `/api/v1/namespaces/faults-${n}/secrets`);
        await c.restartReplica(op);
        let inRound = 0;
        // up to 3 kills a cold sync, each at a random point after the last (re)start; the first
        // is made even when the sync is already done (a small load syncs in less than a startup)
        while (kills < o.operatorKills && inRound < 3) {
          await sleep(rand(0.2 * coldMs, coldMs));
          const done = await c.converged().catch(() => false);
          if (done && inRound > 0) break;
          if (!done) midSync++;
          o.log(`  kill ${kills + 1}/${o.operatorKills} of the operator (cold sync ${rounds - 1})`);
          await c.killReplica(op, true);
          kills++;
          inRound++;
        }
        perRound.push(inRound);
        if ((await c.waitConverged(o.convergeTimeoutSeconds * 1000)) === undefined) break;
      }
      const recoveredAt = Date.now();
      const convergedMs = await c.waitConverged(o.convergeTimeoutSeconds * 1000);
      await sampler.stop();
      await sleep(3000);
      const failed = rolloutCheck(gens0, await c.generations(), () => 1).filter((f) =>
        f.includes("duplicate"),
      );
      if (kills < o.operatorKills) failed.push(`only ${kills} of ${o.operatorKills} kills made`);
      // each cold sync creates every Secret once: more writes than cold syncs would be a rewrite
      const allowedWrites = new Map([...oncePerSecret(c)].map(([k]) => [k, rounds]));
      return finish({
        c,
        name: this.name,
        faults: `${kills} × operator SIGKILL at random points of ${rounds - 1} cold syncs (ES, SealedSecrets, rollouts; operator stopped and every Secret deleted before each), restarted at once`,
        from,
        recoveredAt,
        convergedMs,
        allowedWrites,
        sampler,
        failed,
        notes: [
          `first cold sync (no kill) ${(coldMs / 1000).toFixed(1)} s; kills at random points 0.2-1 × that after each start, ${midSync} of ${kills} before the sync was done; kills per cold sync: ${perRound.join(", ")}`,
        ],
      });
    });
  },
};

const leaderFailover: Scenario = {
  name: "two replicas, leader SIGKILL",
  async run(o) {
    return withCluster(o, async (c) => {
      await c.applyExternalSecrets();
      const args = ["--enable-leader-election", "--leader-election-namespace", "custos-system"];
      await c.startReplica(args);
      await c.startReplica(args);
      await converge(c, o, "initial sync");
      const from = Date.now();
      const leaseMs = 15_000;
      const failovers: number[] = [];
      const kills: number[] = [];
      const allowedWrites = new Map<string, number>();
      const N = c.load.externalSecrets;
      const leader = (): Replica | undefined => {
        const renewals = c
          .audit(Date.now() - 10_000)
          .filter((e) => e.resource === "leases" && e.verb === "update");
        const last = renewals[renewals.length - 1];
        return c.replicas.find((r) => r.user === last?.user);
      };
      for (let i = 0; i < o.leaderKills; i++) {
        let l: Replica | undefined;
        while (!(l = leader())) await sleep(500);
        o.log(`  kill ${i + 1}/${o.leaderKills} of the leader (${l.name})`);
        const t0 = Date.now();
        kills.push(t0);
        await c.killReplica(l, false);
        // new work arrives right after the crash: the standby must take over and do it
        await c.applyDocs([c.esDoc(N + i)]);
        allowedWrites.set(`faults-${(N + i) % c.load.namespaces}/es-${N + i}`, 1);
        const ms = await c.waitConverged(o.convergeTimeoutSeconds * 1000);
        failovers.push(ms === undefined ? Infinity : Date.now() - t0);
        await c.restartReplica(l); // the kubelet restarts the pod: it becomes the standby
        await sleep(2000);
      }
      const writes = c.audit(from).filter(isSecretWrite);
      const failed: string[] = [];
      const overlaps = overlappingWriters(writes, kills);
      if (overlaps) failed.push(`${overlaps} leader terms with two replicas writing Secrets`);
      const worst = Math.max(...failovers);
      if (worst > leaseMs + 10_000) failed.push(`fail-over took ${(worst / 1000).toFixed(1)} s`);
      return finish({
        c,
        name: this.name,
        faults: `${o.leaderKills} × leader SIGKILL (lease 15 s), new ExternalSecret applied after each`,
        from,
        recoveredAt: Date.now(),
        convergedMs: Number.isFinite(worst) ? worst : undefined,
        allowedWrites,
        failed,
        notes: [
          `fail-over (kill to new ExternalSecret's Secret written): ${failovers
            .map((m) => `${(m / 1000).toFixed(1)} s`)
            .join(", ")}`,
          `Secret writers in order: ${
            writes
              .sort((a, b) => a.time - b.time)
              .map((w) => w.user.split(":").pop())
              .filter((u, i, a) => u !== a[i - 1])
              .join(" → ") || "none"
          }`,
        ],
      });
    });
  },
};

/** The sum of a Prometheus counter's samples whose labels include `labels` (text format). */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const got = Object.fromEntries(
      [...(m[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!] as const),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[2]);
  }
  return sum;
}

/**
 * Issue 16, scenario 5: the operator talks to the API server through a proxy that holds every
 * request 2 s and resets 5% of them; the work of a refresh cycle (changed remote values), new
 * ExternalSecrets and deleted Secrets must all be done, each Secret written once, with the
 * operator backing off (its metrics: workqueue_retries_total, rest_client_requests_total code 0).
 */
const SLOW_LATENCY_MS = 2000;
const SLOW_RESET_RATE = 0.05;
const slowApiServer: Scenario = {
  name: "slow API server (2 s latency, 5% resets)",
  async run(o) {
    return withCluster(o, async (c) => {
      const u = new URL(c.shared.apiUrl);
      const proxy = await startSlowProxy(
        { host: u.hostname, port: Number(u.port) },
        { latencyMs: SLOW_LATENCY_MS, resetRate: SLOW_RESET_RATE },
      );
      try {
        await c.applyExternalSecrets();
        // the cold sync through the proxy without its faults; then the API server turns slow
        const op = await c.startReplica([], proxy.url);
        await converge(c, o, "initial sync");
        await sleep(3000);
        const gens0 = await c.generations();
        const before = await c.actual();
        const m0 = await op.proc!.metrics();
        const from = Date.now();
        proxy.slow = true;
        const n = Math.max(3, Math.round(c.load.externalSecrets / 10));
        const N = c.load.externalSecrets;
        const allowedWrites = new Map<string, number>();
        const exempt = new Set<string>();
        // remote values changed: a tenth of the Vault secrets (their ExternalSecrets' Secrets change)
        const changed = new Set<string>();
        for (let i = 0; i < c.load.remoteSecrets; i += 10) {
          await c.setRemote(`s${i}`, `value-${i}-slow`);
          changed.add(`s${i}`);
        }
        for (const [k, e] of c.es)
          if (changed.has(e.remote)) {
            allowedWrites.set(k, 1);
            exempt.add(k);
          }
        // target Secrets deleted by someone (re-created once each), new ExternalSecrets (created once)
        const deleted: string[] = [];
        // (of ExternalSecrets no Deployment uses: a re-created Secret with the same data restarts nothing)
        for (let i = c.load.deployments; i < N && deleted.length < n; i++) {
          const key = `faults-${i % c.load.namespaces}/es-${i}`;
          if (exempt.has(key)) continue;
          const e = c.es.get(key)!;
          await c.api.delete(`/api/v1/namespaces/${e.namespace}/secrets/${e.name}`);
          deleted.push(key);
          allowedWrites.set(key, 1);
          exempt.add(key);
        }
        // (of remote secrets that did not change: a new object may reuse a read of the last 10 s,
        // so one of a changed secret would be written twice, its old value first)
        const unchanged = [...c.remote.keys()].filter((k) => !changed.has(k));
        const docs: string[] = [];
        for (let i = N; i < N + n; i++) {
          docs.push(c.esDoc(i, unchanged[i % unchanged.length]));
          allowedWrites.set(`faults-${i % c.load.namespaces}/es-${i}`, 1);
        }
        await c.applyDocs(docs);
        const sampler = new Sampler(c, before, exempt).start();
        const timeout = o.convergeTimeoutSeconds * 2; // every request takes 2 s: twice the usual bound
        const convergedMs = await c.waitConverged(timeout * 1000);
        const doneAt = Date.now();
        await sleep(3000); // late duplicate writes would show now
        await sampler.stop();
        const m1 = await op.proc!.metrics();
        proxy.slow = false;
        const delta = (name: string, labels: Record<string, string> = {}): number =>
          metricSum(m1, name, labels) - metricSum(m0, name, labels);
        const retries = delta("workqueue_retries_total");
        const esRetries = delta("workqueue_retries_total", { name: "externalsecret" });
        const unreachable = delta("rest_client_requests_total", { code: "0" });
        const requests = delta("rest_client_requests_total");
        const failed: string[] = [];
        if (convergedMs === undefined) failed.push(`work not done within ${timeout} s`);
        if (proxy.stats.resets > 0 && unreachable === 0)
          failed.push(
            `${proxy.stats.resets} resets, but no failed request in rest_client_requests_total{code="0"}`,
          );
        const affected = new Set([...c.es].filter(([, e]) => changed.has(e.remote)).map(([k]) => k));
        failed.push(
          ...(await settleRollouts(
            c,
            gens0,
            (dep) => (affected.has(dep.replace("dep-", "es-")) ? 1 : 0),
            [],
          )),
        );
        return await finish({
          c,
          name: this.name,
          faults: `every API request held ${SLOW_LATENCY_MS / 1000} s and ${SLOW_RESET_RATE * 100}% reset (TCP proxy: ${proxy.stats.resets} connection resets in ${proxy.stats.chunks} client writes); ${changed.size} remote values changed, ${deleted.length} Secrets deleted, ${n} ES created`,
          from,
          recoveredAt: from,
          convergedMs: convergedMs === undefined ? undefined : doneAt - from,
          allowedWrites,
          sampler,
          failed,
          notes: [
            `${affected.size} Secrets had to change, ${deleted.length} to be re-created, ${n} created`,
            `operator metrics over the slow phase: ${requests} API requests, ${unreachable} failed unanswered (rest_client_requests_total{code="0"}), ${retries} work-queue retries (workqueue_retries_total; ${esRetries} externalsecret)`,
            `proxy: ${proxy.stats.connections} connections, ${proxy.stats.resets} reset`,
          ],
        });
      } finally {
        await proxy.stop();
      }
    });
  },
};

export const SCENARIOS: Record<string, Scenario> = {
  "apiserver-cold": apiServerColdSync,
  "apiserver-steady": apiServerSteady,
  "watch-expiry": watchExpiry,
  "vault-sealed": vaultOutage("sealed"),
  "vault-stopped": vaultOutage("stopped"),
  "vault-blackhole": vaultOutage("blackhole"),
  "operator-kill": operatorKillCold,
  "leader-failover": leaderFailover,
  "slow-apiserver": slowApiServer,
  soak,
  "bad-input": badInput,
};
