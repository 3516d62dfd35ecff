/** The KES controller's factory (`--controllers kes`): starts when the CRD is installed. */
import type { ControllerFactory } from "../../manager/registry.ts";
import { KesController } from "./controller.ts";

export const kesController: ControllerFactory = (deps) => new KesController(deps);
