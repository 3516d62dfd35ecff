/**
 * `custos explain`, pure: each link of an ExternalSecret's chain as a step (✓ / ✗ / –) with the
 * fix for a ✗. The command gathers the facts (objects, provider calls) and calls these in order,
 * stopping at the first ✗: later links depend on it. Messages arrive redacted; nothing here sees a
 * secret value (a property step names the remote secret's keys, never their values).
 */
import { KubeApiError } from "../../kube/api.ts";
import { parseJson } from "../../util/json.ts";
import { clusterStoreDenial, isOurStore, type StoreCondition } from "../../controllers/secretstore/access.ts";
import type { Condition } from "../../controllers/externalsecret/types.ts";
import type { RemoteSecret } from "../../providers/types.ts";
import { OPERATOR_IDENTITY_FLAG } from "../../providers/operator.ts";
import { isCustosError } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";

export type Mark = "ok" | "fail" | "skip";

export interface Step {
  mark: Mark;
  text: string;
  fix?: string | undefined;
}

/** A failure as the steps see it: a code, a redacted message, and a refused API read if any. */
export interface Failure {
  code?: string | undefined;
  message: string;
  /** The Kubernetes API refused the CLI user (HTTP 403): the message of that refusal. */
  forbidden?: string | undefined;
}

const ok = (text: string): Step => ({ mark: "ok", text });
const fail = (text: string, fix: string): Step => ({ mark: "fail", text, fix });

/** Any thrown value as a Failure: redacted, with a Kubernetes 403 found anywhere in its causes. */
export function failureOf(e: unknown): Failure {
  let forbidden: string | undefined;
  for (let c: unknown = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    if (c instanceof KubeApiError && c.status === 403) forbidden = redactor.redact(c.message);
  }
  return {
    code: isCustosError(e) ? e.code : undefined,
    message: redactor.redact(e instanceof Error ? e.message : String(e)),
    ...(forbidden ? { forbidden } : {}),
  };
}

const FORCE_SYNC = (ns: string, name: string): string =>
  `kubectl annotate externalsecret ${name} -n ${ns} force-sync=$(date +%s) --overwrite`;

export function specStep(problems: string[]): Step {
  return problems.length
    ? fail(`ExternalSecret spec is invalid: ${problems.join("; ")}`, "correct the spec fields named above")
    : ok("ExternalSecret spec is valid");
}

export interface StoreId {
  kind: "SecretStore" | "ClusterSecretStore";
  name: string;
}

const storeText = (s: StoreId, namespace: string): string =>
  s.kind === "SecretStore"
    ? `SecretStore "${s.name}" in namespace "${namespace}"`
    : `ClusterSecretStore "${s.name}"`;

export function storeFoundStep(s: StoreId, namespace: string, found: boolean | Failure): Step {
  if (found === true) return ok(`${storeText(s, namespace)} found`);
  if (found !== false && found.forbidden)
    return fail(
      `cannot read ${storeText(s, namespace)}: the Kubernetes API refused this kubeconfig's user`,
      `run explain as a user who may get ${s.kind === "SecretStore" ? `secretstores in "${namespace}"` : "clustersecretstores"}`,
    );
  if (found !== false)
    return fail(
      `cannot read ${storeText(s, namespace)}: ${found.message}`,
      "check the API server connection",
    );
  return fail(
    `${storeText(s, namespace)} not found`,
    s.name
      ? `create the ${s.kind}, or correct spec.secretStoreRef (name "${s.name}", kind ${s.kind})`
      : "set spec.secretStoreRef.name",
  );
}

export function controllerClassStep(s: StoreId, storeController: string | undefined, cliClass: string): Step {
  if (isOurStore({ controller: storeController ?? "" }, cliClass))
    return ok(
      storeController
        ? `${s.kind} "${s.name}" is served by controller class "${storeController}"`
        : `${s.kind} "${s.name}" is served by every Custos (spec.controller is empty)`,
    );
  return fail(
    `${s.kind} "${s.name}" belongs to controller class "${storeController ?? ""}", not "${cliClass}"`,
    `if an operator runs with --controller-class ${storeController ?? ""}, pass the same --controller-class to this command; otherwise clear the store's spec.controller or set it to "${cliClass}"`,
  );
}

export function namespaceAllowedStep(
  s: StoreId,
  conditions: StoreCondition[] | undefined,
  namespace: string,
  namespaceLabels: Record<string, string> | undefined,
): Step {
  if (s.kind === "SecretStore") return ok(`SecretStore "${s.name}" serves its own namespace "${namespace}"`);
  const denial = clusterStoreDenial(s.name, conditions, namespace, namespaceLabels);
  if (!denial)
    return ok(
      conditions?.length
        ? `ClusterSecretStore "${s.name}" allows namespace "${namespace}" (spec.conditions)`
        : `ClusterSecretStore "${s.name}" allows every namespace`,
    );
  return fail(
    denial,
    `a cluster admin adds "${namespace}" to spec.conditions of ClusterSecretStore "${s.name}" (namespaces, namespaceRegexes or namespaceSelector), or the ExternalSecret uses a store that allows it`,
  );
}

export function providerStep(s: StoreId, provider: string | undefined, problems: string[]): Step {
  if (!provider || problems.length)
    return fail(
      `${s.kind} "${s.name}" is invalid: ${problems.join("; ")}`,
      `correct spec.provider of the ${s.kind}; the store's Ready condition carries the same message`,
    );
  return ok(`${s.kind} "${s.name}" is a valid ${provider} store`);
}

/**
 * The operator-identity rule (src/engine/operator-identity.ts): `problems` are what validation says
 * when the store may not act as the operator. A ClusterSecretStore may; a SecretStore only when the
 * operator runs with the flag. Returns the step, and whether the login would be the operator's own
 * (which the CLI cannot perform).
 */
export function operatorIdentityStep(
  s: StoreId,
  problems: string[],
  allowForNamespacedStores: boolean,
): { step: Step; operatorLogin: boolean } {
  if (problems.length === 0)
    return {
      step: ok(`${s.kind} "${s.name}" uses credentials it names, not the operator's identity`),
      operatorLogin: false,
    };
  if (s.kind === "ClusterSecretStore" || allowForNamespacedStores)
    return {
      step: ok(`${s.kind} "${s.name}" logs in with the operator's own identity (allowed for it)`),
      operatorLogin: true,
    };
  return {
    step: fail(
      `SecretStore "${s.name}" would need the operator's own identity: ${problems.join("; ")}`,
      `name the credentials in the store (the message says which field), or, if the platform admin started Custos with ${OPERATOR_IDENTITY_FLAG}, pass that flag to explain`,
    ),
    operatorLogin: false,
  };
}

/** What the provider read from Kubernetes to log in, as the command recorded it. */
export interface CredentialRead {
  what: string;
  failure?: Failure | undefined;
}

export function credentialsStep(s: StoreId, reads: CredentialRead[]): Step {
  const bad = reads.find((r) => r.failure);
  if (!bad) {
    return ok(
      reads.length
        ? `credentials present: ${reads.map((r) => r.what).join(", ")}`
        : `${s.kind} "${s.name}" reads no credentials from Kubernetes`,
    );
  }
  const f = bad.failure!;
  if (f.forbidden)
    return fail(
      `cannot check ${bad.what}: the Kubernetes API refused this kubeconfig's user`,
      "explain logs in with the credentials the operator would use, so it must read them: run it as a user who may " +
        (bad.what.startsWith("token of") ? "create serviceaccounts/token" : "get that Secret") +
        " in that namespace (kubectl auth can-i), e.g. a cluster admin",
    );
  return fail(
    `credentials missing: ${f.message}`,
    `create what the store references (${bad.what}), or correct the reference in the ${s.kind}'s spec.provider`,
  );
}

export function operatorLoginStep(s: StoreId): Step {
  return {
    mark: "skip",
    text: `login as the operator itself through ${s.kind} "${s.name}" cannot be checked from the CLI, nor the reads through it`,
  };
}

export function loginStep(s: StoreId, provider: string, failure: Failure | undefined): Step {
  if (!failure) return ok(`login to ${provider} through ${s.kind} "${s.name}" works`);
  const fix: Record<string, string> = {
    CUSTOS_AUTH_FAILED: `${provider} refused the login: check the auth mount path, the role name, and what the role is bound to (service account, namespace, audience); custos vault setup -f <store> configures them`,
    CUSTOS_ACCESS_DENIED: `${provider} refused the login: check the role and the auth mount path`,
    CUSTOS_STORE_UNREACHABLE: `check spec.provider.${provider}.server and that it is reachable from the operator`,
    CUSTOS_INVALID_SPEC: `correct spec.provider.${provider}`,
    CUSTOS_OPERATOR_IDENTITY_DENIED: "name the credentials in the store",
  };
  return fail(
    `login to ${provider} through ${s.kind} "${s.name}" failed: ${failure.message}`,
    fix[failure.code ?? ""] ?? `check the ${s.kind}'s spec.provider.${provider} and the store's own logs`,
  );
}

export interface ReadId {
  key: string;
  version?: string | undefined;
}

const keyText = (r: ReadId): string => `"${r.key}"${r.version ? ` (version ${r.version})` : ""}`;

export function readStep(r: ReadId, failure: Failure | undefined): Step {
  if (!failure) return ok(`remote secret ${keyText(r)} is readable`);
  if (failure.code === "CUSTOS_ACCESS_DENIED")
    return fail(
      `remote secret ${keyText(r)} is not readable: ${failure.message}`,
      "the store's identity lacks read permission on this path: grant it in the policy of that identity (custos vault setup -f <store> -f <externalsecret> writes a policy for exactly these paths)",
    );
  if (failure.code === "CUSTOS_SECRET_NOT_FOUND")
    return fail(
      `remote secret ${keyText(r)} does not exist`,
      "create it in the store, or correct remoteRef.key (and the store's path/version)",
    );
  return fail(
    `reading remote secret ${keyText(r)} failed: ${failure.message}`,
    "check the store and the remote key",
  );
}

/** Names (never values) of the properties a remote secret offers, for the property fix. */
export function propertyNames(s: RemoteSecret): string[] {
  let v: unknown = s.kind === "map" ? s.value : undefined;
  if (s.kind === "bytes") {
    try {
      v = parseJson(new TextDecoder().decode(s.value));
    } catch {
      return [];
    }
  }
  return v !== null && typeof v === "object" && !Array.isArray(v) ? Object.keys(v).sort() : [];
}

export function propertyStep(
  secretKey: string,
  r: ReadId & { property?: string | undefined },
  available: string[],
  failure: Failure | undefined,
): Step {
  const what = r.property ? `property "${r.property}" of ${keyText(r)}` : `value of ${keyText(r)}`;
  if (!failure) return ok(`${what} present (for key "${secretKey}")`);
  const names = available.length
    ? ` (it has: ${available.slice(0, 20).join(", ")}${available.length > 20 ? ", ..." : ""})`
    : "";
  return fail(
    `${what} for key "${secretKey}": ${failure.message}`,
    failure.code === "CUSTOS_PROPERTY_NOT_FOUND"
      ? `correct remoteRef.property of data "${secretKey}"${names}`
      : `correct remoteRef (decodingStrategy, property) of data "${secretKey}"`,
  );
}

export function findStep(what: string, count: number | Failure): Step {
  if (typeof count === "number") return ok(`${what} matches ${count} remote secret${count === 1 ? "" : "s"}`);
  return fail(
    `${what} failed: ${count.message}`,
    "correct dataFrom.find, or the store's permissions for listing",
  );
}

export function buildStep(failure: Failure | undefined, hasTemplate: boolean): Step {
  if (!failure) return ok(hasTemplate ? "template renders" : "Secret data builds (no template)");
  if (failure.code === "CUSTOS_TEMPLATE" || failure.code === "CUSTOS_TEMPLATE_BUDGET")
    return fail(
      `template does not render: ${failure.message}`,
      "correct spec.target.template at the place the message names",
    );
  return fail(
    `Secret data cannot be built: ${failure.message}`,
    "correct the ExternalSecret's data/dataFrom as the message says",
  );
}

export type SyncState = "in-sync" | "missing" | "differs" | "not-written" | "delete";

export function syncStep(
  state: SyncState | Failure,
  target: { namespace: string; name: string; es: string },
  conditionMessage?: string,
): Step {
  const secret = `Secret "${target.name}"`;
  if (typeof state !== "string")
    return fail(`${secret} cannot be written: ${state.message}`, "resolve the conflict named in the message");
  switch (state) {
    case "in-sync":
      return ok(`${secret} is in sync with the store (data hash matches)`);
    case "not-written":
      return ok(`${secret} is not written by this ExternalSecret (${conditionMessage ?? "creationPolicy"})`);
    case "missing":
      return fail(
        `${secret} does not exist yet`,
        `the operator creates it on its next sync; to sync now: ${FORCE_SYNC(target.namespace, target.es)}`,
      );
    case "delete":
      return fail(
        `${secret} would be deleted: every remote secret is gone (deletionPolicy Delete)`,
        "restore the remote secrets, or accept the deletion",
      );
    case "differs":
      return fail(
        `${secret} differs from what the store holds now`,
        `it is rewritten at the next refresh; to sync now: ${FORCE_SYNC(target.namespace, target.es)}`,
      );
  }
}

/** The object's own Ready condition, as a line above the steps. */
export function readyLine(
  kind: string,
  namespace: string,
  name: string,
  ready: Condition | undefined,
): string {
  if (!ready) return `${kind} ${namespace}/${name}: no Ready condition yet`;
  const reason = ready.reason ? ` ${ready.reason}` : "";
  const message = ready.message ? `: ${ready.message.replace(/\s*\n\s*/g, " ").trim()}` : "";
  return `${kind} ${namespace}/${name}: Ready=${ready.status}${reason}${message}`;
}

/**
 * When every check passes but the object is not Ready, the operator has not caught up (or no
 * operator serves it): said as a last step so the exit code reflects it.
 */
export function operatorStep(
  ready: Condition | undefined,
  namespace: string,
  name: string,
  cls: string,
): Step {
  if (ready?.status === "True") return ok("the operator reports Ready");
  if (!ready)
    return fail(
      "no operator has reported on this ExternalSecret",
      `check that an operator runs with --controller-class ${cls} and watches namespace "${namespace}"`,
    );
  return fail(
    "every check passes now, but the operator still reports the failure above",
    `it retries with backoff; to sync now: ${FORCE_SYNC(namespace, name)}`,
  );
}

/**
 * When a link could not be checked from the CLI (a login as the operator itself), the object's
 * own Ready condition is the last word: a failure there is the ✗, with the message as the cause.
 */
export function uncheckedStep(ready: Condition | undefined): Step {
  if (ready?.status === "True") return ok("the operator reports Ready");
  return fail(
    ready
      ? "the operator reports the failure above for the links the CLI cannot check"
      : "no operator has reported on this ExternalSecret",
    ready
      ? "the Ready message names the cause; the operator's own identity (its service account or cloud role) is what logs in"
      : "check that an operator serves this namespace and the store's controller class",
  );
}

const MARKS: Record<Mark, string> = { ok: "✓", fail: "✗", skip: "–" };

export function formatSteps(header: string, steps: Step[]): string {
  const lines = [header];
  // one line per step: store messages may carry newlines (Vault's error lists)
  const flat = (t: string): string => t.replace(/\s*\n\s*/g, " ").trim();
  for (const s of steps) {
    lines.push(`${MARKS[s.mark]} ${flat(s.text)}`);
    if (s.mark === "fail" && s.fix) lines.push(`  fix: ${flat(s.fix)}`);
  }
  return lines.join("\n") + "\n";
}

/** Steps up to and including the first ✗ (later links depend on it). */
export function untilFirstFailure(steps: Step[]): Step[] {
  const i = steps.findIndex((s) => s.mark === "fail");
  return i < 0 ? steps : steps.slice(0, i + 1);
}
