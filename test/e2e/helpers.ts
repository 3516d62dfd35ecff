/**
 * Helpers for end-to-end tests: the operator as a real process (`custos operator`), the CRDs
 * applied with the real kubectl, and small clients for Vault and the API server.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { request } from "undici";
import type { SharedEnv } from "../env/shared.ts";
import { freePort } from "../env/index.ts";
import { KubeApi } from "../../src/kube/api.ts";

const root = join(import.meta.dirname, "..", "..");
const run = promisify(execFile);

export const suffix = (): string => randomBytes(4).toString("hex");

export async function kubectl(env: SharedEnv, args: string[], input?: string): Promise<string> {
  const p = run(env.bin.kubectl, ["--kubeconfig", env.kubeconfig, ...args]);
  if (input !== undefined) p.child.stdin?.end(input);
  return (await p).stdout;
}

let crdsApplied: Promise<void> | undefined;
/** Applies every CRD in deploy/crds once per process and waits until they are established. */
export function applyCrds(env: SharedEnv): Promise<void> {
  crdsApplied ??= (async () => {
    const dir = join(root, "deploy", "crds");
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".yaml"))) {
      await kubectl(env, ["apply", "-f", join(dir, f)]);
    }
    await kubectl(env, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
  })();
  return crdsApplied;
}

export async function createNamespace(
  api: KubeApi,
  prefix: string,
  labels: Record<string, string> = {},
): Promise<string> {
  const ns = `${prefix}-${suffix()}`;
  await api.create("/api/v1/namespaces", { metadata: { name: ns, labels } });
  return ns;
}

export interface OperatorProcess {
  child: ChildProcess;
  metricsUrl: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts `custos operator` as a separate process against the environment. */
export async function startOperator(
  env: SharedEnv,
  args: string[] = [],
  extraEnv: NodeJS.ProcessEnv = {},
  /** How to run the CLI (node's arguments before `operator`); default: the sources through tsx. */
  entry: string[] = ["--import", "tsx", join(root, "src/cli/main.ts")],
): Promise<OperatorProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...entry,
      "operator",
      "--kubeconfig",
      env.kubeconfig,
      "--metrics-port",
      String(port),
      "--log-level",
      "debug",
      // the tests use short refresh intervals; the default floor (5 s) is tested on its own
      "--min-refresh-interval",
      "1s",
      ...args,
    ],
    { stdio: ["ignore", "pipe", "pipe"], cwd: root, env: { ...process.env, ...extraEnv } },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  // ready when /readyz answers 200
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`operator exited early:\n${out}`);
    try {
      const res = await request(`http://127.0.0.1:${port}/readyz`);
      await res.body.dump();
      if (res.statusCode === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`operator not ready:\n${out}`);
    await sleep(100);
  }
  return {
    child,
    metricsUrl,
    output: () => out,
    metrics: async () => (await request(metricsUrl)).body.text(),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return; // already gone (killed by the test)
      child.kill("SIGTERM");
      // a clean shutdown takes well under this; past it, the hang is the failure to report
      let hung = false;
      const timer = setTimeout(() => {
        hung = true;
        child.kill("SIGKILL");
      }, 20_000);
      await exited;
      clearTimeout(timer);
      if (hung) throw new Error(`operator did not stop within 20 s of SIGTERM:\n${out.slice(-3000)}`);
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await sleep(200);
  }
}

export interface VaultClient {
  call(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
}

export function vaultClient(env: SharedEnv): VaultClient {
  return {
    async call(method, path, body, token = env.vault.token) {
      const res = await request(`${env.vault.addr}/v1/${path}`, {
        method: method as "GET",
        headers: { "x-vault-token": token },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.body.text();
      const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      if (res.statusCode >= 400 && method !== "GET")
        throw new Error(`vault ${method} ${path}: ${res.statusCode} ${text}`);
      return { status: res.statusCode, json };
    },
  };
}

export interface SecretObj {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
    resourceVersion: string;
  };
  type?: string;
  data?: Record<string, string>;
}

export async function secretData(
  api: KubeApi,
  namespace: string,
  name: string,
): Promise<Record<string, string> | undefined> {
  const s = await api.getOrUndefined<SecretObj>(`/api/v1/namespaces/${namespace}/secrets/${name}`);
  if (!s) return undefined;
  return Object.fromEntries(
    Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
  );
}

export interface EsStatus {
  refreshTime?: string;
  syncedResourceVersion?: string;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

export async function esStatus(api: KubeApi, namespace: string, name: string): Promise<EsStatus | undefined> {
  const es = await api.getOrUndefined<{ status?: EsStatus }>(
    `/apis/external-secrets.io/v1/namespaces/${namespace}/externalsecrets/${name}`,
  );
  return es?.status;
}

export function readyCondition(
  status: EsStatus | undefined,
): { status: string; reason?: string; message?: string } | undefined {
  return status?.conditions?.find((c) => c.type === "Ready");
}

export { KubeApi };

/**
 * A counting HTTP proxy in front of an AWS emulator: counts each API call by its operation
 * (`X-Amz-Target` for JSON APIs, `Action=` for query APIs such as STS).
 */
export interface CountingProxy {
  url: string;
  counts: Map<string, number>;
  /** Calls of an operation, optionally only those whose request body contains `text`. */
  count(op: string, text?: string): number;
  /** Request bodies of an operation, in arrival order, optionally only those containing `text`. */
  bodies(op: string, text?: string): string[];
  /**
   * Fault injection in front of the real server: requests whose body contains `text` get AWS's
   * JSON error `type` (HTTP 400) instead of being forwarded, until the returned function is called.
   */
  fail(text: string, type: string, message: string): () => void;
  stop(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const { createServer } = await import("node:http");
  const counts = new Map<string, number>();
  const calls: { op: string; body: string }[] = [];
  const faults = new Map<string, { type: string; message: string }>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const amzTarget = req.headers["x-amz-target"];
      const action = /(?:^|&)Action=([A-Za-z]+)/.exec(body.toString("latin1"))?.[1];
      const op =
        (typeof amzTarget === "string" ? amzTarget.split(".").pop() : undefined) ?? action ?? "unknown";
      counts.set(op, (counts.get(op) ?? 0) + 1);
      calls.push({ op, body: body.toString("utf8") });
      for (const [text, f] of faults) {
        if (!body.toString("utf8").includes(text)) continue;
        res.writeHead(400, { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": f.type });
        res.end(JSON.stringify({ __type: f.type, message: f.message }));
        return;
      }
      const headers = { ...req.headers };
      delete headers.host;
      void request(`${target}${req.url ?? "/"}`, {
        method: (req.method ?? "GET") as "GET",
        headers,
        body: body.length ? body : null,
      })
        .then(async (r) => {
          const buf = Buffer.from(await r.body.arrayBuffer());
          const h: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(r.headers))
            if (v !== undefined && k !== "transfer-encoding" && k !== "connection") h[k] = v;
          res.writeHead(r.statusCode, h);
          res.end(buf);
        })
        .catch((e: unknown) => {
          res.writeHead(502);
          res.end((e as Error).message);
        });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    count: (op, text) =>
      text === undefined
        ? (counts.get(op) ?? 0)
        : calls.filter((c) => c.op === op && c.body.includes(text)).length,
    bodies: (op, text) =>
      calls.filter((c) => c.op === op && (text === undefined || c.body.includes(text))).map((c) => c.body),
    fail: (text, type, message) => {
      faults.set(text, { type, message });
      return () => faults.delete(text);
    },
    stop: () => new Promise((r) => server.close(() => r())),
  };
}

/** A kubeconfig that authenticates with a ServiceAccount token. */
export function serviceAccountKubeconfig(env: SharedEnv, token: string): string {
  return `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "${env.apiUrl}", certificate-authority-data: ${Buffer.from(env.caPem).toString("base64")} } }]
users: [{ name: u, user: { token: ${token} } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`;
}
