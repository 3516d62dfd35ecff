/**
 * What status, explain and diff share: the kubeconfig context's namespace, and their exit codes
 * (0 fine, 1 "something is failing / differs", 2 the command itself failed), which must not be
 * confused with each other, so errors never exit with 1.
 */
import type { KubeApi } from "../../kube/api.ts";
import { redactor } from "../../util/redact.ts";

export function currentNamespace(api: KubeApi): string {
  const kc = api.kubeConfig;
  return kc.getContextObject(kc.getCurrentContext())?.namespace || "default";
}

/** Runs a command body; an error is printed (redacted) and exits with 2. */
export async function withExitCodes(body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (e) {
    process.stderr.write(`custos: ${redactor.redact(e instanceof Error ? e.message : String(e))}\n`);
    process.exitCode = 2;
  }
}
