/**
 * The controllers that run beside sync, by explicit list: name (as given to --controllers) and
 * factory. A new controller adds its folder and one entry here; nothing registers itself on import.
 */
import type { ControllerFactory } from "../manager/registry.ts";
import { rolloutController } from "./rollout/index.ts";
import { sealedSecretController } from "./sealedsecret/index.ts";
import { kesController } from "./kes/index.ts";
import { vsoController } from "./vso/index.ts";
import { pushSecretController } from "./pushsecret/index.ts";
import { generatorStateController } from "./generatorstate/index.ts";

export const CONTROLLERS: ReadonlyArray<readonly [string, ControllerFactory]> = [
  ["rollout", rolloutController],
  ["sealedsecret", sealedSecretController],
  ["kes", kesController],
  ["vso", vsoController],
  ["pushsecret", pushSecretController],
  ["generatorstate", generatorStateController],
];
