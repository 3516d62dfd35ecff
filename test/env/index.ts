/**
 * The real local environment: etcd + kube-apiserver + kube-controller-manager, a Vault dev server,
 * moto and PostgreSQL, built from their registries (see build.sh; PostgreSQL is Debian's package)
 * and started on free loopback ports.
 *
 *   const env = await startEnv();
 *   ... env.kubeconfig, env.vault.addr, env.aws.endpoint ...
 *   await env.stop();
 *
 * Every server runs under guard.sh, whose stdin is a pipe held by this process: when this process
 * ends in any way, the servers end too. `stop()` also removes the temporary directory.
 */
import { spawn, execFile, execFileSync, spawnSync, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  cpSync,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Agent, request } from "undici";

const here = dirname(fileURLToPath(import.meta.url));
const execFileP = promisify(execFile);

export type Component = "kube" | "controller-manager" | "vault" | "moto" | "postgres";

export interface EnvOptions {
  /** What to start; default: everything. */
  components?: Component[];
  /** Print server logs' locations and progress to stderr. */
  verbose?: boolean;
  /** Extra kube-apiserver flags (e.g. an audit log for the fault suite). */
  apiServerArgs?: string[];
}

/** A server of the environment, by the name of its process. */
export type ServerName =
  "etcd" | "kube-apiserver" | "kube-controller-manager" | "vault" | "moto" | "postgres";

/** Fault injection on the real processes (the fault suite, faults/). */
export interface EnvControl {
  /** Signals the server's process group (guard.sh and the server); with SIGKILL, waits until it is gone. */
  signal(name: ServerName, signal: NodeJS.Signals): Promise<void>;
  /** Starts a stopped server again with the same flags, ports and data directory; resolves once ready. */
  restart(name: ServerName): Promise<void>;
  /** The server's log file (a restart starts a new one). */
  log(name: ServerName): string;
}

export interface TestEnv {
  /** Path of an admin kubeconfig (token auth, cluster CA). */
  kubeconfig: string;
  apiUrl: string;
  caPem: string;
  /** Admin bearer token (member of system:masters). */
  adminToken: string;
  /** PEM of the service-account signing public key (what Vault's JWT auth verifies with). */
  serviceAccountPublicKeyPem: string;
  /** The service-account issuer URL in tokens' `iss`. */
  serviceAccountIssuer: string;
  vault: { addr: string; token: string };
  aws: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  /**
   * A PostgreSQL server on 127.0.0.1 (password auth for TCP): superuser `user`/`password`, database
   * `postgres`. `bin` holds psql; `env` is what its programs need (LD_LIBRARY_PATH for a download).
   */
  postgres?: {
    host: string;
    port: number;
    user: string;
    password: string;
    version: string;
    bin: string;
    env: Record<string, string>;
  };
  versions: Record<string, string>;
  bin: { dir: string; kubectl: string; vault: string };
  /** Directory holding logs and state; removed by stop(). */
  dir: string;
  /** etcd's client URL. */
  etcdUrl?: string;
  /** Not serialised for test processes (see describeEnv). */
  control?: EnvControl;
  stop(): Promise<void>;
}

export function readVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(here, "versions.env"), "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Builds (once, cached) or finds a tool; returns its install directory. */
export async function ensureTool(
  tool:
    | "kubernetes"
    | "etcd"
    | "vault"
    | "moto"
    | "kubeseal"
    | "helm"
    | "secrets-store-csi-driver"
    | "eso"
    | "vso"
    | "postgresql",
): Promise<string> {
  const run = execFileP("bash", [join(here, "build.sh"), tool], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60 * 60 * 1000,
  });
  // progress lines ("building ... once") are shown as they come: a first build takes minutes
  run.child.stderr?.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n"))
      if (line.startsWith("custos test env:")) process.stderr.write(`${line}\n`);
  });
  try {
    const { stdout } = await run;
    return stdout.trim().split("\n").pop()!;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const tail = (err.stderr ?? "").trim().split("\n").slice(-15).join("\n");
    throw new Error(`could not build ${tool} for the test environment:\n${tail || err.message}`, {
      cause: e,
    });
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => {
        resolve(port);
      });
    });
  });
}

interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<number | null>;
}

export async function startEnv(options: EnvOptions = {}): Promise<TestEnv> {
  const want = new Set<Component>(
    options.components ?? ["kube", "controller-manager", "vault", "moto", "postgres"],
  );
  if (want.has("controller-manager")) want.add("kube");
  const versions = readVersions();
  const dir = mkdtempSync(join(tmpdir(), "custos-env-"));
  const procs: Proc[] = [];
  /** Directories of servers kept outside `dir` (PostgreSQL's, owned by its unprivileged user). */
  const extraDirs: string[] = [];
  let stopped = false;
  const say = (msg: string): void => {
    if (options.verbose) process.stderr.write(`custos env: ${msg}\n`);
  };

  const killAllSync = (): void => {
    for (const p of procs) {
      try {
        if (p.child.pid) process.kill(-p.child.pid, "SIGTERM");
      } catch {
        /* already gone */
      }
    }
    for (const d of [dir, ...extraDirs]) rmSync(d, { recursive: true, force: true });
  };
  process.once("exit", killAllSync);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", killAllSync);
    // reverse order: clients of etcd first
    for (const p of [...procs].reverse()) {
      try {
        if (p.child.pid) process.kill(-p.child.pid, "SIGTERM");
      } catch {
        /* gone */
      }
      const timer = setTimeout(() => {
        try {
          if (p.child.pid) process.kill(-p.child.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }, 8000);
      await p.exited;
      clearTimeout(timer);
    }
    for (const d of [dir, ...extraDirs]) rmSync(d, { recursive: true, force: true });
  };

  const specs = new Map<string, { bin: string; args: string[]; env?: NodeJS.ProcessEnv }>();
  const readyChecks = new Map<string, (p: Proc) => Promise<void>>();
  const run = (name: string, bin: string, args: string[], env?: NodeJS.ProcessEnv): Proc => {
    specs.set(name, { bin, args, ...(env ? { env } : {}) });
    const restarts = procs.filter((p) => p.name === name).length;
    const log = join(dir, restarts ? `${name}.${restarts}.log` : `${name}.log`);
    const out = createWriteStream(log);
    const child = spawn(join(here, "guard.sh"), [bin, ...args], {
      detached: true, // own process group: stop() signals the whole group
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...env, CUSTOS_ENV_DIR: dir },
    });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    child.unref();
    (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => {
        resolve(code);
      }),
    );
    const p = { name, child, log, exited };
    procs.push(p);
    say(`${name} started (log ${log})`);
    return p;
  };

  try {
    // Builds run concurrently; each is a no-op when cached.
    const [k8sDir, etcdDir, vaultDir, motoDir, pgDir] = await Promise.all([
      want.has("kube") ? ensureTool("kubernetes") : Promise.resolve(""),
      want.has("kube") ? ensureTool("etcd") : Promise.resolve(""),
      want.has("vault") ? ensureTool("vault") : Promise.resolve(""),
      want.has("moto") ? ensureTool("moto") : Promise.resolve(""),
      want.has("postgres") ? ensureTool("postgresql") : Promise.resolve(""),
    ]);

    const readiness: Promise<void>[] = [];
    const env: Partial<TestEnv> = { dir, versions };

    if (want.has("vault")) {
      const port = await freePort();
      const token = "root";
      const p = run(
        "vault",
        join(vaultDir, "bin/vault"),
        [
          "server",
          "-dev",
          `-dev-root-token-id=${token}`,
          `-dev-listen-address=127.0.0.1:${port}`,
          "-dev-no-store-token",
        ],
        { HOME: dir, VAULT_DISABLE_MLOCK: "true" },
      );
      env.vault = { addr: `http://127.0.0.1:${port}`, token };
      readyChecks.set("vault", (q) => waitFor(q, `http://127.0.0.1:${port}/v1/sys/health`, {}));
      readiness.push(readyChecks.get("vault")!(p));
    }

    if (want.has("moto")) {
      const port = await freePort();
      const p = run("moto", join(motoDir, "bin/moto_server"), ["-H", "127.0.0.1", "-p", String(port)]);
      env.aws = {
        endpoint: `http://127.0.0.1:${port}`,
        region: "us-east-1",
        accessKeyId: "test",
        secretAccessKey: "test",
      };
      readiness.push(waitFor(p, `http://127.0.0.1:${port}/moto-api/`, {}));
    }

    if (want.has("postgres")) {
      const pg = await preparePostgres(pgDir, extraDirs);
      const port = await freePort();
      const p = run(
        "postgres",
        join(here, "postgres.sh"),
        [
          ...pg.asUser,
          join(pg.bin, "postgres"),
          "-D",
          pg.data,
          "-p",
          String(port),
          "-c",
          "listen_addresses=127.0.0.1",
          "-c",
          "unix_socket_directories=",
          "-c",
          "fsync=off",
          "-c",
          "jit=off",
          "-c",
          "max_connections=200",
        ],
        { ...pg.env, CUSTOS_ENV_EXTRA_DIR: pg.home },
      );
      env.postgres = {
        host: "127.0.0.1",
        port,
        user: "postgres",
        password: pg.password,
        version: pg.version,
        bin: pg.bin,
        env: pg.env,
      };
      readyChecks.set("postgres", (q) => waitForPostgres(q, pg.bin, port, pg.env));
      readiness.push(readyChecks.get("postgres")!(p));
    }

    if (want.has("kube")) {
      const etcdPort = await freePort();
      const peerPort = await freePort();
      const etcd = run("etcd", join(etcdDir, "bin/etcd"), [
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
        "--unsafe-no-fsync",
        "--log-level=warn",
      ]);
      readyChecks.set("etcd", (q) => waitFor(q, `http://127.0.0.1:${etcdPort}/health`, {}));
      await readyChecks.get("etcd")!(etcd);
      env.etcdUrl = `http://127.0.0.1:${etcdPort}`;

      const apiPort = await freePort();
      const certDir = join(dir, "pki");
      const saKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const saKeyPath = join(dir, "sa.key");
      const saPubPem = saKey.publicKey.export({ type: "spki", format: "pem" }).toString();
      writeFileSync(saKeyPath, saKey.privateKey.export({ type: "pkcs8", format: "pem" }));
      writeFileSync(join(dir, "sa.pub"), saPubPem);
      const adminToken = randomBytes(24).toString("hex");
      writeFileSync(join(dir, "tokens.csv"), `${adminToken},custos-admin,custos-admin,"system:masters"\n`);
      const apiUrl = `https://127.0.0.1:${apiPort}`;
      const api = run("kube-apiserver", join(k8sDir, "bin/kube-apiserver"), [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--cert-dir=${certDir}`,
        "--service-cluster-ip-range=10.0.0.0/24",
        "--authorization-mode=RBAC",
        `--token-auth-file=${join(dir, "tokens.csv")}`,
        `--service-account-issuer=${apiUrl}`,
        `--service-account-key-file=${saKeyPath}`,
        `--service-account-signing-key-file=${saKeyPath}`,
        "--disable-admission-plugins=ServiceAccount",
        "--allow-privileged=true",
        "--enable-priority-and-fairness=false",
        "--endpoint-reconciler-type=none",
        "--storage-backend=etcd3",
        "--v=0",
        ...(options.apiServerArgs ?? []),
      ]);
      readyChecks.set("kube-apiserver", (q) =>
        waitFor(q, `${apiUrl}/readyz`, { token: adminToken, insecure: true }, 90_000),
      );
      await readyChecks.get("kube-apiserver")!(api);
      const caPem = readFileSync(join(certDir, "apiserver.crt"), "utf8");
      const kubeconfig = join(dir, "kubeconfig");
      writeFileSync(kubeconfig, kubeconfigYaml(apiUrl, caPem, adminToken));
      Object.assign(env, {
        kubeconfig,
        apiUrl,
        caPem,
        adminToken,
        serviceAccountPublicKeyPem: saPubPem,
        serviceAccountIssuer: apiUrl,
      });
      env.bin = {
        dir: join(k8sDir, "bin"),
        kubectl: join(k8sDir, "bin/kubectl"),
        vault: join(vaultDir || "", "bin/vault"),
      };

      if (want.has("controller-manager")) {
        run("kube-controller-manager", join(k8sDir, "bin/kube-controller-manager"), [
          `--kubeconfig=${kubeconfig}`,
          "--controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller",
          "--leader-elect=false",
          "--bind-address=127.0.0.1",
          "--secure-port=0",
          "--use-service-account-credentials=false",
          "--concurrent-gc-syncs=5",
          "--v=0",
        ]);
        // Ready once it has created the default ServiceAccount of "default".
        readiness.push(waitForDefaultServiceAccount(apiUrl, adminToken));
      }
    } else {
      env.bin = { dir: "", kubectl: "", vault: join(vaultDir || "", "bin/vault") };
    }

    await Promise.all(readiness);
    say("all ready");
    const current = (name: ServerName): Proc | undefined => procs.filter((p) => p.name === name).pop();
    const control: EnvControl = {
      async signal(name, signal) {
        const p = current(name);
        if (!p?.child.pid) throw new Error(`no ${name} process`);
        try {
          process.kill(-p.child.pid, signal);
        } catch {
          /* already gone */
        }
        if (signal === "SIGKILL") await p.exited;
      },
      async restart(name) {
        const spec = specs.get(name);
        if (!spec) throw new Error(`${name} was not started`);
        const p = run(name, spec.bin, spec.args, spec.env);
        await readyChecks.get(name)?.(p);
      },
      log: (name) => current(name)?.log ?? "",
    };
    return { ...(env as TestEnv), control, stop };
  } catch (e) {
    const logs = procs.map((p) => `--- ${p.name} (last lines of ${p.log})\n${tailOf(p.log)}`).join("\n");
    await stop();
    throw new Error(`${(e as Error).message}\n${logs}`, { cause: e });
  }
}

/**
 * A fresh PostgreSQL cluster (initdb) in a directory of its own. postgres refuses to run as root:
 * then the cluster belongs to, and the server runs as, an unprivileged user (CUSTOS_POSTGRES_USER,
 * default `nobody`) through setpriv; binaries that user cannot reach (a download under root's
 * 0700 home) are copied next to the cluster first.
 */
async function preparePostgres(
  installDir: string,
  extraDirs: string[],
): Promise<{
  bin: string;
  data: string;
  home: string;
  password: string;
  version: string;
  asUser: string[];
  env: Record<string, string>;
}> {
  const home = mkdtempSync(join(tmpdir(), "custos-pg-"));
  extraDirs.push(home);
  const env: Record<string, string> = {};
  const ldFile = join(installDir, "ld-library-path");
  if (existsSync(ldFile)) env.LD_LIBRARY_PATH = readFileSync(ldFile, "utf8").trim();
  let bin = join(installDir, "bin");
  let asUser: string[] = [];
  let owner: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    const user = process.env.CUSTOS_POSTGRES_USER ?? "nobody";
    const uid = Number(execFileSync("id", ["-u", user]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", user]).toString().trim());
    owner = { uid, gid };
    asUser = ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups"];
    chownSync(home, uid, gid);
    chmodSync(home, 0o700);
    const reachable =
      spawnSync(asUser[0]!, [
        ...asUser.slice(1),
        "test",
        "-r",
        join(bin, "postgres"),
        "-a",
        "-x",
        join(bin, "initdb"),
      ]).status === 0;
    if (!reachable) {
      // the whole unpacked tree: postgres finds its share/ and lib/ relative to its own path
      const copy = join(tmpdir(), `custos-pg-dist-${randomBytes(4).toString("hex")}`);
      extraDirs.push(copy);
      cpSync(installDir, copy, { recursive: true, verbatimSymlinks: true });
      chmodSync(copy, 0o755);
      bin = join(copy, "bin");
      if (env.LD_LIBRARY_PATH) env.LD_LIBRARY_PATH = env.LD_LIBRARY_PATH.split(installDir).join(copy);
    }
  }
  const password = randomBytes(16).toString("hex");
  const pwfile = join(home, "pw");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) chownSync(pwfile, owner.uid, owner.gid);
  const data = join(home, "data");
  const initdb = [
    join(bin, "initdb"),
    "-D",
    data,
    "-U",
    "postgres",
    `--pwfile=${pwfile}`,
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
  ];
  const cmd = [...asUser, ...initdb];
  try {
    await execFileP(cmd[0]!, cmd.slice(1), { env: { ...process.env, ...env }, cwd: home });
  } catch (e) {
    throw new Error(`initdb failed: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`, {
      cause: e,
    });
  }
  rmSync(pwfile, { force: true });
  const version = execFileSync(join(bin, "postgres"), ["--version"], { env: { ...process.env, ...env } })
    .toString()
    .trim();
  return { bin, data, home, password, version, asUser, env };
}

async function waitForPostgres(
  p: Proc,
  bin: string,
  port: number,
  env: Record<string, string>,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exitCode: number | null | undefined;
  void p.exited.then((c) => (exitCode = c));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`postgres exited with code ${exitCode} before it was ready`);
    const ok = await execFileP(join(bin, "pg_isready"), ["-q", "-h", "127.0.0.1", "-p", String(port)], {
      env: { ...process.env, ...env },
    }).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`postgres not ready on 127.0.0.1:${port} after 60000 ms`);
}

function tailOf(path: string): string {
  try {
    return readFileSync(path, "utf8").trim().split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}

const insecureAgent = new Agent({ connect: { rejectUnauthorized: false } });

async function waitFor(
  p: Proc,
  url: string,
  opts: { token?: string; insecure?: boolean },
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void p.exited.then((c) => (exitCode = c));
  let last = "";
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`${p.name} exited with code ${exitCode} before it was ready`);
    try {
      const res = await request(url, {
        headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
        ...(opts.insecure ? { dispatcher: insecureAgent } : {}),
        headersTimeout: 2000,
        bodyTimeout: 2000,
      });
      await res.body.dump();
      if (res.statusCode < 400 || (p.name === "vault" && res.statusCode < 500)) return;
      last = `HTTP ${res.statusCode}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${p.name} not ready at ${url} after ${timeoutMs} ms (${last})`);
}

async function waitForDefaultServiceAccount(apiUrl: string, token: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const res = await request(`${apiUrl}/api/v1/namespaces/default/serviceaccounts/default`, {
      headers: { authorization: `Bearer ${token}` },
      dispatcher: insecureAgent,
    });
    await res.body.dump();
    if (res.statusCode === 200) return;
    await sleep(100);
  }
  throw new Error("kube-controller-manager did not create the default ServiceAccount within 60 s");
}

function kubeconfigYaml(apiUrl: string, caPem: string, token: string): string {
  const ca = Buffer.from(caPem).toString("base64");
  return `apiVersion: v1
kind: Config
clusters:
- name: custos-test
  cluster:
    server: ${apiUrl}
    certificate-authority-data: ${ca}
users:
- name: custos-admin
  user:
    token: ${token}
contexts:
- name: custos-test
  context:
    cluster: custos-test
    user: custos-admin
    namespace: default
current-context: custos-test
`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
