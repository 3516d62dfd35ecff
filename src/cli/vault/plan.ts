/**
 * `custos vault setup` as data: the manifests give bindings (auth method, mount, role, service
 * accounts, audiences, policy rules); with the cluster's facts (issuer and keys, API server and CA)
 * they give the desired Vault state; compared with the current state, the operations to run. No
 * I/O here: the command module reads and writes, this module decides.
 */
import { CustosError } from "../../util/errors.ts";
import { authPath, fixedPath } from "../../providers/vault/path.ts";
import { usesStore, type Manifests, type VaultStore } from "./manifests.ts";
import { policyHcl, storeRules, type PolicyRule } from "./policy.ts";

export type Method = "jwt" | "kubernetes";

export interface Subject {
  namespace: string;
  name: string;
}

/** One Vault role and its policy, serving one or more stores. */
export interface Binding {
  method: Method;
  mount: string;
  role: string;
  policy: string;
  subjects: Subject[];
  audiences: string[];
  rules: PolicyRule[];
  stores: string[];
}

export interface PlanOptions {
  /** Policy name (one binding only); default `custos-<mount>-<role>`. */
  policy?: string | undefined;
  /** The service account a store's token comes from, when the store does not say (NS/NAME). */
  serviceAccount?: Subject | undefined;
}

function invalid(message: string): CustosError {
  return new CustosError("CUSTOS_INVALID_SPEC", message, { retryable: false });
}

const storeName = (s: VaultStore): string =>
  s.namespace ? `${s.kind} ${s.namespace}/${s.name}` : `${s.kind} ${s.name}`;

function supportedMethod(s: VaultStore): Method {
  const a = s.vault.auth ?? {};
  const at = storeName(s);
  if (s.vault.namespace || a.namespace)
    throw invalid(`${at}: Vault namespaces (Enterprise) are not supported by custos vault setup yet`);
  if (a.jwt) {
    if (!a.jwt.kubernetesServiceAccountToken)
      throw invalid(
        `${at}: auth.jwt with secretRef holds a JWT from an issuer custos does not know; custos vault setup configures auth.jwt.kubernetesServiceAccountToken (the cluster's own tokens)`,
      );
    return "jwt";
  }
  if (a.kubernetes) return "kubernetes";
  const other = Object.keys(a).find((k) => k !== "namespace") ?? "none";
  throw invalid(
    `${at}: auth method ${other === "tokenSecretRef" ? "token" : other} is not configured by custos vault setup (it configures jwt with kubernetesServiceAccountToken, and kubernetes); create its credentials with the vault CLI`,
  );
}

/** The namespaces a service-account reference resolves in, as the provider resolves it (auth.ts). */
function subjectsOf(
  s: VaultStore,
  ref: { name: string; namespace?: string | undefined } | undefined,
  m: Manifests,
  opts: PlanOptions,
): Subject[] {
  if (!ref) {
    if (opts.serviceAccount) return [opts.serviceAccount];
    throw invalid(
      `${storeName(s)}: auth.kubernetes has no serviceAccountRef, so the service account is unknown; pass --service-account NAMESPACE/NAME`,
    );
  }
  if (s.kind === "SecretStore") return [{ namespace: s.namespace!, name: ref.name }];
  if (ref.namespace) return [{ namespace: ref.namespace, name: ref.name }];
  // referent auth: the token comes from the namespace of each ExternalSecret using the store
  const namespaces = new Set<string>();
  for (const es of m.externalSecrets) {
    const uses =
      usesStore(es, undefined, s) ||
      (es.spec.data ?? []).some((d) => usesStore(es, d.sourceRef?.storeRef, s)) ||
      (es.spec.dataFrom ?? []).some((d) => usesStore(es, d.sourceRef?.storeRef, s));
    if (uses) namespaces.add(es.namespace);
  }
  if (!namespaces.size)
    throw invalid(
      `${storeName(s)}: the service account has no namespace and no ExternalSecret in the input uses the store; set serviceAccountRef.namespace or pass the ExternalSecrets with -f`,
    );
  return [...namespaces].sort().map((namespace) => ({ namespace, name: ref.name }));
}

function storeBinding(s: VaultStore, m: Manifests, opts: PlanOptions): Omit<Binding, "policy"> {
  const method = supportedMethod(s);
  const a = s.vault.auth!;
  const rules = storeRules(s, m.externalSecrets);
  if (!rules.length)
    throw invalid(
      `${storeName(s)}: no ExternalSecret in the input reads from it, so its policy would grant nothing; pass the ExternalSecrets with -f`,
    );
  if (method === "jwt") {
    const j = a.jwt!;
    const t = j.kubernetesServiceAccountToken!;
    if (!j.role)
      throw invalid(`${storeName(s)}: auth.jwt.role is required (the role custos vault setup creates)`);
    return {
      method,
      mount: trimMount(j.path ?? "jwt"),
      role: j.role,
      subjects: subjectsOf(s, t.serviceAccountRef, m, opts),
      // the audiences the provider requests the token with (auth.ts)
      audiences: [...(t.audiences ?? t.serviceAccountRef.audiences ?? ["vault"])].sort(),
      rules,
      stores: [storeName(s)],
    };
  }
  const k = a.kubernetes!;
  const audiences = [...(k.serviceAccountRef?.audiences ?? [])].sort();
  if (audiences.length > 1)
    throw invalid(
      `${storeName(s)}: Vault's kubernetes role checks one audience; the store requests ${audiences.length}`,
    );
  return {
    method,
    mount: trimMount(k.mountPath ?? "kubernetes"),
    role: k.role,
    subjects: subjectsOf(s, k.serviceAccountRef, m, opts),
    audiences,
    rules,
    stores: [storeName(s)],
  };
}

const trimMount = (m: string): string => m.replace(/^\/+|\/+$/g, "");

const POLICY_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

/** The bindings of the manifests: stores sharing a mount and role share one role and policy. */
export function bindingsOf(m: Manifests, opts: PlanOptions = {}): Binding[] {
  if (!m.stores.length)
    throw invalid(
      "no Vault SecretStore or ClusterSecretStore in the input; pass the store's manifest with -f",
    );
  const byKey = new Map<string, Omit<Binding, "policy">>();
  for (const s of m.stores) {
    const b = storeBinding(s, m, opts);
    // checked here so a bad mount or role fails before anything is read or written
    authPath(b.mount, "auth mount path", "role", b.role);
    const key = `${b.mount}\n${b.role}`;
    const prev = byKey.get(key);
    if (!prev) {
      byKey.set(key, b);
      continue;
    }
    if (prev.method !== b.method)
      throw invalid(
        `auth/${b.mount}: ${prev.stores[0]} uses ${prev.method}, ${b.stores[0]} uses ${b.method}`,
      );
    if (prev.audiences.join(",") !== b.audiences.join(","))
      throw invalid(
        `auth/${b.mount}/role/${b.role}: ${prev.stores[0]} and ${b.stores[0]} request different audiences`,
      );
    const subjects = new Map([...prev.subjects, ...b.subjects].map((x) => [`${x.namespace}/${x.name}`, x]));
    prev.subjects = [...subjects.keys()].sort().map((k) => subjects.get(k)!);
    prev.rules = [...prev.rules, ...b.rules];
    prev.stores = [...prev.stores, ...b.stores];
  }
  const all = [...byKey.values()];
  if (opts.policy !== undefined && all.length > 1)
    throw invalid(`--policy names one policy, but the input needs ${all.length} roles; leave it out`);
  return all.map((b) => {
    const policy = opts.policy ?? `custos-${b.mount.replace(/\//g, "-")}-${b.role}`;
    if (!POLICY_NAME.test(policy) || policy.length > 128)
      throw invalid(`policy name ${JSON.stringify(policy)}: use letters, digits, ".", "_" and "-"`);
    fixedPath(`sys/policies/acl/${policy}`);
    if (b.method === "kubernetes") {
      // Vault's kubernetes role grants every name in every namespace listed: refuse a wider grant
      const names = new Set(b.subjects.map((x) => x.name));
      const nss = new Set(b.subjects.map((x) => x.namespace));
      if (names.size * nss.size !== b.subjects.length)
        throw invalid(
          `auth/${b.mount}/role/${b.role}: its stores use service accounts ${b.subjects.map((x) => `${x.namespace}/${x.name}`).join(", ")}, which a kubernetes role cannot bind without binding more; give the stores separate roles`,
        );
    }
    return { ...b, policy };
  });
}

// ---- desired state ----

export type JwtKeys =
  | { mode: "discovery"; url: string; caPem?: string | undefined }
  | { mode: "keys"; issuer: string; pems: string[] };

export interface ClusterFacts {
  jwt?: JwtKeys | undefined;
  kubernetes?: { host: string; caPem?: string | undefined } | undefined;
  /** Who reviews tokens for kubernetes auth: a service account's token, or Vault itself. */
  reviewer?: { mode: "self" } | { mode: "serviceAccount"; namespace: string; name: string } | undefined;
}

type Value = string | string[] | Record<string, string[]>;

export interface DesiredAuth {
  mount: string;
  type: Method;
  config: Record<string, Value>;
  /** The config holds the reviewer token (written as a placeholder, filled in by the command). */
  reviewer?: Subject | undefined;
}

export interface DesiredRole {
  mount: string;
  role: string;
  fields: Record<string, Value>;
}

export interface Desired {
  auths: DesiredAuth[];
  policies: { name: string; text: string }[];
  roles: DesiredRole[];
}

export const REVIEWER_FIELD = "token_reviewer_jwt";

/** Stands for the reviewer token in a planned write: the token itself is never in a plan. */
export const reviewerPlaceholder = (sa: Subject): string =>
  `<token of ServiceAccount ${sa.namespace}/${sa.name}>`;

function authConfig(method: Method, facts: ClusterFacts): Pick<DesiredAuth, "config" | "reviewer"> {
  if (method === "jwt") {
    const k = facts.jwt;
    if (!k) throw new CustosError("CUSTOS_INTERNAL", "JWT keys were not read");
    return k.mode === "discovery"
      ? {
          config: {
            oidc_discovery_url: k.url,
            oidc_discovery_ca_pem: k.caPem ?? "",
            jwt_validation_pubkeys: [],
            bound_issuer: "",
            jwks_url: "",
            jwks_ca_pem: "",
          },
        }
      : {
          config: {
            jwt_validation_pubkeys: [...k.pems],
            bound_issuer: k.issuer,
            oidc_discovery_url: "",
            oidc_discovery_ca_pem: "",
            jwks_url: "",
            jwks_ca_pem: "",
          },
        };
  }
  const c = facts.kubernetes;
  if (!c) throw new CustosError("CUSTOS_INTERNAL", "the API server was not read");
  const r = facts.reviewer ?? { mode: "self" };
  const reviewer = r.mode === "serviceAccount" ? { namespace: r.namespace, name: r.name } : undefined;
  return {
    config: {
      kubernetes_host: c.host,
      kubernetes_ca_cert: c.caPem ?? "",
      pem_keys: [],
      [REVIEWER_FIELD]: reviewer ? reviewerPlaceholder(reviewer) : "",
    },
    reviewer,
  };
}

function roleFields(b: Binding): Record<string, Value> {
  if (b.method === "jwt") {
    const subs = b.subjects.map((x) => `system:serviceaccount:${x.namespace}:${x.name}`);
    return {
      role_type: "jwt",
      user_claim: "sub",
      // one subject: bound_subject; several (referent ClusterSecretStore): any of them, by claim
      bound_subject: subs.length === 1 ? subs[0]! : "",
      bound_claims: subs.length === 1 ? {} : { sub: subs },
      bound_audiences: b.audiences,
      token_policies: [b.policy],
    };
  }
  return {
    bound_service_account_names: [...new Set(b.subjects.map((x) => x.name))].sort(),
    bound_service_account_namespaces: [...new Set(b.subjects.map((x) => x.namespace))].sort(),
    audience: b.audiences[0] ?? "",
    token_policies: [b.policy],
  };
}

export function desiredState(bindings: readonly Binding[], facts: ClusterFacts): Desired {
  const auths = new Map<string, DesiredAuth>();
  const policies = new Map<string, string>();
  const roles: DesiredRole[] = [];
  for (const b of bindings) {
    if (!auths.has(b.mount))
      auths.set(b.mount, { mount: b.mount, type: b.method, ...authConfig(b.method, facts) });
    else if (auths.get(b.mount)!.type !== b.method)
      throw invalid(`auth/${b.mount} is used as ${auths.get(b.mount)!.type} and as ${b.method}`);
    const text = policyHcl(b.rules, `${POLICY_HEADER.slice(2)} what ${b.stores.join(", ")} read`);
    if (policies.has(b.policy) && policies.get(b.policy) !== text)
      throw invalid(`policy ${b.policy} would be written twice with different paths`);
    policies.set(b.policy, text);
    roles.push({ mount: b.mount, role: b.role, fields: roleFields(b) });
  }
  return {
    auths: [...auths.values()],
    policies: [...policies].map(([name, text]) => ({ name, text })),
    roles,
  };
}

// ---- diff ----

export interface Current {
  /** Auth method type per mount (undefined: not enabled). */
  authTypes: ReadonlyMap<string, string | undefined>;
  configs: ReadonlyMap<string, Record<string, unknown> | undefined>;
  policies: ReadonlyMap<string, string | undefined>;
  /** Keyed by `roleKey(mount, role)`. */
  roles: ReadonlyMap<string, Record<string, unknown> | undefined>;
}

export const roleKey = (mount: string, role: string): string => `${mount}\n${role}`;

export type Op =
  | { kind: "enable-auth"; mount: string; type: Method }
  | {
      kind: "write-config";
      mount: string;
      body: Record<string, Value>;
      changed: string[];
      reviewer?: Subject | undefined;
    }
  | { kind: "write-policy"; name: string; text: string }
  | { kind: "write-role"; mount: string; role: string; body: Record<string, Value>; changed: string[] };

export interface Plan {
  ops: Op[];
  /** Objects already as desired, for the report. */
  unchanged: string[];
  /**
   * Writes that would replace what someone else set (another cluster's host or keys on the same
   * mount, a role granting other policies, a policy custos did not write): they may serve other
   * clients, so the command runs them only when asked (--replace).
   */
  conflicts: string[];
}

/** The header every policy custos writes starts with (so a later run knows it as its own). */
export const POLICY_HEADER = "# custos vault setup:";

const isEmpty = (v: unknown): boolean =>
  v === undefined ||
  v === null ||
  v === "" ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0);

/** A comparable form: strings trimmed (Vault trims PEM), lists as sets, maps by key. */
function canonical(v: unknown): string {
  if (isEmpty(v)) return "";
  if (typeof v === "string") return JSON.stringify(v.trim());
  if (Array.isArray(v)) return JSON.stringify(v.map((x) => canonical(x)).sort());
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    return JSON.stringify(
      Object.keys(o)
        .sort()
        .map((k) => [k, canonical(o[k])]),
    );
  }
  return JSON.stringify(v);
}

/** Fields whose value differs; the write body: every non-empty field, and empties that clear one. */
function compare(
  desired: Record<string, Value>,
  current: Record<string, unknown> | undefined,
  special: (field: string) => boolean | undefined = () => undefined,
): { changed: string[]; body: Record<string, Value> } {
  const changed: string[] = [];
  const body: Record<string, Value> = {};
  for (const field of Object.keys(desired).sort()) {
    const want = desired[field]!;
    const differs = special(field) ?? canonical(want) !== canonical(current?.[field]);
    if (differs) changed.push(field);
    if (!isEmpty(want) || (current && !isEmpty(current[field]))) body[field] = want;
  }
  return { changed, body };
}

export function diff(desired: Desired, current: Current, opts: { reviewerRenewed?: boolean } = {}): Plan {
  const ops: Op[] = [];
  const unchanged: string[] = [];
  const conflicts: string[] = [];
  for (const a of desired.auths) {
    const type = current.authTypes.get(a.mount);
    if (type === undefined) ops.push({ kind: "enable-auth", mount: a.mount, type: a.type });
    else if (type !== a.type)
      throw invalid(
        `auth/${a.mount} is a ${type} auth method, not ${a.type}: choose another path in the store`,
      );
    else unchanged.push(`auth/${a.mount}`);
    const cur = type === a.type ? current.configs.get(a.mount) : undefined;
    const { changed, body } = compare(a.config, cur, (field) => {
      if (field !== REVIEWER_FIELD) return undefined;
      // Vault never returns the reviewer token, only whether one is set
      const set = cur?.token_reviewer_jwt_set === true;
      return a.reviewer ? !set || opts.reviewerRenewed === true : set;
    });
    // a config write replaces the whole config: the reviewer token goes with every write
    if (changed.length && a.reviewer) body[REVIEWER_FIELD] = reviewerPlaceholder(a.reviewer);
    const replaced = changed.filter((f) => f !== REVIEWER_FIELD && !isEmpty(cur?.[f]));
    if (replaced.length) conflicts.push(`auth/${a.mount}/config has other ${replaced.join(", ")}`);
    if (changed.length)
      ops.push({
        kind: "write-config",
        mount: a.mount,
        body: Object.fromEntries(Object.entries(body).filter(([, v]) => !isEmpty(v))),
        changed,
        ...(a.reviewer ? { reviewer: a.reviewer } : {}),
      });
    else unchanged.push(`auth/${a.mount}/config`);
  }
  for (const p of desired.policies) {
    const cur = current.policies.get(p.name);
    if (cur === p.text) unchanged.push(`policy ${p.name}`);
    else {
      if (cur !== undefined && !cur.startsWith(POLICY_HEADER))
        conflicts.push(`policy ${p.name} exists and was not written by custos vault setup`);
      ops.push({ kind: "write-policy", name: p.name, text: p.text });
    }
  }
  for (const r of desired.roles) {
    const cur = current.roles.get(roleKey(r.mount, r.role));
    const { changed, body } = compare(r.fields, cur);
    // a role that grants only this binding's policy is this binding's: it follows the manifests
    if (changed.length && cur && canonical(cur.token_policies) !== canonical(r.fields.token_policies))
      conflicts.push(`auth/${r.mount}/role/${r.role} exists with other token_policies`);
    if (changed.length) ops.push({ kind: "write-role", mount: r.mount, role: r.role, body, changed });
    else unchanged.push(`auth/${r.mount}/role/${r.role}`);
  }
  return { ops, unchanged, conflicts };
}

// ---- output ----

const heredoc = (text: string): string => `<<'EOF'\n${text.endsWith("\n") ? text : `${text}\n`}EOF`;

/** The `vault` CLI commands equivalent to the operations (`--dry-run`). */
export function vaultCommands(ops: readonly Op[]): string {
  const out: string[] = [];
  for (const op of ops) {
    switch (op.kind) {
      case "enable-auth":
        out.push(`vault auth enable -path=${op.mount} ${op.type}`);
        break;
      case "write-config":
        if (op.reviewer)
          out.push(
            `# ${REVIEWER_FIELD}: kubectl -n ${op.reviewer.namespace} get secret ${op.reviewer.name}-token -o jsonpath='{.data.token}' | base64 -d`,
          );
        out.push(`vault write auth/${op.mount}/config - ${heredoc(JSON.stringify(op.body, null, 2))}`);
        break;
      case "write-policy":
        out.push(`vault policy write ${op.name} - ${heredoc(op.text)}`);
        break;
      case "write-role":
        out.push(
          `vault write auth/${op.mount}/role/${op.role} - ${heredoc(JSON.stringify(op.body, null, 2))}`,
        );
        break;
    }
  }
  return out.length ? `${out.join("\n")}\n` : "";
}

/** The report line of one operation, once done. */
export function opLine(op: Op): string {
  switch (op.kind) {
    case "enable-auth":
      return `auth/${op.mount}: enabled (${op.type})`;
    case "write-config":
      return `auth/${op.mount}/config: written (${op.changed.join(", ")})`;
    case "write-policy":
      return `policy ${op.name}: written`;
    case "write-role":
      return `auth/${op.mount}/role/${op.role}: written (${op.changed.join(", ")})`;
  }
}

/** The closing line of a run. */
export const summary = (plan: Plan): string =>
  plan.ops.length ? `${plan.ops.length} change(s)` : "no change";

/** What a run did, one line per object. */
export function report(plan: Plan): string {
  return `${[...plan.ops.map(opLine), summary(plan)].join("\n")}\n`;
}
