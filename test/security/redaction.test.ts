/**
 * Attack class: redaction gaps. A tenant's Vault secret holds a value with quotes, a backslash and
 * a newline, and a binary value (invalid UTF-8); its ExternalSecrets' templates put them into error
 * messages in every form a message may carry them: raw, Go %q, %x/%X, JSON-escaped, base64 — through
 * `fail` (the template engine withholds computed text) and through Secret labels the API server
 * refuses, quoting the value in its error (there the redactor is the wall).
 * What anyone reading the ExternalSecret's status, its events or the operator's log can observe:
 * the error (so the path was taken), and none of those forms of either value — nor base64url,
 * latin1 or double-JSON renderings. An innocent ExternalSecret syncs; the operator stays up.
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
  startOperator,
  suffix,
  vaultClient,
  KubeApi,
  type OperatorProcess,
  type VaultClient,
} from "../e2e/helpers.ts";
import { goQuote } from "../../src/util/redact.ts";

const id = suffix();
const cls = `sec-redact-${id}`;
const mount = `kv-redact-${id}`;
const quoted = `q"uo\\te\nd-${id}-tail`;
const binary = Buffer.concat([
  Buffer.from([0xff, 0xfe, 0x00, 0x22, 0x5c, 0x0a]),
  Buffer.from(`bin-${id}`),
  Buffer.from([0x80, 0xc3, 0x28, 0x7f]),
]);
let env: SharedEnv;
let api: KubeApi;
let vault: VaultClient;
let op: OperatorProcess;
let ns: string;

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  vault = vaultClient(env);
  await applyCrds(env);
  ns = await createNamespace(api, "sec-redact");
  await vault.call("POST", `sys/mounts/${mount}`, { type: "kv", options: { version: "2" } });
  await vault.call("POST", `${mount}/data/app/creds`, {
    data: { quoted, bin: binary.toString("base64"), innocent: "innocent-value" },
  });
  await vault.call("PUT", `sys/policies/acl/${cls}`, {
    policy: `path "${mount}/*" { capabilities = ["read"] }`,
  });
  const created = await vault.call("POST", "auth/token/create", { policies: [cls], ttl: "2h" });
  const token = (created.json.auth as { client_token: string }).client_token;
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "vault-token" },
    stringData: { token },
  });
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: vault }
spec:
  controller: ${cls}
  provider:
    vault:
      server: ${env.vault.addr}
      path: ${mount}
      version: v2
      auth: { tokenSecretRef: { name: vault-token, key: token } }
`,
  );
  op = await startOperator(env, [
    "--controllers",
    "externalsecret",
    "--controller-class",
    cls,
    "--namespace",
    ns,
  ]);
});

after(async () => {
  await op.stop();
});

const es = (name: string, template: string): string => `---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: ${name} }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: vault, kind: SecretStore }
  target:
    name: ${name}
    ${template}
  data:
    - { secretKey: quoted, remoteRef: { key: app/creds, property: quoted } }
    - { secretKey: bin, remoteRef: { key: app/creds, property: bin, decodingStrategy: Base64 } }
    - { secretKey: innocent, remoteRef: { key: app/creds, property: innocent } }
`;
/** A Secret label made of the values: the API server refuses it, quoting it (Go %q) in its error. */
const label = (name: string, text: string): string =>
  es(name, `template: { metadata: { labels: { x: '${text}' } } }`);

/** The texts each value may be seen as. */
function forms(): [string, string][] {
  const q = Buffer.from(quoted);
  const out: [string, string][] = [
    ["raw", quoted],
    ["%q", goQuote(q)],
    ["JSON", JSON.stringify(quoted).slice(1, -1)],
    ["double JSON", JSON.stringify(JSON.stringify(quoted)).slice(1, -1)],
    ["base64", q.toString("base64")],
    ["base64url", q.toString("base64url")],
    ["hex", q.toString("hex")],
    ["HEX", q.toString("hex").toUpperCase()],
    ["binary base64", binary.toString("base64")],
    ["binary base64url", binary.toString("base64url")],
    ["binary hex", binary.toString("hex")],
    ["binary HEX", binary.toString("hex").toUpperCase()],
    ["binary %q", goQuote(binary)],
    ["binary latin1", binary.toString("latin1")],
  ];
  // a value's line breaks may be all that separates it from the rest: also each line alone
  for (const line of quoted.split("\n")) if (line.length >= 8) out.push(["a line of it", line]);
  return out;
}

function assertClean(text: string, where: string): void {
  for (const [form, v] of forms())
    assert.ok(!text.includes(v), `${where} holds the ${form} form: ${text.slice(0, 400)}`);
}

test("values with quotes, newlines and binary bytes never show in status, events or the log, in any form", async () => {
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    [
      // error messages the template engine itself writes (they withhold computed text)
      es(
        "fail-text",
        `template: { data: { out: '{{ fail (printf "q=%q x=%x s=%s j=%s b=%s" .quoted .quoted .quoted (toJson .quoted) (.quoted | b64enc)) }}' } }`,
      ),
      es(
        "fail-binary",
        `template: { data: { out: '{{ fail (printf "q=%q x=%x b=%s" .bin .bin (.bin | b64enc)) }}' } }`,
      ),
      // error messages of the API server, quoting what it refused: the redactor is the wall
      label("label-quoted", "{{ .quoted }}"),
      label("label-json", "{{ toJson .quoted }}"),
      label("label-hex", '{{ printf "%x%x" .quoted .quoted }}'),
      label("label-base64", "{{ .quoted | b64enc }}{{ .quoted | b64enc }}"),
      label("label-binary", "{{ .bin }}"),
      label("label-binary-hex", '{{ printf "%X%X%X" .bin .bin .bin }}'),
      es("innocent", ""),
    ].join(""),
  );
  assert.equal(
    (await eventually("innocent", () => secretData(api, ns, "innocent"), 30_000)).innocent,
    "innocent-value",
  );
  const failing = [
    "fail-text",
    "fail-binary",
    "label-quoted",
    "label-json",
    "label-hex",
    "label-base64",
    "label-binary",
    "label-binary-hex",
  ];
  for (const name of failing) {
    const ready = await eventually(`${name} failed`, async () => {
      const r = readyCondition(await esStatus(api, ns, name));
      return r?.status === "False" && r.message ? r : undefined;
    });
    // the error path was taken; what it would have quoted is withheld or redacted
    if (name.startsWith("fail-")) assert.match(ready.message ?? "", /error calling fail/, ready.message);
    else assert.match(ready.message ?? "", /\[REDACTED\]/, `${name}: ${ready.message ?? ""}`);
    assertClean(ready.message ?? "", `${name}: Ready message`);
    await eventually(`${name}: events`, async () => {
      const list = await api.list<{ message?: string; involvedObject: { name: string } }>(
        `/api/v1/namespaces/${ns}/events`,
      );
      const mine = list.items.filter((e) => e.involvedObject.name === name);
      for (const e of mine) assertClean(e.message ?? "", `${name}: event`);
      return mine.length > 0;
    });
  }
  const log = op.output();
  assert.match(log, /\[REDACTED\]/, "the errors were logged");
  assertClean(log, "operator log");
  for (const line of log.split("\n")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    for (const v of Object.values(parsed as Record<string, unknown>))
      if (typeof v === "string") assertClean(v, "operator log field");
  }
  for (const name of failing) assert.equal(await secretData(api, ns, name), undefined);
  assert.equal(op.child.exitCode, null, "the operator is still running");
});
