/**
 * The VSO differential harness without VSO: every case of test/differential/vso-cases.ts runs
 * against Custos (`--controllers vso`, its own namespace and operator namespace) on the real API
 * server and Vault, and what a user observes (admission, the VaultStaticSecret's conditions,
 * secretMAC as the HMAC of the Secret's data under the shared key, lastGeneration, the Secret's
 * type, data bytes incl. `_raw`, labels, annotations, owner references) must equal what the real
 * VSO v1.4.1 produced on the same objects, recorded by `npm run differential:vso -- --record`.
 * Deliberate divergences are those of the harness' allow-list (VSO_ALLOWED).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import { applyCrds, startOperator, suffix, KubeApi, type OperatorProcess } from "./helpers.ts";
import { VSO_CASES } from "../differential/vso-cases.ts";
import { VSO_FIXTURE_FILE, type VsoFixture } from "../differential/vso-fixture.ts";
import {
  applyVsoCases,
  observeVsoAll,
  operatorNamespace,
  seedVso,
  type VsoApplied,
} from "../differential/vso-harness.ts";
import { compareVso, unallowedVso } from "../differential/vso-observe.ts";

const root = join(import.meta.dirname, "..", "..");
const fixture = JSON.parse(readFileSync(join(root, VSO_FIXTURE_FILE), "utf8")) as VsoFixture;
const id = suffix();
const ns = `vrp-${id}`;
const opNs = `vrp-op-${id}`;
let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let applied: VsoApplied[] = [];

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  await seedVso(env, api);
  await operatorNamespace(api, opNs);
  op = await startOperator(env, ["--controllers", "vso", "--namespace", ns, "--operator-namespace", opNs]);
});

after(async () => {
  await op.stop();
  for (const n of [ns, opNs]) await api.delete(`/api/v1/namespaces/${n}`).catch(() => undefined);
});

test("the fixture records every case of the table", () => {
  assert.deepEqual(Object.keys(fixture.cases).sort(), VSO_CASES.map((c) => c.title).sort());
});

test(`Custos observes what VSO ${fixture.vso} did on the recorded cases`, async () => {
  const selected = VSO_CASES.map((c, index) => ({ c, index })).filter(({ c }) => c.title in fixture.cases);
  applied = await applyVsoCases(api, env, selected, ns);
  const observed = await observeVsoAll(api, env, applied, 120_000, 5_000);
  const failures: string[] = [];
  for (const { c } of selected) {
    const bad = unallowedVso(c.title, compareVso(fixture.cases[c.title]!, observed.get(c.title)!));
    if (bad.length)
      failures.push(
        `${c.title}\n${bad.map((d) => `  ${d.field}: vso=${d.vso} custos=${d.custos}`).join("\n")}`,
      );
  }
  assert.equal(
    failures.length,
    0,
    `differences from VSO:\n${failures.join("\n")}\n${op.output().slice(-3000)}`,
  );
});
