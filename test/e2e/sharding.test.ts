/**
 * Sharding (ADR 0008) on the real API server: three operator processes split 12 namespaces × 3
 * ExternalSecrets between them; the API server's audit log (a private environment, so that it
 * can be switched on) records which replica wrote what, by each replica's User-Agent. Then one
 * replica is SIGKILLed: its namespaces are taken over within the lease duration (plus margin,
 * awaited, not timed), a change made after the kill arrives everywhere, and no object ever has
 * two writers at once (a writer changes only from the dead replica to a survivor, after the kill).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEnv, type TestEnv } from "../env/index.ts";
import {
  applyCrds,
  eventually,
  kubectl,
  secretData,
  startOperator,
  suffix,
  KubeApi,
  type OperatorProcess,
} from "./helpers.ts";
import { shardOf } from "../../src/kube/shard-assign.ts";

const NAMESPACES = Array.from({ length: 12 }, (_, i) => `shard-${String(i).padStart(2, "0")}`);
const PER_NAMESPACE = 3;
const SHARDS = 32;
const LEASE_S = 10;

const POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Request
  verbs: ["create", "update"]
  resources:
  - group: "coordination.k8s.io"
    resources: ["leases"]
- level: Metadata
  verbs: ["create", "update", "patch", "delete"]
  resources:
  - group: ""
    resources: ["secrets"]
  - group: "external-secrets.io"
- level: None
`;

let env: TestEnv;
let api: KubeApi;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custos-shard-"));
  writeFileSync(join(dir, "policy.yaml"), POLICY);
  env = await startEnv({
    components: ["kube"],
    apiServerArgs: [
      `--audit-policy-file=${join(dir, "policy.yaml")}`,
      `--audit-log-path=${join(dir, "audit.log")}`,
      "--audit-log-maxsize=0",
      "--audit-log-mode=blocking",
    ],
  });
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  await api.create("/api/v1/namespaces", { metadata: { name: "custos-system" } });
});
after(async () => {
  await env.stop();
  rmSync(dir, { recursive: true, force: true });
});

const store = (value: string): string => `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: fake }
spec:
  provider:
    fake:
      data:
      - { key: app, value: '{"password":"${value}"}' }
`;
const es = (name: string): string => `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: fake }
  data: [ { secretKey: password, remoteRef: { key: app, property: password } } ]
`;

function metric(text: string, name: string): number {
  let total = 0;
  for (const line of text.split("\n"))
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
  return total;
}

interface Write {
  replica: string;
  /** `resource[/subresource] namespace/name` */
  key: string;
  namespace: string;
  time: number;
}

interface LeaseWrite {
  lease: string;
  holder: string;
  time: number;
}

/** Successful writes from the audit log: the replicas' object writes (by User-Agent) and every Lease write. */
function audit(): { writes: Write[]; leases: LeaseWrite[] } {
  const writes: Write[] = [];
  const leases: LeaseWrite[] = [];
  for (const line of readFileSync(join(dir, "audit.log"), "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    const e = JSON.parse(line) as {
      stage?: string;
      userAgent?: string;
      objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
      responseStatus?: { code?: number };
      stageTimestamp?: string;
      requestObject?: { metadata?: { name?: string }; spec?: { holderIdentity?: string | null } };
    };
    const code = e.responseStatus?.code ?? 0;
    if (e.stage !== "ResponseComplete" || code < 200 || code > 299) continue;
    const o = e.objectRef ?? {};
    const time = Date.parse(e.stageTimestamp ?? "");
    if (o.resource === "leases") {
      leases.push({
        lease: o.name ?? e.requestObject?.metadata?.name ?? "",
        holder: e.requestObject?.spec?.holderIdentity ?? "",
        time,
      });
      continue;
    }
    const m = /^custos \(replica (.+)\)$/.exec(e.userAgent ?? "");
    if (!m) continue;
    writes.push({
      replica: m[1]!,
      key: `${o.resource ?? ""}${o.subresource ? `/${o.subresource}` : ""} ${o.namespace ?? ""}/${o.name ?? ""}`,
      namespace: o.namespace ?? "",
      time,
    });
  }
  return { writes, leases };
}

/** Shard Lease holders now: shard -> replica. */
async function holders(group: string): Promise<Map<string, string>> {
  const list = await api.get<{
    items: { metadata: { name: string }; spec: { holderIdentity?: string | null } }[];
  }>("/apis/coordination.k8s.io/v1/namespaces/custos-system/leases", {
    labelSelector: `custos.io/shard-group=${group}`,
  });
  const res = new Map<string, string>();
  for (const l of list.items) {
    const m = new RegExp(`^${group}-shard-(.+)$`).exec(l.metadata.name);
    if (m && l.spec.holderIdentity) res.set(m[1]!, l.spec.holderIdentity);
  }
  return res;
}

test("sharding: 3 replicas split 12 namespaces evenly, a SIGKILL moves the dead one's namespaces, no object has two writers", async () => {
  const group = `t${suffix()}`;
  const ids = ["replica-a", "replica-b", "replica-c"];
  const ops = new Map<string, OperatorProcess>();
  const args = (id: string): string[] => [
    "--controllers",
    "externalsecret",
    "--sharding",
    "--shards",
    String(SHARDS),
    "--sharding-id",
    group,
    "--replica-id",
    id,
    "--leader-election-namespace",
    "custos-system",
    "--lease-duration",
    `${LEASE_S}s`,
  ];
  const settled = async (live: string[]): Promise<Map<string, string> | undefined> => {
    let total = 0;
    for (const id of live) {
      const text = await ops.get(id)!.metrics();
      if (metric(text, "custos_shard_members") !== live.length) return undefined;
      total += metric(text, "custos_shards_owned");
    }
    const h = await holders(group);
    return total === SHARDS + 1 && [...h.values()].every((r) => live.includes(r)) ? h : undefined;
  };
  /** Settled, and the holders the same a renew period later (no handover under way). */
  const stable = async (live: string[]): Promise<Map<string, string>> =>
    eventually(
      "shard ownership settled",
      async () => {
        const a = await settled(live);
        await new Promise((r) => setTimeout(r, (LEASE_S * 1000) / 3 + 500));
        const b = await settled(live);
        return a && b && JSON.stringify([...a].sort()) === JSON.stringify([...b].sort()) ? b : undefined;
      },
      120_000,
    );
  const synced = (value: string, names: string[]) => async (): Promise<true | undefined> => {
    for (const ns of NAMESPACES)
      for (const name of names) if ((await secretData(api, ns, name))?.password !== value) return undefined;
    return true;
  };
  const esNames = Array.from({ length: PER_NAMESPACE }, (_, i) => `es-${i}`);
  let passed = false;
  try {
    for (const id of ids) ops.set(id, await startOperator(env, args(id)));
    await stable(ids);

    for (const ns of NAMESPACES) await api.create("/api/v1/namespaces", { metadata: { name: ns } });
    for (const ns of NAMESPACES)
      await kubectl(env, ["apply", "-n", ns, "-f", "-"], [store("v1"), ...esNames.map(es)].join("---\n"));
    await eventually("36 Secrets synced", synced("v1", esNames), 120_000);

    // the work splits evenly: once ownership has settled, a change of every namespace is written by
    // one replica per namespace, the holder of its shard, 4 namespaces each (namespaces with work
    // are what the assignment balances)
    const h = await stable(ids);
    const ownerOf = (ns: string): string => h.get(shardOf(ns, SHARDS)) ?? "";
    const changedAt = Date.now();
    for (const ns of NAMESPACES) {
      await kubectl(env, ["apply", "-n", ns, "-f", "-"], store("v2"));
      await kubectl(env, [
        "annotate",
        "-n",
        ns,
        "externalsecrets.external-secrets.io",
        "--all",
        `force-sync=${changedAt}`,
      ]);
    }
    await eventually("the change synced", synced("v2", esNames), 120_000);
    const split = new Map(ids.map((id) => [id, new Set<string>()]));
    for (const w of audit().writes)
      if (w.time >= changedAt - 1000 && NAMESPACES.includes(w.namespace) && w.key.startsWith("secrets "))
        split.get(w.replica)!.add(w.namespace);
    console.log(
      `namespaces written per replica after the change: ${[...split].map(([id, n]) => `${id}=${n.size}`).join(" ")}`,
    );
    for (const [id, nss] of split) {
      for (const ns of nss) assert.equal(ownerOf(ns), id, `${ns} written by ${id}, held by ${ownerOf(ns)}`);
      assert.ok(nss.size >= 3 && nss.size <= 5, `even split: ${id} wrote ${nss.size} of 12 namespaces`);
    }
    assert.equal(
      [...split.values()].reduce((n, s) => n + s.size, 0),
      NAMESPACES.length,
      "one writer per namespace",
    );

    // SIGKILL the replica with the most namespaces; new work after the kill arrives everywhere
    const [victim] = [...split.entries()].sort((a, b) => b[1].size - a[1].size)[0]!;
    const killedAt = Date.now();
    ops.get(victim)!.child.kill("SIGKILL");
    const survivors = ids.filter((id) => id !== victim);
    for (const ns of NAMESPACES) await kubectl(env, ["apply", "-n", ns, "-f", "-"], es("late"));
    await eventually(
      "the victim's namespaces taken over: new ExternalSecrets synced everywhere",
      synced("v2", ["late"]),
      LEASE_S * 1000 + 60_000,
    );
    const after = await stable(survivors);
    assert.ok(![...after.values()].includes(victim), "no shard Lease left with the dead replica");
    for (const id of survivors)
      assert.ok(
        metric(await ops.get(id)!.metrics(), "custos_shard_handovers_total") >= 1,
        `${id} counted handovers`,
      );

    // never two writers: every write of the run was made by the holder of its namespace's shard Lease
    // at that moment (the Lease timeline from the same audit log)
    const { writes, leases } = audit();
    const timeline = new Map<string, LeaseWrite[]>();
    for (const l of leases) {
      const m = new RegExp(`^${group}-shard-(.+)$`).exec(l.lease);
      if (m) timeline.set(m[1]!, [...(timeline.get(m[1]!) ?? []), l]);
    }
    for (const t of timeline.values()) t.sort((a, b) => a.time - b.time);
    const holderAt = (shard: string, time: number): string => {
      let holder = "";
      for (const l of timeline.get(shard) ?? []) if (l.time <= time) holder = l.holder;
      return holder;
    };
    let checked = 0;
    for (const w of writes) {
      if (!NAMESPACES.includes(w.namespace)) continue;
      const holder = holderAt(shardOf(w.namespace, SHARDS), w.time);
      assert.equal(
        holder,
        w.replica,
        `${w.key} at ${new Date(w.time).toISOString()} written by ${w.replica}, shard held by ${holder || "nobody"}`,
      );
      checked++;
    }
    assert.ok(checked >= NAMESPACES.length * (PER_NAMESPACE * 2 + 2), `writes checked: ${checked}`);
    // the victim's namespaces: written after the kill by survivors only
    for (const w of writes)
      if (w.time > killedAt + 1000 && NAMESPACES.includes(w.namespace)) assert.notEqual(w.replica, victim);
    console.log(`writes checked against the Lease timeline: ${checked}; victim ${victim}`);
    passed = true;
  } finally {
    if (!passed)
      for (const [id, op] of ops)
        console.log(
          `--- ${id}\n${op
            .output()
            .split("\n")
            .filter((l) => /sharding|error|failed/i.test(l))
            .slice(-40)
            .join("\n")}`,
        );
    for (const op of ops.values()) await op.stop().catch(() => undefined);
  }
  // a clean stop gave every Lease back
  const left = await holders(group);
  assert.equal(left.size, 0, `Leases still held after a clean stop: ${[...left.values()].join(", ")}`);
});
