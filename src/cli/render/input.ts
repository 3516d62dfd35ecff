/**
 * The manifests `custos render -f` reads: ExternalSecrets to render, and ConfigMaps and Secrets
 * that their templates name (`templateFrom`), as they would be applied together. Other kinds are
 * refused by name (KES and VSO objects are not supported yet). Pure.
 */
import { parseAllDocuments } from "yaml";
import { CustosError } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";
import { GROUP } from "../../controllers/externalsecret/types.ts";
import type { ExternalSecret } from "../../controllers/externalsecret/types.ts";
import type { TemplateSources } from "../../controllers/externalsecret/plan.ts";

export interface RenderInput {
  externalSecrets: ExternalSecret[];
  /** By namespace, then name: `data` of ConfigMaps (text) given with -f. */
  configMaps: Map<string, Map<string, Record<string, string>>>;
  /** By namespace, then name: Secrets given with -f, decoded to text. */
  secrets: Map<string, Map<string, Record<string, string>>>;
}

interface Manifest {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
  data?: unknown;
  stringData?: unknown;
  items?: unknown;
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === "string") out[k] = x;
  return out;
}

function put(
  into: Map<string, Map<string, Record<string, string>>>,
  ns: string,
  name: string,
  data: Record<string, string>,
): void {
  let m = into.get(ns);
  if (!m) into.set(ns, (m = new Map<string, Record<string, string>>()));
  m.set(name, data);
}

/**
 * The objects of the manifests; `defaultNamespace` for those without one (as kubectl apply -n).
 * `source` names the file in messages.
 */
export function parseRenderInput(text: string, source: string, defaultNamespace: string): RenderInput {
  const out: RenderInput = { externalSecrets: [], configMaps: new Map(), secrets: new Map() };
  const docs = parseAllDocuments(text, { logLevel: "error" });
  const list = Array.isArray(docs) ? docs : [docs];
  const objects: Manifest[] = [];
  for (const doc of list) {
    if (doc.errors.length)
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        `${source}: not valid YAML: ${doc.errors[0]!.message.split("\n")[0] ?? ""}`,
        {
          retryable: false,
        },
      );
    const obj = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (obj === null || obj === undefined) continue;
    if (typeof obj !== "object" || Array.isArray(obj))
      throw new CustosError("CUSTOS_INVALID_SPEC", `${source}: a document is not a Kubernetes object`, {
        retryable: false,
      });
    const m = obj as Manifest;
    if (m.kind === "List" && Array.isArray(m.items)) objects.push(...(m.items as Manifest[]));
    else objects.push(m);
  }
  for (const m of objects) {
    const name = typeof m.metadata?.name === "string" ? m.metadata.name : "";
    const namespace =
      typeof m.metadata?.namespace === "string" && m.metadata.namespace
        ? m.metadata.namespace
        : defaultNamespace;
    const group = typeof m.apiVersion === "string" ? m.apiVersion.split("/")[0] : "";
    if (m.kind === "ExternalSecret" && group === GROUP) {
      const es = structuredClone(m) as unknown as ExternalSecret;
      es.metadata = { ...es.metadata, namespace };
      out.externalSecrets.push(es);
    } else if (m.kind === "ConfigMap" && m.apiVersion === "v1") {
      put(out.configMaps, namespace, name, stringMap(m.data));
    } else if (m.kind === "Secret" && m.apiVersion === "v1") {
      const decoded: Record<string, string> = {};
      for (const [k, v] of Object.entries(stringMap(m.data)))
        decoded[k] = Buffer.from(v, "base64").toString("utf8");
      put(out.secrets, namespace, name, { ...decoded, ...stringMap(m.stringData) });
    } else {
      const kind = typeof m.kind === "string" ? m.kind : "an object without kind";
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        `${source}: ${kind} ${name ? `"${name}" ` : ""}cannot be rendered: custos render takes ExternalSecrets (external-secrets.io), with the ConfigMaps and Secrets their templates use; KES and VSO objects are not supported yet`,
        { retryable: false },
      );
    }
  }
  if (!out.externalSecrets.length)
    throw new CustosError("CUSTOS_INVALID_SPEC", `${source}: no ExternalSecret found`, { retryable: false });
  return out;
}

/** Where template sources come from: the manifests given with -f, then (live) the cluster. */
export interface TemplateSourceLookup {
  configMap(name: string): Promise<Record<string, string> | undefined>;
  /** The Secret's data decoded to text. */
  secret(name: string): Promise<Record<string, string> | undefined>;
}

/** The manifests' ConfigMaps and Secrets in the ExternalSecret's namespace, then `fallback`. */
export function manifestSources(
  input: RenderInput,
  es: ExternalSecret,
  fallback?: TemplateSourceLookup,
): TemplateSourceLookup {
  const ns = es.metadata.namespace ?? "";
  return {
    configMap: async (name) => input.configMaps.get(ns)?.get(name) ?? fallback?.configMap(name),
    secret: async (name) => input.secrets.get(ns)?.get(name) ?? fallback?.secret(name),
  };
}

/**
 * The sources an ExternalSecret's templateFrom names, with the controller's messages when one is
 * missing (reconcile.ts). Secret contents are registered with the redactor, as the controller does.
 */
export async function collectTemplateSources(
  es: ExternalSecret,
  lookup: TemplateSourceLookup,
): Promise<TemplateSources> {
  const out: TemplateSources = { configMaps: new Map(), secrets: new Map() };
  for (const from of es.spec?.target?.template?.templateFrom ?? []) {
    if (from.configMap?.name && !out.configMaps.has(from.configMap.name)) {
      const data = await lookup.configMap(from.configMap.name);
      if (!data)
        throw new CustosError(
          "CUSTOS_INVALID_SPEC",
          `template ConfigMap "${from.configMap.name}" not found`,
          {
            retryable: false,
          },
        );
      out.configMaps.set(from.configMap.name, data);
    }
    if (from.secret?.name && !out.secrets.has(from.secret.name)) {
      const data = await lookup.secret(from.secret.name);
      if (!data)
        throw new CustosError("CUSTOS_INVALID_SPEC", `template Secret "${from.secret.name}" not found`, {
          retryable: false,
        });
      for (const v of Object.values(data)) redactor.add(v);
      out.secrets.set(from.secret.name, data);
    }
  }
  return out;
}
