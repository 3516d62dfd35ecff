/**
 * End to end: the SealedSecret controller in `custos operator`, the real kubeseal and `custos seal`,
 * keys imported from a Sealed Secrets installation, rotation, and bad input.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";
import { request } from "undici";
import { sharedEnv, type SharedEnv } from "../env/shared.ts";
import { ensureTool, freePort } from "../env/index.ts";
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
} from "./helpers.ts";
import { generateSealingKey, keyToSecret, type SealingKey } from "../../src/sealing/keys.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const examples = join(root, "..", "shared", "examples");
let env: SharedEnv;
let api: KubeApi;
let kubeseal: string;
let dir: string;
let keyNs: string;
let imported: SealingKey;
let op: OperatorProcess;
let port: number;

const certUrl = (): string => `http://127.0.0.1:${port}/v1/cert.pem`;
async function cert(): Promise<string> {
  return (await request(certUrl())).body.text();
}
async function startSealing(extra: string[] = []): Promise<OperatorProcess> {
  port = await freePort();
  return startOperator(env, [
    "--controllers",
    "sealedsecret",
    "--sealed-secrets-namespace",
    keyNs,
    "--sealing-port",
    String(port),
    ...extra,
  ]);
}
async function seal(input: string, args: string[] = []): Promise<string> {
  const p = run(kubeseal, ["--cert", certUrl(), "--format", "yaml", ...args], {
    env: { ...process.env, KUBECONFIG: join(dir, "kubeconfig") },
  });
  p.child.stdin?.end(input);
  return (await p).stdout;
}
async function syncedCondition(
  ns: string,
  name: string,
): Promise<{ status: string; message?: string } | undefined> {
  const ss = await api.getOrUndefined<{
    status?: { conditions?: { type: string; status: string; message?: string }[] };
  }>(`/apis/bitnami.com/v1alpha1/namespaces/${ns}/sealedsecrets/${name}`);
  return ss?.status?.conditions?.find((c) => c.type === "Synced");
}

before(async () => {
  env = await sharedEnv();
  api = KubeApi.fromDefault(env.kubeconfig);
  kubeseal = join(await ensureTool("kubeseal"), "bin", "kubeseal");
  dir = mkdtempSync(join(tmpdir(), "custos-sealed-"));
  writeFileSync(
    join(dir, "kubeconfig"),
    "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
  );
  await applyCrds(env);
  keyNs = await createNamespace(api, "sealing");
  // a key as an existing Sealed Secrets installation stores it
  imported = await generateSealingKey({ commonName: "sealed-secrets" });
  await api.create(`/api/v1/namespaces/${keyNs}/secrets`, keyToSecret(imported, keyNs));
  op = await startSealing(["--key-renew-period", "0"]);
});

after(async () => {
  await op.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("keys imported from a Sealed Secrets installation are used as they are", async () => {
  assert.equal((await cert()).trim(), imported.certificatePem.trim());
  const keys = await api.list(`/api/v1/namespaces/${keyNs}/secrets`, {
    labelSelector: "sealedsecrets.bitnami.com/sealed-secrets-key=active",
  });
  assert.equal(keys.items.length, 1, "no new key while a valid one exists and renewal is off");
});

test("documents 003/004: a SealedSecret made by the real kubeseal unseals into the Secret, owned by it", async () => {
  await api.create("/api/v1/namespaces", { metadata: { name: "secrets-demo" } }).catch(() => undefined);
  const sealed = await seal(readFileSync(join(examples, "seed-003-sealed-secrets", "secret.yaml"), "utf8"));
  await kubectl(env, ["apply", "-f", "-"], sealed);
  const data = await eventually("ss-postgres-secret", async () =>
    secretData(api, "secrets-demo", "ss-postgres-secret"),
  );
  assert.deepEqual(data, { password: "S3cr3tPassw0rd", username: "admin" });
  const s = await api.get<{ metadata: { ownerReferences?: { kind: string; name: string }[] } }>(
    "/api/v1/namespaces/secrets-demo/secrets/ss-postgres-secret",
  );
  assert.equal(s.metadata.ownerReferences?.[0]?.kind, "SealedSecret");
  assert.equal(
    (await eventually("Synced", async () => syncedCondition("secrets-demo", "ss-postgres-secret")))?.status,
    "True",
  );
  // the controller's HTTP API answers kubeseal's /v1/verify
  const verify = await request(`http://127.0.0.1:${port}/v1/verify`, {
    method: "POST",
    body: JSON.stringify(parse(sealed)),
  });
  assert.equal(verify.statusCode, 200);
  await verify.body.dump();
});

test("custos seal output unseals in the controller, for every scope", async () => {
  const ns = await createNamespace(api, "custos-seal");
  for (const scope of ["strict", "namespace-wide", "cluster-wide"]) {
    const input = stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `s-${scope}`, namespace: ns },
      stringData: { v: `value-${scope}` },
    });
    const p = run(
      process.execPath,
      ["--import", "tsx", join(root, "src/cli/main.ts"), "seal", "--cert", certUrl(), "--scope", scope],
      { cwd: root },
    );
    p.child.stdin?.end(input);
    await kubectl(env, ["apply", "-f", "-"], (await p).stdout);
  }
  for (const scope of ["strict", "namespace-wide", "cluster-wide"]) {
    assert.deepEqual(await eventually(scope, async () => secretData(api, ns, `s-${scope}`)), {
      v: `value-${scope}`,
    });
  }
});

test("strict scope with another name, tampered and truncated data: a clear condition, no Secret, no crash", async () => {
  const ns = await createNamespace(api, "badseal");
  const good = parse(
    await seal(
      stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "orig", namespace: ns },
        stringData: { v: "x-value-1234" },
      }),
    ),
  ) as {
    metadata: { name: string };
    spec: { encryptedData: Record<string, string> };
  };
  const renamed = { ...good, metadata: { ...good.metadata, name: "renamed" } };
  const ct = Buffer.from(good.spec.encryptedData.v!, "base64");
  ct[ct.length - 1]! ^= 1;
  const tampered = {
    ...good,
    metadata: { ...good.metadata, name: "orig" },
    spec: { encryptedData: { v: ct.toString("base64") } },
  };
  const truncated = {
    ...good,
    metadata: { ...good.metadata, name: "short" },
    spec: { encryptedData: { v: "AAE=" } },
  };
  for (const doc of [renamed, tampered, truncated])
    await kubectl(env, ["apply", "-n", ns, "-f", "-"], stringify(doc));
  for (const name of ["renamed", "orig", "short"]) {
    const c = await eventually(`condition of ${name}`, async () => {
      const x = await syncedCondition(ns, name);
      return x?.status === "False" ? x : undefined;
    });
    assert.match(c.message ?? "", /no key could decrypt secret|too short/);
    assert.equal(await secretData(api, ns, name), undefined);
  }
  assert.equal(op.child.exitCode, null, "the operator is still running");
  assert.ok(!op.output().includes("x-value-1234"));
});

test("rotation: a new key seals, old SealedSecrets still unseal, keys survive a restart", async () => {
  const ns = await createNamespace(api, "rotate");
  const before = await cert();
  const oldSealed = await seal(
    stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "old", namespace: ns },
      stringData: { v: "old-value" },
    }),
  );
  await op.stop();
  await sleep(1100);
  op = await startSealing(["--key-renew-period", "1s"]); // the newest key is older than 1 s: a new one is made
  const after = await cert();
  assert.notEqual(after.trim(), before.trim(), "new seals use the new key");
  await kubectl(env, ["apply", "-f", "-"], oldSealed);
  assert.deepEqual(await eventually("old", async () => secretData(api, ns, "old")), { v: "old-value" });
  await op.stop();
  op = await startSealing(["--key-renew-period", "0"]);
  assert.equal((await cert()).trim(), after.trim(), "keys survive a restart");
  const newSealed = await seal(
    stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `new-${suffix()}`, namespace: ns },
      stringData: { v: "new-value" },
    }),
  );
  await kubectl(env, ["apply", "-f", "-"], newSealed);
  const name = (parse(newSealed) as { metadata: { name: string } }).metadata.name;
  assert.deepEqual(await eventually("new", async () => secretData(api, ns, name)), { v: "new-value" });
});

test("through the API server's service proxy, as kubeseal calls it: --fetch-cert, sealing without --cert, --validate; custos seal the same way", async () => {
  // The API server proxies a Service only to endpoints backed by a Pod with that IP, and only to
  // non-loopback addresses; there is no kubelet here. So: a Pod object (never run) whose status
  // carries this machine's own address, where the operator's sealing port listens (it binds all
  // interfaces), and a selector-less Service with an EndpointSlice pointing at it.
  const ip = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
  assert.ok(ip, "this machine has a non-loopback IPv4 address for the API server to proxy to");
  const service = `sealed-${suffix()}`;
  await api.create(`/api/v1/namespaces/${keyNs}/pods`, {
    metadata: { name: service },
    spec: { containers: [{ name: "controller", image: "custos" }] },
  });
  await api.request("PATCH", `/api/v1/namespaces/${keyNs}/pods/${service}/status`, {
    body: { status: { podIP: ip, podIPs: [{ ip }] } },
    contentType: "application/merge-patch+json",
  });
  await api.create(`/api/v1/namespaces/${keyNs}/services`, {
    metadata: { name: service },
    spec: { ports: [{ name: "http", port: 8080, targetPort: port }] },
  });
  await api.create(`/apis/discovery.k8s.io/v1/namespaces/${keyNs}/endpointslices`, {
    metadata: { name: `${service}-1`, labels: { "kubernetes.io/service-name": service } },
    addressType: "IPv4",
    endpoints: [
      {
        addresses: [ip],
        conditions: { ready: true },
        targetRef: { kind: "Pod", name: service, namespace: keyNs },
      },
    ],
    ports: [{ name: "http", port, protocol: "TCP" }],
  });
  const viaProxy = { env: { ...process.env, KUBECONFIG: env.kubeconfig } };
  const controller = ["--controller-namespace", keyNs, "--controller-name", service];
  const fetched = await eventually("kubeseal --fetch-cert through the proxy", async () => {
    try {
      return (await run(kubeseal, [...controller, "--fetch-cert"], viaProxy)).stdout;
    } catch {
      return undefined;
    }
  });
  assert.equal(fetched.trim(), (await cert()).trim());

  const ns = await createNamespace(api, "proxy");
  const secret = (name: string): string =>
    stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: ns },
      stringData: { v: name },
    });
  const withStdin = async (cmd: string, args: string[], input: string): Promise<string> => {
    const p = run(cmd, args, viaProxy);
    p.child.stdin?.end(input);
    return (await p).stdout;
  };
  const byKubeseal = await withStdin(kubeseal, [...controller, "--format", "yaml"], secret("by-kubeseal"));
  const byCustos = await withStdin(
    process.execPath,
    ["--import", "tsx", join(root, "src/cli/main.ts"), "seal", "--kubeconfig", env.kubeconfig, ...controller],
    secret("by-custos"),
  );
  // kubeseal --validate asks the controller (POST /v1/verify) through the proxy
  await withStdin(kubeseal, [...controller, "--validate"], byCustos);
  await kubectl(env, ["apply", "-f", "-"], `${byKubeseal}\n---\n${byCustos}`);
  assert.deepEqual(await eventually("by-kubeseal", async () => secretData(api, ns, "by-kubeseal")), {
    v: "by-kubeseal",
  });
  assert.deepEqual(await eventually("by-custos", async () => secretData(api, ns, "by-custos")), {
    v: "by-custos",
  });
  // re-encryption asks the controller (POST /v1/rotate) through the proxy: kubeseal's and ours
  for (const [cmd, args] of [
    [kubeseal, [...controller, "--re-encrypt", "--format", "yaml"]],
    [
      process.execPath,
      [
        "--import",
        "tsx",
        join(root, "src/cli/main.ts"),
        "seal",
        "--kubeconfig",
        env.kubeconfig,
        ...controller,
        "--re-encrypt",
      ],
    ],
  ] as const) {
    const rotated = await withStdin(cmd, [...args], byCustos);
    const enc = (y: string): string =>
      (parse(y) as { spec: { encryptedData: { v: string } } }).spec.encryptedData.v;
    assert.notEqual(enc(rotated), enc(byCustos), "freshly encrypted");
    await withStdin(kubeseal, [...controller, "--validate"], rotated);
  }
  // and a damaged one fails validation
  const damaged = byCustos.replace(
    /(v: )(\S{10})/,
    (_m, k: string, v: string) => `${k}${v.split("").reverse().join("")}`,
  );
  await assert.rejects(withStdin(kubeseal, [...controller, "--validate"], damaged));
});

test("an unsealed Secret deleted by hand is made again, as the Bitnami controller does", async () => {
  const ns = await createNamespace(api, "recreate");
  const sealed = await seal(
    stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "again", namespace: ns },
      stringData: { v: "back" },
    }),
  );
  await kubectl(env, ["apply", "-f", "-"], sealed);
  assert.deepEqual(await eventually("unsealed", async () => secretData(api, ns, "again")), { v: "back" });
  await api.delete(`/api/v1/namespaces/${ns}/secrets/again`);
  assert.deepEqual(await eventually("made again", async () => secretData(api, ns, "again"), 15_000), {
    v: "back",
  });
  // a Secret of another name is none of its business
  await api.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "other" },
    stringData: { x: "y" },
  });
  await api.delete(`/api/v1/namespaces/${ns}/secrets/other`);
  await sleep(1000);
  assert.equal(await secretData(api, ns, "other"), undefined);
});
