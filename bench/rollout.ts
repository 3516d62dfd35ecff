/**
 * Benchmark: median time from a Secret data update to the workload patch, over 100 changes
 * (real API server, rollout controller in-process, env-vars strategy, default 1 s coalescing
 * window lowered to 0 to measure the controller itself).
 * Usage: npx tsx bench/rollout.ts [changes] [coalesceMs]
 */
import { startEnv } from "../test/env/index.ts";
import { KubeApi } from "../src/kube/api.ts";
import { RolloutController } from "../src/controllers/rollout/controller.ts";
import { silentLogger } from "../src/util/log.ts";

const N = Number(process.argv[2] ?? 100);
const COALESCE = Number(process.argv[3] ?? 0);
const env = await startEnv({ components: ["kube"] });
try {
  const api = KubeApi.fromDefault(env.kubeconfig);
  const ns = "bench-rollout";
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  await api.create(`/api/v1/namespaces/${ns}/secrets`, { metadata: { name: "s" }, stringData: { v: "0" } });
  await api.create(`/apis/apps/v1/namespaces/${ns}/deployments`, {
    metadata: { name: "w", annotations: { "reloader.stakater.com/auto": "true" } },
    spec: {
      selector: { matchLabels: { app: "w" } },
      template: {
        metadata: { labels: { app: "w" } },
        spec: { containers: [{ name: "c", image: "x", envFrom: [{ secretRef: { name: "s" } }] }] },
      },
    },
  });
  const ctl = new RolloutController({
    api,
    log: silentLogger,
    namespace: ns,
    strategy: "env-vars",
    coalesceMs: COALESCE,
  });
  await ctl.start();
  const times: number[] = [];
  for (let i = 1; i <= N; i++) {
    const t0 = performance.now();
    const before = (
      await api.get<{ metadata: { generation: number } }>(`/apis/apps/v1/namespaces/${ns}/deployments/w`)
    ).metadata.generation;
    await api.mergePatch(`/api/v1/namespaces/${ns}/secrets/s`, { stringData: { v: String(i) } });
    for (;;) {
      const g = (
        await api.get<{ metadata: { generation: number } }>(`/apis/apps/v1/namespaces/${ns}/deployments/w`)
      ).metadata.generation;
      if (g > before) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const pct = (p: number): number =>
    +times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(1);
  process.stdout.write(
    JSON.stringify(
      { changes: N, coalesceMs: COALESCE, medianMs: pct(0.5), p90Ms: pct(0.9), maxMs: pct(1) },
      null,
      2,
    ) + "\n",
  );
  await ctl.stop();
} finally {
  await env.stop();
}
