/**
 * The Vault / OpenBao provider (`spec.provider.vault`): KV v1 and v2, and the auth methods ESO
 * users rely on, with one long-lived session per credential identity.
 */
import { registerProvider } from "../registry.ts";
import type { ProviderDefinition, StoreContext } from "../types.ts";
import { CustosError } from "../../util/errors.ts";
import { authMethod, clientTls, identityOf, refNamespace } from "./auth.ts";
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

export const vaultProvider: ProviderDefinition<VaultProviderSpec> = {
  name: "vault",
  schema: VaultProviderSchema,
  validate(spec) {
    const problems: string[] = [];
    if (!spec || typeof spec !== "object") return ["spec.provider.vault must be an object"];
    try {
      const u = new URL(spec.server);
      if (u.protocol !== "http:" && u.protocol !== "https:")
        problems.push(`server "${spec.server}" must be an http(s) URL`);
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
    return problems;
  },
  identity: identityOf,
  async connect(spec, ctx, deps) {
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

registerProvider(vaultProvider);
