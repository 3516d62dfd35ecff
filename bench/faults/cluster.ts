/**
 * One scenario's world: the real environment (kube-apiserver with an audit log, etcd,
 * kube-controller-manager, Vault behind a counting proxy), the load (ExternalSecrets over Vault
 * secrets under every deletionPolicy, SealedSecrets, rollout-annotated Deployments), the operator
 * replicas as real `custos operator` processes under a supervisor that restarts them when they die
 * (as a Deployment would), and what the harness knows the Secrets must hold.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { startEnv, freePort, type TestEnv } from "../../test/env/index.ts";
import { describeEnv } from "../../test/env/shared.ts";
import {
  kubectl,
  serviceAccountKubeconfig,
  startOperator,
  vaultClient,
  sleep,
  type OperatorProcess,
} from "../../test/e2e/helpers.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { generateSealingKey, keyToSecret, publicKeyOf } from "../../src/sealing/keys.ts";
import { sealSecret } from "../../src/sealing/sealedsecret.ts";
import { auditArgs, readAudit, type AuditEvent } from "./audit.ts";
import { startStoreProxy, type StoreProxy } from "./proxy.ts";
import type { SecretContents } from "./invariants.ts";

const root = join(import.meta.dirname, "..", "..");

export interface Load {
  externalSecrets: number;
  namespaces: number;
  /** distinct Vault secrets the ExternalSecrets read */
  remoteSecrets: number;
  sealedSecrets: number;
  deployments: number;
  refreshSeconds: number;
}

/** The load at a scale (ExternalSecrets): 10 namespaces, 1 Vault secret, SealedSecret and Deployment per 20. */
export function loadAt(externalSecrets: number, refreshSeconds: number): Load {
  const per20 = Math.max(2, Math.round(externalSecrets / 20));
  return {
    externalSecrets,
    namespaces: Math.min(10, externalSecrets),
    remoteSecrets: per20,
    sealedSecrets: per20,
    deployments: per20,
    refreshSeconds,
  };
}

export const describeLoad = (l: Load): string =>
  `${l.externalSecrets} ES / ${l.namespaces} ns, ${l.sealedSecrets} SealedSecrets, ${l.deployments} Deployments, refresh ${l.refreshSeconds} s`;

const POLICIES = ["Retain", "Delete", "Merge"] as const;
export const MOUNT = "faults";

export interface Replica {
  name: string;
  /** ServiceAccount user the API server records its requests under. */
  user: string;
  proc: OperatorProcess | undefined;
  /** Exits the harness did not cause (each followed by a restart, as a Deployment would). */
  crashes: number;
  /** Kills the harness caused (each followed by a restart). */
  kills: number;
  args: string[];
  kubeconfig: string;
  stopping: boolean;
  /** output of earlier processes of this replica */
  outputs: string[];
}

interface Es {
  namespace: string;
  name: string;
  remote: string;
  deletionPolicy: string;
}

export class Cluster {
  readonly replicas: Replica[] = [];
  readonly es = new Map<string, Es>();
  /** Vault secret name -> value of its property `v` */
  readonly remote = new Map<string, string>();
  readonly sealed = new Map<string, Record<string, string>>();
  readonly deployments: string[] = [];
  #sealingCert = "";
  #saSeq = 0;

  private constructor(
    readonly env: TestEnv,
    readonly api: KubeApi,
    readonly proxy: StoreProxy,
    readonly auditDir: string,
    readonly load: Load,
  ) {}

  static async start(load: Load): Promise<Cluster> {
    const auditDir = mkdtempSync(join(tmpdir(), "custos-faults-"));
    const env = await startEnv({
      components: ["kube", "controller-manager", "vault"],
      apiServerArgs: auditArgs(auditDir),
    });
    try {
      const api = KubeApi.fromDefault(env.kubeconfig);
      const proxy = await startStoreProxy(env.vault.addr);
      const c = new Cluster(env, api, proxy, auditDir, load);
      await c.#prepare();
      return c;
    } catch (e) {
      await env.stop();
      throw e;
    }
  }

  get shared(): ReturnType<typeof describeEnv> {
    return describeEnv(this.env);
  }

  async #prepare(): Promise<void> {
    const env = this.shared;
    // every CRD (not the e2e helper's applyCrds: it applies once per process, and each scenario
    // has its own environment)
    const crds = join(root, "deploy", "crds");
    for (const f of readdirSync(crds).filter((f) => f.endsWith(".yaml")))
      await kubectl(env, ["apply", "-f", join(crds, f)]);
    await kubectl(env, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    for (const f of ["namespace.yaml", "rbac.yaml"])
      await kubectl(env, ["apply", "-f", join(root, "deploy", "manifests", f)]);
    await this.seedVault();
    await this.api.create("/api/v1/namespaces", { metadata: { name: "faults-home" } });
    await this.api.create("/api/v1/namespaces/faults-home/secrets", {
      metadata: { name: "vault-token" },
      stringData: { token: this.env.vault.token },
    });
    await kubectl(
      env,
      ["apply", "-f", "-"],
      `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: faults }
spec:
  provider:
    vault:
      server: ${this.proxy.url}
      path: ${MOUNT}
      version: v2
      auth:
        tokenSecretRef: { name: vault-token, key: token, namespace: faults-home }
`,
    );
    for (let n = 0; n < this.load.namespaces; n++)
      await this.api.create("/api/v1/namespaces", { metadata: { name: `faults-${n}` } });
    // a sealing key made here (the operator finds it in its namespace): SealedSecrets can be
    // sealed before the operator first starts, so a cold sync includes them
    const key = await generateSealingKey({ bits: 2048 });
    await this.api.create("/api/v1/namespaces/custos-system/secrets", keyToSecret(key, "custos-system"));
    this.#sealingCert = key.certificatePem;
    const pub = publicKeyOf(key);
    const docs: string[] = [];
    for (let i = 0; i < this.load.sealedSecrets; i++) {
      const namespace = `faults-${i % this.load.namespaces}`;
      const name = `sealed-${i}`;
      const data = { password: `sealed-value-${i}`, user: `user-${i}` };
      this.sealed.set(`${namespace}/${name}`, data);
      const ss = sealSecret({ metadata: { name, namespace }, stringData: data }, pub, "strict");
      docs.push(JSON.stringify(ss));
    }
    for (let i = 0; i < this.load.deployments; i++) {
      const namespace = `faults-${i % this.load.namespaces}`;
      this.deployments.push(`${namespace}/dep-${i}`);
      docs.push(
        JSON.stringify({
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: `dep-${i}`, namespace, annotations: { "reloader.stakater.com/auto": "true" } },
          spec: {
            selector: { matchLabels: { app: `dep-${i}` } },
            template: {
              metadata: { labels: { app: `dep-${i}` } },
              spec: {
                containers: [
                  {
                    name: "c",
                    image: "busybox",
                    envFrom: [{ secretRef: { name: `es-${i}` } }, { secretRef: { name: `sealed-${i}` } }],
                  },
                ],
              },
            },
          },
        }),
      );
    }
    await this.applyDocs(docs);
  }

  async applyDocs(docs: string[]): Promise<void> {
    for (let i = 0; i < docs.length; i += 200)
      await kubectl(this.shared, ["apply", "-f", "-"], docs.slice(i, i + 200).join("\n---\n"));
  }

  /** (Re)writes every Vault secret with its current value (after a dev server lost its memory). */
  async seedVault(fresh = true): Promise<void> {
    const vault = vaultClient(this.shared);
    if (fresh) {
      const mounts = await vault.call("GET", "sys/mounts");
      if (!(`${MOUNT}/` in mounts.json))
        await vault.call("POST", `sys/mounts/${MOUNT}`, { type: "kv", options: { version: "2" } });
    }
    for (let i = 0; i < this.load.remoteSecrets; i++) {
      const k = `s${i}`;
      if (!this.remote.has(k)) this.remote.set(k, `value-${i}-0`);
      await vault.call("POST", `${MOUNT}/data/${k}`, { data: { v: this.remote.get(k) } });
    }
  }

  async setRemote(key: string, value: string): Promise<void> {
    this.remote.set(key, value);
    await vaultClient(this.shared).call("POST", `${MOUNT}/data/${key}`, { data: { v: value } });
  }

  esDoc(i: number, remote = `s${i % this.load.remoteSecrets}`): string {
    const namespace = `faults-${i % this.load.namespaces}`;
    const name = `es-${i}`;
    const deletionPolicy = POLICIES[i % POLICIES.length]!;
    this.es.set(`${namespace}/${name}`, { namespace, name, remote, deletionPolicy });
    return `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  refreshInterval: ${this.load.refreshSeconds}s
  secretStoreRef: { name: faults, kind: ClusterSecretStore }
  target: { creationPolicy: Owner, deletionPolicy: ${deletionPolicy} }
  data:
  - secretKey: v
    remoteRef: { key: ${remote}, property: v }
`;
  }

  async applyExternalSecrets(from = 0, to = this.load.externalSecrets): Promise<void> {
    const docs: string[] = [];
    for (let i = from; i < to; i++) docs.push(this.esDoc(i));
    await this.applyDocs(docs);
  }

  /** What every managed Secret must hold, from the sources. */
  expected(): SecretContents {
    const out: SecretContents = new Map();
    for (const [key, e] of this.es) out.set(key, { v: this.remote.get(e.remote) ?? "" });
    for (const [key, data] of this.sealed) out.set(key, data);
    return out;
  }

  /** The Secrets of the load's namespaces, values decoded. */
  async actual(): Promise<SecretContents> {
    const list = await this.api.list<{
      metadata: { namespace?: string; name?: string };
      data?: Record<string, string>;
    }>("/api/v1/secrets");
    const out: SecretContents = new Map();
    for (const s of list.items) {
      if (!s.metadata.namespace?.startsWith("faults-") || s.metadata.namespace === "faults-home") continue;
      out.set(
        `${s.metadata.namespace}/${s.metadata.name ?? ""}`,
        Object.fromEntries(
          Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
        ),
      );
    }
    return out;
  }

  /** Ready conditions of the ExternalSecrets: status counts and one sample message per reason. */
  async readiness(): Promise<{ ready: number; notReady: number; samples: Map<string, string> }> {
    const list = await this.api.list<{
      metadata: { namespace?: string; name?: string };
      status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
    }>("/apis/external-secrets.io/v1/externalsecrets");
    let ready = 0;
    let notReady = 0;
    const samples = new Map<string, string>();
    for (const e of list.items) {
      if (!this.es.has(`${e.metadata.namespace ?? ""}/${e.metadata.name ?? ""}`)) continue;
      const c = e.status?.conditions?.find((x) => x.type === "Ready");
      if (c?.status === "True") ready++;
      else {
        notReady++;
        const reason = c ? `${c.status}/${c.reason ?? ""}` : "no condition";
        if (!samples.has(reason)) samples.set(reason, (c?.message ?? "").slice(0, 200));
      }
    }
    return { ready, notReady, samples };
  }

  async converged(): Promise<boolean> {
    const r = await this.readiness();
    if (r.ready !== this.es.size) return false;
    const actual = await this.actual();
    for (const [key, want] of this.expected()) {
      const got = actual.get(key);
      if (
        !got ||
        JSON.stringify(got, Object.keys(got).sort()) !== JSON.stringify(want, Object.keys(want).sort())
      )
        return false;
    }
    return true;
  }

  /** Milliseconds from now until converged, or undefined after the timeout. */
  async waitConverged(timeoutMs: number): Promise<number | undefined> {
    const t0 = Date.now();
    for (;;) {
      try {
        if (await this.converged()) return Date.now() - t0;
      } catch {
        /* the API server may be down */
      }
      if (Date.now() - t0 > timeoutMs) return undefined;
      await sleep(500);
    }
  }

  /** Deployment name -> metadata.generation (each restart bumps it). */
  async generations(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const list = await this.api.list<{
      metadata: { namespace?: string; name?: string; generation?: number };
    }>("/apis/apps/v1/deployments");
    for (const d of list.items)
      out.set(`${d.metadata.namespace ?? ""}/${d.metadata.name ?? ""}`, d.metadata.generation ?? 0);
    return out;
  }

  audit(from = 0, to = Infinity): AuditEvent[] {
    return readAudit(this.auditDir).filter(
      (e) => e.time >= from && e.time < to && this.replicas.some((r) => r.user === e.user),
    );
  }

  /** A ServiceAccount with the manifests' RBAC (ClusterRole custos, the leader-election Role). */
  async #identity(apiUrl?: string): Promise<{ user: string; kubeconfig: string }> {
    const name = `custos-${this.#saSeq++}`;
    const ns = "custos-system";
    await this.api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name } });
    await this.api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: `faults-${name}` },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "custos" },
      subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
    });
    await this.api.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
      metadata: { name: `faults-${name}` },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "custos-leader-election" },
      subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
    });
    const token = (
      await this.api.create<{ status: { token: string } }>(
        `/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`,
        {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: { expirationSeconds: 6 * 3600 },
        },
      )
    ).status.token;
    const kubeconfig = join(this.auditDir, `${name}.kubeconfig`);
    writeFileSync(
      kubeconfig,
      serviceAccountKubeconfig({ ...this.shared, ...(apiUrl ? { apiUrl } : {}) }, token),
    );
    return { user: `system:serviceaccount:${ns}:${name}`, kubeconfig };
  }

  /**
   * Starts an operator replica (a real process) under the supervisor; `apiUrl`: the API server
   * address it is given (a proxy in front of the real one), default the real one.
   */
  async startReplica(extra: string[] = [], apiUrl?: string): Promise<Replica> {
    const { user, kubeconfig } = await this.#identity(apiUrl);
    const r: Replica = {
      name: `replica-${this.replicas.length}`,
      user,
      proc: undefined,
      crashes: 0,
      kills: 0,
      args: extra,
      kubeconfig,
      stopping: false,
      outputs: [],
    };
    this.replicas.push(r);
    await this.#launch(r);
    return r;
  }

  async #launch(r: Replica): Promise<void> {
    const sealingPort = await freePort();
    // (on this shared 2-core machine an operator has taken over a minute to start: 5 minutes)
    const proc = await startOperator(
      this.shared,
      [
        "--kubeconfig",
        r.kubeconfig,
        "--log-level",
        "warn",
        "--concurrent",
        "8",
        "--sealed-secrets-namespace",
        "custos-system",
        "--sealing-port",
        String(sealingPort),
        "--sealing-bind-address",
        "127.0.0.1",
        ...r.args,
      ],
      {},
      undefined,
      300_000,
    );
    r.proc = proc;
    proc.child.once("exit", () => {
      r.outputs.push(proc.output());
      if (r.stopping || r.proc !== proc) return;
      if (proc.child.signalCode === "SIGKILL" && r.kills > 0 && killedByHarness.has(proc)) return;
      r.crashes++;
      process.stderr.write(`faults: ${r.name} exited by itself:\n${proc.output().slice(-2000)}\n`);
      // a Deployment restarts a crashed pod (after a back-off; 1 s here)
      setTimeout(() => {
        if (!r.stopping && r.proc === proc) void this.#launch(r).catch(() => undefined);
      }, 1000);
    });
  }

  /** SIGKILL of a replica; `restart` starts it again at once (as the kubelet would). */
  async killReplica(r: Replica, restart = true): Promise<void> {
    const proc = r.proc;
    if (!proc) return;
    r.kills++;
    killedByHarness.add(proc);
    const exited = new Promise<void>((res) => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) res();
      else proc.child.once("exit", () => res());
    });
    proc.child.kill("SIGKILL");
    await exited;
    if (restart) await this.#launch(r);
    else r.proc = undefined;
  }

  async restartReplica(r: Replica): Promise<void> {
    await this.#launch(r);
  }

  pauseReplica(r: Replica, pause: boolean): void {
    r.proc?.child.kill(pause ? "SIGSTOP" : "SIGCONT");
  }

  get operatorRestarts(): number {
    return this.replicas.reduce((n, r) => n + r.crashes, 0);
  }

  /** RSS of every running replica, MiB. */
  rss(): number {
    let total = 0;
    for (const r of this.replicas) {
      const pid = r.proc?.child.pid;
      if (!pid) continue;
      try {
        total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
      } catch {
        /* gone */
      }
    }
    return total;
  }

  /** The Vault dev server's unseal key (printed in its log at start). */
  vaultUnsealKey(): string {
    const log = readFileSync(this.env.control!.log("vault"), "utf8");
    const m = /Unseal Key: (\S+)/.exec(log);
    if (!m) throw new Error("no unseal key in the Vault log");
    return m[1]!;
  }

  async vaultSealed(): Promise<boolean> {
    const res = await request(`${this.env.vault.addr}/v1/sys/seal-status`);
    return ((await res.body.json()) as { sealed: boolean }).sealed;
  }

  get sealingCert(): string {
    return this.#sealingCert;
  }

  /** Keeps the operators' output (warnings and errors) for a look after the run. */
  saveLogs(dir: string, scenario: string): void {
    mkdirSync(dir, { recursive: true });
    const slug = scenario.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
    for (const r of this.replicas)
      writeFileSync(join(dir, `${slug}.${r.name}.log`), [...r.outputs, r.proc?.output() ?? ""].join("\n"));
  }

  async stop(): Promise<void> {
    for (const r of this.replicas) {
      r.stopping = true;
      if (r.proc && r.proc.child.signalCode === "SIGSTOP") r.proc.child.kill("SIGCONT");
      await r.proc?.stop().catch(() => r.proc?.child.kill("SIGKILL"));
    }
    await this.proxy.stop();
    await this.env.stop();
    rmSync(this.auditDir, { recursive: true, force: true });
  }
}

const killedByHarness = new WeakSet<OperatorProcess>();

/** etcd's current revision and a compaction at it (through etcd's JSON gateway). */
export async function compactEtcd(etcdUrl: string): Promise<number> {
  const res = await request(`${etcdUrl}/v3/kv/range`, {
    method: "POST",
    body: JSON.stringify({ key: Buffer.from("/").toString("base64") }),
  });
  const body = (await res.body.json()) as { header: { revision: string } };
  const revision = Number(body.header.revision);
  const c = await request(`${etcdUrl}/v3/kv/compaction`, {
    method: "POST",
    body: JSON.stringify({ revision: String(revision), physical: true }),
  });
  const text = await c.body.text();
  if (c.statusCode >= 300) throw new Error(`etcd compaction: ${c.statusCode} ${text}`);
  return revision;
}
