/**
 * Runs KES template renders on one worker thread, one at a time, with a hard deadline: a render
 * that overruns its budget plus the library-loading allowance gets its worker terminated (and a
 * new one started for the next render), so no template can hold the operator's event loop or the
 * worker for longer than that.
 */
import { Worker } from "node:worker_threads";
import { CustosError, type CustosErrorCode } from "../../util/errors.ts";
import { LOAD_MS, type SandboxLimits, type TemplateObject } from "./sandbox.ts";
import type { RenderReply, RenderRequest } from "./worker.ts";

// under tsx (tests, `npm run custos`) the worker is the .ts source; in the image, the compiled .js
const WORKER = new URL(import.meta.url.endsWith(".ts") ? "./worker.ts" : "./worker.js", import.meta.url);
/** Slack over the budget for the worker's start and message passing on a busy machine. */
const SLACK_MS = 5_000;

export class OffThreadRenderer {
  #worker: Worker | undefined;
  #next = 1;
  #pending = new Map<number, { resolve: (t: TemplateObject) => void; reject: (e: Error) => void }>();
  /** Renders run one after another: a queue, so one slow template delays only templates. */
  #tail: Promise<unknown> = Promise.resolve();

  render(
    template: TemplateObject,
    data: Record<string, string>,
    limits: SandboxLimits,
  ): Promise<TemplateObject> {
    const run = this.#tail.then(() => this.#renderNow(template, data, limits));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #spawn(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(WORKER, { resourceLimits: { maxOldGenerationSizeMb: 128 } });
    w.unref(); // never keeps the process alive on its own
    w.on("message", (reply: RenderReply) => {
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      if ("ok" in reply) p.resolve(reply.ok);
      else
        p.reject(
          new CustosError(reply.error.code as CustosErrorCode, reply.error.message, { retryable: false }),
        );
    });
    const fail = (why: string): void => {
      if (this.#worker === w) this.#worker = undefined;
      for (const [, p] of this.#pending)
        p.reject(new CustosError("CUSTOS_TEMPLATE_BUDGET", `template stopped: ${why}`, { retryable: false }));
      this.#pending.clear();
    };
    w.on("error", () => {
      fail("its sandbox failed");
    });
    w.on("exit", () => {
      fail("its sandbox ended");
    });
    this.#worker = w;
    return w;
  }

  #renderNow(
    template: TemplateObject,
    data: Record<string, string>,
    limits: SandboxLimits,
  ): Promise<TemplateObject> {
    const worker = this.#spawn();
    const id = this.#next++;
    return new Promise<TemplateObject>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.#pending.delete(id);
          if (this.#worker === worker) this.#worker = undefined;
          void worker.terminate();
          reject(
            new CustosError(
              "CUSTOS_TEMPLATE_BUDGET",
              "template stopped: it ran longer than its time budget",
              {
                retryable: false,
              },
            ),
          );
        },
        limits.timeMs + LOAD_MS + SLACK_MS,
      );
      this.#pending.set(id, {
        resolve: (t) => {
          clearTimeout(timer);
          resolve(t);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      worker.postMessage({ id, template, data, limits } satisfies RenderRequest);
    });
  }

  /** Ends the worker (operator shutdown, tests). */
  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    if (w) await w.terminate();
  }
}
