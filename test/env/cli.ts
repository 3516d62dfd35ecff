/**
 * npm run env -- up [--env-file FILE] [--only kube,vault,moto,postgres]
 *
 * Starts the real local environment and prints shell `export` lines for it; with --env-file, also
 * writes them to FILE once everything is ready. Stays in the foreground until Ctrl-C / SIGTERM,
 * then tears everything down.  Use it from another shell:  source FILE; kubectl get ns
 *
 * npm run env -- build [tool...]   builds (or finds cached) tools without starting anything.
 */
import { writeFileSync, rmSync } from "node:fs";
import { startEnv, ensureTool, type Component } from "./index.ts";

const [command, ...rest] = process.argv.slice(2);

function flag(name: string): string | undefined {
  const eq = rest.find((a) => a.startsWith(`${name}=`));
  if (eq) return eq.slice(name.length + 1);
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

if (command === "up") {
  const envFile = flag("--write-env-file"); // --env-file, renamed by env.sh
  const only = flag("--only")?.split(",") as Component[] | undefined;
  const t0 = Date.now();
  const env = await startEnv({ verbose: true, ...(only ? { components: only } : {}) });
  const lines = [
    env.kubeconfig ? `export KUBECONFIG=${shellQuote(env.kubeconfig)}` : "",
    env.vault ? `export VAULT_ADDR=${shellQuote(env.vault.addr)}` : "",
    env.vault ? `export VAULT_TOKEN=${shellQuote(env.vault.token)}` : "",
    env.aws ? `export AWS_ENDPOINT_URL=${shellQuote(env.aws.endpoint)}` : "",
    env.aws ? `export AWS_REGION=${shellQuote(env.aws.region)}` : "",
    env.aws ? `export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test` : "",
    env.postgres
      ? `export PGHOST=${env.postgres.host} PGPORT=${env.postgres.port} PGUSER=${env.postgres.user} PGPASSWORD=${shellQuote(env.postgres.password)}`
      : "",
    env.bin.dir ? `export PATH=${shellQuote(env.bin.dir)}:"$PATH"` : "",
  ].filter(Boolean);
  process.stdout.write(lines.join("\n") + "\n");
  if (envFile) writeFileSync(envFile, lines.join("\n") + "\n");
  process.stderr.write(`custos env: ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; Ctrl-C to stop\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write("custos env: stopping\n");
    void env.stop().then(() => {
      if (envFile) rmSync(envFile, { force: true });
      process.exit(0);
    });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  setInterval(() => undefined, 1 << 30);
} else if (command === "build") {
  const tools = rest.length ? rest : ["kubernetes", "etcd", "vault", "moto", "postgresql"];
  for (const t of tools)
    process.stdout.write(`${t}: ${await ensureTool(t as Parameters<typeof ensureTool>[0])}\n`);
} else {
  process.stderr.write(
    "usage: npm run env -- up [--env-file FILE] [--only kube,controller-manager,vault,moto,postgres]\n       npm run env -- build [kubernetes etcd vault moto postgresql kubeseal helm]\n",
  );
  process.exit(2);
}
