/**
 * `npm run differential:vso`: the real Vault Secrets Operator (v1.4.1, built from source by
 * test/env/build.sh vso) and Custos on the same VaultStaticSecrets, against the same Vault, compared
 * on what a user observes (test/differential/vso-*.ts). Not part of `npm test`.
 *
 * 1. VSO phase: VSO's own CRDs, its manager run outside the cluster (kubeconfig, leader election
 *    off, client cache persistence `none`, OPERATOR_NAMESPACE with the shared HMAC key); every
 *    case in the namespace `vso-diff-vso`.
 * 2. Custos phase: the CRDs replaced by Custos' (`kubectl replace`), `custos operator --controllers
 *    vso --namespace vso-diff-cus` with the same operator namespace; every case again there.
 * 3. Compare (the raw secretMAC too: same Vault data, same key); differences not in the allow-list
 *    (test/differential/vso-observe.ts VSO_ALLOWED) fail the run.
 *
 * Options: --only <regexp> (case titles), --custos-only (no VSO: print Custos' observations, for
 * working on the harness), --record (write VSO's outputs to
 * test/fixtures/differential/vso-v1.4.1.json), --report <file> (full JSON report).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { request } from "undici";
import { ensureTool, freePort, startEnv, type TestEnv } from "../test/env/index.ts";
import { VSO_CASES } from "../test/differential/vso-cases.ts";
import {
  applyVsoCases,
  observeVsoAll,
  operatorNamespace,
  seedVso,
  selectVsoCases,
} from "../test/differential/vso-harness.ts";
import {
  compareVso,
  unallowedVso,
  VSO_ALLOWED,
  type VsoObservation,
} from "../test/differential/vso-observe.ts";
import { VSO_FIXTURE_FILE, type VsoFixture } from "../test/differential/vso-fixture.ts";
import { startOperator, kubectl } from "../test/e2e/helpers.ts";
import { KubeApi } from "../src/kube/api.ts";

const root = join(import.meta.dirname, "..");
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const say = (msg: string): void => {
  process.stderr.write(`differential-vso: ${msg}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const OP_NS = "vso-diff-system";

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
  const deadline = Date.now() + 180_000;
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

/** The real VSO: its CRDs and its manager, outside the cluster. */
class Vso {
  proc: ChildProcess | undefined;
  constructor(
    readonly env: TestEnv,
    readonly dir: string,
  ) {}

  /** All of VSO's CRDs (its manager watches HCP and CSI kinds too). */
  async applyCrds(): Promise<void> {
    const crdDir = join(this.dir, "crds");
    for (const f of readdirSync(crdDir).filter((f) => f.endsWith(".yaml")))
      // replace, not apply: a CRD Custos wrote before must become VSO's whole
      await kubectl(this.env, ["replace", "-f", join(crdDir, f)]).catch(() =>
        kubectl(this.env, ["create", "-f", join(crdDir, f)]),
      );
    await kubectl(this.env, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
  }

  async start(): Promise<() => Promise<void>> {
    const health = await freePort();
    const p = spawn(
      join(this.dir, "bin", "manager"),
      [
        "--metrics-bind-address",
        `127.0.0.1:${await freePort()}`,
        "--health-probe-bind-address",
        `127.0.0.1:${health}`,
        "--leader-elect=false",
        "--client-cache-persistence-model",
        "none",
        "--global-vault-auth-options",
        "allow-default-globals",
        "--zap-log-level",
        "info",
      ],
      {
        env: { ...process.env, KUBECONFIG: this.env.kubeconfig, OPERATOR_NAMESPACE: OP_NS },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const chunks: Buffer[] = [];
    p.stdout?.on("data", (d: Buffer) => chunks.push(d));
    p.stderr?.on("data", (d: Buffer) => chunks.push(d));
    p.once("exit", () => {
      // kept after the environment is gone, for reading why VSO did what it did
      writeFileSync(join(tmpdir(), "custos-differential-vso.log"), Buffer.concat(chunks));
    });
    process.once("exit", () => p.kill("SIGKILL"));
    this.proc = p;
    await waitHttp(`http://127.0.0.1:${health}/readyz`, p);
    return () => stopProc(p);
  }
}

/** Custos' CRDs in place of VSO's for the kinds both serve (`kubectl replace`, objects kept). */
async function replaceWithCustosCrds(env: TestEnv): Promise<void> {
  for (const f of readdirSync(join(root, "deploy", "crds")).filter((f) =>
    f.startsWith("secrets.hashicorp.com_"),
  ))
    await kubectl(env, ["replace", "-f", join(root, "deploy", "crds", f)]);
  await kubectl(env, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
}

async function custosPhase(
  env: TestEnv,
  api: KubeApi,
  selected: ReturnType<typeof selectVsoCases>,
): Promise<Map<string, VsoObservation>> {
  const op = await startOperator(env, [
    "--controllers",
    "vso",
    "--namespace",
    "vso-diff-cus",
    "--operator-namespace",
    OP_NS,
  ]);
  try {
    const applied = await applyVsoCases(api, env, selected, "vso-diff-cus");
    return await observeVsoAll(api, env, applied, 180_000, 15_000, say);
  } finally {
    writeFileSync(join(tmpdir(), "custos-differential-vso-custos.log"), op.output());
    await op.stop();
  }
}

/** Custos' CRDs for a run without VSO. */
async function applyCustosCrds(env: TestEnv): Promise<void> {
  for (const f of readdirSync(join(root, "deploy", "crds")).filter((f) =>
    f.startsWith("secrets.hashicorp.com_"),
  ))
    await kubectl(env, ["apply", "--server-side", "-f", join(root, "deploy", "crds", f)]);
  await kubectl(env, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
}

async function differential(env: TestEnv, api: KubeApi, vso: Vso | undefined): Promise<number> {
  const selected = selectVsoCases(opt("--only"));
  say(`${selected.length} of ${VSO_CASES.length} cases`);
  if (!vso) {
    const obs = await custosPhase(env, api, selected);
    process.stdout.write(`${JSON.stringify(Object.fromEntries(obs), null, 2)}\n`);
    return 0;
  }

  await vso.applyCrds();
  const stopVso = await vso.start();
  say("VSO running");
  let vsoObs: Map<string, VsoObservation>;
  try {
    const applied = await applyVsoCases(api, env, selected, "vso-diff-vso");
    vsoObs = await observeVsoAll(api, env, applied, 180_000, 15_000, say);
  } finally {
    await stopVso();
  }
  say("VSO phase done");

  await replaceWithCustosCrds(env);
  const cusObs = await custosPhase(env, api, selected);
  say("Custos phase done");

  let same = 0;
  let allowedN = 0;
  const failing: { title: string; diffs: ReturnType<typeof compareVso> }[] = [];
  const report: Record<string, unknown>[] = [];
  for (const { c } of selected) {
    const v = vsoObs.get(c.title)!;
    const k = cusObs.get(c.title)!;
    const diffs = compareVso(v, k, true);
    const bad = unallowedVso(c.title, diffs);
    if (diffs.length === 0) same++;
    else if (bad.length === 0) allowedN++;
    else failing.push({ title: c.title, diffs: bad });
    report.push({ title: c.title, family: c.family, vso: v, custos: k, diffs, unallowed: bad });
  }
  for (const f of failing) {
    process.stdout.write(`\nDIFF ${f.title}\n`);
    for (const d of f.diffs) process.stdout.write(`  ${d.field}: vso=${d.vso} custos=${d.custos}\n`);
  }
  const byFamily = new Map<string, number>();
  for (const { c } of selected) byFamily.set(c.family, (byFamily.get(c.family) ?? 0) + 1);
  process.stdout.write(
    `\ncases by family: ${[...byFamily].map(([f, n]) => `${f} ${n}`).join(", ")}\n` +
      `${selected.length} cases: ${same} identical, ${allowedN} differ only as allowed (${VSO_ALLOWED.length} allowances), ${failing.length} differ\n`,
  );
  const reportFile = opt("--report");
  if (reportFile) writeFileSync(reportFile, JSON.stringify(report, null, 2));
  if (args.includes("--record")) {
    // with --only, the recorded cases are merged into the existing fixture
    const fixture: VsoFixture =
      opt("--only") && existsSync(join(root, VSO_FIXTURE_FILE))
        ? (JSON.parse(readFileSync(join(root, VSO_FIXTURE_FILE), "utf8")) as VsoFixture)
        : { vso: env.versions.VSO_VERSION ?? "", cases: {} };
    for (const { c } of selected) {
      const o = vsoObs.get(c.title);
      if (!o) continue;
      // messages and the raw MAC depend on the run (horizon, Vault timestamps): not recorded
      const kept: VsoObservation = { ...o };
      delete kept.messages;
      delete kept.rawMac;
      fixture.cases[c.title] = kept;
    }
    mkdirSync(join(root, "test/fixtures/differential"), { recursive: true });
    writeFileSync(join(root, VSO_FIXTURE_FILE), `${JSON.stringify(fixture, null, 2)}\n`);
    say(`recorded ${Object.keys(fixture.cases).length} VSO outputs in ${VSO_FIXTURE_FILE}`);
  }
  return failing.length === 0 ? 0 : 1;
}

process.once("SIGTERM", () => process.exit(143));
process.once("SIGINT", () => process.exit(130));
const env = await startEnv({ verbose: true, components: ["kube", "vault"] });
let vso: Vso | undefined;
let exitCode: number;
try {
  const api = KubeApi.fromDefault(env.kubeconfig);
  if (args.includes("--custos-only")) await applyCustosCrds(env);
  else vso = new Vso(env, await ensureTool("vso"));
  await seedVso(env, api);
  await operatorNamespace(api, OP_NS);
  say("seeded Vault and the operator namespace");
  exitCode = await differential(env, api, vso);
} finally {
  if (vso?.proc) await stopProc(vso.proc);
  await env.stop();
}
process.exit(exitCode);
