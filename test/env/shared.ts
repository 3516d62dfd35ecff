/**
 * The test run's one environment. `npm test` (scripts/test.ts) starts it once and passes its
 * description to every test process in CUSTOS_TEST_ENV; a test file run on its own starts a private
 * one that ends with the process.
 */
import { readFileSync } from "node:fs";
import { startEnv, type TestEnv, type Component } from "./index.ts";

export const ENV_VAR = "CUSTOS_TEST_ENV";

let own: Promise<TestEnv> | undefined;

export type SharedEnv = Omit<TestEnv, "stop" | "control">;

export async function sharedEnv(components?: Component[]): Promise<SharedEnv> {
  const file = process.env[ENV_VAR];
  if (file) return JSON.parse(readFileSync(file, "utf8")) as SharedEnv;
  own ??= startEnv(components ? { components } : {}).then((env) => {
    // node --test waits for the event loop to drain: stop once the tests are done.
    process.once("beforeExit", () => void env.stop());
    return env;
  });
  return own;
}

/** The serialisable part of an environment, as written for test processes. */
export function describeEnv(env: TestEnv): SharedEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([k]) => k !== "stop" && k !== "control"),
  ) as SharedEnv;
}
