/** The SealedSecret controller's factory (`--controllers sealedsecret`). */
import type { ControllerFactory } from "../../manager/registry.ts";
import { SealedSecretController } from "./controller.ts";
import { renderEsoTemplate } from "../../template/index.ts";

export const sealedSecretController: ControllerFactory = ({ api, log, metrics, events, options }) => {
  const c = new SealedSecretController({
    api,
    log,
    metrics,
    events,
    namespace: options.namespace,
    keyNamespace: options.sealedSecrets.namespace,
    keyRenewPeriodMs: options.sealedSecrets.keyRenewPeriodMs,
    keyCommonName: options.sealedSecrets.keyCn,
    port: options.sealingPort,
    bindAddress: options.sealingBindAddress,
    render: renderEsoTemplate,
  });
  return c;
};
