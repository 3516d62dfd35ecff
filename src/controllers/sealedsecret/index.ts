/** The SealedSecret controller's factory (`--controllers sealedsecret`). */
import type { ControllerFactory } from "../../manager/registry.ts";
import { renderEsoTemplate } from "../../template/index.ts";

export const sealedSecretController: ControllerFactory = async ({ api, log, metrics, events, options }) => {
  // the controller and its X.509/RSA libraries load only when it runs (`--controllers`)
  const { SealedSecretController } = await import("./controller.ts");
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
