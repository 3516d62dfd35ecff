/**
 * Scenario 7, bad input at scale: while one operator refreshes a set of innocent ExternalSecrets,
 * N generated manifests (manifests.ts: valid, edge-case and invalid ExternalSecrets, SecretStores
 * and SealedSecrets) are created through the real API server. Observed: operator crashes and
 * restarts (none allowed), what the API server's schema refused (HTTP 422, counted), that every
 * admitted object gets a status condition naming its problem (not a generic error), and the
 * innocents' latency from a value change in Vault to their Secret before and during the flood.
 */
import { sleep } from "../../test/e2e/helpers.ts";
import { KubeApiError } from "../../src/kube/api.ts";
import { Cluster, describeLoad, loadAt, MOUNT, type Load } from "./cluster.ts";
import { isSecretDelete } from "./audit.ts";
import { checkState, wrongDeletions, type Row } from "./invariants.ts";
import {
  body,
  generateManifests,
  genericMessage,
  PLURAL,
  type Kind,
  type Manifest,
  type World,
} from "./manifests.ts";
import { quantile } from "./soak.ts";
import type { Options, Scenario } from "./scenarios.ts";

export interface BadInputParams {
  manifests: number;
  /** innocent ExternalSecrets (each over its own Vault secret) */
  innocents: number;
  refreshSeconds: number;
  seed?: number;
  /** value changes measured per phase (before / during the flood) */
  probes?: number;
  /** parallel creates */
  concurrency?: number;
}

export interface Verdicts {
  /** per kind: created, refused by the schema (422), refused otherwise (code: count) */
  admitted: Record<Kind, number>;
  rejected: Record<Kind, number>;
  otherRefusals: Record<string, number>;
  /** admitted objects by condition: Ready/Synced True, False naming the problem, generic, none */
  ok: number;
  named: number;
  generic: string[];
  noCondition: string[];
  /** reason -> count (for the report) */
  reasons: Record<string, number>;
  /** a sample message per mutation for the report */
  samples: Record<string, string>;
}

export interface BadInputResult {
  row: Row;
  verdicts: Verdicts;
  latencyBefore: number[];
  latencyDuring: number[];
  undeliveredBefore: number;
  undeliveredDuring: number;
  restarts: number;
}

const FLOOD_NS = 5;
const CONDITION: Record<Kind, string> = {
  ExternalSecret: "Ready",
  SecretStore: "Ready",
  SealedSecret: "Synced",
};
const GROUP: Record<Kind, string> = {
  ExternalSecret: "external-secrets.io/v1",
  SecretStore: "external-secrets.io/v1",
  SealedSecret: "bitnami.com/v1alpha1",
};

/**
 * Changes `n` innocent values, spread over `spreadMs`, and measures each until its Secret holds it.
 * Returns the latencies (ms) and how many never arrived within `timeoutMs` of their change.
 */
async function probeLatency(
  c: Cluster,
  remotes: string[],
  esOf: Map<string, string>,
  n: number,
  spreadMs: number,
  timeoutMs: number,
  tag: string,
): Promise<{ latencies: number[]; undelivered: number }> {
  const latencies: number[] = [];
  let undelivered = 0;
  const gap = spreadMs / n;
  const waits: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const remote = remotes[i % remotes.length]!;
    const value = `${remote}-${tag}-${i}`;
    await c.setRemote(remote, value);
    const t0 = Date.now();
    const [ns, name] = esOf.get(remote)!.split("/") as [string, string];
    waits.push(
      (async () => {
        while (Date.now() - t0 < timeoutMs) {
          try {
            const s = await c.api.get<{ data?: Record<string, string> }>(
              `/api/v1/namespaces/${ns}/secrets/${name}`,
            );
            if (s.data?.v !== undefined && Buffer.from(s.data.v, "base64").toString("utf8") === value) {
              latencies.push(Date.now() - t0);
              return;
            }
          } catch {
            /* retried */
          }
          await sleep(500);
        }
        undelivered++;
      })(),
    );
    await sleep(gap);
  }
  await Promise.all(waits);
  return { latencies, undelivered };
}

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

interface StatusView {
  metadata: { namespace?: string; name?: string; generation?: number };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export async function runBadInput(
  p: BadInputParams,
  log: (m: string) => void = () => undefined,
): Promise<BadInputResult> {
  const load: Load = { ...loadAt(p.innocents, p.refreshSeconds), remoteSecrets: p.innocents };
  const c = await Cluster.start(load);
  try {
    return await floodIn(c, p, log);
  } finally {
    c.saveLogs(process.env.CUSTOS_FAULTS_LOG_DIR ?? "/tmp/custos-faults-logs", "bad-input");
    await c.stop();
  }
}

async function floodIn(c: Cluster, p: BadInputParams, log: (m: string) => void): Promise<BadInputResult> {
  const interval = p.refreshSeconds * 1000;
  const probes = p.probes ?? Math.min(20, p.innocents);
  // the world the generated objects refer to
  const namespaces = Array.from({ length: FLOOD_NS }, (_, i) => `flood-${i}`);
  for (const ns of [...namespaces, "flood-foreign"])
    await c.api.create("/api/v1/namespaces", { metadata: { name: ns } });
  await c.api.create("/api/v1/namespaces/flood-foreign/secrets", {
    metadata: { name: "vault-token" },
    stringData: { token: c.env.vault.token },
  });
  const vault = { server: c.proxy.url, path: MOUNT, version: "v2" };
  await c.api.create("/apis/external-secrets.io/v1/namespaces/flood-foreign/secretstores", {
    apiVersion: "external-secrets.io/v1",
    kind: "SecretStore",
    metadata: { name: "foreign-store" },
    spec: {
      provider: { vault: { ...vault, auth: { tokenSecretRef: { name: "vault-token", key: "token" } } } },
    },
  });
  await c.api.create("/apis/external-secrets.io/v1/clustersecretstores", {
    apiVersion: "external-secrets.io/v1",
    kind: "ClusterSecretStore",
    metadata: { name: "restricted" },
    spec: {
      conditions: [{ namespaces: ["nowhere"] }],
      provider: {
        vault: {
          ...vault,
          auth: { tokenSecretRef: { name: "vault-token", key: "token", namespace: "faults-home" } },
        },
      },
    },
  });
  const world: World = {
    namespaces,
    clusterStore: "faults",
    keys: [...c.remote.keys()].slice(0, 20),
    vaultUrl: c.proxy.url,
    restrictedStore: "restricted",
    foreignStore: "foreign-store",
  };
  const manifests = generateManifests(p.manifests, p.seed ?? 7, world);

  await c.applyExternalSecrets();
  const op = await c.startReplica();
  const initial = await c.waitConverged(Math.max(300_000, c.es.size * 200));
  if (initial === undefined) throw new Error("bad input: the innocents' initial sync did not converge");
  const esOf = new Map([...c.es].map(([k, e]) => [e.remote, k]));
  const remotes = [...esOf.keys()];
  const timeoutMs = 3 * interval + 30_000;

  log(`  bad input: latency of ${probes} innocent value changes before the flood`);
  const before = await probeLatency(c, remotes, esOf, probes, interval, timeoutMs, "before");

  log(`  bad input: creating ${manifests.length} generated manifests`);
  const from = Date.now();
  const admitted: Record<Kind, number> = { ExternalSecret: 0, SecretStore: 0, SealedSecret: 0 };
  const rejected: Record<Kind, number> = { ExternalSecret: 0, SecretStore: 0, SealedSecret: 0 };
  const otherRefusals: Record<string, number> = {};
  const created: Manifest[] = [];
  const flood = pool(manifests, p.concurrency ?? 8, async (m) => {
    const path = `/apis/${GROUP[m.kind]}/namespaces/${m.doc.metadata.namespace}/${PLURAL[m.kind]}`;
    try {
      await c.api.create(path, body(m));
      admitted[m.kind]++;
      created.push(m);
    } catch (e) {
      const status = e instanceof KubeApiError ? e.status : 0;
      const text = (e as Error).message;
      if (status === 422) rejected[m.kind]++;
      else {
        const k = `${m.kind} ${m.mutation}: ${status || text.slice(0, 80)}`;
        otherRefusals[k] = (otherRefusals[k] ?? 0) + 1;
      }
    }
  });
  // the innocents' latency while the flood is applied and the operator works through it
  const duringP = (async () => {
    await sleep(Math.min(5000, interval / 2));
    const r = await probeLatency(c, remotes, esOf, probes, Math.max(interval, 1), timeoutMs, "during");
    return r;
  })();
  await flood;
  const floodSeconds = (Date.now() - from) / 1000;
  log(`  bad input: flood applied in ${floodSeconds.toFixed(0)} s; waiting for conditions`);
  const during = await duringP;

  // every admitted object gets its condition
  const byKey = new Map(
    created.map((m) => [`${m.kind}/${m.doc.metadata.namespace}/${m.doc.metadata.name}`, m]),
  );
  const deadline = Date.now() + 120_000 + manifests.length * 50;
  let views = new Map<string, StatusView>();
  for (;;) {
    views = new Map();
    for (const kind of Object.keys(PLURAL) as Kind[]) {
      const list = await c.api.list<StatusView>(`/apis/${GROUP[kind]}/${PLURAL[kind]}`);
      for (const o of list.items)
        if (o.metadata.namespace?.startsWith("flood-"))
          views.set(`${kind}/${o.metadata.namespace}/${o.metadata.name ?? ""}`, o);
    }
    const missing = [...byKey].filter(
      ([k, m]) => !views.get(k)?.status?.conditions?.some((x) => x.type === CONDITION[m.kind]),
    );
    if (!missing.length || Date.now() > deadline) break;
    await sleep(3000);
  }
  const verdicts: Verdicts = {
    admitted,
    rejected,
    otherRefusals,
    ok: 0,
    named: 0,
    generic: [],
    noCondition: [],
    reasons: {},
    samples: {},
  };
  for (const [key, m] of byKey) {
    const cond = views.get(key)?.status?.conditions?.find((x) => x.type === CONDITION[m.kind]);
    if (!cond) {
      verdicts.noCondition.push(`${key} (${m.mutation})`);
      continue;
    }
    const reason = `${m.kind} ${cond.status}/${cond.reason ?? ""}`;
    verdicts.reasons[reason] = (verdicts.reasons[reason] ?? 0) + 1;
    if (cond.status === "True") verdicts.ok++;
    else if (genericMessage(cond.message))
      verdicts.generic.push(`${key} (${m.mutation}): "${(cond.message ?? "").slice(0, 160)}"`);
    else {
      verdicts.named++;
      const s = `${m.kind} ${m.mutation}`;
      verdicts.samples[s] ??= (cond.message ?? "").slice(0, 160);
    }
  }

  const end = Date.now();
  const restarts = c.operatorRestarts;
  const alive = op.proc?.child.exitCode === null && op.proc.child.signalCode === null;
  const events = c.audit(from, end);
  const deletions = wrongDeletions(events.filter(isSecretDelete), new Set());
  const state = checkState(c.expected(), await c.actual());
  const failed: string[] = [];
  if (restarts) failed.push(`${restarts} operator restarts`);
  if (!alive) failed.push("operator not running at the end");
  if (verdicts.noCondition.length)
    failed.push(
      `${verdicts.noCondition.length} admitted objects without a condition (${verdicts.noCondition.slice(0, 3).join(", ")})`,
    );
  if (verdicts.generic.length)
    failed.push(
      `${verdicts.generic.length} conditions naming no problem (${verdicts.generic.slice(0, 3).join("; ")})`,
    );
  if (before.undelivered + during.undelivered)
    failed.push(`${before.undelivered + during.undelivered} innocent changes never reached their Secret`);
  const totalAdmitted = admitted.ExternalSecret + admitted.SecretStore + admitted.SealedSecret;
  const totalRejected = rejected.ExternalSecret + rejected.SecretStore + rejected.SealedSecret;
  const other = Object.values(otherRefusals).reduce((a, b) => a + b, 0);
  const lat = (xs: number[]): string =>
    xs.length
      ? `p50 ${(quantile(xs, 0.5) / 1000).toFixed(1)} s, max ${(Math.max(...xs) / 1000).toFixed(1)} s`
      : "-";
  const row: Row = {
    scenario: "bad input at scale (generated manifests)",
    load: `${describeLoad(c.load)} (innocents); ${manifests.length} generated manifests in ${FLOOD_NS} namespaces`,
    faults: `${manifests.length} manifests (${manifests.filter((m) => m.variant === "valid").length} valid, ${manifests.filter((m) => m.variant === "edge").length} edge, ${manifests.filter((m) => m.variant === "invalid").length} invalid) created in ${floodSeconds.toFixed(0)} s: ${totalAdmitted} admitted, ${totalRejected} refused by the schema (422), ${other} refused otherwise; innocents' change→Secret before ${lat(before.latencies)}, during ${lat(during.latencies)}`,
    lost: state.missing.length,
    corrupted: state.wrong.length,
    spurious: 0,
    wrongDeletions: deletions.length,
    convergeSeconds: (Date.now() - from) / 1000,
    storeCalls: `${c.proxy.count(from, end)}`,
    operatorRestarts: restarts,
    lists: events.filter((e) => e.verb === "list").length,
    failed,
    notes: [
      `admitted by kind: ${JSON.stringify(admitted)}; refused by the schema (422): ${JSON.stringify(rejected)}; refused otherwise: ${JSON.stringify(otherRefusals)}`,
      `admitted objects' conditions: ${verdicts.ok} True, ${verdicts.named} False naming the problem, ${verdicts.generic.length} generic, ${verdicts.noCondition.length} none; by reason: ${Object.entries(
        verdicts.reasons,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
      `sample messages: ${Object.entries(verdicts.samples)
        .slice(0, 12)
        .map(([k, v]) => `${k}: "${v}"`)
        .join("; ")}`,
      `innocents' value change → Secret (${probes} changes each, refresh ${p.refreshSeconds} s): before the flood ${lat(before.latencies)}, during ${lat(during.latencies)}`,
      `operator RSS ${c.rss().toFixed(0)} MiB at the end; converged in = from the first create until every admitted object had its condition`,
    ],
  };
  return {
    row,
    verdicts,
    latencyBefore: before.latencies,
    latencyDuring: during.latencies,
    undeliveredBefore: before.undelivered,
    undeliveredDuring: during.undelivered,
    restarts,
  };
}

/** `npm run faults -- --only bad-input [--manifests N] [--scale M]`: defaults 10,000 manifests, 100 innocents. */
export const badInput: Scenario = {
  name: "bad input at scale",
  async run(o: Options): Promise<Row> {
    const r = await runBadInput(
      {
        manifests: o.manifests ?? 10_000,
        innocents: o.scaleGiven === false ? 100 : o.scale,
        refreshSeconds: o.refreshSeconds,
      },
      o.log,
    );
    return r.row;
  },
};
