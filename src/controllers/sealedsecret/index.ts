/** Registers the SealedSecret controller with the operator (`--controllers sealedsecret`). */
import { registerController } from "../../manager/registry.ts";
import { SealedSecretController } from "./controller.ts";
import { renderEsoTemplate } from "../../template/index.ts";

registerController("sealedsecret", ({ api, log, metrics, events, options }) => {
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
});
