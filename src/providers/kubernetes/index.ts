/**
 * The `kubernetes` provider (`spec.provider.kubernetes`): Secrets of a namespace of this or another
 * cluster, read with the tenant's own identity (token, ServiceAccount, client certificate or a
 * data-only kubeconfig), never the operator's. One session per identity and remote namespace.
 */
import type { ProviderDefinition } from "../types.ts";
import { CustosError } from "../../util/errors.ts";
import { authKind, DEFAULT_REMOTE_NAMESPACE, identityOf, resolveConnection, serverProblem } from "./auth.ts";
import { KubernetesProviderSchema, type KubernetesProviderSpec } from "./schema.ts";
import { KubernetesSession } from "./session.ts";

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const kubernetesProvider: ProviderDefinition<KubernetesProviderSpec> = {
  name: "kubernetes",
  schema: KubernetesProviderSchema,
  validate(spec) {
    if (!spec || typeof spec !== "object") return ["spec.provider.kubernetes must be an object"];
    const problems: string[] = [];
    try {
      authKind(spec);
    } catch (e) {
      problems.push((e as Error).message);
    }
    if (spec.server?.url) {
      const p = serverProblem(spec.server.url);
      if (p) problems.push(p);
    }
    const ns = spec.remoteNamespace ?? DEFAULT_REMOTE_NAMESPACE;
    if (ns.length > 63 || !NAMESPACE.test(ns))
      problems.push(`remoteNamespace "${ns}" is not a namespace name`);
    if (spec.server?.caProvider && !spec.server.caProvider.key)
      problems.push("server.caProvider needs a key");
    const refs = [
      ["auth.token.bearerToken", spec.auth?.token?.bearerToken],
      ["auth.cert.clientCert", spec.auth?.cert?.clientCert],
      ["auth.cert.clientKey", spec.auth?.cert?.clientKey],
      ["authRef", spec.authRef],
    ] as const;
    for (const [what, ref] of refs) if (ref && !ref.key) problems.push(`${what} needs a key`);
    return problems;
  },
  identity: identityOf,
  async connect(spec, ctx, deps) {
    const problems = kubernetesProvider.validate(spec);
    if (problems.length)
      throw new CustosError("CUSTOS_INVALID_SPEC", problems.join("; "), { retryable: false });
    const conn = await resolveConnection(spec, ctx);
    const session = new KubernetesSession(conn, spec.remoteNamespace ?? DEFAULT_REMOTE_NAMESPACE, ctx, deps);
    await session.check();
    return session;
  },
};
