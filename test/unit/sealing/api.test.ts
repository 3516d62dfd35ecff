import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { request } from "undici";
import { HttpEndpoints } from "../../../src/manager/http.ts";
import {
  ANSWERS,
  mountSealingApi,
  type SealingApiLimits,
} from "../../../src/controllers/sealedsecret/api.ts";
import { hybridDecrypt, hybridEncrypt, scopeLabel } from "../../../src/sealing/crypto.ts";
import { generateSealingKey, publicKeyOf, type SealingKey } from "../../../src/sealing/keys.ts";
import { sealSecret, type SealedSecret } from "../../../src/sealing/sealedsecret.ts";

let oldKey: SealingKey;
let newKey: SealingKey;
const servers: HttpEndpoints[] = [];

before(async () => {
  oldKey = await generateSealingKey({ bits: 2048 });
  newKey = await generateSealingKey({ bits: 2048 });
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(limits: Partial<SealingApiLimits> = {}): Promise<string> {
  const http = new HttpEndpoints();
  mountSealingApi(
    http,
    { privateKeys: [oldKey.privateKey, newKey.privateKey], newestPublicKey: () => publicKeyOf(newKey) },
    { maxBodyBytes: 2 * 1024 * 1024, maxEntries: 1024, maxInFlight: 4, ...limits },
  );
  servers.push(http);
  return `http://127.0.0.1:${await http.listen(0, "127.0.0.1")}`;
}

async function post(url: string, body: string | Buffer): Promise<{ status: number; text: string }> {
  const res = await request(url, { method: "POST", body });
  return { status: res.statusCode, text: await res.body.text() };
}

const meta = { name: "db", namespace: "app" };
const label = scopeLabel("strict", "app", "db");

function legacy(plaintext: string): SealedSecret {
  return {
    apiVersion: "bitnami.com/v1alpha1",
    kind: "SealedSecret",
    metadata: meta,
    spec: { data: hybridEncrypt(publicKeyOf(oldKey), Buffer.from(plaintext), label).toString("base64") },
  };
}

test("legacy spec.data that is not JSON: /v1/rotate and /v1/verify answer fixed texts, never the plaintext", async () => {
  const url = await serve();
  const plaintext = 'TOPSECRET-not-json {"x": 1}';
  for (const path of ["/v1/rotate", "/v1/verify"]) {
    const res = await post(`${url}${path}`, JSON.stringify(legacy(plaintext)));
    assert.equal(res.status, 409, path);
    assert.ok(res.text === "" || res.text === ANSWERS.cannotDecrypt, res.text);
    for (let n = 1; n <= 4; n++) assert.ok(!res.text.includes(plaintext.slice(0, n + 2)), path);
  }
});

test("/v1/rotate re-encrypts with the newest key, legacy data folded in, the template untouched", async () => {
  const url = await serve();
  const ss = sealSecret(
    { metadata: meta, stringData: { password: "pw-1234" } },
    publicKeyOf(oldKey),
    "strict",
  );
  ss.spec.data = legacy(
    JSON.stringify({ data: { legacy: Buffer.from("old-5678").toString("base64") } }),
  ).spec.data!;
  ss.spec.template = { ...ss.spec.template, data: { conf: "{{ .password }}" } };
  const res = await post(`${url}/v1/rotate`, JSON.stringify(ss));
  assert.equal(res.status, 200);
  const out = JSON.parse(res.text) as SealedSecret;
  assert.equal(out.spec.data, undefined);
  assert.deepEqual(out.spec.template?.data, { conf: "{{ .password }}" });
  const open = (k: string): string =>
    hybridDecrypt([newKey.privateKey], Buffer.from(out.spec.encryptedData![k]!, "base64"), label).toString();
  assert.equal(open("password"), "pw-1234");
  assert.equal(open("legacy"), "old-5678");
});

test("/v1/verify: 200 when it unseals, 409 when not, 400 for what is not a SealedSecret (without quoting it)", async () => {
  const url = await serve();
  const ss = sealSecret({ metadata: meta, stringData: { a: "value-a" } }, publicKeyOf(newKey), "strict");
  assert.equal((await post(`${url}/v1/verify`, JSON.stringify(ss))).status, 200);
  const wrongScope = { ...ss, metadata: { ...ss.metadata, name: "other" } };
  assert.equal((await post(`${url}/v1/verify`, JSON.stringify(wrongScope))).status, 409);
  for (const bad of [
    "{not json: SECRETISH",
    "[]",
    '{"kind":"Secret","spec":{}}',
    '{"spec":{"encryptedData":"x"}}',
  ]) {
    const res = await post(`${url}/v1/verify`, bad);
    assert.equal(res.status, 400, bad);
    assert.equal(res.text, ANSWERS.notSealedSecret);
  }
});

test("request size and entry count are bounded: 413 and 400 with fixed texts", async () => {
  const url = await serve({ maxBodyBytes: 64 * 1024, maxEntries: 10 });
  const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
  const declared = await post(`${url}/v1/verify`, big);
  assert.equal(declared.status, 413);
  // chunked, no Content-Length: refused once the count passes the limit
  const chunks = Readable.from(
    (function* () {
      for (let i = 0; i < 80; i++) yield Buffer.alloc(64 * 1024, 0x20);
    })(),
  );
  const streamed = await request(`${url}/v1/verify`, { method: "POST", body: chunks });
  assert.equal(streamed.statusCode, 413);
  await streamed.body.dump();
  const encryptedData: Record<string, string> = {};
  for (let i = 0; i < 11; i++) encryptedData[`k${i}`] = "AAAA";
  const many = await post(`${url}/v1/verify`, JSON.stringify({ metadata: meta, spec: { encryptedData } }));
  assert.equal(many.status, 400);
  assert.match(many.text, /more than 10 encrypted values/);
});

test("beyond the in-flight limit, requests get 429", async () => {
  const url = await serve({ maxInFlight: 1 });
  const encryptedData: Record<string, string> = {};
  const pub = publicKeyOf(newKey);
  for (let i = 0; i < 150; i++)
    encryptedData[`k${i}`] = hybridEncrypt(pub, Buffer.from(`v${i}`), label).toString("base64");
  const body = JSON.stringify({ metadata: meta, spec: { encryptedData } });
  const results = await Promise.all([post(`${url}/v1/verify`, body), post(`${url}/v1/verify`, body)]);
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 429]);
  assert.equal(results.find((r) => r.status === 429)?.text, ANSWERS.busy);
});

test("a request with many values does not hold the event loop: timers keep firing while it is served", async () => {
  const url = await serve();
  const pub = publicKeyOf(oldKey); // the older key: each value costs a failed try with the newer one too
  const encryptedData: Record<string, string> = {};
  for (let i = 0; i < 400; i++)
    encryptedData[`k${i}`] = hybridEncrypt(pub, Buffer.from(`v${i}`), label).toString("base64");
  const body = JSON.stringify({ metadata: meta, spec: { encryptedData } });
  let ticks = 0;
  let maxGap = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 5);
  const started = performance.now();
  const res = await post(`${url}/v1/rotate`, body);
  const took = performance.now() - started;
  clearInterval(timer);
  assert.equal(res.status, 200);
  // Synchronous decryption would leave no tick for the whole request; here the loop stays free.
  assert.ok(
    ticks >= took / 5 / 4,
    `ticks ${ticks} in ${Math.round(took)} ms (longest gap ${Math.round(maxGap)} ms)`,
  );
});
