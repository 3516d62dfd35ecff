/**
 * The differential harness without ESO: a fixed subset of its cases (test/differential/fixture.ts)
 * runs against Custos on the real API server, Vault and moto, and what a user observes (admission,
 * Ready status and reason, the Secret's type, data bytes, labels, annotations with the data-hash,
 * owners) must equal what the real ESO v2.9 produced on the same objects, recorded by
 * `npm run differential -- --record`. Deliberate divergences are those of the harness' allow-list.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import { applyCrds, startOperator, suffix, KubeApi, type OperatorProcess } from "./helpers.ts";
import { CASES } from "../differential/cases.ts";
import { FIXTURE_FILE, FIXTURE_TITLES, type Fixture } from "../differential/fixture.ts";
import { applyAll, cleanup, observeAll, seed, type Applied } from "../differential/harness.ts";
import { compare, unallowed } from "../differential/observe.ts";

const root = join(import.meta.dirname, "..", "..");
const fixture = JSON.parse(readFileSync(join(root, FIXTURE_FILE), "utf8")) as Fixture;
let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let applied: Applied[] = [];
const cls = `replay-${suffix()}`;

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  await seed(env);
  op = await startOperator(env, ["--controllers", "externalsecret", "--controller-class", cls], {
    AWS_ENDPOINT_URL: env.aws.endpoint,
  });
});

after(async () => {
  await op.stop();
  await cleanup(api, applied);
});

test("the fixture records every case of the fixed subset", () => {
  assert.deepEqual(Object.keys(fixture.cases).sort(), [...FIXTURE_TITLES].sort());
});

test(`Custos observes what ESO ${fixture.eso} did on the recorded cases`, async () => {
  const selected = CASES.map((c, index) => ({ c, index })).filter(({ c }) => c.title in fixture.cases);
  applied = await applyAll(api, env, selected, `rp${suffix()}`, cls);
  const observed = await observeAll(api, applied, 120_000, 3_000);
  const failures: string[] = [];
  for (const { c } of selected) {
    const bad = unallowed(c.title, compare(fixture.cases[c.title]!, observed.get(c.title)!));
    if (bad.length)
      failures.push(
        `${c.title}\n${bad.map((d) => `  ${d.field}: eso=${d.eso} custos=${d.custos}`).join("\n")}`,
      );
  }
  assert.equal(failures.length, 0, `differences from ESO:\n${failures.join("\n")}`);
});
