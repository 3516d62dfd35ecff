/**
 * The floor of `bench compare`: a tight client doing only the work any operator must do for N
 * ExternalSecrets over N/20 Vault secrets — one LIST of the ExternalSecrets, one Vault read per
 * distinct secret, one Secret create and one status write per ExternalSecret — with undici (as the
 * operator's client), `concurrency` requests in flight. Run as its own process (plain Node type
 * stripping, no loader) so its CPU and memory are measured like an operator's, through /proc.
 * Input: a JSON object in the environment variable FLOOR_CONFIG (see Config); prints one JSON line.
 */
import { Agent, request } from "undici";

interface Config {
  apiUrl: string;
  caPem: string;
  token: string;
  vaultAddr: string;
  vaultToken: string;
  mount: string;
  concurrency: number;
}

interface Es {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; generation?: number };
  spec: { data: { secretKey: string; remoteRef: { key: string; property: string } }[] };
}

const cfg = JSON.parse(process.env.FLOOR_CONFIG ?? "{}") as Config;
const kube = new Agent({ connect: { ca: cfg.caPem }, connections: cfg.concurrency, pipelining: 1 });
const vault = new Agent({ connections: cfg.concurrency });
const auth = { authorization: `Bearer ${cfg.token}` };

async function call<T>(
  method: "GET" | "POST" | "PATCH",
  path: string,
  body?: unknown,
  ct?: string,
): Promise<T> {
  const r = await request(`${cfg.apiUrl}${path}`, {
    method,
    dispatcher: kube,
    headers: {
      ...auth,
      accept: "application/json",
      ...(body ? { "content-type": ct ?? "application/json" } : {}),
    },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await r.body.text();
  if (r.statusCode >= 300) throw new Error(`${method} ${path}: HTTP ${r.statusCode}`);
  return JSON.parse(text) as T;
}

async function pool<T>(items: readonly T[], fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: cfg.concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const t0 = Date.now();
const list = await call<{ items: Es[] }>("GET", "/apis/external-secrets.io/v1/externalsecrets");
const keys = [...new Set(list.items.flatMap((e) => e.spec.data.map((d) => d.remoteRef.key)))];
const values = new Map<string, Record<string, string>>();
await pool(keys, async (key) => {
  const r = await request(`${cfg.vaultAddr}/v1/${cfg.mount}/data/${key}`, {
    dispatcher: vault,
    headers: { "x-vault-token": cfg.vaultToken },
  });
  const body = (await r.body.json()) as { data: { data: Record<string, string> } };
  values.set(key, body.data.data);
});
await pool(list.items, async (es) => {
  const { name, namespace, uid } = es.metadata;
  const data: Record<string, string> = {};
  for (const d of es.spec.data)
    data[d.secretKey] = Buffer.from(values.get(d.remoteRef.key)?.[d.remoteRef.property] ?? "").toString(
      "base64",
    );
  await call("POST", `/api/v1/namespaces/${namespace}/secrets`, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      ownerReferences: [
        {
          apiVersion: "external-secrets.io/v1",
          kind: "ExternalSecret",
          name,
          uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    type: "Opaque",
    data,
  });
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  await call(
    "PATCH",
    `/apis/external-secrets.io/v1/namespaces/${namespace}/externalsecrets/${name}/status`,
    {
      status: {
        refreshTime: now,
        syncedResourceVersion: `${es.metadata.generation ?? 1}-${es.metadata.resourceVersion}`,
        binding: { name },
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "SecretSynced",
            message: "secret synced",
            lastTransitionTime: now,
          },
        ],
      },
    },
    "application/merge-patch+json",
  );
});
await kube.close();
await vault.close();
const cpu = process.cpuUsage();
process.stdout.write(
  JSON.stringify({
    externalSecrets: list.items.length,
    vaultReads: keys.length,
    ms: Date.now() - t0,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    maxRssMiB: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
  }) + "\n",
);
