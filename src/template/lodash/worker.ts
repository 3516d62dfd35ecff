/**
 * The worker thread KES templates render in (see off-thread.ts): QuickJS checks its time budget
 * only every few thousand instructions, so a hostile template can overrun it by seconds; here
 * that blocks this thread, not the operator's event loop (watches, lease renewal, other objects).
 */
import { parentPort } from "node:worker_threads";
import { isCustosError } from "../../util/errors.ts";
import { renderInSandbox, type SandboxLimits, type TemplateObject } from "./sandbox.ts";

export interface RenderRequest {
  id: number;
  template: TemplateObject;
  data: Record<string, string>;
  limits: SandboxLimits;
}

export type RenderReply =
  { id: number; ok: TemplateObject } | { id: number; error: { code: string; message: string } };

parentPort?.on("message", (req: RenderRequest) => {
  renderInSandbox(req.template, req.data, req.limits).then(
    (ok) => parentPort?.postMessage({ id: req.id, ok } satisfies RenderReply),
    (e: unknown) =>
      parentPort?.postMessage({
        id: req.id,
        // messages of sandbox errors are value-free by construction (sandbox.ts)
        error: isCustosError(e)
          ? { code: e.code, message: e.message }
          : { code: "CUSTOS_TEMPLATE", message: "template failed in its sandbox" },
      } satisfies RenderReply),
  );
});
