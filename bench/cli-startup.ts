/**
 * Benchmark: start-up cost of CLI commands, as a user runs them (the compiled CLI: bin/custos.js
 * over dist/, built in a copy of the checkout by the "prepare" script, as `npm ci` leaves it).
 * Median over N runs of wall time and maximum RSS (GNU time's %M) of:
 *   node -e ''                      Node's own start-up, the floor
 *   custos --help
 *   custos seal --cert              a one-key Secret, 4096-bit certificate
 *   kubeseal --cert                 the same, with the real kubeseal (when built: test/env/build.sh kubeseal)
 *   custos render --values          one ExternalSecret, offline
 * Usage: npm run bench -- cli-startup [runs]   (default 11)
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { generateSealingKey } from "../src/sealing/keys.ts";
import { copyCheckout } from "../scripts/checkout-copy.ts";

const runs = Number(process.argv[2] ?? 11);
const GNU_TIME = "/usr/bin/time";

function kubesealBinary(): string | undefined {
  const cache = join(homedir(), ".cache", "custos");
  if (!existsSync(cache)) return undefined;
  const dir = readdirSync(cache)
    .filter((d) => d.startsWith("kubeseal-"))
    .sort()
    .pop();
  const bin = dir && join(cache, dir, "bin", "kubeseal");
  return bin && existsSync(bin) ? bin : undefined;
}

interface Sample {
  ms: number;
  maxRssKiB: number | undefined;
}

/** One run: wall time from here, max RSS from GNU time (when installed). */
function once(cmd: string, args: string[], cwd: string, input?: string): Sample {
  const timed = existsSync(GNU_TIME);
  const t0 = performance.now();
  const r = spawnSync(timed ? GNU_TIME : cmd, timed ? ["-f", "%M", cmd, ...args] : args, {
    cwd,
    input: input ?? "",
    encoding: "utf8",
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  const rss = timed ? Number(r.stderr.trim().split("\n").pop()) : undefined;
  return { ms, maxRssKiB: Number.isFinite(rss) ? rss : undefined };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const copy = copyCheckout("custos-bench-");
try {
  if (copy.prepare("ignore") !== 0) throw new Error("building dist/ (the prepare script) failed");
  const dir = copy.dir;
  const key = await generateSealingKey();
  writeFileSync(join(dir, "cert.pem"), key.certificatePem);
  const secret = stringify({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "db", namespace: "app" },
    stringData: { password: "a 32-byte database password value" },
  });
  writeFileSync(join(dir, "secret.yaml"), secret);
  writeFileSync(
    join(dir, "es.yaml"),
    stringify({
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name: "db", namespace: "app" },
      spec: {
        secretStoreRef: { name: "vault" },
        data: [{ secretKey: "password", remoteRef: { key: "app/db", property: "password" } }],
      },
    }),
  );
  writeFileSync(
    join(dir, "values.yaml"),
    stringify({ "app/db": { password: "a 32-byte database password value" } }),
  );

  const node = process.execPath;
  const custos = join(dir, "bin", "custos.js");
  const cases: { name: string; cmd: string; args: string[]; input?: string }[] = [
    { name: "node -e ''", cmd: node, args: ["-e", ""] },
    { name: "custos --help", cmd: node, args: [custos, "--help"] },
    {
      name: "custos seal --cert (one key)",
      cmd: node,
      args: [custos, "seal", "--cert", "cert.pem", "-f", "secret.yaml"],
    },
  ];
  const kubeseal = kubesealBinary();
  if (kubeseal)
    cases.push({
      name: "kubeseal --cert (one key)",
      cmd: kubeseal,
      args: ["--cert", "cert.pem", "--format", "yaml"],
      input: secret,
    });
  cases.push({
    name: "custos render --values (offline)",
    cmd: node,
    args: [custos, "render", "-f", "es.yaml", "--values", "values.yaml"],
  });

  const results = [];
  for (const c of cases) {
    once(c.cmd, c.args, dir, c.input); // warm the file cache
    const samples = Array.from({ length: runs }, () => once(c.cmd, c.args, dir, c.input));
    const rss = samples.map((s) => s.maxRssKiB).filter((x): x is number => x !== undefined);
    results.push({
      command: c.name,
      medianMs: +median(samples.map((s) => s.ms)).toFixed(1),
      minMs: +Math.min(...samples.map((s) => s.ms)).toFixed(1),
      medianMaxRssMiB: rss.length ? +(median(rss) / 1024).toFixed(1) : null,
    });
  }
  process.stdout.write(
    `${JSON.stringify(
      {
        runs,
        node: process.version,
        kubeseal: kubeseal ?? "not built (test/env/build.sh kubeseal)",
        target: "custos seal of one key within 150 ms and 60 MiB",
        results,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  copy.remove();
}
