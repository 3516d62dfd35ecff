/**
 * Template rendering for an ExternalSecret: Go text/template with Sprig and ESO's functions,
 * `missingkey=error`, as ESO's engine v2 does.
 */
import { CustosError } from "../../util/errors.ts";
import { renderEsoTemplate, renderEsoTemplateBytes } from "../../template/index.ts";
import type { RenderFn } from "./data.ts";
import type { ExternalSecret } from "./types.ts";

let engine: RenderFn | undefined = renderEsoTemplate;

/** Installs the template engine (src/template registers itself on import). */
export function setTemplateEngine(fn: RenderFn): void {
  engine = fn;
}

/** The renderer for an ExternalSecret (engine v2; the spec may pin the engine version later). */
export function renderForExternalSecret(es?: ExternalSecret): RenderFn {
  const version = es?.spec?.target?.template?.engineVersion ?? "v2";
  return (name, text, data) => {
    if (version !== "v2")
      throw new CustosError(
        "CUSTOS_TEMPLATE",
        `${name}: template engineVersion ${version} is not supported; use v2`,
        { retryable: false },
      );
    if (!engine)
      throw new CustosError("CUSTOS_TEMPLATE", `${name}: the template engine is not available`, {
        retryable: false,
      });
    return engine(name, text, data);
  };
}

/** The same renderer, producing exact bytes (binary values copied as they are) for Secret data. */
export function renderBytesForExternalSecret(
  es?: ExternalSecret,
): (name: string, text: string, data: unknown) => Uint8Array {
  const text = renderForExternalSecret(es); // validates the engine version the same way
  const version = es?.spec?.target?.template?.engineVersion ?? "v2";
  return (name, source, data) => {
    if (version !== "v2" || engine !== renderEsoTemplate)
      return new TextEncoder().encode(text(name, source, data));
    return renderEsoTemplateBytes(name, source, data);
  };
}
