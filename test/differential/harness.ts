/**
 * Running differential cases against a real environment: seeding Vault and moto with the case
 * table's data, one namespace per case (its store, its credentials, the objects that exist before
 * it), applying the ExternalSecret (admission is the API server's answer), waiting for a Ready
 * condition, and observing what a user sees. Used by scripts/differential.ts (ESO and Custos) and by
 * the replay test (Custos against recorded ESO outputs).
 */
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { request } from "undici";
import { KubeApi, KubeApiError } from "../../src/kube/api.ts";
import type { SharedEnv } from "../env/shared.ts";
import {
  SM_SEED,
  SSM_SEED,
  VAULT_METADATA,
  VAULT_MOUNT_V1,
  VAULT_MOUNT_V2,
  VAULT_SEED,
  caseName,
  type Case,
  type StoreKind,
} from "./cases.ts";
import { secretView, type Observation } from "./observe.ts";

const ES_PATH = "external-secrets.io/v1";

async function vault(env: SharedEnv, method: string, path: string, body?: unknown): Promise<number> {
  const res = await request(`${env.vault.addr}/v1/${path}`, {
    method: method as "POST",
    headers: { "x-vault-token": env.vault.token },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  if (res.statusCode >= 400 && !text.includes("path is already in use"))
    throw new Error(`vault ${method} ${path}: ${res.statusCode} ${text}`);
  return res.statusCode;
}

/** Writes the case table's data to Vault (both KV versions) and moto. Idempotent. */
export async function seed(env: SharedEnv): Promise<void> {
  await vault(env, "POST", `sys/mounts/${VAULT_MOUNT_V2}`, { type: "kv", options: { version: "2" } });
  await vault(env, "POST", `sys/mounts/${VAULT_MOUNT_V1}`, { type: "kv", options: { version: "1" } });
  for (const [path, data] of Object.entries(VAULT_SEED)) {
    // KV v2 keeps versions: write only once so "version 1" and current_version are the same everywhere
    const existing = await request(`${env.vault.addr}/v1/${VAULT_MOUNT_V2}/data/${path}`, {
      headers: { "x-vault-token": env.vault.token },
    });
    await existing.body.dump();
    if (existing.statusCode === 404) await vault(env, "POST", `${VAULT_MOUNT_V2}/data/${path}`, { data });
    await vault(env, "POST", `${VAULT_MOUNT_V1}/${path}`, data);
  }
  for (const [path, custom] of Object.entries(VAULT_METADATA))
    await vault(env, "POST", `${VAULT_MOUNT_V2}/metadata/${path}`, { custom_metadata: custom });
  const common = {
    region: env.aws.region,
    endpoint: env.aws.endpoint,
    credentials: { accessKeyId: env.aws.accessKeyId, secretAccessKey: env.aws.secretAccessKey },
  };
  const sm = new SecretsManagerClient(common);
  for (const [name, value] of Object.entries(SM_SEED)) {
    try {
      await sm.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    } catch (e) {
      if (!(e instanceof ResourceExistsException)) throw e;
      await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
    }
  }
  const ssm = new SSMClient(common);
  for (const [name, value] of Object.entries(SSM_SEED))
    await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: "String", Overwrite: true }));
  sm.destroy();
  ssm.destroy();
}

function storeSpec(env: SharedEnv, kind: StoreKind, controllerClass: string): Record<string, unknown> {
  const token = { tokenSecretRef: { name: "vault-token", key: "token" } };
  const aws = {
    region: env.aws.region,
    auth: {
      secretRef: {
        accessKeyIDSecretRef: { name: "aws", key: "id" },
        secretAccessKeySecretRef: { name: "aws", key: "key" },
      },
    },
  };
  const provider =
    kind === "vault2"
      ? { vault: { server: env.vault.addr, path: VAULT_MOUNT_V2, version: "v2", auth: token } }
      : kind === "vault1"
        ? { vault: { server: env.vault.addr, path: VAULT_MOUNT_V1, version: "v1", auth: token } }
        : kind === "awssm"
          ? { aws: { service: "SecretsManager", ...aws } }
          : { aws: { service: "ParameterStore", ...aws } };
  return { controller: controllerClass, provider };
}

export interface Applied {
  c: Case;
  index: number;
  namespace: string;
  name: string;
  target: string;
  admitted: boolean;
  admissionMessage?: string;
}

/** The namespace of case `index` under `prefix`. */
export const caseNamespace = (prefix: string, index: number): string => `${prefix}-${caseName(index)}`;

/** Creates the case's namespace, store, credentials and prior objects, then its ExternalSecret. */
export async function applyCase(
  api: KubeApi,
  env: SharedEnv,
  c: Case,
  index: number,
  prefix: string,
  controllerClass: string,
): Promise<Applied> {
  const namespace = caseNamespace(prefix, index);
  const name = caseName(index);
  const target = ((c.spec.target as { name?: string } | undefined)?.name as string | undefined) ?? name;
  await api.create("/api/v1/namespaces", { metadata: { name: namespace } });
  const ns = `/api/v1/namespaces/${namespace}`;
  if (c.store.startsWith("vault"))
    await api.create(`${ns}/secrets`, {
      metadata: { name: "vault-token" },
      stringData: { token: env.vault.token },
    });
  else
    await api.create(`${ns}/secrets`, {
      metadata: { name: "aws" },
      stringData: { id: env.aws.accessKeyId, key: env.aws.secretAccessKey },
    });
  await api.create(`/apis/${ES_PATH}/namespaces/${namespace}/secretstores`, {
    apiVersion: ES_PATH,
    kind: "SecretStore",
    metadata: { name: "store" },
    spec: storeSpec(env, c.store, controllerClass),
  });
  for (const p of c.pre ?? []) {
    const metadata = { name: p.name ?? target, ...(p.labels ? { labels: p.labels } : {}) };
    if (p.kind === "Secret") await api.create(`${ns}/secrets`, { metadata, stringData: p.data });
    else await api.create(`${ns}/configmaps`, { metadata, data: p.data });
  }
  const es = {
    apiVersion: ES_PATH,
    kind: "ExternalSecret",
    metadata: {
      name,
      ...(c.labels ? { labels: c.labels } : {}),
      ...(c.annotations ? { annotations: c.annotations } : {}),
    },
    spec: { refreshInterval: "1h", ...c.spec, secretStoreRef: { name: "store", kind: "SecretStore" } },
  };
  try {
    await api.create(`/apis/${ES_PATH}/namespaces/${namespace}/externalsecrets`, es);
    return { c, index, namespace, name, target, admitted: true };
  } catch (e) {
    if (!(e instanceof KubeApiError)) throw e;
    return { c, index, namespace, name, target, admitted: false, admissionMessage: e.message };
  }
}

interface EsObj {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until every admitted ExternalSecret has a Ready condition (or `timeoutMs` passes), then
 * `settleMs` more so writes that follow the first status land, and observes each case.
 */
export async function observeAll(
  api: KubeApi,
  applied: Applied[],
  timeoutMs = 180_000,
  settleMs = 5_000,
  log: (msg: string) => void = () => undefined,
): Promise<Map<string, Observation>> {
  const pending = new Set(applied.filter((a) => a.admitted));
  const deadline = Date.now() + timeoutMs;
  while (pending.size > 0 && Date.now() < deadline) {
    for (const a of [...pending]) {
      const es = await api.getOrUndefined<EsObj>(
        `/apis/${ES_PATH}/namespaces/${a.namespace}/externalsecrets/${a.name}`,
      );
      if (es?.status?.conditions?.some((x) => x.type === "Ready")) pending.delete(a);
    }
    if (pending.size > 0) {
      log(`${pending.size} ExternalSecrets without a Ready condition yet`);
      await sleep(2000);
    }
  }
  await sleep(settleMs);
  const out = new Map<string, Observation>();
  for (const a of applied) {
    if (!a.admitted) {
      out.set(a.c.title, {
        admitted: false,
        ...(a.admissionMessage ? { admissionMessage: a.admissionMessage } : {}),
      });
      continue;
    }
    const es = await api.getOrUndefined<EsObj>(
      `/apis/${ES_PATH}/namespaces/${a.namespace}/externalsecrets/${a.name}`,
    );
    const ready = es?.status?.conditions?.find((x) => x.type === "Ready");
    const raw = await api.getOrUndefined<Parameters<typeof secretView>[0]>(
      `/api/v1/namespaces/${a.namespace}/secrets/${a.target}`,
    );
    out.set(a.c.title, {
      admitted: true,
      ...(ready ? { ready: { status: ready.status, reason: ready.reason ?? "" } } : {}),
      ...(ready?.message ? { readyMessage: ready.message } : {}),
      ...(raw ? { secret: secretView(raw, a.namespace, a.name) } : {}),
    });
  }
  return out;
}

/** Applies cases a few at a time. */
export async function applyAll(
  api: KubeApi,
  env: SharedEnv,
  cases: readonly { c: Case; index: number }[],
  prefix: string,
  controllerClass: string,
): Promise<Applied[]> {
  const out: Applied[] = [];
  for (let i = 0; i < cases.length; i += 8) {
    const batch = cases.slice(i, i + 8);
    out.push(
      ...(await Promise.all(
        batch.map(({ c, index }) => applyCase(api, env, c, index, prefix, controllerClass)),
      )),
    );
  }
  return out;
}

/** Deletes the namespaces of applied cases (best effort). */
export async function cleanup(api: KubeApi, applied: Applied[]): Promise<void> {
  await Promise.all(
    applied.map((a) => api.delete(`/api/v1/namespaces/${a.namespace}`).catch(() => undefined)),
  );
}
