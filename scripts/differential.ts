/**
 * `npm run differential`: the real External Secrets Operator (v2.9, built from source by
 * test/env/build.sh eso) and Custos on the same ExternalSecrets, against the same Vault and moto,
 * compared on what a user observes (test/differential/). Not part of `npm test`.
 *
 * 1. ESO phase: ESO's own CRDs, its validating webhook (the `webhook` subcommand) and its
 *    controller (the root command, --controller-class eso-diff); every case in a namespace `eso-cNNN`.
 * 2. Custos phase: the CRDs replaced by Custos' (no webhook: CEL rules), `custos operator
 *    --controller-class custos-diff`; every case again in `cus-cNNN`.
 * 3. Compare; differences not in the allow-list (test/differential/observe.ts ALLOWED) fail the run.
 *
 * Options: --only <regexp> (case titles), --record (write the ESO outputs of the fixed subset to
 * test/fixtures/differential/eso-v2.9.0.json), --report <file> (full JSON report).
 * `--takeover N` instead measures a hand-over: ESO syncs N ExternalSecrets and stops, Custos
 * starts on the same objects (CRDs replaced as docs/migrate-from-eso.md says), and back; Secret
 * writes and ExternalSecret status changes are counted at the API server (a watch).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { request } from "undici";
import { ensureTool, freePort, startEnv, type TestEnv } from "../test/env/index.ts";
import { CASES, VAULT_MOUNT_V2, type Case } from "../test/differential/cases.ts";
import { applyAll, observeAll, seed } from "../test/differential/harness.ts";
import { compare, unallowed, ALLOWED, type Observation } from "../test/differential/observe.ts";
import { FIXTURE_FILE, FIXTURE_TITLES, type Fixture } from "../test/differential/fixture.ts";
import { countWrites, type WriteCounts } from "../test/differential/watch.ts";
import { startOperator, kubectl, type OperatorProcess } from "../test/e2e/helpers.ts";
import { KubeApi } from "../src/kube/api.ts";

const root = join(import.meta.dirname, "..");
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const say = (msg: string): void => {
  process.stderr.write(`differential: ${msg}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function stopProc(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => {
    p.once("exit", () => {
      r();
    });
  });
  p.kill("SIGTERM");
  const t = setTimeout(() => p.kill("SIGKILL"), 15_000);
  await gone;
  clearTimeout(t);
}

async function waitHttp(url: string, p: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (p.exitCode !== null) throw new Error(`${url}: process exited with ${p.exitCode}`);
    try {
      const r = await request(url);
      await r.body.dump();
      if (r.statusCode === 200) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready`);
    await sleep(500);
  }
}

class Eso {
  readonly procs: ChildProcess[] = [];
  constructor(
    readonly env: TestEnv,
    readonly dir: string,
  ) {}
  get bin(): string {
    return join(this.dir, "bin", "external-secrets");
  }

  #spawn(name: string, args: string[], extra: NodeJS.ProcessEnv = {}): ChildProcess {
    const p = spawn(this.bin, args, {
      env: { ...process.env, KUBECONFIG: this.env.kubeconfig, ...extra },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const chunks: Buffer[] = [];
    p.stdout?.on("data", (d: Buffer) => chunks.push(d));
    p.stderr?.on("data", (d: Buffer) => chunks.push(d));
    p.once("exit", () => {
      // kept after the environment is gone, for reading why ESO did what it did
      writeFileSync(join(tmpdir(), `custos-differential-${name}.log`), Buffer.concat(chunks));
    });
    this.procs.push(p);
    // ESO must not outlive this script, however it ends
    process.once("exit", () => p.kill("SIGKILL"));
    return p;
  }

  /** ESO's CRDs (all of them: its controller watches PushSecrets, generators, ...). */
  async applyCrds(): Promise<void> {
    const crdDir = join(this.dir, "crds");
    for (const f of readdirSync(crdDir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml"))
      // replace, not apply: a CRD Custos wrote before must become ESO's whole, not a merge of both
      await kubectl(this.env, ["replace", "-f", join(crdDir, f)]).catch(() =>
        kubectl(this.env, ["create", "-f", join(crdDir, f)]),
      );
    await kubectl(this.env, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
  }

  /** The `webhook` subcommand with a certificate for localhost, registered for ExternalSecrets. */
  async startWebhook(api: KubeApi): Promise<() => Promise<void>> {
    const certDir = join(this.env.dir, "eso-webhook-certs");
    mkdirSync(certDir, { recursive: true });
    const ossl = (a: string[]): void => {
      execFileSync("openssl", a, { cwd: certDir, stdio: "ignore" });
    };
    ossl(
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt"].concat([
        "-subj",
        "/CN=diff-ca",
        "-days",
        "2",
      ]),
    );
    ossl([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "tls.key",
      "-out",
      "tls.csr",
      "-subj",
      "/CN=localhost",
    ]);
    writeFileSync(join(certDir, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    ossl(
      ["x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"].concat([
        "-out",
        "tls.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
      ]),
    );
    const caBundle = execFileSync("base64", ["-w0", join(certDir, "ca.crt")]).toString();
    const port = await freePort();
    const health = await freePort();
    const p = this.#spawn("eso-webhook", [
      "webhook",
      "--port",
      String(port),
      "--cert-dir",
      certDir,
      "--dns-name",
      "localhost",
      "--metrics-addr",
      `127.0.0.1:${await freePort()}`,
      "--healthz-addr",
      `127.0.0.1:${health}`,
      "--check-interval",
      "1h",
    ]);
    await waitHttp(`http://127.0.0.1:${health}/readyz`, p);
    const path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations";
    await api.create(path, {
      metadata: { name: "diff-eso-webhook" },
      webhooks: [
        {
          name: "validate.externalsecret.external-secrets.io",
          rules: [
            {
              apiGroups: ["external-secrets.io"],
              apiVersions: ["v1"],
              operations: ["CREATE", "UPDATE", "DELETE"],
              resources: ["externalsecrets"],
              scope: "Namespaced",
            },
          ],
          clientConfig: {
            url: `https://localhost:${port}/validate-external-secrets-io-v1-externalsecret`,
            caBundle,
          },
          admissionReviewVersions: ["v1", "v1beta1"],
          sideEffects: "None",
          timeoutSeconds: 5,
          failurePolicy: "Fail",
        },
      ],
    });
    return async () => {
      await api.delete(`${path}/diff-eso-webhook`);
      await stopProc(p);
    };
  }

  /** The controller: ESO's root command. */
  async startController(controllerClass: string): Promise<() => Promise<void>> {
    const live = await freePort();
    const aws = this.env.aws.endpoint;
    const p = this.#spawn(
      `eso-controller-${controllerClass}`,
      ["--controller-class", controllerClass, "--metrics-addr", `127.0.0.1:${await freePort()}`].concat([
        "--live-addr",
        `127.0.0.1:${live}`,
        "--concurrent",
        "4",
        "--loglevel",
        "info",
      ]),
      { AWS_SECRETSMANAGER_ENDPOINT: aws, AWS_SSM_ENDPOINT: aws, AWS_STS_ENDPOINT: aws },
    );
    await waitHttp(`http://127.0.0.1:${live}/healthz`, p);
    return () => stopProc(p);
  }
}

/** Custos' CRDs in place of ESO's for the kinds both serve (`kubectl replace`, objects kept). */
async function replaceWithCustosCrds(env: TestEnv): Promise<void> {
  for (const f of readdirSync(join(root, "deploy", "crds")).filter((f) =>
    f.startsWith("external-secrets.io_"),
  ))
    await kubectl(env, ["replace", "-f", join(root, "deploy", "crds", f)]);
  await kubectl(env, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
}

function startCustos(env: TestEnv, controllerClass: string): Promise<OperatorProcess> {
  return startOperator(
    env,
    ["--controllers", "externalsecret", "--controller-class", controllerClass, "--concurrent", "4"],
    {
      AWS_ENDPOINT_URL: env.aws.endpoint,
    },
  );
}

async function differential(env: TestEnv, api: KubeApi, eso: Eso): Promise<number> {
  const only = opt("--only");
  const selected: { c: Case; index: number }[] = CASES.map((c, index) => ({ c, index })).filter(
    ({ c }) => !only || new RegExp(only).test(c.title),
  );
  say(`${selected.length} of ${CASES.length} cases`);

  await eso.applyCrds();
  const stopWebhook = await eso.startWebhook(api);
  const stopController = await eso.startController("eso-diff");
  say("ESO controller and webhook running");
  const esoApplied = await applyAll(api, env, selected, "eso", "eso-diff");
  const esoObs = await observeAll(api, esoApplied, 240_000, 5_000, say);
  await stopController();
  await stopWebhook();
  say("ESO phase done");

  await replaceWithCustosCrds(env);
  const op = await startCustos(env, "custos-diff");
  let cusObs: Map<string, Observation>;
  try {
    const cusApplied = await applyAll(api, env, selected, "cus", "custos-diff");
    cusObs = await observeAll(api, cusApplied, 240_000, 5_000, say);
  } finally {
    await op.stop();
  }
  say("Custos phase done");

  let same = 0;
  let allowedN = 0;
  const failing: { title: string; diffs: ReturnType<typeof compare> }[] = [];
  const report: Record<string, unknown>[] = [];
  for (const { c } of selected) {
    const e = esoObs.get(c.title)!;
    const k = cusObs.get(c.title)!;
    const diffs = compare(e, k);
    const bad = unallowed(c.title, diffs);
    if (diffs.length === 0) same++;
    else if (bad.length === 0) allowedN++;
    else failing.push({ title: c.title, diffs: bad });
    report.push({ title: c.title, family: c.family, eso: e, custos: k, diffs, unallowed: bad });
  }
  for (const f of failing) {
    process.stdout.write(`\nDIFF ${f.title}\n`);
    for (const d of f.diffs) process.stdout.write(`  ${d.field}: eso=${d.eso} custos=${d.custos}\n`);
  }
  const byFamily = new Map<string, number>();
  for (const { c } of selected) byFamily.set(c.family, (byFamily.get(c.family) ?? 0) + 1);
  process.stdout.write(
    `\ncases by family: ${[...byFamily].map(([f, n]) => `${f} ${n}`).join(", ")}\n` +
      `${selected.length} cases: ${same} identical, ${allowedN} differ only as allowed (${ALLOWED.length} allowances), ${failing.length} differ\n`,
  );
  const reportFile = opt("--report");
  if (reportFile) writeFileSync(reportFile, JSON.stringify(report, null, 2));
  if (args.includes("--record")) {
    const fixture: Fixture = { eso: env.versions.ESO_VERSION ?? "", cases: {} };
    for (const t of FIXTURE_TITLES) {
      const o = esoObs.get(t);
      if (!o) continue;
      fixture.cases[t] = {
        admitted: o.admitted,
        ...(o.ready ? { ready: o.ready } : {}),
        ...(o.secret ? { secret: o.secret } : {}),
      };
    }
    mkdirSync(join(root, "test/fixtures/differential"), { recursive: true });
    writeFileSync(join(root, FIXTURE_FILE), `${JSON.stringify(fixture, null, 2)}\n`);
    say(`recorded ${Object.keys(fixture.cases).length} ESO outputs in ${FIXTURE_FILE}`);
  }
  return failing.length === 0 ? 0 : 1;
}

/** Waits until no Secret or ExternalSecret in the namespace changed for `quietMs`. */
async function quiet(api: KubeApi, ns: string, quietMs: number, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  let last = "";
  let since = Date.now();
  while (Date.now() < deadline) {
    type Item = { metadata: { resourceVersion: string } };
    const a = await api.list<Item>(`/api/v1/namespaces/${ns}/secrets`);
    const b = await api.list<Item>(`/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets`);
    // the objects' own versions: a list's resourceVersion moves with every write in the cluster
    const sig = [...a.items, ...b.items].map((o) => o.metadata.resourceVersion).join(",");
    if (sig !== last) {
      last = sig;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
    await sleep(1000);
  }
}

async function takeover(env: TestEnv, api: KubeApi, eso: Eso, n: number): Promise<number> {
  const ns = "takeover";
  await eso.applyCrds();
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "vault-token" },
    stringData: { token: env.vault.token },
  });
  await api.create(`/apis/external-secrets.io/v1/namespaces/${ns}/secretstores`, {
    apiVersion: "external-secrets.io/v1",
    kind: "SecretStore",
    metadata: { name: "store" },
    spec: {
      provider: {
        vault: {
          server: env.vault.addr,
          path: VAULT_MOUNT_V2,
          version: "v2",
          auth: { tokenSecretRef: { name: "vault-token", key: "token" } },
        },
      },
    },
  });
  // a mix of shapes: a property, a whole secret as JSON, a dataFrom with nested values, a template
  const specs = [
    { data: [{ secretKey: "user", remoteRef: { key: "plain", property: "user" } }] },
    { data: [{ secretKey: "all", remoteRef: { key: "nested" } }] },
    { dataFrom: [{ extract: { key: "nested" } }] },
    {
      dataFrom: [{ extract: { key: "tmpl" } }],
      target: { template: { data: { conf: "{{ .json | fromJson | toYaml }}", u: "{{ .user | upper }}" } } },
    },
  ];
  const initial = await countWrites(api, ns);
  const stopEso = await eso.startController("default");
  for (let i = 0; i < n; i += 20)
    await Promise.all(
      Array.from({ length: Math.min(20, n - i) }, (_, j) =>
        api.create(`/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets`, {
          apiVersion: "external-secrets.io/v1",
          kind: "ExternalSecret",
          metadata: { name: `es-${i + j}` },
          spec: {
            refreshInterval: "1h",
            secretStoreRef: { name: "store" },
            ...specs[(i + j) % specs.length],
          },
        }),
      ),
    );
  await quiet(api, ns, 10_000, 600_000);
  const synced = (await api.list<unknown>(`/api/v1/namespaces/${ns}/secrets`)).items.length - 1;
  await stopEso();
  const first = await initial.stop();
  say(`ESO synced ${synced} of ${n} ExternalSecrets and stopped`);

  await replaceWithCustosCrds(env);
  let counter = await countWrites(api, ns);
  const op = await startCustos(env, "default");
  await sleep(5_000);
  await quiet(api, ns, 15_000, 600_000);
  const toCustos = await counter.stop();
  // that Custos did look at every one: its sync counter (a refresh that changes nothing writes nothing)
  const custosSyncs = (await op.metrics())
    .split("\n")
    .filter((l) => l.startsWith("externalsecret_sync_calls_total"))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
  await op.stop();

  await eso.applyCrds();
  counter = await countWrites(api, ns);
  const stopEso2 = await eso.startController("default");
  await sleep(5_000);
  await quiet(api, ns, 15_000, 600_000);
  const toEso = await counter.stop();
  await stopEso2();

  const line = (what: string, c: WriteCounts): string =>
    `${what}: ${c.secretWrites} Secret writes, ${c.esStatusChanges} ExternalSecret status changes (${c.readyFlips} Ready flips, ${c.esWrites} ExternalSecret writes in all)`;
  process.stdout.write(
    `\ntakeover of ${n} ExternalSecrets (ESO ${env.versions.ESO_VERSION ?? ""} synced ${synced})\n` +
      `${line("ESO's first sync (the control: the same count)", first)}\n` +
      `${line("ESO -> Custos", toCustos)} (Custos' externalsecret_sync_calls_total: ${custosSyncs})\n` +
      `${line("Custos -> ESO", toEso)}\n`,
  );
  return 0;
}

process.once("SIGTERM", () => process.exit(143));
process.once("SIGINT", () => process.exit(130));
const env = await startEnv({ verbose: true });
let eso: Eso | undefined;
let exitCode: number;
try {
  eso = new Eso(env, await ensureTool("eso"));
  const api = KubeApi.fromDefault(env.kubeconfig);
  await seed(env);
  say("seeded Vault and moto");
  const n = opt("--takeover");
  exitCode = n ? await takeover(env, api, eso, Number(n)) : await differential(env, api, eso);
} finally {
  for (const p of eso?.procs ?? []) await stopProc(p);
  await env.stop();
}
process.exit(exitCode);
