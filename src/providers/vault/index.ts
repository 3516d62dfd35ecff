/**
 * The Vault / OpenBao provider (`spec.provider.vault`): KV v1 and v2, and the auth methods ESO
 * users rely on, with one long-lived session per credential identity.
 */
import type { ProviderDefinition, StoreContext } from "../types.ts";
import { CustosError } from "../../util/errors.ts";
import { authMethod, clientTls, identityOf, operatorUses, refNamespace } from "./auth.ts";
import { assertIdentityAllowed, identityProblems } from "../operator.ts";
import { mountProblem, segmentProblem } from "./path.ts";
import { VaultClient } from "./client.ts";
import { VaultProviderSchema, type VaultProviderSpec } from "./schema.ts";
import { VaultSession } from "./session.ts";

async function caPem(spec: VaultProviderSpec, ctx: StoreContext): Promise<string | undefined> {
  if (spec.caBundle) return Buffer.from(spec.caBundle, "base64").toString("utf8");
  const p = spec.caProvider;
  if (!p) return undefined;
  const ns = refNamespace(p, ctx);
  return p.type === "Secret"
    ? new TextDecoder().decode(await ctx.kube.secretKey(ns, p.name, p.key))
    : ctx.kube.configMapKey(ns, p.name, p.key);
}

/** Every mount path in the spec: the KV mount and the auth methods'. */
function mountsOf(spec: VaultProviderSpec): [string, string | undefined, boolean][] {
  const a = spec.auth ?? {};
  return [
    ["path", spec.path, true],
    ["auth.appRole.path", a.appRole?.path, false],
    ["auth.kubernetes.mountPath", a.kubernetes?.mountPath, false],
    ["auth.jwt.path", a.jwt?.path, false],
    ["auth.userPass.path", a.userPass?.path, false],
    ["auth.ldap.path", a.ldap?.path, false],
    ["auth.cert.path", a.cert?.path, false],
    ["auth.iam.path", a.iam?.path, false],
  ];
}

export const vaultProvider: ProviderDefinition<VaultProviderSpec> = {
  name: "vault",
  schema: VaultProviderSchema,
  validate(spec, ctx) {
    if (!spec || typeof spec !== "object") return ["spec.provider.vault must be an object"];
    const problems: string[] = ctx ? identityProblems(operatorUses(spec), ctx) : [];
    try {
      const u = new URL(spec.server);
      if (u.protocol !== "http:" && u.protocol !== "https:")
        problems.push(`server "${spec.server}" must be an http(s) URL`);
      else if (u.search || u.hash) problems.push(`server "${spec.server}" must have no query or fragment`);
    } catch {
      problems.push(`server "${spec.server}" is not a URL`);
    }
    if (spec.version && spec.version !== "v1" && spec.version !== "v2")
      problems.push(`version must be v1 or v2, not "${String(spec.version)}"`);
    try {
      authMethod(spec);
    } catch (e) {
      problems.push((e as Error).message);
    }
    for (const [what, mount, kv] of mountsOf(spec)) {
      const problem = mount === undefined ? undefined : mountProblem(mount, kv);
      if (problem) problems.push(`${what} "${mount}" is not allowed: ${problem}`);
    }
    // a username is one path segment of the login URL (auth/<mount>/login/<username>)
    for (const [what, user] of [
      ["auth.userPass.username", spec.auth?.userPass?.username],
      ["auth.ldap.username", spec.auth?.ldap?.username],
    ] as const) {
      const problem = user === undefined ? undefined : user.includes("/") ? "a slash" : segmentProblem(user);
      if (problem) problems.push(`${what} "${user}" is not allowed: it has ${problem}`);
    }
    return problems;
  },
  identity: identityOf,
  // what a key means: the same server, Vault namespace, mount, KV version and headers
  readScope: (spec) =>
    JSON.stringify([
      spec.server.replace(/\/+$/, ""),
      spec.namespace ?? "",
      spec.path ?? "",
      spec.version ?? "v2",
      spec.headers ?? {},
    ]),
  // the rest of what a session does with the spec: consistency options, login parameters that
  // are not the identity (the IAM server ID header, a minted token's lifetime)
  sessionScope: (spec) =>
    JSON.stringify([
      spec.readYourWrites ?? false,
      spec.forwardInconsistent ?? false,
      spec.auth?.iam?.vaultAwsIamServerID ?? "",
      spec.auth?.jwt?.kubernetesServiceAccountToken?.expirationSeconds ?? 0,
    ]),
  async connect(spec, ctx, deps) {
    // before anything else: no request may leave with the operator's identity
    assertIdentityAllowed(operatorUses(spec), ctx);
    const problems = vaultProvider.validate(spec);
    if (problems.length)
      throw new CustosError("CUSTOS_INVALID_SPEC", problems.join("; "), { retryable: false });
    const client = new VaultClient({
      server: spec.server,
      namespace: spec.namespace,
      headers: spec.headers,
      caPem: await caPem(spec, ctx),
      clientTls: await clientTls(spec, ctx),
      readYourWrites: spec.readYourWrites,
      forwardInconsistent: spec.forwardInconsistent,
      recordCall: (call, status) => {
        deps.recordCall(call, status);
      },
    });
    const session = new VaultSession(client, spec, ctx, deps);
    await session.login();
    return session;
  },
};
