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
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { request } from "undici";
import { ensureTool, freePort, startEnv } from "../test/env/index.ts";
import { CASES, type Case } from "../test/differential/cases.ts";
import { applyAll, observeAll, seed } from "../test/differential/harness.ts";
import { compare, unallowed, ALLOWED, type Observation } from "../test/differential/observe.ts";
import { FIXTURE_FILE, FIXTURE_TITLES, type Fixture } from "../test/differential/fixture.ts";
import { startOperator, kubectl } from "../test/e2e/helpers.ts";
import { KubeApi } from "../src/kube/api.ts";

const root = join(import.meta.dirname, "..");
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = opt("--only");
const record = args.includes("--record");
const reportFile = opt("--report");
const say = (msg: string): void => {
  process.stderr.write(`differential: ${msg}\n`);
};

const selected: { c: Case; index: number }[] = CASES.map((c, index) => ({ c, index })).filter(
  ({ c }) => !only || new RegExp(only).test(c.title),
);
say(`${selected.length} of ${CASES.length} cases`);

const env = await startEnv({ verbose: true });
const procs: ChildProcess[] = [];
const stopProc = async (p: ChildProcess): Promise<void> => {
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
};
let exitCode: number;
try {
  const esoDir = await ensureTool("eso");
  const eso = join(esoDir, "bin", "external-secrets");
  const api = KubeApi.fromDefault(env.kubeconfig);
  await seed(env);
  say("seeded Vault and moto");

  // ---- ESO phase -------------------------------------------------------------------------------
  const crdDir = join(esoDir, "crds");
  for (const f of readdirSync(crdDir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml"))
    await kubectl(env, ["apply", "--server-side", "--force-conflicts", "-f", join(crdDir, f)]);
  await kubectl(env, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);

  const certDir = join(env.dir, "eso-webhook-certs");
  mkdirSync(certDir, { recursive: true });
  const ossl = (a: string[]): void => {
    execFileSync("openssl", a, { cwd: certDir, stdio: "ignore" });
  };
  ossl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-subj",
    "/CN=diff-ca",
    "-days",
    "2",
  ]);
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
  ossl([
    "x509",
    "-req",
    "-in",
    "tls.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "tls.crt",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  ]);
  const caBundle = execFileSync("base64", ["-w0", join(certDir, "ca.crt")]).toString();

  const esoEnv = { ...process.env, KUBECONFIG: env.kubeconfig };
  const logTo = (p: ChildProcess, name: string): void => {
    const out = join(env.dir, `${name}.log`);
    const chunks: Buffer[] = [];
    p.stdout?.on("data", (d: Buffer) => chunks.push(d));
    p.stderr?.on("data", (d: Buffer) => chunks.push(d));
    p.once("exit", () => {
      writeFileSync(out, Buffer.concat(chunks));
    });
  };
  const whPort = await freePort();
  const whHealth = await freePort();
  const webhook = spawn(
    eso,
    [
      "webhook",
      "--port",
      String(whPort),
      "--cert-dir",
      certDir,
      "--dns-name",
      "localhost",
      "--metrics-addr",
      `127.0.0.1:${await freePort()}`,
      "--healthz-addr",
      `127.0.0.1:${whHealth}`,
      "--check-interval",
      "1h",
    ],
    { env: esoEnv, stdio: ["ignore", "pipe", "pipe"] },
  );
  procs.push(webhook);
  logTo(webhook, "eso-webhook");
  await waitHttp(`http://127.0.0.1:${whHealth}/readyz`, webhook);
  await api.create("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", {
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
          url: `https://localhost:${whPort}/validate-external-secrets-io-v1-externalsecret`,
          caBundle,
        },
        admissionReviewVersions: ["v1", "v1beta1"],
        sideEffects: "None",
        timeoutSeconds: 5,
        failurePolicy: "Fail",
      },
    ],
  });
  const live = await freePort();
  const controller = spawn(
    eso,
    [
      "--controller-class",
      "eso-diff",
      "--metrics-addr",
      `127.0.0.1:${await freePort()}`,
      "--live-addr",
      `127.0.0.1:${live}`,
      "--concurrent",
      "4",
      "--loglevel",
      "info",
    ],
    {
      env: {
        ...esoEnv,
        AWS_SECRETSMANAGER_ENDPOINT: env.aws.endpoint,
        AWS_SSM_ENDPOINT: env.aws.endpoint,
        AWS_STS_ENDPOINT: env.aws.endpoint,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  procs.push(controller);
  logTo(controller, "eso-controller");
  await waitHttp(`http://127.0.0.1:${live}/healthz`, controller);
  say("ESO controller and webhook running");
  const esoApplied = await applyAll(api, env, selected, "eso", "eso-diff");
  const esoObs = await observeAll(api, esoApplied, 240_000, 5_000, say);
  await stopProc(controller);
  await stopProc(webhook);
  await api.delete("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/diff-eso-webhook");
  say("ESO phase done");

  // ---- Custos phase ----------------------------------------------------------------------------
  for (const f of readdirSync(join(root, "deploy", "crds")).filter((f) =>
    f.startsWith("external-secrets.io_"),
  ))
    await kubectl(env, ["replace", "-f", join(root, "deploy", "crds", f)]);
  await kubectl(env, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
  const op = await startOperator(
    env,
    ["--controllers", "externalsecret", "--controller-class", "custos-diff", "--concurrent", "4"],
    { AWS_ENDPOINT_URL: env.aws.endpoint },
  );
  let cusObs: Map<string, Observation>;
  try {
    const cusApplied = await applyAll(api, env, selected, "cus", "custos-diff");
    cusObs = await observeAll(api, cusApplied, 240_000, 5_000, say);
  } finally {
    await op.stop();
  }
  say("Custos phase done");

  // ---- compare ---------------------------------------------------------------------------------
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
  if (reportFile) writeFileSync(reportFile, JSON.stringify(report, null, 2));
  if (record) {
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
    writeFileSync(join(root, FIXTURE_FILE), `${JSON.stringify(fixture, null, 2)}\n`);
    say(`recorded ${Object.keys(fixture.cases).length} ESO outputs in ${FIXTURE_FILE}`);
  }
  exitCode = failing.length === 0 ? 0 : 1;
} finally {
  for (const p of procs) await stopProc(p);
  await env.stop();
}
process.exit(exitCode);

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
    await new Promise((r) => setTimeout(r, 500));
  }
}
