/**
 * A session on a remote namespace: Secrets read with the tenant's identity (a service-account
 * token renewed after two thirds of its hour), found by labels or by name.
 */
import type { FindQuery, ProviderDeps, RemoteKey, RemoteSecret, Session, StoreContext } from "../types.ts";
import { CustosError } from "../../util/errors.ts";
import { specMatcher } from "../../util/regex.ts";
import { goJsonMarshal } from "../../util/gojson.ts";
import { ApiClient } from "./client.ts";
import { SA_TOKEN_SECONDS, type Connection } from "./auth.ts";

interface SecretObj {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

interface RulesReview {
  status?: { resourceRules?: { verbs?: string[]; apiGroups?: string[]; resources?: string[] }[] };
}

const MAX_FIND_RESULTS = 10_000;
// Kubernetes' label syntax (ESO validates tags the same way before building the selector)
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `k=v,...` from find.tags, refusing anything that is not a plain label (no selector injection). */
export function labelSelector(tags: Record<string, string>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const slash = k.lastIndexOf("/");
    const prefix = slash >= 0 ? k.slice(0, slash) : undefined;
    const name = slash >= 0 ? k.slice(slash + 1) : k;
    const keyOk =
      name.length <= 63 &&
      LABEL_NAME.test(name) &&
      (prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)));
    if (!keyOk)
      throw new CustosError("CUSTOS_INVALID_SPEC", `find.tags key "${k}" is not a valid label key`, {
        retryable: false,
      });
    if (v !== "" && (v.length > 63 || !LABEL_NAME.test(v)))
      throw new CustosError("CUSTOS_INVALID_SPEC", `find.tags value of "${k}" is not a valid label value`, {
        retryable: false,
      });
    parts.push(`${k}=${v}`);
  }
  return parts.join(",");
}

/** A Secret as the engine sees it: strings for JSON and templates, the exact bytes in `raw`. */
export function secretToRemote(s: SecretObj, metadataPolicy: RemoteKey["metadataPolicy"]): RemoteSecret {
  if (metadataPolicy === "Fetch") {
    // ESO: {"annotations":...,"labels":...} through JSONMarshal (sorted, no HTML escapes, nil as null)
    const meta = { annotations: s.metadata.annotations ?? null, labels: s.metadata.labels ?? null };
    return { kind: "bytes", value: new TextEncoder().encode(goJsonMarshal(meta, false)) };
  }
  const raw: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
  const value: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const dec = new TextDecoder();
  for (const [k, v] of Object.entries(s.data ?? {})) {
    raw[k] = Buffer.from(v, "base64");
    value[k] = dec.decode(raw[k]);
  }
  return { kind: "map", value, raw };
}

export class KubernetesSession implements Session {
  readonly #client: ApiClient;
  #token: { value: string; renewAt: number } | undefined;
  #tokenPending: Promise<string> | undefined;

  constructor(
    readonly conn: Connection,
    readonly remoteNamespace: string,
    readonly ctx: StoreContext,
    readonly deps: ProviderDeps,
    readonly now: () => number = Date.now,
  ) {
    this.#client = new ApiClient({
      url: conn.url,
      caPem: conn.caPem,
      cert: conn.cert,
      ...(conn.token ? { token: () => this.#bearer() } : {}),
      recordCall: (call, status) => {
        deps.recordCall(call, status);
      },
    });
    if (conn.token && "static" in conn.token) deps.redact(conn.token.static);
    if (conn.cert) deps.redact(conn.cert.key);
  }

  async #bearer(): Promise<string> {
    const t = this.conn.token;
    if (!t) throw new CustosError("CUSTOS_INTERNAL", "no token");
    if ("static" in t) return t.static;
    if (this.#token && this.now() < this.#token.renewAt) return this.#token.value;
    this.#tokenPending ??= (async () => {
      try {
        const sa = t.serviceAccount;
        const value = await this.ctx.kube.serviceAccountToken(
          sa.namespace,
          sa.name,
          sa.audiences,
          SA_TOKEN_SECONDS,
        );
        this.deps.redact(value);
        this.#token = { value, renewAt: this.now() + (SA_TOKEN_SECONDS * 1000 * 2) / 3 };
        return value;
      } finally {
        this.#tokenPending = undefined;
      }
    })();
    return this.#tokenPending;
  }

  #secretsPath(name?: string): string {
    const base = `/api/v1/namespaces/${encodeURIComponent(this.remoteNamespace)}/secrets`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  /**
   * Checks at connect that the identity may get Secrets in the remote namespace, as ESO's store
   * validation does: a rule with get on secrets (any resourceNames) in a SelfSubjectRulesReview,
   * else a SelfSubjectAccessReview.
   */
  async check(): Promise<void> {
    const rules = await this.#client.call<RulesReview>(
      "CreateSelfSubjectRulesReview",
      "POST",
      "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
      {
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SelfSubjectRulesReview",
          spec: { namespace: this.remoteNamespace },
        },
      },
    );
    const any = (l: string[] | undefined, v: string): boolean => !!l && (l.includes(v) || l.includes("*"));
    for (const r of rules.status?.resourceRules ?? []) {
      const coreGroup = !r.apiGroups?.length || any(r.apiGroups, "");
      if (coreGroup && any(r.resources, "secrets") && any(r.verbs, "get")) return;
    }
    const review = await this.#client.call<{ status?: { allowed?: boolean } }>(
      "CreateSelfSubjectAccessReview",
      "POST",
      "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
      {
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SelfSubjectAccessReview",
          spec: { resourceAttributes: { resource: "secrets", namespace: this.remoteNamespace, verb: "get" } },
        },
      },
    );
    if (!review.status?.allowed)
      throw new CustosError(
        "CUSTOS_ACCESS_DENIED",
        `the store's identity is not allowed to get secrets in namespace "${this.remoteNamespace}" of ${this.#client.server}`,
        { retryable: true },
      );
  }

  async read(ref: RemoteKey): Promise<RemoteSecret> {
    if (!ref.key || ref.key.includes("/"))
      throw new CustosError("CUSTOS_INVALID_REMOTE_KEY", `"${ref.key}" is not a Secret name`, {
        retryable: false,
      });
    const s = await this.#client.call<SecretObj>("GetSecret", "GET", this.#secretsPath(ref.key));
    return this.#remote(s, ref.metadataPolicy);
  }

  #remote(s: SecretObj, policy: RemoteKey["metadataPolicy"]): RemoteSecret {
    const r = secretToRemote(s, policy);
    if (r.kind === "map") for (const v of Object.values(r.raw ?? {})) this.deps.redact(v);
    else this.deps.redact(r.value);
    return r;
  }

  async find(query: FindQuery): Promise<Map<string, RemoteSecret>> {
    const tags = query.tags && Object.keys(query.tags).length ? query.tags : undefined;
    if (!tags && !query.name?.regexp)
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        "the kubernetes provider finds Secrets by find.tags (labels) or find.name.regexp, not by path",
        { retryable: false },
      );
    // ESO: tags win over name
    const re = tags ? undefined : specMatcher(query.name!.regexp, "find.name.regexp");
    const out = new Map<string, RemoteSecret>();
    let cont: string | undefined;
    do {
      const page = await this.#client.call<{ items?: SecretObj[]; metadata?: { continue?: string } }>(
        "ListSecrets",
        "GET",
        this.#secretsPath(),
        {
          query: {
            limit: "500",
            ...(tags ? { labelSelector: labelSelector(tags) } : {}),
            ...(cont ? { continue: cont } : {}),
          },
        },
      );
      for (const s of page.items ?? []) {
        if (re && !re.test(s.metadata.name)) continue;
        out.set(s.metadata.name, this.#remote(s, "None"));
        if (out.size > MAX_FIND_RESULTS)
          throw new CustosError("CUSTOS_INVALID_SPEC", `find matched more than ${MAX_FIND_RESULTS} Secrets`, {
            retryable: false,
          });
      }
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return out;
  }

  async close(): Promise<void> {
    return undefined;
  }
}
