/**
 * `custos csi-provider`: the Secrets Store CSI driver's provider gRPC API
 * (`v1alpha1.CSIDriverProvider`: Version, Mount) on `<socket-dir>/<dialect>.sock`, one socket per
 * dialect (`custos`, and the `vault`/`aws` drop-ins when enabled), as the driver dials
 * `<provider-volume>/<spec.provider>.sock`. A stale socket file is removed before listening.
 *
 * A failed mount is a gRPC error (the driver fails NodePublishVolume with it and shows it in the
 * pod's events): `<CUSTOS code>: <cause>`, redacted, with a status code a retry can act on.
 */
import { chmod, lstat, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  Server,
  ServerCredentials,
  status as grpcStatus,
  type ServerUnaryCall,
  type sendUnaryData,
  type ServiceError,
} from "@grpc/grpc-js";
import { Counter, Histogram } from "prom-client";
import { VERSION } from "../version.ts";
import type { Logger } from "../util/log.ts";
import type { Metrics } from "../manager/metrics.ts";
import { errorMessage, isCustosError, type CustosErrorCode } from "../util/errors.ts";
import { redactor } from "../util/redact.ts";
import { parseMountRequest } from "./attributes.ts";
import { recordTokens, runMount, type MountEngine } from "./mount.ts";
import {
  API_VERSION,
  providerService,
  type MountRequest,
  type MountResponse,
  type VersionRequest,
  type VersionResponse,
} from "./proto.ts";
import type { Dialect, DialectEnv } from "./dialects/types.ts";

const STATUS: Partial<Record<CustosErrorCode, grpcStatus>> = {
  CUSTOS_INVALID_SPEC: grpcStatus.INVALID_ARGUMENT,
  CUSTOS_INVALID_REMOTE_KEY: grpcStatus.INVALID_ARGUMENT,
  CUSTOS_PROPERTY_NOT_FOUND: grpcStatus.INVALID_ARGUMENT,
  CUSTOS_DECODE: grpcStatus.INVALID_ARGUMENT,
  CUSTOS_TEMPLATE: grpcStatus.INVALID_ARGUMENT,
  CUSTOS_REGEX_INVALID: grpcStatus.INVALID_ARGUMENT,
  CUSTOS_STORE_NOT_FOUND: grpcStatus.NOT_FOUND,
  CUSTOS_SECRET_NOT_FOUND: grpcStatus.NOT_FOUND,
  CUSTOS_STORE_DENIED: grpcStatus.PERMISSION_DENIED,
  CUSTOS_STORE_NOT_OURS: grpcStatus.PERMISSION_DENIED,
  CUSTOS_ACCESS_DENIED: grpcStatus.PERMISSION_DENIED,
  CUSTOS_OPERATOR_IDENTITY_DENIED: grpcStatus.PERMISSION_DENIED,
  CUSTOS_AUTH_FAILED: grpcStatus.UNAUTHENTICATED,
  CUSTOS_MISSING_CREDENTIALS: grpcStatus.UNAUTHENTICATED,
  CUSTOS_THROTTLED: grpcStatus.RESOURCE_EXHAUSTED,
  CUSTOS_STORE_UNREACHABLE: grpcStatus.UNAVAILABLE,
  CUSTOS_STORE_NOT_READY: grpcStatus.UNAVAILABLE,
  CUSTOS_NAMESPACE_UNKNOWN: grpcStatus.UNAVAILABLE,
};

/** The gRPC error a failed mount returns: stable code first, the cause redacted and bounded. */
export function mountError(e: unknown): { code: grpcStatus; details: string; reason: string } {
  const reason = isCustosError(e) ? e.code : "CUSTOS_INTERNAL";
  const code = isCustosError(e) ? (STATUS[e.code] ?? grpcStatus.INTERNAL) : grpcStatus.INTERNAL;
  const details = redactor.redact(`${reason}: ${errorMessage(e)}`).slice(0, 2000);
  return { code, details, reason };
}

export interface CsiMetrics {
  mounts: Counter<"provider" | "result">;
  mountDuration: Histogram<"provider">;
}

export function csiMetrics(metrics: Metrics): CsiMetrics {
  return {
    mounts: new Counter({
      name: "custos_csi_mounts_total",
      help: "Mount calls from the Secrets Store CSI driver, by dialect and result (ok or a CUSTOS_ error code)",
      labelNames: ["provider", "result"] as const,
      registers: [metrics.registry],
    }),
    mountDuration: new Histogram({
      name: "custos_csi_mount_duration_seconds",
      help: "Duration of Mount calls",
      labelNames: ["provider"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [metrics.registry],
    }),
  };
}

export interface CsiServerOptions {
  socketDir: string;
  dialects: readonly Dialect[];
  engine: MountEngine;
  env: DialectEnv;
  metrics?: CsiMetrics | undefined;
  log?: Logger | undefined;
}

/** Handles one Mount (exported for tests that call it without a socket). */
export async function handleMount(
  dialect: Dialect,
  req: MountRequest,
  engine: MountEngine,
  env: DialectEnv,
): Promise<MountResponse> {
  return redactor.scoped(async () => {
    const input = parseMountRequest(req);
    const { plan, audiences } = await dialect.plan(input, env);
    recordTokens(engine, input, audiences);
    const { files, versions } = await runMount(engine, input, plan);
    return {
      objectVersion: versions,
      files: files.map((f) => ({ path: f.path, mode: f.mode, contents: Buffer.from(f.contents) })),
      error: null,
    };
  });
}

export class CsiProviderServer {
  readonly #servers: Server[] = [];
  readonly sockets: string[] = [];
  #inflight = 0;

  constructor(readonly options: CsiServerOptions) {}

  get inflight(): number {
    return this.#inflight;
  }

  async start(): Promise<void> {
    await mkdir(this.options.socketDir, { recursive: true });
    for (const dialect of this.options.dialects) {
      const path = join(this.options.socketDir, `${dialect.name}.sock`);
      await removeStaleSocket(path);
      const server = new Server({ "grpc.max_receive_message_length": 4 * 1024 * 1024 });
      server.addService(providerService(), {
        Version: (
          _call: ServerUnaryCall<VersionRequest, VersionResponse>,
          cb: sendUnaryData<VersionResponse>,
        ) => {
          cb(null, { version: API_VERSION, runtimeName: "custos", runtimeVersion: VERSION });
        },
        Mount: (call: ServerUnaryCall<MountRequest, MountResponse>, cb: sendUnaryData<MountResponse>) => {
          void this.#mount(dialect, call.request, cb);
        },
      });
      await new Promise<void>((resolve, reject) => {
        server.bindAsync(`unix://${path}`, ServerCredentials.createInsecure(), (err) => {
          if (err) reject(err);
          else resolve();
        });
      });
      // only the driver (root on the node) may call: filesystem permissions are the access control
      await chmod(path, 0o600);
      this.#servers.push(server);
      this.sockets.push(path);
      this.options.log?.info({ socket: path, provider: dialect.name }, "CSI provider listening");
    }
  }

  async #mount(dialect: Dialect, req: MountRequest, cb: sendUnaryData<MountResponse>): Promise<void> {
    const started = process.hrtime.bigint();
    this.#inflight++;
    const m = this.options.metrics;
    try {
      const res = await handleMount(dialect, req, this.options.engine, this.options.env);
      m?.mounts.inc({ provider: dialect.name, result: "ok" });
      cb(null, res);
    } catch (e) {
      const err = mountError(e);
      m?.mounts.inc({ provider: dialect.name, result: err.reason });
      this.options.log?.warn(
        { provider: dialect.name, code: err.reason, error: err.details },
        "mount failed",
      );
      const se: Partial<ServiceError> = { code: err.code, details: err.details, message: err.details };
      cb(se, null);
    } finally {
      this.#inflight--;
      m?.mountDuration.observe({ provider: dialect.name }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.tryShutdown(() => {
              resolve();
            });
          }),
      ),
    );
    await Promise.all(this.sockets.map((p) => rm(p, { force: true })));
  }
}

async function removeStaleSocket(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; not removing it`);
    await rm(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}
