/**
 * Benchmark: the CSI provider (`custos csi-provider`, a separate process) with P pods' volumes
 * (default 500) in 10 namespaces, each volume three files from 20 distinct Vault secrets, mounted
 * over its unix socket by a driver-side client (test/integration/csi/driver.ts), C at a time.
 *   - mounts per second: cold (first mount of every pod: logins and reads) and warm (remounts, as
 *     rotation does, within the read window)
 *   - Vault logins and reads (the provider's own call metrics), provider RSS
 * Usage: npx tsx bench/csi.ts [P] [C]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { startEnv } from "../test/env/index.ts";
import { describeEnv } from "../test/env/shared.ts";
import { applyCrds, kubectl, sleep, vaultClient } from "../test/e2e/helpers.ts";
import { DriverClient, type PodRef } from "../test/integration/csi/driver.ts";
import { KubeApi } from "../src/kube/api.ts";

const P = Number(process.argv[2] ?? 500);
const C = Number(process.argv[3] ?? 50);
const NAMESPACES = 10;
const DISTINCT = 20;
const root = join(import.meta.dirname, "..");

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const full = await startEnv({ components: ["kube", "vault"] });
const env = describeEnv(full);
const api = KubeApi.fromDefault(env.kubeconfig);
const vault = vaultClient(env);
const dir = mkdtempSync(join(tmpdir(), "custos-bench-csi-"));
let child: ReturnType<typeof spawn> | undefined;
try {
  await applyCrds(env);
  await vault.call("POST", "sys/mounts/bench", { type: "kv", options: { version: "2" } });
  for (let i = 0; i < DISTINCT; i++)
    await vault.call("POST", `bench/data/s${i}`, { data: { user: `user-${i}`, password: `password-${i}` } });
  await vault.call("PUT", "sys/policies/acl/bench", {
    policy: 'path "bench/data/*" { capabilities = ["read"] }',
  });
  await api.create("/api/v1/namespaces", { metadata: { name: "bench-sys" } });
  await api.create("/api/v1/namespaces/bench-sys/serviceaccounts", { metadata: { name: "reviewer" } });
  await api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    metadata: { name: "bench-reviewer" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
    subjects: [{ kind: "ServiceAccount", name: "reviewer", namespace: "bench-sys" }],
  });
  const reviewer = await api.create<{ status: { token: string } }>(
    "/api/v1/namespaces/bench-sys/serviceaccounts/reviewer/token",
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
  );
  await vault.call("POST", "sys/auth/kubernetes", { type: "kubernetes" });
  await vault.call("POST", "auth/kubernetes/config", {
    kubernetes_host: env.apiUrl,
    kubernetes_ca_cert: env.caPem,
    token_reviewer_jwt: reviewer.status.token,
  });
  const namespaces = Array.from({ length: NAMESPACES }, (_, n) => `bench-${n}`);
  await vault.call("POST", "auth/kubernetes/role/app", {
    bound_service_account_names: ["app"],
    bound_service_account_namespaces: namespaces,
    audience: "vault",
    token_policies: ["bench"],
    token_ttl: "1h",
  });
  for (const ns of namespaces) {
    await api.create("/api/v1/namespaces", { metadata: { name: ns } });
    await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "app" } });
    await kubectl(
      env,
      ["apply", "-n", ns, "-f", "-"],
      `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: vault }
spec:
  provider:
    vault:
      server: ${env.vault.addr}
      path: bench
      version: v2
      auth: { kubernetes: { role: app } }
`,
    );
  }
  const pods: { pod: PodRef; i: number }[] = [];
  const t0 = Date.now();
  await pool(
    Array.from({ length: P }, (_, i) => i),
    20,
    async (i) => {
      const ns = namespaces[i % NAMESPACES]!;
      const name = `p-${i}`;
      const p = await api.create<{ metadata: { uid: string } }>(`/api/v1/namespaces/${ns}/pods`, {
        metadata: { name },
        spec: { serviceAccountName: "app", containers: [{ name: "c", image: "example.invalid/app" }] },
      });
      const t = await api.create<{ status: { token: string } }>(
        `/api/v1/namespaces/${ns}/serviceaccounts/app/token`,
        {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: {
            audiences: ["vault"],
            expirationSeconds: 3600,
            boundObjectRef: { apiVersion: "v1", kind: "Pod", name, uid: p.metadata.uid },
          },
        },
      );
      pods.push({
        i,
        pod: {
          name,
          namespace: ns,
          uid: p.metadata.uid,
          serviceAccountName: "app",
          tokens: { vault: t.status.token },
        },
      });
    },
  );
  process.stderr.write(`${P} pods and tokens in ${Date.now() - t0} ms\n`);

  const port = 18000 + Math.floor(Math.random() * 2000);
  child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(root, "src/cli/main.ts"),
      "csi-provider",
      "--kubeconfig",
      env.kubeconfig,
      "--socket-dir",
      dir,
      "--metrics-port",
      String(port),
      "--metrics-bind-address",
      "127.0.0.1",
      "--log-level",
      "warn",
    ],
    { stdio: ["ignore", "inherit", "inherit"], cwd: root },
  );
  for (let i = 0; ; i++) {
    try {
      const res = await request(`http://127.0.0.1:${port}/readyz`);
      await res.body.dump();
      if (res.statusCode === 200) break;
    } catch {
      /* not yet */
    }
    if (i > 600) throw new Error("provider not ready");
    await sleep(100);
  }
  const rss = (): number =>
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child!.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  const calls = async (): Promise<Record<string, number>> => {
    const text = await (await request(`http://127.0.0.1:${port}/metrics`)).body.text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^externalsecret_provider_api_calls_count\{([^}]*)\} (\d+)/gm)) {
      const call = /call="([^"]+)"/.exec(m[1]!)?.[1] ?? "?";
      const status = /status="([^"]+)"/.exec(m[1]!)?.[1] ?? "?";
      out[`${call}:${status}`] = (out[`${call}:${status}`] ?? 0) + Number(m[2]);
    }
    return out;
  };
  const driver = new DriverClient(join(dir, "custos.sock"));
  const rssIdle = rss();
  const round = async (): Promise<{ ms: number; perSecond: number; failures: number }> => {
    let failures = 0;
    const start = process.hrtime.bigint();
    await pool(pods, C, async ({ pod, i }) => {
      const objects = [0, 1, 2]
        .map(
          (k) => `- { fileName: f${k}, remoteRef: { key: s${(i + k * 7) % DISTINCT}, property: password } }`,
        )
        .join("\n");
      try {
        const res = await driver.mount({ secretStoreRef: "{name: vault}", objects }, pod);
        if (res.files.length !== 3) failures++;
      } catch {
        failures++;
      }
    });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    return { ms: Math.round(ms), perSecond: Math.round((pods.length / ms) * 1000), failures };
  };
  const cold = await round();
  const afterCold = await calls();
  const rssCold = rss();
  const warm = await round();
  const afterWarm = await calls();
  const rssWarm = rss();
  driver.close();
  process.stdout.write(
    `${JSON.stringify(
      {
        pods: P,
        concurrency: C,
        namespaces: NAMESPACES,
        filesPerVolume: 3,
        distinctSecrets: DISTINCT,
        cold,
        warm,
        vaultCallsAfterCold: afterCold,
        vaultCallsAfterWarm: afterWarm,
        providerRssMiB: {
          idle: Math.round(rssIdle),
          afterCold: Math.round(rssCold),
          afterWarm: Math.round(rssWarm),
        },
      },
      null,
      2,
    )}\n`,
  );
} finally {
  if (child && child.exitCode === null) {
    child.kill("SIGTERM");
    await new Promise((r) => child!.once("exit", r));
  }
  await full.stop();
  rmSync(dir, { recursive: true, force: true });
}
