/**
 * The I/O of `custos migrate kes`: reads manifests (a file, a directory's *.yaml / *.yml / *.json,
 * or standard input), converts the KES ExternalSecrets among them (kes.ts), prints the ESO
 * manifests on stdout and each refusal on stderr as `FILE:LINE: ExternalSecret NS/NAME: reason`.
 * Exit code 1 when anything was refused, 2 when nothing could be read.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { LineCounter, parseAllDocuments, stringify } from "yaml";
import type { KesExternalSecret } from "../../controllers/kes/api.ts";
import { parseServiceAccount } from "../../controllers/kes/config.ts";
import { deploymentDefaults, migrate, refreshIntervalOf, type Manifest, type MigrateOptions } from "./kes.ts";

export interface MigrateFlags {
  vaultAddr?: string | undefined;
  vaultNamespace?: string | undefined;
  defaultVaultMountPoint?: string | undefined;
  defaultVaultRole?: string | undefined;
  awsRegion?: string | undefined;
  serviceAccount?: string | undefined;
  tokenAudiences: string;
  storeKind: "ClusterSecretStore" | "SecretStore";
  refreshInterval?: string | undefined;
  kesDeployment?: string | undefined;
}

interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stdin: () => string;
}

const defaultIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stdin: () => readFileSync(0, "utf8"),
};

function files(input: string): string[] {
  if (input === "-") return ["-"];
  if (!statSync(input).isDirectory()) return [input];
  const out: string[] = [];
  for (const e of readdirSync(input, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(input, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (/\.(ya?ml|json)$/.test(e.name)) out.push(p);
  }
  return out;
}

interface Found {
  object: KesExternalSecret;
  source: string;
  lineOf: (path: (string | number)[]) => number;
}

function kesObjects(text: string, source: string): Found[] {
  const lc = new LineCounter();
  const out: Found[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter: lc, logLevel: "error" })) {
    if (doc.errors.length) throw new Error(`${source}: ${doc.errors[0]!.message}`);
    const o = doc.toJS() as Manifest | null;
    if (!o || o.apiVersion !== "kubernetes-client.io/v1" || o.kind !== "ExternalSecret") continue;
    out.push({
      object: o as unknown as KesExternalSecret,
      source,
      lineOf: (path) => {
        for (let n = path.length; n >= 0; n--) {
          const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
          if (node?.range) return lc.linePos(node.range[0]).line;
        }
        return 1;
      },
    });
  }
  return out;
}

export function runMigrateKes(input: string, flags: MigrateFlags, io: Io = defaultIo): number {
  let env: Record<string, string> = {};
  let sa: { namespace: string; name: string } | undefined;
  try {
    if (flags.kesDeployment) {
      const docs = parseAllDocuments(readFileSync(flags.kesDeployment, "utf8"), { logLevel: "error" });
      const dep = docs.map((d) => d.toJS() as Manifest | null).find((d) => d?.kind === "Deployment");
      if (!dep) throw new Error(`${flags.kesDeployment}: no Deployment`);
      const d = deploymentDefaults(dep);
      env = d.env;
      sa = d.serviceAccount;
    }
    if (flags.serviceAccount) sa = parseServiceAccount(flags.serviceAccount);
  } catch (e) {
    io.stderr(`custos: ${(e as Error).message.replace("--kes-service-account", "--service-account")}\n`);
    return 2;
  }
  const opts: MigrateOptions = {
    vaultAddr:
      flags.vaultAddr ?? env.VAULT_ADDR ?? (flags.kesDeployment ? "http://127.0.0.1:8200" : undefined),
    vaultNamespace: flags.vaultNamespace ?? env.VAULT_NAMESPACE,
    defaultVaultMountPoint: flags.defaultVaultMountPoint ?? env.DEFAULT_VAULT_MOUNT_POINT,
    defaultVaultRole: flags.defaultVaultRole ?? env.DEFAULT_VAULT_ROLE,
    awsRegion: flags.awsRegion ?? env.AWS_REGION ?? "us-west-2",
    serviceAccount: sa,
    tokenAudiences: flags.tokenAudiences
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    storeKind: flags.storeKind,
    refreshInterval: flags.refreshInterval ?? refreshIntervalOf(env),
  };

  const found: Found[] = [];
  try {
    for (const f of files(input))
      found.push(...kesObjects(f === "-" ? io.stdin() : readFileSync(f, "utf8"), f === "-" ? "<stdin>" : f));
  } catch (e) {
    io.stderr(`custos: ${(e as Error).message}\n`);
    return 2;
  }
  const { manifests, results } = migrate(
    found.map((f) => f.object),
    opts,
  );
  let refused = 0;
  results.forEach((r, i) => {
    const f = found[i]!;
    const who = `ExternalSecret ${f.object.metadata.namespace ? `${f.object.metadata.namespace}/` : ""}${f.object.metadata.name ?? ""}`;
    for (const x of r.refusals) {
      refused++;
      io.stderr(`${f.source}:${f.lineOf(x.path)}: ${who}: not converted: ${x.reason}\n`);
    }
    for (const w of r.warnings) io.stderr(`${f.source}:${f.lineOf([])}: ${who}: ${w}\n`);
  });
  if (!found.length) io.stderr("custos: no kubernetes-client.io/v1 ExternalSecrets found\n");
  io.stdout(manifests.map((m) => stringify(m, { lineWidth: 0 })).join("---\n"));
  return refused ? 1 : 0;
}
