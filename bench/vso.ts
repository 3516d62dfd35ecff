/**
 * Benchmark: N VaultStaticSecrets (default 1,000) in 10 namespaces over 50 distinct Vault KV paths,
 * all through one VaultAuth (AppRole, credentials in each secret's namespace, as VSO reads them).
 *   - time from operator start (cold) until every VaultStaticSecret is synced
 *   - Vault requests (Vault's audit log) and Secret writes per refresh period, against what VSO
 *     makes (one read per object per refresh: N per 0.8-0.9 × refreshAfter)
 * Usage: npx tsx bench/vso.ts [N] [refreshAfterSeconds]
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
const auditDir = mkdtempSync(join(tmpdir(), "custos-bench-vso-"));
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
  await vault.call("POST", "sys/auth/approle", { type: "approle" });
  await vault.call("PUT", "sys/policies/acl/bench", {
    policy: `path "${mount}/*" { capabilities = ["read"] }`,
  });
  await vault.call("POST", "auth/approle/role/bench", { token_policies: ["bench"], token_ttl: "1h" });
  const roleId = (
    (await vault.call("GET", "auth/approle/role/bench/role-id")).json.data as { role_id: string }
  ).role_id;
  const secretId = (
    (await vault.call("POST", "auth/approle/role/bench/secret-id", {})).json.data as { secret_id: string }
  ).secret_id;
  for (const ns of ["custos-system", "bench-home"])
    await api.create("/api/v1/namespaces", { metadata: { name: ns } }).catch(() => undefined);
  await kubectl(
    env,
    ["apply", "-f", "-"],
    `apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultConnection
metadata: { name: default, namespace: custos-system }
spec: { address: "${env.vault.addr}" }
---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultAuth
metadata: { name: bench, namespace: bench-home }
spec:
  method: appRole
  mount: approle
  allowedNamespaces: ["*"]
  appRole: { roleId: ${roleId}, secretRef: approle }
`,
  );
  for (let n = 0; n < NAMESPACES; n++) {
    await api.create("/api/v1/namespaces", { metadata: { name: `bench-${n}` } });
    await api.create(`/api/v1/namespaces/bench-${n}/secrets`, {
      metadata: { name: "approle" },
      stringData: { id: secretId },
    });
  }
  const docs: string[] = [];
  for (let i = 0; i < N; i++)
    docs.push(`apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultStaticSecret
metadata: { name: vss-${i}, namespace: bench-${i % NAMESPACES} }
spec:
  vaultAuthRef: bench-home/bench
  type: kv-v2
  mount: ${mount}
  path: s${i % DISTINCT}
  refreshAfter: ${REFRESH}s
  destination: { name: vss-${i}, create: true }
`);
  for (let i = 0; i < docs.length; i += 200)
    await kubectl(env, ["apply", "-f", "-"], docs.slice(i, i + 200).join("---\n"));
  const audit = (): { requests: number; reads: number; logins: number } => {
    const lines = existsSync(join(auditDir, "audit.log"))
      ? readFileSync(join(auditDir, "audit.log"), "utf8")
          .split("\n")
          .filter((l) => l.includes('"type":"request"'))
      : [];
    return {
      requests: lines.length,
      reads: lines.filter((l) => l.includes(`"path":"${mount}/data/`)).length,
      logins: lines.filter((l) => l.includes('"path":"auth/approle/login"')).length,
    };
  };
  const t0 = Date.now();
  const op = await startOperator(env, [
    "--controllers",
    "vso",
    "--operator-namespace",
    "custos-system",
    "--concurrent",
    "8",
    "--log-level",
    "warn",
  ]);
  const syncedCount = async (): Promise<number> => {
    const list = await api.list<{ status?: { conditions?: { type: string; status: string }[] } }>(
      "/apis/secrets.hashicorp.com/v1beta1/vaultstaticsecrets",
    );
    return list.items.filter((e) =>
      e.status?.conditions?.some((c) => c.type === "SecretSynced" && c.status === "True"),
    ).length;
  };
  while ((await syncedCount()) < N) await sleep(250);
  const coldMs = Date.now() - t0;
  const atReady = audit();
  const writes = async (): Promise<number> =>
    [...(await op.metrics()).matchAll(/^custos_secret_writes_total\{[^}]*\} (\d+)/gm)].reduce(
      (a, x) => a + Number(x[1]),
      0,
    );
  const w0 = await writes();
  const a0 = audit();
  const periods = 2;
  await sleep(periods * REFRESH * 1000);
  const a1 = audit();
  const result = {
    vaultStaticSecrets: N,
    distinctPaths: DISTINCT,
    refreshAfterSeconds: REFRESH,
    coldStartToAllSyncedSeconds: +(coldMs / 1000).toFixed(1),
    vaultRequestsDuringColdStart: atReady,
    vaultReadsPerRefreshAfter: +((a1.reads - a0.reads) / periods).toFixed(1),
    vaultLoginsPerRefreshAfter: +((a1.logins - a0.logins) / periods).toFixed(1),
    vsoReadsPerRefreshAfter: +(N / 0.85).toFixed(0),
    secretWritesPerRefreshAfter: ((await writes()) - w0) / periods,
    runId: suffix(),
  };
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  await op.stop();
} finally {
  await full.stop();
  rmSync(auditDir, { recursive: true, force: true });
}
