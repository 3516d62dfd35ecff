/**
 * `npm run demo`: the quick start. Starts a real API server and Vault on this machine, runs the
 * Custos operator against them, and walks through document 000's flow:
 * a secret in Vault -> an ExternalSecret with JWT auth -> a Kubernetes Secret -> a rotation.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { request } from "undici";
import { startEnv, type TestEnv } from "../test/env/index.ts";

const root = join(import.meta.dirname, "..");
const examples = join(root, "..", "shared", "examples", "seed-000-eso-vault-jwt");
const run = promisify(execFile);
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (n: number, s: string): void => {
  process.stdout.write(`\n${bold(`${n}. ${s}`)}\n`);
};
const say = (s: string): void => {
  process.stdout.write(`   ${s}\n`);
};

async function vault(env: TestEnv, method: string, path: string, body?: unknown): Promise<void> {
  const res = await request(`${env.vault.addr}/v1/${path}`, {
    method: method as "POST",
    headers: { "x-vault-token": env.vault.token },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`vault ${method} ${path}: ${res.statusCode} ${text}`);
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The manifests of the example, as files, with the Vault address of this machine. */
function manifest(file: string, env: TestEnv): string {
  return readFileSync(join(examples, file), "utf8").replace("http://127.0.0.1:8200", env.vault.addr);
}

const t0 = Date.now();
step(1, "Starting a real kube-apiserver, etcd, kube-controller-manager and Vault on loopback");
say("(the first run builds them from their Go modules; later runs reuse ~/.cache/custos)");
const env = await startEnv({ components: ["kube", "controller-manager", "vault"] });
const work = mkdtempSync(join(tmpdir(), "custos-demo-"));
let operator: ReturnType<typeof spawn> | undefined;
const cleanup = async (): Promise<void> => {
  operator?.kill("SIGTERM");
  await env.stop();
  rmSync(work, { recursive: true, force: true });
};
process.once("SIGINT", () => void cleanup().then(() => process.exit(130)));
say(
  `ready in ${((Date.now() - t0) / 1000).toFixed(1)} s — API server ${env.apiUrl}, Vault ${env.vault.addr}`,
);

const kubectl = async (...args: string[]): Promise<string> =>
  (await run(env.bin.kubectl, ["--kubeconfig", env.kubeconfig, ...args])).stdout;

try {
  step(2, "Vault: a KV v2 secret, then `custos vault setup` for JWT auth, the policy and the role");
  await vault(env, "POST", "sys/mounts/kv-v2", { type: "kv", options: { version: "2" } });
  await vault(env, "POST", "kv-v2/data/kubernetes/supersecret/test-secret", {
    data: { username_on_vault: "alice", password: "s3cr3t" },
  });
  say("vault kv put kv-v2/kubernetes/supersecret/test-secret username_on_vault=alice password=…");
  // document 000's manifests, as files: vault setup reads the auth, role and paths from them
  for (const f of ["serviceaccount.yaml", "secretstore.yaml", "externalsecret.yaml"])
    writeFileSync(join(work, f), manifest(f, env));
  const setup = await run(
    process.execPath,
    [
      "--import",
      "tsx",
      join(root, "src/cli/main.ts"),
      "vault",
      "setup",
      "--kubeconfig",
      env.kubeconfig,
      "-f",
      work,
      "-n",
      "default",
    ],
    { env: { ...process.env, VAULT_ADDR: env.vault.addr, VAULT_TOKEN: env.vault.token } },
  );
  say("custos vault setup -f <document 000's manifests> -n default");
  for (const line of setup.stdout.trim().split("\n")) say(`  ${line}`);

  step(3, "Kubernetes: install the CRDs (external-secrets.io v1 + v1beta1) and start `custos operator`");
  for (const f of readdirSync(join(root, "deploy", "crds")).filter((f) => f.endsWith(".yaml"))) {
    await kubectl("apply", "-f", join(root, "deploy", "crds", f));
  }
  await kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s");
  const logFile = join(work, "operator.log");
  const log = createWriteStream(logFile);
  operator = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(root, "src/cli/main.ts"),
      "operator",
      "--kubeconfig",
      env.kubeconfig,
      "--metrics-port",
      "0",
      "--log-format",
      "text",
      "--controllers",
      "externalsecret",
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  operator.stdout?.pipe(log);
  operator.stderr?.pipe(log);
  say(`operator running (logs: ${logFile})`);

  step(
    4,
    "Apply document 000's manifests unchanged (ServiceAccount, SecretStore with JWT auth, ExternalSecret v1beta1)",
  );
  for (const f of ["serviceaccount.yaml", "secretstore.yaml", "externalsecret.yaml"]) {
    say((await kubectl("apply", "-n", "default", "-f", join(work, f))).trim());
  }

  step(5, "Custos logs in once with a TokenRequest token and writes the Secret");
  const first = await until("the Secret", async () => {
    const out = await kubectl(
      "get",
      "secret",
      "vault-secret-name",
      "-n",
      "default",
      "-o",
      "jsonpath={.data.username}",
    );
    return out ? Buffer.from(out, "base64").toString() : undefined;
  });
  say(`kubectl get secret vault-secret-name -> username=${first}`);
  say(
    (await kubectl("get", "externalsecret", "external-secret-example", "-n", "default"))
      .trim()
      .split("\n")
      .join("\n   "),
  );

  step(6, "Rotate in Vault, then force a sync the way ESO users do (annotate the ExternalSecret)");
  await vault(env, "POST", "kv-v2/data/kubernetes/supersecret/test-secret", {
    data: { username_on_vault: "bob", password: "n3w" },
  });
  say("vault kv put ... username_on_vault=bob");
  await kubectl(
    "annotate",
    "externalsecret",
    "external-secret-example",
    "-n",
    "default",
    `force-sync=${Date.now()}`,
    "--overwrite",
  );
  const second = await until("the rotated value", async () => {
    const out = await kubectl(
      "get",
      "secret",
      "vault-secret-name",
      "-n",
      "default",
      "-o",
      "jsonpath={.data.username}",
    );
    const v = out ? Buffer.from(out, "base64").toString() : undefined;
    return v === "bob" ? v : undefined;
  });
  say(`kubectl get secret vault-secret-name -> username=${second}`);

  step(7, "Done");
  say(`whole demo in ${((Date.now() - t0) / 1000).toFixed(1)} s; tearing everything down`);
} catch (e) {
  process.stderr.write(`\ndemo failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
