/**
 * The shape of a controller beyond sync. The list of them is src/controllers/all.ts, so the
 * manager names none of them.
 */
import type { KubeApi } from "../kube/api.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { SessionPool } from "../engine/sessions.ts";
import type { ReadCache } from "../engine/reads.ts";
import type { KubeAccess } from "../providers/types.ts";
import type { Logger } from "../util/log.ts";
import type { HttpEndpoints } from "./http.ts";
import type { Metrics } from "./metrics.ts";
import type { OperatorOptions } from "./index.ts";

export interface Controller {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface ControllerDeps {
  api: KubeApi;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  http: HttpEndpoints;
  options: OperatorOptions;
  /** The engine's shared sessions and reads (one login per identity, one read per key per window). */
  sessions: SessionPool;
  reads: ReadCache;
  kube: KubeAccess;
}

export type ControllerFactory = (deps: ControllerDeps) => Controller | Promise<Controller>;
