/** Registers the rollout controller with the operator (`--controllers rollout`). */
import { registerController } from "../../manager/registry.ts";
import { RolloutController } from "./controller.ts";

registerController(
  "rollout",
  ({ api, log, metrics, events, options }) =>
    new RolloutController({
      api,
      log,
      metrics,
      events,
      namespace: options.namespace,
      strategy: options.reloadStrategy,
    }),
);
