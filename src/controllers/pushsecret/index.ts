/** The PushSecret controller's factory (`--controllers pushsecret`). */
import type { ControllerFactory } from "../../manager/registry.ts";
import { PushSecretController } from "./controller.ts";

export const pushSecretController: ControllerFactory = (deps) => new PushSecretController(deps);
