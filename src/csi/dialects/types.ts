/** A parameter dialect: the socket it answers on and how its parameters become a MountPlan. */
import type { KubeAccess } from "../../providers/types.ts";
import type { MountInput } from "../attributes.ts";
import type { MountPlan } from "../plan.ts";
import type { ObjectSource } from "../stores.ts";

export interface DialectEnv {
  /** Store and namespace objects (GET, briefly cached). */
  source: ObjectSource;
  /** Stores whose spec.controller is empty or this are served. */
  controllerClass: string;
  kube: KubeAccess;
  /** Defaults of the drop-ins (vault-csi-provider's -vault-addr / -vault-mount flags). */
  vaultAddress?: string | undefined;
  vaultMount?: string | undefined;
  /** Read a CA file named by a parameter (vaultCACertPath). */
  readFile?: ((path: string) => Promise<string>) | undefined;
}

export interface PlannedMount {
  plan: MountPlan;
  /** Audiences of the pod's tokens the plan logs in with. */
  audiences: string[];
}

export interface Dialect {
  /** The provider name: the socket is `<name>.sock`. */
  readonly name: string;
  plan(input: MountInput, env: DialectEnv): Promise<PlannedMount>;
}
