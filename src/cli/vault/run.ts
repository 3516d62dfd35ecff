/**
 * `custos vault setup`, run: inputs read, bindings planned, cluster facts and Vault's current state
 * read, then either the equivalent commands printed (--dry-run) or the differing writes made.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeApi } from "../../kube/api.ts";
import { VaultClient } from "../../providers/vault/client.ts";
import { authPath, fixedPath } from "../../providers/vault/path.ts";
import { CustosError } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";
import type { SetupOptions } from "../commands/vault.ts";
import {
  clusterCa,
  ensureReviewer,
  jwtKeys,
  reviewerCommands,
  reviewerMissing,
  reviewerToken,
} from "./cluster.ts";
import { collectManifests, type Manifests } from "./manifests.ts";
import { flagsManifests, hasStoreFlags } from "./flags.ts";
import {
  bindingsOf,
  desiredState,
  diff,
  opLine,
  summary,
  REVIEWER_FIELD,
  roleKey,
  vaultCommands,
  type Binding,
  type ClusterFacts,
  type Current,
  type Desired,
  type Op,
  type Subject,
} from "./plan.ts";

function invalid(message: string): CustosError {
  return new CustosError("CUSTOS_INVALID_SPEC", message, { retryable: false });
}

/** The texts of -f: files, a directory's .yaml/.yml/.json files (sorted), or stdin. */
export function readInputs(paths: readonly string[]): { source: string; text: string }[] {
  const out: { source: string; text: string }[] = [];
  for (const p of paths) {
    if (p === "-") {
      out.push({ source: "stdin", text: readFileSync(0, "utf8") });
      continue;
    }
    if (!existsSync(p)) throw invalid(`${p}: no such file or directory`);
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p)
        .filter((f) => /\.(ya?ml|json)$/.test(f))
        .sort())
        out.push({ source: join(p, f), text: readFileSync(join(p, f), "utf8") });
    } else out.push({ source: p, text: readFileSync(p, "utf8") });
  }
  return out;
}

function subject(v: string, flag: string): Subject {
  const [namespace, name, ...rest] = v.split("/");
  if (!namespace || !name || rest.length)
    throw invalid(`${flag} ${JSON.stringify(v)}: expected NAMESPACE/NAME`);
  return { namespace, name };
}

function vaultToken(flag: string | undefined): string {
  const file = join(homedir(), ".vault-token");
  const token =
    flag ?? process.env.VAULT_TOKEN ?? (existsSync(file) ? readFileSync(file, "utf8").trim() : "");
  if (!token)
    throw new CustosError(
      "CUSTOS_MISSING_CREDENTIALS",
      "no Vault token: pass --vault-token or set VAULT_TOKEN",
      {
        retryable: false,
      },
    );
  redactor.add(token);
  return token;
}

function vaultAddr(
  flag: string | undefined,
  bindings: readonly Binding[],
  servers: readonly string[],
): string {
  const addr = flag ?? process.env.VAULT_ADDR;
  if (addr) return addr;
  const unique = [...new Set(servers.filter(Boolean))];
  if (unique.length === 1 && bindings.length) return unique[0]!;
  throw invalid("no Vault address: pass --vault-addr or set VAULT_ADDR");
}

/**
 * Vault's errors on one line (it lists several as "2 errors occurred:\n\t* a\n\t* b"), and a
 * refused token said as such, with the rights the command needs.
 */
export function vaultError(e: unknown): unknown {
  if (!(e instanceof CustosError)) return e;
  const message = e.message
    .replace(/\d+ errors? occurred:\s*\*?\s*/g, "")
    .split(/\s*\n\s*\*?\s*/)
    .filter(Boolean)
    .join("; ");
  const hint =
    e.code === "CUSTOS_ACCESS_DENIED"
      ? " (the Vault token needs read and sudo on sys/auth, and write on sys/auth/<mount>, sys/policies/acl/<policy>, auth/<mount>/config and auth/<mount>/role/<role>)"
      : "";
  return new CustosError(e.code, `${message}${hint}`, { retryable: false });
}

/** Vault's current state of everything the desired state names. */
async function readCurrent(client: VaultClient, token: string, desired: Desired): Promise<Current> {
  const get = async (path: ReturnType<typeof fixedPath>): Promise<Record<string, unknown> | undefined> => {
    const res = await client.call<{ data?: Record<string, unknown> }>("Read", "GET", path, {
      token,
      allow404: true,
    });
    return res.status === 404 ? undefined : (res.body.data ?? undefined);
  };
  const mounts = (await get(fixedPath("sys/auth"))) ?? {};
  const authTypes = new Map<string, string | undefined>();
  const configs = new Map<string, Record<string, unknown> | undefined>();
  for (const a of desired.auths) {
    const type = (mounts[`${a.mount}/`] as { type?: string } | undefined)?.type;
    authTypes.set(a.mount, type);
    if (type === a.type) configs.set(a.mount, await get(authPath(a.mount, "auth mount path", "config")));
  }
  const policies = new Map<string, string | undefined>();
  for (const p of desired.policies) {
    const data = await get(fixedPath(`sys/policies/acl/${p.name}`));
    policies.set(p.name, typeof data?.policy === "string" ? data.policy : undefined);
  }
  const roles = new Map<string, Record<string, unknown> | undefined>();
  for (const r of desired.roles)
    if (authTypes.get(r.mount) !== undefined)
      roles.set(roleKey(r.mount, r.role), await get(authPath(r.mount, "auth mount path", "role", r.role)));
  return { authTypes, configs, policies, roles };
}

async function apply(
  client: VaultClient,
  token: string,
  op: Op,
  reviewer: () => Promise<string>,
): Promise<void> {
  switch (op.kind) {
    case "enable-auth":
      await client.call("EnableAuth", "POST", fixedPath(`sys/auth/${op.mount}`), {
        token,
        body: { type: op.type },
      });
      return;
    case "write-config": {
      const body = op.reviewer ? { ...op.body, [REVIEWER_FIELD]: await reviewer() } : op.body;
      try {
        await client.call("WriteConfig", "POST", authPath(op.mount, "auth mount path", "config"), {
          token,
          body,
        });
      } catch (e) {
        // Vault fetches the discovery document when the config is written: say what to do instead
        if (!(e instanceof CustosError) || !("oidc_discovery_url" in body)) throw e;
        throw new CustosError(
          e.code,
          `${e.message} (Vault could not use the issuer's OIDC discovery; run with --jwt-keys jwks to give it the API server's keys)`,
          { retryable: false },
        );
      }
      return;
    }
    case "write-policy":
      await client.call("WritePolicy", "PUT", fixedPath(`sys/policies/acl/${op.name}`), {
        token,
        body: { policy: op.text },
      });
      return;
    case "write-role":
      await client.call("WriteRole", "POST", authPath(op.mount, "auth mount path", "role", op.role), {
        token,
        body: op.body,
      });
      return;
  }
}

/** Runs the command; what it prints goes to `write` line by line. */
export async function runVaultSetup(opts: SetupOptions, write: (text: string) => void): Promise<void> {
  const inputs = readInputs(opts.filename ?? []);
  let api: KubeApi | undefined;
  const kube = (): KubeApi => (api ??= KubeApi.fromDefault(opts.kubeconfig));
  const namespace = (): string =>
    opts.namespace ??
    (() => {
      const kc = kube().kubeConfig;
      return kc.getContextObject(kc.getCurrentContext())?.namespace || "default";
    })();
  let manifests: Manifests;
  if (opts.filename?.length) {
    if (hasStoreFlags(opts))
      throw invalid(
        "--auth, --auth-path, --role, --audience, --kv-path, --kv-version and --key describe a store without -f; use one or the other",
      );
    manifests = collectManifests(inputs, namespace());
  } else if (hasStoreFlags(opts)) manifests = flagsManifests(opts);
  else
    throw invalid(
      "pass the manifests with -f, or describe the store with --auth, --role, --service-account, --kv-path and --key",
    );
  const bindings = bindingsOf(manifests, {
    policy: opts.policy,
    // without -f, the flag is the store's own account
    serviceAccount:
      opts.serviceAccount && opts.filename?.length
        ? subject(opts.serviceAccount, "--service-account")
        : undefined,
  });

  const facts: ClusterFacts = {};
  if (bindings.some((b) => b.method === "jwt")) facts.jwt = await jwtKeys(kube(), opts.jwtKeys);
  let reviewerSa: Subject | undefined;
  if (bindings.some((b) => b.method === "kubernetes")) {
    facts.kubernetes = { host: opts.kubernetesHost ?? kube().server, caPem: clusterCa(kube()) };
    if (opts.reviewer === "self") facts.reviewer = { mode: "self" };
    else {
      reviewerSa = subject(opts.reviewer, "--reviewer");
      facts.reviewer = { mode: "serviceAccount", ...reviewerSa };
    }
  }
  const desired = desiredState(bindings, facts);

  const caPemFile = opts.vaultCaCert ?? process.env.VAULT_CACERT;
  const client = new VaultClient({
    server: vaultAddr(
      opts.vaultAddr,
      bindings,
      manifests.stores.map((s) => s.vault.server),
    ),
    caPem: caPemFile ? readFileSync(caPemFile, "utf8") : undefined,
    recordCall: () => undefined,
  });
  const token = vaultToken(opts.vaultToken);
  const current = await readCurrent(client, token, desired).catch((e: unknown) => {
    throw vaultError(e);
  });
  const missing = reviewerSa ? await reviewerMissing(kube(), reviewerSa) : undefined;
  // a new reviewer account has a new token: the config must take it
  const reviewerRenewed = missing !== undefined && (missing.serviceAccount || missing.binding);
  const plan = diff(desired, current, { reviewerRenewed });

  if (opts.dryRun) {
    const kubectl = reviewerSa && missing ? reviewerCommands(reviewerSa, missing) : [];
    const notes = opts.replace ? [] : plan.conflicts.map((c) => `# needs --replace: ${c}`);
    const vault = vaultCommands(plan.ops);
    write(`${[...notes, ...kubectl].map((l) => `${l}\n`).join("")}${vault}` || "no change\n");
    return;
  }
  if (plan.conflicts.length && !opts.replace)
    throw new CustosError(
      "CUSTOS_OWNERSHIP_CONFLICT",
      `${plan.conflicts.join("; ")}: they may serve other clients; see them with --dry-run and pass --replace to overwrite`,
      { retryable: false },
    );

  // each line as soon as it is done: a failure part-way leaves a true account of what changed
  const created = reviewerSa && missing ? await ensureReviewer(kube(), reviewerSa, missing) : [];
  for (const l of created) write(`${l}\n`);
  for (const op of plan.ops) {
    await apply(client, token, op, () => reviewerToken(kube(), reviewerSa!)).catch((e: unknown) => {
      throw vaultError(e);
    });
    write(`${opLine(op)}\n`);
  }
  write(`${summary(plan)}\n`);
}
