/** The rollout controller's factory (`--controllers rollout`). */
import type { ControllerFactory } from "../../manager/registry.ts";
import { RolloutController } from "./controller.ts";

export const rolloutController: ControllerFactory = ({ api, log, metrics, events, options }) =>
  new RolloutController({
    api,
    log,
    metrics,
    events,
    namespace: options.namespace,
    strategy: options.reloadStrategy,
    ignore: options.reloadIgnore,
    autoReloadAll: options.reloadSwitches?.autoReloadAll,
    reloadOnCreate: options.reloadSwitches?.onCreate,
    reloadOnDelete: options.reloadSwitches?.onDelete,
  });
