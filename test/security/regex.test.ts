/**
 * Attack class: regular expressions that stall the process. A tenant whose namespace is named
 * "aaaa...a-<hex>" writes patterns that backtrack exponentially on V8 (`^(a+)+$` against 40 a's
 * and one other character: days) wherever a pattern reaches the operator: an ExternalSecret
 * `rewrite.regexp` over hostile remote keys, a template `regexMatch` over a hostile value, a
 * ClusterSecretStore's `namespaceRegexes` (written by an admin, matched against the tenant's
 * namespace name), and Reloader's `reload` annotation matched against a hostile Secret name.
 * What the tenant observes: each object is decided as Go's RE2 decides (Ready, denied, restarted
 * or not) within seconds, an innocent ExternalSecret is served in normal time, the operator keeps
 * running and keeps renewing its Lease. It also observes Go's replacement and empty-match
 * semantics in rewrites (`${1}_x` vs `$1_x`, `a*`), which ESO gives.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import {
  applyCrds,
  createNamespace,
  esStatus,
  eventually,
  kubectl,
  readyCondition,
  secretData,
  sleep,
  startOperator,
  suffix,
  KubeApi,
  type OperatorProcess,
} from "../e2e/helpers.ts";

const id = suffix();
const cls = `sec-regex-${id}`;
const A40 = "a".repeat(40);
const hostileKey = `${A40}b`;
let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let admin: string;
let tenant: string;

const store = (name: string, conditions?: string) => `---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: ${name} }
spec:
  controller: ${cls}
  ${conditions ? `conditions: ${conditions}` : ""}
  provider:
    fake:
      data:
        - { key: hostile, valueMap: { "${hostileKey}": "h", "aaaa": "ok" } }
        - { key: long, value: "${hostileKey}" }
        - { key: xs, value: "${"x".repeat(40)}" }
        - { key: sem, valueMap: { "db-user": "u", "baaac": "b" } }
        - { key: innocent, value: "fine" }
`;

const es = (name: string, storeName: string, body: string) => `---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: ${storeName}, kind: ClusterSecretStore }
  target: { name: ${name} }
${body}
`;

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  admin = await createNamespace(api, "sec-regex-admin");
  // the tenant's namespace name is the hostile input for namespaceRegexes
  tenant = await createNamespace(api, A40);
  await kubectl(
    env,
    ["apply", "-f", "-"],
    [
      store(`${cls}-open`),
      store(`${cls}-deny`, `[ { namespaceRegexes: [ "^(a+)+$" ] } ]`),
      store(`${cls}-allow`, `[ { namespaceRegexes: [ "^(a+)+-[0-9a-f]+$" ] } ]`),
      store(`${cls}-invalid`, `[ { namespaceRegexes: [ "^(?=a)" ] } ]`),
    ].join(""),
  );
  op = await startOperator(env, [
    "--controllers",
    "externalsecret,rollout",
    "--controller-class",
    cls,
    "--namespace",
    tenant,
    "--enable-leader-election",
    "--leader-election-namespace",
    admin,
    "--leader-election-id",
    cls,
  ]);
});

after(async () => {
  await op.stop();
  await kubectl(env, [
    "delete",
    "clustersecretstore",
    `${cls}-open`,
    `${cls}-deny`,
    `${cls}-allow`,
    `${cls}-invalid`,
    "--ignore-not-found",
  ]).catch(() => undefined);
});

async function ready(name: string, status: "True" | "False", timeoutMs = 30_000) {
  return eventually(
    `${name} Ready=${status}`,
    async () => {
      const r = readyCondition(await esStatus(api, tenant, name));
      return r?.status === status ? r : undefined;
    },
    timeoutMs,
  );
}

test("hostile patterns are decided as Go decides, at once; an innocent ExternalSecret is served in normal time", async () => {
  const started = Date.now();
  await kubectl(
    env,
    ["apply", "-n", tenant, "-f", "-"],
    [
      // rewrite over hostile remote keys
      es(
        "rewrite",
        `${cls}-open`,
        `  dataFrom:
    - extract: { key: hostile }
      rewrite: [ { regexp: { source: "^(a+)+$", target: "matched" } } ]`,
      ),
      // template regex functions over hostile values
      es(
        "template",
        `${cls}-open`,
        `  data:
    - { secretKey: long, remoteRef: { key: long } }
    - { secretKey: xs, remoteRef: { key: xs } }`,
      ).replace(
        `target: { name: template }`,
        `target:
    name: template
    template:
      data:
        match: '{{ regexMatch "^(a+)+$" .long }}'
        find: '{{ regexFind "(x+x+)+y" .xs | default "none" }}'
        count: '{{ regexFindAll "(a|aa)+b" .long -1 | len }}'`,
      ),
      // namespaceRegexes matched against this namespace's name
      es("denied", `${cls}-deny`, `  data: [ { secretKey: v, remoteRef: { key: innocent } } ]`),
      es("allowed", `${cls}-allow`, `  data: [ { secretKey: v, remoteRef: { key: innocent } } ]`),
      es("invalid-condition", `${cls}-invalid`, `  data: [ { secretKey: v, remoteRef: { key: innocent } } ]`),
    ].join(""),
  );
  // the innocent one comes after the hostile ones: it must not wait behind them
  const innocentAt = Date.now();
  await kubectl(
    env,
    ["apply", "-n", tenant, "-f", "-"],
    es("innocent", `${cls}-open`, `  data: [ { secretKey: password, remoteRef: { key: innocent } } ]`),
  );
  assert.deepEqual(await eventually("innocent", () => secretData(api, tenant, "innocent"), 20_000), {
    password: "fine",
  });
  const innocentMs = Date.now() - innocentAt;
  assert.ok(innocentMs < 20_000, `innocent served in ${innocentMs} ms`);

  await ready("rewrite", "True");
  // Go: "^(a+)+$" does not match 40 a's and a b (unchanged key), matches "aaaa"
  assert.deepEqual(await secretData(api, tenant, "rewrite"), { [hostileKey]: "h", matched: "ok" });

  await ready("template", "True");
  assert.deepEqual(await secretData(api, tenant, "template"), {
    match: "false",
    find: "none",
    count: "1",
  });

  const denied = await ready("denied", "False");
  assert.match(denied.message ?? "", /not allowed from namespace .*denied by spec\.condition/);
  assert.equal(await secretData(api, tenant, "denied"), undefined);
  await ready("allowed", "True");
  assert.deepEqual(await secretData(api, tenant, "allowed"), { v: "fine" });
  // an invalid pattern (lookahead: Go rejects it, as ESO's admission does) matches no namespace
  const invalid = await ready("invalid-condition", "False");
  assert.match(invalid.message ?? "", /not allowed from namespace/);
  const storeReady = await eventually("invalid store not Ready", async () => {
    const s = await api.get<{
      status?: { conditions?: { type: string; status: string; message?: string }[] };
    }>(`/apis/external-secrets.io/v1/clustersecretstores/${cls}-invalid`);
    const c = s.status?.conditions?.find((x) => x.type === "Ready");
    return c?.status === "False" ? c : undefined;
  });
  assert.match(
    storeReady.message ?? "",
    /spec\.conditions\[0\]\.namespaceRegexes\[0\]: invalid regular expression: invalid or unsupported Perl syntax/,
  );

  assert.ok(Date.now() - started < 60_000, "all decided within a minute");
  assert.equal(op.child.exitCode, null, "the operator is still running");
  assert.equal(op.child.signalCode, null);
});

test("rewrites follow Go's ReplaceAllString as ESO: ${1}_x, $1_x (a group named 1_x), empty matches, empty keys dropped", async () => {
  await kubectl(
    env,
    ["apply", "-n", tenant, "-f", "-"],
    es(
      "semantics",
      `${cls}-open`,
      `  dataFrom:
    - extract: { key: sem }
      rewrite: [ { regexp: { source: "^(db)-(.*)$", target: "\${1}_x" } } ]
    - extract: { key: sem }
      rewrite: [ { regexp: { source: "^(db)-(.*)$", target: "$1_x.$2" } } ]
    - extract: { key: sem }
      rewrite: [ { regexp: { source: "a*", target: "-" } } ]
    - extract: { key: sem }
      rewrite: [ { regexp: { source: "^db-user$", target: "" } } ]`,
    ),
  );
  await ready("semantics", "True");
  assert.deepEqual(await secretData(api, tenant, "semantics"), {
    db_x: "u", // ${1}_x: group 1, then "_x"
    ".user": "u", // $1_x is the (absent) group "1_x": empty
    baaac: "b",
    "-d-b---u-s-e-r-": "u", // a* matches empty before every character and at the end
    "-b-c-": "b", // ...but not again right after "aaa" (JavaScript: "-b--c-")
  });
});

test("Reloader's reload annotation: a catastrophic pattern against a hostile Secret name restarts only what Go matches", async () => {
  const secretName = hostileKey;
  await api.create(`/api/v1/namespaces/${tenant}/secrets`, {
    metadata: { name: secretName },
    stringData: { v: "1" },
  });
  const deployment = (name: string, reload: string) => ({
    metadata: { name, annotations: { "secret.reloader.stakater.com/reload": reload } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "c", image: "registry.invalid/x" }] },
      },
    },
  });
  const path = (name: string) => `/apis/apps/v1/namespaces/${tenant}/deployments/${name}`;
  await api.create(`/apis/apps/v1/namespaces/${tenant}/deployments`, deployment("hostile", "(a+)+"));
  await api.create(`/apis/apps/v1/namespaces/${tenant}/deployments`, deployment("matching", "(a+)+b"));
  type Dep = {
    metadata: { generation: number };
    spec: { template: { spec: { containers: { env?: { name: string }[] }[] } } };
  };
  const g0 = (await api.get<Dep>(path("hostile"))).metadata.generation;
  await sleep(1500); // the rollout controller has seen both
  await api.mergePatch(`/api/v1/namespaces/${tenant}/secrets/${secretName}`, { stringData: { v: "2" } });
  const envName = `STAKATER_${secretName.toUpperCase()}_SECRET`;
  await eventually("the matching Deployment restarted", async () => {
    const d = await api.get<Dep>(path("matching"));
    return d.spec.template.spec.containers[0]?.env?.some((e) => e.name === envName) ? d : undefined;
  });
  await sleep(2000);
  const hostile = await api.get<Dep>(path("hostile"));
  assert.equal(hostile.metadata.generation, g0, "^(?:(a+)+)$ does not match 40 a's and a b: not restarted");
  assert.equal(op.child.exitCode, null, "the operator is still running");
});

test("the operator kept its Lease throughout", async () => {
  const lease = await api.get<{ spec: { holderIdentity?: string; renewTime?: string } }>(
    `/apis/coordination.k8s.io/v1/namespaces/${admin}/leases/${cls}`,
  );
  assert.ok(lease.spec.renewTime, "the Lease was renewed");
  assert.ok(Date.now() - Date.parse(lease.spec.renewTime) < 15_000, `last renewal ${lease.spec.renewTime}`);
  assert.doesNotMatch(op.output(), /leadership lost/);
  assert.equal(op.child.exitCode, null);
});
