/**
 * Attack class: the sealing API as a decryption oracle and a denial of service. The API is
 * unauthenticated (kubeseal reaches it through the API server's service proxy), so anyone who can
 * reach the operator's sealing port is the attacker here.
 * - Oracle: a legacy-format SealedSecret (`spec.data`, a whole Secret sealed as one value) whose
 *   plaintext is not JSON, sent to /v1/rotate and /v1/verify (and applied as an object): no answer,
 *   status or event carries any piece of the plaintext (a parse error quoted it).
 * - Load: 5 MB bodies, and bursts of valid requests with a thousand values each, while an innocent
 *   ExternalSecret is created: the big bodies are refused (413), the burst is bounded (429 past the
 *   in-flight cap), the operator keeps answering its probes and syncs the innocent ExternalSecret
 *   in normal time.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request } from "undici";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import { freePort } from "../env/index.ts";
import {
  applyCrds,
  createNamespace,
  eventually,
  kubectl,
  secretData,
  sleep,
  startOperator,
  suffix,
  KubeApi,
  type OperatorProcess,
} from "../e2e/helpers.ts";
import { hybridEncrypt, scopeLabel } from "../../src/sealing/crypto.ts";
import { publicKeyFromCertificate } from "../../src/sealing/keys.ts";
import type { KeyObject } from "node:crypto";

const id = suffix();
const cls = `sec-sealing-${id}`;
let env: SharedEnv;
let api: KubeApi;
let op: OperatorProcess;
let ns: string;
let keyNs: string;
let port: number;
let sealingUrl: string;
let pub: KeyObject;

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  await applyCrds(env);
  ns = await createNamespace(api, "sec-sealing");
  keyNs = await createNamespace(api, "sec-sealing-keys");
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: fake }
spec:
  controller: ${cls}
  provider: { fake: { data: [ { key: app, value: innocent-value } ] } }
`,
  );
  port = await freePort();
  sealingUrl = `http://127.0.0.1:${port}`;
  op = await startOperator(env, [
    "--controllers",
    "externalsecret,sealedsecret",
    "--controller-class",
    cls,
    "--namespace",
    ns,
    "--sealed-secrets-namespace",
    keyNs,
    "--key-renew-period",
    "0",
    "--sealing-port",
    String(port),
  ]);
  const cert = await eventually("the sealing certificate", async () => {
    const res = await request(`${sealingUrl}/v1/cert.pem`);
    const text = await res.body.text();
    return res.statusCode === 200 ? text : undefined;
  });
  pub = publicKeyFromCertificate(cert);
});

after(async () => {
  await op.stop();
});

async function post(path: string, body: string | Buffer): Promise<{ status: number; text: string }> {
  const res = await request(`${sealingUrl}${path}`, { method: "POST", body });
  return { status: res.statusCode, text: await res.body.text() };
}

/** No 4-character piece of `secret` is in `observed`. */
function assertNoPiece(secret: string, observed: string, what: string): void {
  for (let i = 0; i + 4 <= secret.length; i++) {
    const piece = secret.slice(i, i + 4);
    assert.ok(
      !observed.includes(piece),
      `${what} holds "${piece}" of the plaintext: ${observed.slice(0, 300)}`,
    );
  }
}

test("a legacy SealedSecret that decrypts to non-JSON: no answer, status or event holds any of its plaintext", async () => {
  const name = "legacy";
  const label = scopeLabel("strict", ns, name);
  const plaintexts = [
    `ORACLE${id}plaintext that is not JSON at all`,
    `{"data": "ORACLE${id}a string where a map belongs"}`,
    `{"data": {"k": 12345}, "ORACLE${id}": [tru`,
  ];
  for (const plaintext of plaintexts) {
    const ss = {
      apiVersion: "bitnami.com/v1alpha1",
      kind: "SealedSecret",
      metadata: { name, namespace: ns },
      spec: { data: hybridEncrypt(pub, Buffer.from(plaintext), label).toString("base64") },
    };
    for (const path of ["/v1/rotate", "/v1/verify"]) {
      const res = await post(path, JSON.stringify(ss));
      assert.equal(res.status, 409, `${path}: kubeseal's "cannot decrypt" answer`);
      assertNoPiece(`ORACLE${id}`, res.text, path);
    }
  }
  // The same as an object in the cluster: the controller's status and events
  const plaintext = plaintexts[0]!;
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    JSON.stringify({
      apiVersion: "bitnami.com/v1alpha1",
      kind: "SealedSecret",
      metadata: { name, namespace: ns },
      // the CRD requires encryptedData (as Bitnami's); legacy data rides along
      spec: { encryptedData: {}, data: hybridEncrypt(pub, Buffer.from(plaintext), label).toString("base64") },
    }),
  );
  const cond = await eventually("Synced=False", async () => {
    const ss = await api.get<{
      status?: { conditions?: { type: string; status: string; message?: string }[] };
    }>(`/apis/bitnami.com/v1alpha1/namespaces/${ns}/sealedsecrets/${name}`);
    const c = ss.status?.conditions?.find((x) => x.type === "Synced");
    return c?.status === "False" ? c : undefined;
  });
  assertNoPiece(`ORACLE${id}`, cond.message ?? "", "status");
  const events = await kubectl(env, ["get", "events", "-n", ns, "-o", "json"]);
  assertNoPiece(`ORACLE${id}`, events, "events");
  assertNoPiece(`ORACLE${id}`, op.output(), "operator log");
});

test("5 MB bodies are refused, bursts are bounded, and the operator keeps serving meanwhile", async () => {
  const label = scopeLabel("strict", ns, "burst");
  const entry = hybridEncrypt(pub, Buffer.from("a value"), label).toString("base64");
  const sealedWith = (n: number): string => {
    const encryptedData: Record<string, string> = {};
    for (let i = 0; i < n; i++) encryptedData[`k${i}`] = entry;
    return JSON.stringify({
      apiVersion: "bitnami.com/v1alpha1",
      kind: "SealedSecret",
      metadata: { name: "burst", namespace: ns },
      spec: { encryptedData },
    });
  };
  const huge = sealedWith(7_500); // ~5.3 MB of valid values: seconds of RSA work unbounded
  assert.ok(huge.length > 5_000_000);
  const full = sealedWith(1_000); // under both limits: admitted, decrypted on the thread pool

  // probe the operator's liveness endpoint throughout
  let probing = true;
  let worstProbeMs = 0;
  const probes = (async () => {
    const metricsPort = new URL(op.metricsUrl).port;
    while (probing) {
      const t = performance.now();
      const res = await request(`http://127.0.0.1:${metricsPort}/healthz`);
      await res.body.dump();
      worstProbeMs = Math.max(worstProbeMs, performance.now() - t);
      await sleep(50);
    }
  })();

  const created = Date.now();
  await kubectl(
    env,
    ["apply", "-n", ns, "-f", "-"],
    `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: { name: innocent }
spec:
  refreshInterval: 1h
  secretStoreRef: { name: fake, kind: SecretStore }
  target: { name: innocent }
  data: [ { secretKey: v, remoteRef: { key: app } } ]
`,
  );
  // the oversized bodies first (three, under the in-flight cap of four, so each meets the size
  // limit rather than the cap), then a burst beyond the cap
  const answers = [
    ...(await Promise.all([post("/v1/verify", huge), post("/v1/rotate", huge), post("/v1/verify", huge)])),
    ...(await Promise.all(
      Array.from({ length: 10 }, (_, i) => post(i % 2 ? "/v1/rotate" : "/v1/verify", full)),
    )),
  ];
  const innocent = await eventually("innocent synced", () => secretData(api, ns, "innocent"), 30_000);
  const syncedIn = Date.now() - created;
  probing = false;
  await probes;

  for (const a of answers.slice(0, 3)) {
    assert.equal(a.status, 413, "a 5 MB body is refused");
    assert.match(a.text, /^request body larger than \d+ bytes$/);
  }
  const burst = answers.slice(3).map((a) => a.status);
  assert.ok(burst.includes(200), `some of the burst is served: ${burst.join(",")}`);
  assert.ok(burst.includes(429), `the rest is turned away (in-flight cap): ${burst.join(",")}`);
  assert.ok(
    burst.every((s) => s === 200 || s === 429),
    burst.join(","),
  );
  assert.deepEqual(innocent, { v: "innocent-value" });
  assert.ok(syncedIn < 15_000, `the innocent ExternalSecret synced in ${syncedIn} ms`);
  assert.ok(worstProbeMs < 2_000, `/healthz answered within ${Math.round(worstProbeMs)} ms throughout`);
  assert.equal(op.child.exitCode, null, "the operator is still running");
});
