/** The operator namespace VSO's defaults live in (reference §2, with Custos's fallback). */
import { readFileSync } from "node:fs";

const POD_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/** --operator-namespace, else OPERATOR_NAMESPACE, else the pod's own namespace, else custos-system. */
export function operatorNamespace(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  podNamespace: () => string | undefined = readPodNamespace,
): string {
  return flag || env.OPERATOR_NAMESPACE || podNamespace() || "custos-system";
}

function readPodNamespace(): string | undefined {
  try {
    return readFileSync(POD_NAMESPACE_FILE, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
