/**
 * The PushSecret controller's factory (`--controllers pushsecret`): PushSecrets, and
 * ClusterPushSecrets when the operator watches every namespace (as ClusterExternalSecrets).
 */
import type { Controller, ControllerFactory } from "../../manager/registry.ts";
import { ClusterPushSecretController } from "./cluster.ts";
import { PushSecretController } from "./controller.ts";

export const pushSecretController: ControllerFactory = (deps): Controller => {
  const ps = new PushSecretController(deps);
  const cps = deps.options.namespace ? undefined : new ClusterPushSecretController(deps, ps.namespaces);
  return {
    name: "pushsecret",
    async start() {
      await ps.start();
      await cps?.start();
    },
    async stop() {
      await cps?.stop();
      await ps.stop();
    },
  };
};
