/**
 * What `custos render` does once its flags are parsed (commands/render.ts): read the manifests,
 * fetch from the live stores or take the values file, run the controller's pipeline for each
 * ExternalSecret, print. Returns the exit code: 0 when every ExternalSecret renders, 1 otherwise
 * (each failure on stderr with the message its Ready condition would carry).
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { CustosError, errorMessage } from "../../util/errors.ts";
import { targetNameOf } from "../../controllers/externalsecret/plan.ts";
import type { ExternalSecret } from "../../controllers/externalsecret/types.ts";
import { collectTemplateSources, manifestSources, parseRenderInput, type RenderInput } from "./input.ts";
import { failureMessage, renderExternalSecret, specProblem, type RenderResult } from "./pipeline.ts";
import { formatRendered, type RenderFormat, type Rendered } from "./output.ts";
import { resultsFromValues, valuesFrom, type Values } from "./values.ts";
import type { LiveStores } from "./live.ts";

export interface RenderOptions {
  file: string;
  values?: string | undefined;
  output: RenderFormat;
  showValues: boolean;
  namespace?: string | undefined;
  kubeconfig?: string | undefined;
  controllerClass: string;
  allowOperatorIdentityForNamespacedStores: boolean;
}

function readText(file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    throw new CustosError("CUSTOS_INVALID_SPEC", `cannot read ${file}: ${errorMessage(e)}`, {
      retryable: false,
    });
  }
}

function readValues(file: string): Values {
  let doc: unknown;
  try {
    doc = parse(readText(file), { logLevel: "error", maxAliasCount: 100 });
  } catch (e) {
    // YAML errors quote the text around the problem: only the first line, which names the place
    const first = errorMessage(e).split("\n")[0] ?? "";
    throw new CustosError(
      "CUSTOS_INVALID_SPEC",
      `${file}: not valid YAML or JSON (${first.replace(/:.*$/, "")})`,
      {
        retryable: false,
      },
    );
  }
  return valuesFrom(doc);
}

async function renderOne(
  es: ExternalSecret,
  input: RenderInput,
  values: Values | undefined,
  live: LiveStores | undefined,
): Promise<RenderResult> {
  const invalid = specProblem(es);
  if (invalid) return { ok: false, message: invalid };
  try {
    const results = values ? resultsFromValues(es, values) : await live!.fetch(es);
    const templateSources = await collectTemplateSources(
      es,
      manifestSources(input, es, live?.templateSources(es)),
    );
    const existing =
      live && es.spec?.target?.creationPolicy === "Merge"
        ? await live.existing(es, targetNameOf(es))
        : undefined;
    return renderExternalSecret({ es, results, templateSources, existing, now: new Date() });
  } catch (e) {
    return { ok: false, message: failureMessage(e) };
  }
}

export async function runRender(o: RenderOptions): Promise<number> {
  const text = readText(o.file);
  const values = o.values === undefined ? undefined : readValues(o.values);
  let live: LiveStores | undefined;
  if (!values) {
    const { LiveStores } = await import("./live.ts");
    live = new LiveStores(o);
  }
  try {
    const namespace = o.namespace ?? live?.currentNamespace() ?? "default";
    const input = parseRenderInput(text, o.file === "-" ? "standard input" : o.file, namespace);
    const rendered: Rendered[] = [];
    let failed = false;
    for (const es of input.externalSecrets) {
      const r = await renderOne(es, input, values, live);
      const name = `${es.metadata.namespace ?? ""}/${es.metadata.name ?? ""}`;
      if (!r.ok) {
        failed = true;
        process.stderr.write(`custos: ExternalSecret ${name}: ${r.message}\n`);
      } else if (r.secret) rendered.push({ es, secret: r.secret });
      else process.stderr.write(`custos: ExternalSecret ${name}: no Secret written (${r.message})\n`);
    }
    if (rendered.length) process.stdout.write(formatRendered(rendered, o.output, o.showValues));
    return failed ? 1 : 0;
  } finally {
    await live?.close();
  }
}
