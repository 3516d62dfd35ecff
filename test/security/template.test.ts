/**
 * Attack class: hostile templates. A tenant writes Go templates (ExternalSecret
 * `target.template`, SealedSecret `spec.template.data`) that
 * - pollute Object.prototype (`get (dict) "__proto__"` then `set`): before, every object parsed
 *   from the API server then inherited the tenant's keys, and a ClusterSecretStore limited by
 *   `namespaceSelector` became usable from any namespace;
 * - exhaust the process (`range 100000000`, doubling with concat, `printf "%500000000d"`, indent
 *   with a huge width): before, the heap ran out and the operator died;
 * - read a secret value through an error (`mustFromJson` on it, `fail (printf "%x" .password)`):
 *   before, the value landed in the status and the events.
 * What the tenant observes now: each hostile object gets a failed condition with a template error
 * that names no value; the selector-limited store stays denied to the tenant's namespace; the
 * operator stays up and serves an innocent ExternalSecret in another namespace in normal time.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request } from "undici";
import type { KeyObject } from "node:crypto";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import { freePort } from "../env/index.ts";
import {
  applyCrds,
  createNamespace,
  esStatus,
  eventually,
  kubectl,
  readyCondition,
  secretData,
  startOperator,
  suffix,
  KubeApi,
  type OperatorProcess,
} from "../e2e/helpers.ts";
import { hybridEncrypt, scopeLabel } from "../../src/sealing/crypto.ts";
import { publicKeyFromCertificate } from "../../src/sealing/keys.ts";

const id = suffix();
const cls = `sec-tpl-${id}`;
const labelKey = `custos-tpl-${id}`;
const CANARY = `CANARY${id}hunter2`;
let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let opSealed: OperatorProcess;
let tenant: string;
let innocentNs: string;
let keyNs: string;
let sealedNs: string;
let pub: KeyObject;

/** The forms in which a value could leak: as it is, hex (either case), base64, 6-char pieces. */
function assertNoValue(observed: string, what: string): void {
  const forms = [
    CANARY,
    Buffer.from(CANARY).toString("hex"),
    Buffer.from(CANARY).toString("hex").toUpperCase(),
    Buffer.from(CANARY).toString("base64").slice(0, 12),
    "hunter2",
  ];
  for (const f of forms)
    assert.ok(!observed.includes(f), `${what} carries a value (${f}): ${observed.slice(0, 400)}`);
}

const list = (items: unknown[]): string => JSON.stringify({ apiVersion: "v1", kind: "List", items });

const clusterStore = (name: string, controller: string, conditions?: unknown[]) => ({
  apiVersion: "external-secrets.io/v1",
  kind: "ClusterSecretStore",
  metadata: { name },
  spec: {
    controller,
    ...(conditions ? { conditions } : {}),
    provider: {
      fake: {
        data: [
          { key: "password", value: CANARY },
          { key: "innocent", value: "fine" },
        ],
      },
    },
  },
});

const externalSecret = (name: string, store: string, template?: string) => ({
  apiVersion: "external-secrets.io/v1",
  kind: "ExternalSecret",
  metadata: { name },
  spec: {
    refreshInterval: "1h",
    secretStoreRef: { name: store, kind: "ClusterSecretStore" },
    target: { name, ...(template === undefined ? {} : { template: { data: { out: template } } }) },
    data: [{ secretKey: "password", remoteRef: { key: template === undefined ? "innocent" : "password" } }],
  },
});

/** Templates that must fail with a template error naming no value. */
const HOSTILE: Record<string, { template: string; message: RegExp }> = {
  "pollute-get-set": {
    template: `{{ $p := get (dict) "__proto__" }}{{ $_ := set $p "${labelKey}" "granted" }}ok`,
    message: /"__proto__", "constructor" and "prototype" are not allowed/,
  },
  "pollute-index-set": {
    template: `{{ $_ := set (index (dict) "__proto__") "${labelKey}" "granted" }}ok`,
    message: /not allowed/,
  },
  "pollute-merge": {
    template: `{{ $_ := mergeOverwrite (dict) (fromJson "{\\"__proto__\\": {\\"${labelKey}\\": \\"granted\\"}}") }}ok`,
    message: /not allowed/,
  },
  "range-bomb": { template: "{{ range 100000000 }}{{ end }}", message: /budget of \d+ evaluation steps/ },
  "concat-bomb": {
    template: "{{ $l := list 1 }}{{ range 64 }}{{ $l = concat $l $l }}{{ end }}{{ len $l }}",
    message: /budget of \d+ bytes|concat would exceed/,
  },
  "indent-bomb": { template: '{{ indent 500000000 "x" }}', message: /indent width above/ },
  "repeat-bomb": { template: '{{ repeat 500000000 "xx" }}', message: /would exceed/ },
  "json-leak": { template: "{{ .password | mustFromJson }}", message: /the value is not valid JSON/ },
  "fail-leak": { template: '{{ fail (printf "%x" .password) }}', message: /message withheld/ },
  "range-leak": {
    template: "{{ range .password }}{{ end }}",
    message: /range can't iterate over value of type string/,
  },
};

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  tenant = await createNamespace(api, "sec-tpl-tenant");
  innocentNs = await createNamespace(api, "sec-tpl-innocent");
  keyNs = await createNamespace(api, "sec-tpl-keys");
  sealedNs = await createNamespace(api, "sec-tpl-sealed");
  const restricted = [{ namespaceSelector: { matchLabels: { [labelKey]: "granted" } } }];
  await kubectl(
    env,
    ["apply", "-f", "-"],
    list([clusterStore(`${cls}-open`, cls), clusterStore(`${cls}-restricted`, cls, restricted)]),
  );
  // all namespaces, ExternalSecrets of this class only
  op = await startOperator(env, ["--controllers", "externalsecret", "--controller-class", cls]);
  // SealedSecrets (not class-scoped) only in a namespace of their own
  const port = await freePort();
  opSealed = await startOperator(env, [
    "--controllers",
    "sealedsecret",
    "--namespace",
    sealedNs,
    "--sealed-secrets-namespace",
    keyNs,
    "--key-renew-period",
    "0",
    "--sealing-port",
    String(port),
  ]);
  const cert = await eventually("the sealing certificate", async () => {
    const res = await request(`http://127.0.0.1:${port}/v1/cert.pem`);
    const text = await res.body.text();
    return res.statusCode === 200 ? text : undefined;
  });
  pub = publicKeyFromCertificate(cert);
});

after(async () => {
  // before() may have failed half-way
  await op?.stop();
  await opSealed?.stop();
  await kubectl(env, [
    "delete",
    "clustersecretstore",
    `${cls}-open`,
    `${cls}-restricted`,
    "--ignore-not-found",
  ]).catch(() => undefined);
});

async function esReady(ns: string, name: string, status: "True" | "False", timeoutMs = 30_000) {
  return eventually(
    `${ns}/${name} Ready=${status}`,
    async () => {
      const r = readyCondition(await esStatus(api, ns, name));
      return r?.status === status ? r : undefined;
    },
    timeoutMs,
  );
}

test("hostile ExternalSecret templates fail with value-free template errors; the operator stays up and serves others", async () => {
  await kubectl(
    env,
    ["apply", "-n", tenant, "-f", "-"],
    list([
      ...Object.entries(HOSTILE).map(([name, h]) => externalSecret(name, `${cls}-open`, h.template)),
      // Go's fmt refuses a width over 1e6: this renders "%!(NOVERB)%!(EXTRA int=1)", no 500 MB
      externalSecret("printf-width", `${cls}-open`, '{{ printf "%500000000d" 1 }}'),
    ]),
  );
  // the innocent one in another namespace, applied after the hostile ones: served in normal time
  const innocentAt = Date.now();
  await kubectl(
    env,
    ["apply", "-n", innocentNs, "-f", "-"],
    list([externalSecret("innocent", `${cls}-open`)]),
  );
  assert.deepEqual(
    await eventually("innocent synced", () => secretData(api, innocentNs, "innocent"), 20_000),
    {
      password: "fine",
    },
  );
  const innocentMs = Date.now() - innocentAt;
  assert.ok(innocentMs < 20_000, `innocent served in ${innocentMs} ms`);

  for (const [name, h] of Object.entries(HOSTILE)) {
    const c = await esReady(tenant, name, "False");
    assert.match(c.message ?? "", /template/, name);
    assert.match(c.message ?? "", h.message, `${name}: ${c.message ?? ""}`);
    assertNoValue(c.message ?? "", `${name} status`);
    assert.equal(await secretData(api, tenant, name), undefined, `${name}: no Secret written`);
  }
  await esReady(tenant, "printf-width", "True");
  assert.deepEqual(await secretData(api, tenant, "printf-width"), { out: "%!(NOVERB)%!(EXTRA int=1)" });

  const events = await kubectl(env, ["get", "events", "-n", tenant, "-o", "json"]);
  assertNoValue(events, "events");
  assertNoValue(op.output(), "the operator's log");
  assert.equal(op.child.exitCode, null, "the operator is still running");
  assert.equal(op.child.signalCode, null);
});

test("Object.prototype was not polluted: the selector-limited ClusterSecretStore stays denied to the tenant", async () => {
  // the hostile templates above tried to give every object the label the store requires
  await kubectl(
    env,
    ["apply", "-n", tenant, "-f", "-"],
    list([externalSecret("probe", `${cls}-restricted`)]),
  );
  const denied = await esReady(tenant, "probe", "False");
  assert.match(denied.message ?? "", /not allowed from namespace .*denied by spec\.condition/);
  assert.equal(await secretData(api, tenant, "probe"), undefined);
  // and a namespace that does carry the label is served (the selector itself works)
  const labelled = await createNamespace(api, "sec-tpl-granted", { [labelKey]: "granted" });
  await kubectl(
    env,
    ["apply", "-n", labelled, "-f", "-"],
    list([externalSecret("granted", `${cls}-restricted`)]),
  );
  assert.deepEqual(await eventually("granted synced", () => secretData(api, labelled, "granted"), 20_000), {
    password: "fine",
  });
  assert.equal(op.child.exitCode, null);
});

test("hostile SealedSecret spec.template: the same engine, the same walls", async () => {
  const skipOwner = "sealedsecrets.bitnami.com/skip-set-owner-references";
  const sealed = (name: string, templates: Record<string, string>) => ({
    apiVersion: "bitnami.com/v1alpha1",
    kind: "SealedSecret",
    metadata: { name },
    spec: {
      encryptedData: {
        password: hybridEncrypt(pub, Buffer.from(CANARY), scopeLabel("strict", sealedNs, name)).toString(
          "base64",
        ),
      },
      template: { data: templates },
    },
  });
  const hostile: Record<string, [string, RegExp]> = {
    // had it worked, every SealedSecret's annotations would say "skip owner references"
    "ss-pollute": [
      `{{ $p := get (dict) "__proto__" }}{{ $_ := set $p "${skipOwner}" "true" }}x`,
      /not allowed/,
    ],
    "ss-range": ["{{ range 100000000 }}{{ end }}", /budget of \d+ evaluation steps/],
    "ss-leak": ['{{ fail (printf "%x" .password) }}', /message withheld/],
  };
  await kubectl(
    env,
    ["apply", "-n", sealedNs, "-f", "-"],
    list(Object.entries(hostile).map(([name, [tpl]]) => sealed(name, { out: tpl }))),
  );
  for (const [name, [, message]] of Object.entries(hostile)) {
    const cond = await eventually(`${name} Synced=False`, async () => {
      const ss = await api.get<{
        status?: { conditions?: { type: string; status: string; message?: string }[] };
      }>(`/apis/bitnami.com/v1alpha1/namespaces/${sealedNs}/sealedsecrets/${name}`);
      const c = ss.status?.conditions?.find((x) => x.type === "Synced");
      return c?.status === "False" ? c : undefined;
    });
    assert.match(cond.message ?? "", message, `${name}: ${cond.message ?? ""}`);
    assertNoValue(cond.message ?? "", `${name} status`);
  }
  // after the attempts, an innocent one (kubectl apply gives it annotations) is unsealed with its
  // owner reference: no annotation was inherited from a polluted prototype
  await kubectl(
    env,
    ["apply", "-n", sealedNs, "-f", "-"],
    list([sealed("ss-innocent", { out: "{{ .password | len }}" })]),
  );
  assert.deepEqual(
    await eventually("ss-innocent unsealed", () => secretData(api, sealedNs, "ss-innocent"), 20_000),
    { password: CANARY, out: String(CANARY.length) },
  );
  const unsealed = await api.get<{ metadata: { ownerReferences?: { kind: string; name: string }[] } }>(
    `/api/v1/namespaces/${sealedNs}/secrets/ss-innocent`,
  );
  assert.deepEqual(
    unsealed.metadata.ownerReferences?.map((r) => `${r.kind}/${r.name}`),
    ["SealedSecret/ss-innocent"],
  );
  const events = await kubectl(env, ["get", "events", "-n", sealedNs, "-o", "json"]);
  assertNoValue(events, "events");
  assertNoValue(opSealed.output(), "the operator's log");
  assert.equal(opSealed.child.exitCode, null, "the operator is still running");
});
