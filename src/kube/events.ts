/**
 * Kubernetes Events for the objects Custos manages. Messages are redacted; an identical event for
 * the same object within the dedupe window is counted on the existing Event instead of creating a
 * new one, so a failing object cannot flood the API server.
 */
import { randomBytes } from "node:crypto";
import { redactor } from "../util/redact.ts";
import type { Logger } from "../util/log.ts";
import { KubeApi, resourcePath, EVENTS, type KubeObject } from "./api.ts";

export type EventType = "Normal" | "Warning";

const DEDUPE_MS = 10 * 60_000;
const MAX_TRACKED = 10_000;

export class EventRecorder {
  readonly #recent = new Map<string, { name: string; namespace: string; count: number; at: number }>();

  constructor(
    readonly api: KubeApi,
    readonly component: string,
    readonly log?: Logger,
  ) {}

  /** Fire and forget: event failures are logged, never thrown. */
  record(
    obj: KubeObject & { apiVersion?: string; kind?: string },
    type: EventType,
    reason: string,
    message: string,
  ): void {
    void this.#record(obj, type, reason, redactor.redact(message)).catch((e: unknown) => {
      this.log?.debug({ err: (e as Error).message, reason }, "could not record event");
    });
  }

  async #record(
    obj: KubeObject & { apiVersion?: string; kind?: string },
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const namespace = obj.metadata.namespace ?? "default";
    const key = `${obj.metadata.uid ?? ""}|${type}|${reason}|${message}`;
    const now = Date.now();
    const seen = this.#recent.get(key);
    const ts = new Date(now).toISOString();
    if (seen && now - seen.at < DEDUPE_MS) {
      seen.count++;
      seen.at = now;
      await this.api.mergePatch(resourcePath({ ...EVENTS, namespace: seen.namespace, name: seen.name }), {
        count: seen.count,
        lastTimestamp: ts,
      });
      return;
    }
    if (this.#recent.size >= MAX_TRACKED) this.#recent.delete(this.#recent.keys().next().value!);
    const name = `${obj.metadata.name ?? "object"}.${randomBytes(8).toString("hex")}`;
    await this.api.create(resourcePath({ ...EVENTS, namespace }), {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      type,
      reason,
      message,
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.component,
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
    });
    this.#recent.set(key, { name, namespace, count: 1, at: now });
  }
}
