/**
 * The I/O behind `custos explain` and `custos diff`: one ExternalSecret's chain walked as the
 * operator walks it (store resolution, provider validation, login through the provider code with
 * the credentials the store names, every read, the data and the planned Secret), with each link
 * turned into a step by src/cli/explain/steps.ts. The CLI user's kubeconfig reads the objects and
 * the credentials; the operator's own identity is never used (the CLI has none to use).
 */
import { createKubeAccess } from "../../kube/access.ts";
import {
  KubeApiError,
  NAMESPACES,
  SECRETS,
  resourcePath,
  type KubeApi,
  type KubeObject,
} from "../../kube/api.ts";
import { providerFor } from "../../providers/registry.ts";
import { fetchTemplateSources } from "../../controllers/externalsecret/sources.ts";
import type { KubeAccess, RemoteSecret, Session, StoreContext } from "../../providers/types.ts";
import {
  decode,
  extractProperty,
  findId,
  refId,
  registerRemoteSecret,
  remoteRefsOf,
  storeRefOf,
  type FetchResults,
} from "../../controllers/externalsecret/data.ts";
import { targetNameOf, type Plan, type TemplateSources } from "../../controllers/externalsecret/plan.ts";
import { planFromResults } from "../../controllers/externalsecret/outcome.ts";
import { groupByStore } from "../../controllers/externalsecret/stores.ts";
import {
  GROUP,
  type ExternalSecret,
  type SecretObject,
  type SecretStoreObject,
} from "../../controllers/externalsecret/types.ts";
import { validateExternalSecret } from "../../controllers/externalsecret/validate.ts";
import type { StoreCondition } from "../../controllers/secretstore/access.ts";
import { isCustosError } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";
import {
  buildStep,
  controllerClassStep,
  credentialsStep,
  failureOf,
  findStep,
  loginStep,
  namespaceAllowedStep,
  operatorIdentityStep,
  operatorLoginStep,
  propertyNames,
  propertyStep,
  providerStep,
  readStep,
  specStep,
  storeFoundStep,
  syncStep,
  type CredentialRead,
  type Failure,
  type Step,
  type StoreId,
} from "../explain/steps.ts";

export interface ChainOptions {
  api: KubeApi;
  controllerClass: string;
  /** As the operator's --allow-operator-identity-for-namespaced-stores. */
  allowOperatorIdentityForNamespacedStores: boolean;
  now: number;
}

export interface ChainResult {
  steps: Step[];
  /** True when a step failed or could not be checked, so no plan was made. */
  complete: boolean;
  plan?: Plan | undefined;
  existing?: SecretObject | undefined;
}

/** Values read by the CLI stay registered for the redactor as long as the process runs. */
const OWNER = {};

class Walk {
  readonly steps: Step[] = [];
  push(step: Step): boolean {
    this.steps.push(step);
    return step.mark !== "fail";
  }
}

export async function walkChain(es: ExternalSecret, opts: ChainOptions): Promise<ChainResult> {
  const w = new Walk();
  const namespace = es.metadata.namespace ?? "";
  const stop = (): ChainResult => ({ steps: w.steps, complete: false });
  if (!w.push(specStep(validateExternalSecret(es)))) return stop();

  const { reads, finds } = remoteRefsOf(es);
  const results: FetchResults = { reads: new Map(), finds: new Map() };
  const available = new Map<string, string[]>();
  let checkedAll = true;
  for (const group of groupByStore(es, reads, finds)) {
    const s: StoreId = {
      kind: group.storeRef.kind === "ClusterSecretStore" ? "ClusterSecretStore" : "SecretStore",
      name: group.storeRef.name,
    };
    const store = await getStore(opts.api, s, namespace);
    if (
      !w.push(
        storeFoundStep(s, namespace, store === undefined ? false : "failure" in store ? store.failure : true),
      )
    )
      return stop();
    const obj = (store as { obj: SecretStoreObject }).obj;
    if (!w.push(controllerClassStep(s, obj.spec?.controller, opts.controllerClass))) return stop();
    const conditions = obj.spec?.conditions as StoreCondition[] | undefined;
    const labels =
      s.kind === "ClusterSecretStore" && conditions?.some((c) => c.namespaceSelector)
        ? await namespaceLabels(opts.api, namespace)
        : {};
    if (!w.push(namespaceAllowedStep(s, conditions, namespace, labels))) return stop();

    const found = providerFor(obj.spec?.provider);
    if ("error" in found) {
      w.push(providerStep(s, undefined, [found.error]));
      return stop();
    }
    if (!w.push(providerStep(s, found.def.name, found.def.validate(found.spec)))) return stop();
    const identity = operatorIdentityStep(
      s,
      found.def.validate(found.spec, { storeKind: s.kind }),
      opts.allowOperatorIdentityForNamespacedStores,
    );
    if (!w.push(identity.step)) return stop();
    if (identity.operatorLogin) {
      w.push(operatorLoginStep(s));
      checkedAll = false;
      continue;
    }

    const credentialReads: CredentialRead[] = [];
    const ctx: StoreContext = {
      storeKind: s.kind,
      storeName: s.name,
      storeUid: obj.metadata.uid ?? "",
      namespace: s.kind === "SecretStore" ? (obj.metadata.namespace ?? namespace) : namespace,
      kube: recording(createKubeAccess(opts.api), credentialReads),
    };
    let session: Session;
    try {
      session = await found.def.connect(found.spec, ctx, {
        recordCall: () => undefined,
        redact: (v) => {
          redactor.add(v, OWNER);
        },
      });
    } catch (e) {
      if (!w.push(credentialsStep(s, credentialReads))) return stop();
      w.push(loginStep(s, found.def.name, failureOf(e)));
      return stop();
    }
    try {
      if (!w.push(credentialsStep(s, credentialReads))) return stop();
      w.push(loginStep(s, found.def.name, undefined));
      for (const ref of group.reads) {
        let got: RemoteSecret | Error;
        try {
          got = await session.read(ref);
          registerRemoteSecret(got, OWNER);
          available.set(refId(group.storeRef, ref), propertyNames(got));
        } catch (e) {
          got = e instanceof Error ? e : new Error(String(e));
        }
        results.reads.set(refId(group.storeRef, ref), got);
        const failure = got instanceof Error ? failureOf(got) : undefined;
        // a missing remote secret is tolerated under deletionPolicy Delete/Merge, as the operator does
        const tolerated =
          failure?.code === "CUSTOS_SECRET_NOT_FOUND" &&
          (es.spec?.target?.deletionPolicy ?? "Retain") !== "Retain";
        if (tolerated)
          w.push({
            mark: "skip",
            text: `remote secret "${ref.key}" does not exist; left out (deletionPolicy)`,
          });
        else if (!w.push(readStep(ref, failure))) return stop();
      }
      for (const q of group.finds) {
        const what = `dataFrom.find ${JSON.stringify(q)}`;
        try {
          const m = await session.find(q);
          for (const v of m.values()) registerRemoteSecret(v, OWNER);
          results.finds.set(findId(group.storeRef, q), m);
          w.push(findStep(what, m.size));
        } catch (e) {
          w.push(findStep(what, failureOf(e)));
          return stop();
        }
      }
    } finally {
      await session.close().catch(() => undefined);
    }
    // properties of this store's data entries
    for (const d of es.spec?.data ?? []) {
      const ref = storeRefOf(es, d.sourceRef?.storeRef);
      if ((ref.kind ?? "SecretStore") !== s.kind || ref.name !== s.name) continue;
      const id = refId(ref, {
        key: d.remoteRef.key,
        ...(d.remoteRef.version ? { version: d.remoteRef.version } : {}),
        ...(d.remoteRef.metadataPolicy === "Fetch" ? { metadataPolicy: "Fetch" as const } : {}),
      });
      const got = results.reads.get(id);
      if (!got || got instanceof Error) continue;
      let failure: Failure | undefined;
      try {
        decode(extractProperty(got, d.remoteRef), d.remoteRef.decodingStrategy, `data "${d.secretKey}"`);
      } catch (e) {
        failure = failureOf(e);
      }
      if (!w.push(propertyStep(d.secretKey, d.remoteRef, available.get(id) ?? [], failure))) return stop();
    }
  }
  if (!checkedAll) return stop();

  // the data and the planned Secret, as the operator computes them
  const target = targetNameOf(es);
  let existing: SecretObject | undefined;
  try {
    existing = await opts.api.getOrUndefined<SecretObject>(
      resourcePath({ ...SECRETS, namespace, name: target }),
    );
  } catch (e) {
    w.push(
      syncStep(forbiddenRead(e, `Secret "${target}"`), {
        namespace,
        name: target,
        es: es.metadata.name ?? "",
      }),
    );
    return stop();
  }
  if (existing)
    for (const v of Object.values(existing.data ?? {})) redactor.add(Buffer.from(v, "base64"), OWNER);
  const hasTemplate = es.spec?.target?.template !== undefined;
  let plan: Plan;
  try {
    const sources = await templateSources(opts.api, es);
    ({ plan } = planFromResults({
      es,
      results,
      templateSources: sources,
      existing,
      now: new Date(opts.now),
    }));
  } catch (e) {
    const f = failureOf(e);
    if (
      isCustosError(e, "CUSTOS_OWNERSHIP_CONFLICT") ||
      (isCustosError(e, "CUSTOS_INVALID_SPEC") && /immutable|has type/.test(f.message))
    ) {
      w.push(buildStep(undefined, hasTemplate));
      w.push(syncStep(f, { namespace, name: target, es: es.metadata.name ?? "" }));
    } else w.push(buildStep(f, hasTemplate));
    return { steps: w.steps, complete: false, existing };
  }
  w.push(buildStep(undefined, hasTemplate));
  const creation = es.spec?.target?.creationPolicy ?? "Owner";
  const t = { namespace, name: target, es: es.metadata.name ?? "" };
  if (plan.action === "none" && !plan.condition.ok) w.push(syncStep({ message: plan.condition.message }, t));
  else if (plan.action === "none")
    w.push(
      syncStep(creation === "None" || !existing ? "not-written" : "in-sync", t, `creationPolicy ${creation}`),
    );
  else
    w.push(
      syncStep(plan.action === "create" ? "missing" : plan.action === "update" ? "differs" : "delete", t),
    );
  return { steps: w.steps, complete: true, plan, existing };
}

function forbiddenRead(e: unknown, what: string): Failure {
  const f = failureOf(e);
  return e instanceof KubeApiError && e.status === 403
    ? { ...f, message: `cannot read ${what}: the Kubernetes API refused this kubeconfig's user` }
    : f;
}

async function getStore(
  api: KubeApi,
  s: StoreId,
  namespace: string,
): Promise<{ obj: SecretStoreObject } | { failure: Failure } | undefined> {
  const path = resourcePath({
    group: GROUP,
    version: "v1",
    plural: s.kind === "SecretStore" ? "secretstores" : "clustersecretstores",
    namespace: s.kind === "SecretStore" ? namespace : undefined,
    name: s.name,
  });
  try {
    const obj = await api.getOrUndefined<SecretStoreObject>(path);
    return obj ? { obj } : undefined;
  } catch (e) {
    return { failure: failureOf(e) };
  }
}

/** Labels of the namespace, or undefined when they cannot be read (selectors then match nothing). */
async function namespaceLabels(api: KubeApi, namespace: string): Promise<Record<string, string> | undefined> {
  try {
    const ns = await api.getOrUndefined<KubeObject>(resourcePath({ ...NAMESPACES, name: namespace }));
    return ns?.metadata.labels ?? {};
  } catch {
    return undefined;
  }
}

/** A KubeAccess that records what the provider read to log in, and whether each read worked. */
function recording(inner: KubeAccess, log: CredentialRead[]): KubeAccess {
  const rec = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      const v = await fn();
      if (!log.some((r) => r.what === what)) log.push({ what });
      return v;
    } catch (e) {
      log.push({ what, failure: failureOf(e) });
      throw e;
    }
  };
  return {
    secretKey: (ns, name, key) =>
      rec(`Secret ${ns}/${name} key "${key}"`, () => inner.secretKey(ns, name, key)),
    configMapKey: (ns, name, key) =>
      rec(`ConfigMap ${ns}/${name} key "${key}"`, () => inner.configMapKey(ns, name, key)),
    serviceAccountToken: (ns, name, aud, exp) =>
      rec(`token of ServiceAccount ${ns}/${name}`, () => inner.serviceAccountToken(ns, name, aud, exp)),
    serviceAccountAnnotations: (ns, name) =>
      rec(`ServiceAccount ${ns}/${name}`, () => inner.serviceAccountAnnotations(ns, name)),
    ...(inner.secret
      ? { secret: (ns: string, name: string) => rec(`Secret ${ns}/${name}`, () => inner.secret!(ns, name)) }
      : {}),
    ...(inner.apiServer ? { apiServer: () => inner.apiServer!() } : {}),
  };
}

/** templateFrom ConfigMaps and Secrets, as the operator reads them. */
function templateSources(api: KubeApi, es: ExternalSecret): Promise<TemplateSources> {
  return fetchTemplateSources(api, es, (v) => {
    redactor.add(v, OWNER);
  });
}
