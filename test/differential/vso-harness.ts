/**
 * Running VSO differential cases against a real environment: seeding Vault (KV mounts, a
 * Kubernetes auth mount whose role binds ServiceAccount `vso-sa` in every namespace), the operator
 * namespace with the shared HMAC key, one namespace per operator holding every case (its
 * VaultConnection, VaultAuth, ServiceAccount, prior Secrets, SecretTransformations), applying the
 * VaultStaticSecrets (admission is the API server's answer), waiting for their SecretSynced
 * condition and observing what a user sees. Used by scripts/differential-vso.ts (VSO and Custos)
 * and by the replay test (Custos against recorded VSO outputs).
 */
import { request } from "undici";
import { KubeApi, KubeApiError } from "../../src/kube/api.ts";
import type { SharedEnv } from "../env/shared.ts";
import {
  VSO_CASES,
  VSO_HMAC_KEY,
  VSO_K8S_MOUNT,
  VSO_KV1,
  VSO_KV2,
  VSO_METADATA,
  VSO_ROLE,
  VSO_SA,
  VSO_SEED,
  VSO_VERSIONS,
  vsoCaseName,
  type VsoCase,
} from "./vso-cases.ts";
import { observe, type RawSecretObj, type RawVss, type VsoObservation } from "./vso-observe.ts";

export const VSO_API = "secrets.hashicorp.com/v1beta1";
export const HMAC_SECRET = "vso-cc-storage-hmac-key";

async function vault(env: SharedEnv, method: string, path: string, body?: unknown): Promise<string> {
  const res = await request(`${env.vault.addr}/v1/${path}`, {
    method: method as "POST",
    headers: { "x-vault-token": env.vault.token },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  if (res.statusCode >= 400 && !text.includes("path is already in use"))
    throw new Error(`vault ${method} ${path}: ${res.statusCode} ${text}`);
  return text;
}

async function exists(api: KubeApi, path: string): Promise<boolean> {
  return (await api.getOrUndefined<unknown>(path)) !== undefined;
}

/**
 * Vault's side (idempotent): KV v2 and v1 mounts with the case data (KV v2 written once, so
 * versions are the same on every run), custom metadata, and Kubernetes auth reviewing tokens with
 * a ServiceAccount of its own (system:auth-delegator).
 */
export async function seedVso(env: SharedEnv, api: KubeApi): Promise<void> {
  await vault(env, "POST", `sys/mounts/${VSO_KV2}`, { type: "kv", options: { version: "2" } });
  await vault(env, "POST", `sys/mounts/${VSO_KV1}`, { type: "kv", options: { version: "1" } });
  const v2Exists = async (path: string): Promise<boolean> => {
    const r = await request(`${env.vault.addr}/v1/${VSO_KV2}/metadata/${path}`, {
      headers: { "x-vault-token": env.vault.token },
    });
    await r.body.dump();
    return r.statusCode === 200;
  };
  for (const [path, data] of Object.entries(VSO_SEED)) {
    if (!(await v2Exists(path))) await vault(env, "POST", `${VSO_KV2}/data/${path}`, { data });
    await vault(env, "POST", `${VSO_KV1}/${path}`, data);
  }
  if (!(await v2Exists("versioned")))
    for (const data of VSO_VERSIONS) await vault(env, "POST", `${VSO_KV2}/data/versioned`, { data });
  await vault(env, "POST", `${VSO_KV1}/versioned`, VSO_VERSIONS.at(-1));
  for (const [path, custom] of Object.entries(VSO_METADATA))
    await vault(env, "POST", `${VSO_KV2}/metadata/${path}`, { custom_metadata: custom });

  await vault(env, "POST", `sys/auth/${VSO_K8S_MOUNT}`, { type: "kubernetes" });
  const ns = "vso-diff-reviewer";
  if (!(await exists(api, `/api/v1/namespaces/${ns}`)))
    await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  if (!(await exists(api, `/api/v1/namespaces/${ns}/serviceaccounts/reviewer`)))
    await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "reviewer" } });
  const crb = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";
  if (!(await exists(api, `${crb}/vso-diff-reviewer`)))
    await api.create(crb, {
      metadata: { name: "vso-diff-reviewer" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
      subjects: [{ kind: "ServiceAccount", name: "reviewer", namespace: ns }],
    });
  const tr = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns}/serviceaccounts/reviewer/token`,
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 7200 } },
  );
  await vault(env, "POST", `auth/${VSO_K8S_MOUNT}/config`, {
    kubernetes_host: env.apiUrl,
    kubernetes_ca_cert: env.caPem,
    token_reviewer_jwt: tr.status.token,
  });
  await vault(env, "PUT", `sys/policies/acl/${VSO_K8S_MOUNT}`, {
    policy: `path "${VSO_KV2}/*" { capabilities = ["read"] }\npath "${VSO_KV1}/*" { capabilities = ["read"] }`,
  });
  await vault(env, "POST", `auth/${VSO_K8S_MOUNT}/role/${VSO_ROLE}`, {
    bound_service_account_names: [VSO_SA],
    bound_service_account_namespaces: ["*"],
    token_policies: [VSO_K8S_MOUNT],
    audience: "vault",
  });
}

/** Vault's timestamps of the seeded KV v2 paths → stable placeholders (see vso-observe.ts). */
export async function vaultTimes(env: SharedEnv): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of [...Object.keys(VSO_SEED), "versioned"]) {
    const body = JSON.parse(await vault(env, "GET", `${VSO_KV2}/metadata/${path}`)) as {
      data: {
        created_time: string;
        updated_time: string;
        versions: Record<string, { created_time: string }>;
      };
    };
    for (const [v, meta] of Object.entries(body.data.versions))
      out[meta.created_time] = `<time:${path}@v${v}>`;
    out[body.data.updated_time] ??= `<updated:${path}>`;
  }
  return out;
}

/** The operator namespace with the shared HMAC key Secret (as VSO creates it: immutable, key `key`). */
export async function operatorNamespace(api: KubeApi, name: string): Promise<void> {
  if (!(await exists(api, `/api/v1/namespaces/${name}`)))
    await api.create("/api/v1/namespaces", { metadata: { name } });
  if (!(await exists(api, `/api/v1/namespaces/${name}/secrets/${HMAC_SECRET}`)))
    await api.create(`/api/v1/namespaces/${name}/secrets`, {
      metadata: {
        name: HMAC_SECRET,
        labels: {
          "app.kubernetes.io/name": "vault-secrets-operator",
          "app.kubernetes.io/managed-by": "hashicorp-vso",
          "app.kubernetes.io/component": "client-cache-storage-verification",
        },
      },
      immutable: true,
      data: { key: VSO_HMAC_KEY.toString("base64") },
    });
}

export interface VsoApplied {
  c: VsoCase;
  index: number;
  namespace: string;
  name: string;
  target: string;
  admitted: boolean;
  admissionMessage?: string;
}

/** The case namespace's shared objects: ServiceAccount, VaultConnection `conn`, VaultAuth `auth`. */
export async function caseNamespace(api: KubeApi, env: SharedEnv, namespace: string): Promise<void> {
  await api.create("/api/v1/namespaces", { metadata: { name: namespace } });
  await api.create(`/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name: VSO_SA } });
  await api.create(`/apis/${VSO_API}/namespaces/${namespace}/vaultconnections`, {
    apiVersion: VSO_API,
    kind: "VaultConnection",
    metadata: { name: "conn" },
    spec: { address: env.vault.addr },
  });
  await api.create(`/apis/${VSO_API}/namespaces/${namespace}/vaultauths`, {
    apiVersion: VSO_API,
    kind: "VaultAuth",
    metadata: { name: "auth" },
    spec: {
      method: "kubernetes",
      mount: VSO_K8S_MOUNT,
      vaultConnectionRef: "conn",
      kubernetes: { role: VSO_ROLE, serviceAccount: VSO_SA, audiences: ["vault"] },
    },
  });
}

/** Creates the case's prior Secrets and SecretTransformations, then its VaultStaticSecret. */
export async function applyVsoCase(
  api: KubeApi,
  c: VsoCase,
  index: number,
  namespace: string,
): Promise<VsoApplied> {
  const name = vsoCaseName(index);
  const dest = { ...((c.spec.destination as Record<string, unknown> | undefined) ?? {}) };
  dest.name ??= name;
  const target = dest.name as string;
  for (const p of c.pre ?? [])
    await api.create(`/api/v1/namespaces/${namespace}/secrets`, {
      metadata: { name: p.name ?? target, ...(p.labels ? { labels: p.labels } : {}) },
      stringData: p.data,
    });
  for (const t of c.transformations ?? [])
    await api.create(`/apis/${VSO_API}/namespaces/${namespace}/secrettransformations`, {
      apiVersion: VSO_API,
      kind: "SecretTransformation",
      metadata: { name: `${name}-${t.name}` },
      spec: t.spec,
    });
  // transformationRefs name the case's own SecretTransformations
  const tf = dest.transformation as { transformationRefs?: { name: string }[] } | undefined;
  if (tf?.transformationRefs)
    dest.transformation = {
      ...tf,
      transformationRefs: tf.transformationRefs.map((r) => ({ ...r, name: `${name}-${r.name}` })),
    };
  const vss = {
    apiVersion: VSO_API,
    kind: "VaultStaticSecret",
    metadata: {
      name,
      ...(c.labels ? { labels: c.labels } : {}),
      ...(c.annotations ? { annotations: c.annotations } : {}),
    },
    spec: { ...c.spec, vaultAuthRef: "auth", destination: dest },
  };
  try {
    await api.create(`/apis/${VSO_API}/namespaces/${namespace}/vaultstaticsecrets`, vss);
    return { c, index, namespace, name, target, admitted: true };
  } catch (e) {
    if (!(e instanceof KubeApiError)) throw e;
    return { c, index, namespace, name, target, admitted: false, admissionMessage: e.message };
  }
}

/** Applies the selected cases in one namespace (created here). */
export async function applyVsoCases(
  api: KubeApi,
  env: SharedEnv,
  cases: readonly { c: VsoCase; index: number }[],
  namespace: string,
): Promise<VsoApplied[]> {
  await caseNamespace(api, env, namespace);
  const out: VsoApplied[] = [];
  for (const { c, index } of cases) out.push(await applyVsoCase(api, c, index, namespace));
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until every admitted VaultStaticSecret (but those expected to get no status) has a
 * SecretSynced condition, or `timeoutMs` passes; then `settleMs` more so later writes land; then
 * observes each case.
 */
export async function observeVsoAll(
  api: KubeApi,
  env: SharedEnv,
  applied: VsoApplied[],
  timeoutMs = 180_000,
  settleMs = 10_000,
  log: (msg: string) => void = () => undefined,
): Promise<Map<string, VsoObservation>> {
  const path = (a: VsoApplied): string =>
    `/apis/${VSO_API}/namespaces/${a.namespace}/vaultstaticsecrets/${a.name}`;
  const pending = new Set(applied.filter((a) => a.admitted && !a.c.noStatus));
  const deadline = Date.now() + timeoutMs;
  while (pending.size > 0 && Date.now() < deadline) {
    for (const a of [...pending]) {
      const o = await api.getOrUndefined<RawVss>(path(a));
      if (o?.status?.conditions?.some((x) => x.type === "SecretSynced")) pending.delete(a);
    }
    if (pending.size > 0) {
      log(`${pending.size} VaultStaticSecrets without a SecretSynced condition yet`);
      await sleep(2000);
    }
  }
  await sleep(settleMs);
  const times = await vaultTimes(env);
  const out = new Map<string, VsoObservation>();
  for (const a of applied) {
    if (!a.admitted) {
      out.set(a.c.title, {
        admitted: false,
        ...(a.admissionMessage ? { admissionMessage: a.admissionMessage } : {}),
      });
      continue;
    }
    const vss = await api.getOrUndefined<RawVss>(path(a));
    const secret = await api.getOrUndefined<RawSecretObj>(
      `/api/v1/namespaces/${a.namespace}/secrets/${a.target}`,
    );
    out.set(a.c.title, observe(vss, secret, VSO_HMAC_KEY, times));
  }
  return out;
}

/** Every case with its index, filtered by a title regexp. */
export function selectVsoCases(only?: string): { c: VsoCase; index: number }[] {
  return VSO_CASES.map((c, index) => ({ c, index })).filter(
    ({ c }) => !only || new RegExp(only).test(c.title),
  );
}
