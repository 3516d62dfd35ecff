/**
 * The `webhook` provider (`spec.provider.webhook`): any HTTP JSON service, as ESO calls it. URL,
 * body, headers and result.jsonPath are Go templates (src/template); values come from the answer
 * through a JSONPath. The URL is tenant input: http(s) only, no credentials in it, and addresses
 * that belong to the operator (loopback, link-local/instance metadata) only for stores that may act
 * as the operator (see net.ts and docs/security.md).
 */
import { createHash } from "node:crypto";
import type { ProviderDefinition, ProviderDeps, StoreContext } from "../types.ts";
import { CustosError } from "../../util/errors.ts";
import { parseDuration } from "../../util/duration.ts";
import { compileTemplate } from "../../template/index.ts";
import { compileJsonPath } from "./jsonpath.ts";
import { DEFAULT_TIMEOUT_MS, WebhookSession } from "./session.ts";
import { WebhookProviderSchema, type WebhookProviderSpec } from "./schema.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MAX_TIMEOUT_MS = 5 * 60_000;

function templates(spec: WebhookProviderSpec): [string, string][] {
  return [
    ["url", spec.url],
    ...(spec.body ? [["body", spec.body] as [string, string]] : []),
    ...Object.entries(spec.headers ?? {}).map(([k, v]) => [`headers.${k}`, v] as [string, string]),
    ...(spec.result?.jsonPath ? [["result.jsonPath", spec.result.jsonPath] as [string, string]] : []),
  ];
}

function timeoutMs(spec: WebhookProviderSpec): number {
  return spec.timeout ? Math.min(parseDuration(spec.timeout), MAX_TIMEOUT_MS) : DEFAULT_TIMEOUT_MS;
}

async function caPem(spec: WebhookProviderSpec, ctx: StoreContext): Promise<string | undefined> {
  if (spec.caBundle) return Buffer.from(spec.caBundle, "base64").toString("utf8");
  const p = spec.caProvider;
  if (!p) return undefined;
  const ns = ctx.storeKind === "SecretStore" ? ctx.namespace : (p.namespace ?? ctx.namespace);
  const key = p.key ?? "";
  return p.type === "Secret"
    ? new TextDecoder().decode(await ctx.kube.secretKey(ns, p.name, key))
    : ctx.kube.configMapKey(ns, p.name, key);
}

export const webhookProvider: ProviderDefinition<WebhookProviderSpec> = {
  name: "webhook",
  schema: WebhookProviderSchema,
  validate(spec) {
    if (!spec || typeof spec !== "object") return ["spec.provider.webhook must be an object"];
    const problems: string[] = [];
    if (!spec.url) problems.push("url is required");
    else if (!spec.url.includes("{{")) {
      try {
        const u = new URL(spec.url);
        if (u.protocol !== "http:" && u.protocol !== "https:")
          problems.push(`url "${spec.url}" must be http or https`);
        if (u.username || u.password)
          problems.push("url must not carry credentials; use headers from secrets");
      } catch {
        problems.push(`url "${spec.url}" is not a URL`);
      }
    }
    if (spec.method && !/^[A-Za-z]+$/.test(spec.method))
      problems.push(`method "${spec.method}" is not an HTTP method`);
    for (const [where, text] of templates(spec)) {
      if (/\.remoteRef\.property\b/.test(text))
        problems.push(
          `${where} uses .remoteRef.property, which Custos does not pass to requests (one request per remote key serves every property): ` +
            "select the property from the answer instead (remoteRef.property applies to the JSON result)",
        );
      try {
        compileTemplate(where, text);
      } catch (e) {
        problems.push(`${where}: ${(e as Error).message}`);
      }
    }
    for (const k of Object.keys(spec.headers ?? {}))
      if (!TOKEN.test(k)) problems.push(`header name "${k}" is not valid`);
    if (spec.result?.jsonPath && !spec.result.jsonPath.includes("{{")) {
      try {
        compileJsonPath(spec.result.jsonPath);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    if (spec.timeout) {
      try {
        parseDuration(spec.timeout);
      } catch {
        problems.push(`timeout "${spec.timeout}" is not a duration`);
      }
    }
    if (spec.auth?.ntlm)
      problems.push("auth.ntlm is not supported by Custos; send credentials in headers from secrets");
    for (const s of spec.secrets ?? [])
      if (s.name === "remoteRef") problems.push('secrets[].name "remoteRef" is reserved');
    if (spec.caProvider && !spec.caProvider.key) problems.push("caProvider needs a key");
    return problems;
  },
  identity(spec, ctx) {
    // the namespace is template input (.remoteRef.namespace) and resolves secrets[]; the grant of
    // the operator identity decides which addresses may be reached
    const h = createHash("sha256").update(JSON.stringify(spec)).digest("hex");
    return `webhook|${ctx.storeKind}|${ctx.namespace}|${ctx.operator ? "operator" : "tenant"}|${h}`;
  },
  connect: connectWebhook,
};

/** A checked session (the provider's connect; the Webhook generator uses it too). */
export async function connectWebhook(
  spec: WebhookProviderSpec,
  ctx: StoreContext,
  deps: ProviderDeps,
): Promise<WebhookSession> {
  const problems = webhookProvider.validate(spec);
  if (problems.length)
    throw new CustosError("CUSTOS_INVALID_SPEC", problems.join("; "), { retryable: false });
  return new WebhookSession(spec, ctx, deps, await caPem(spec, ctx), timeoutMs(spec));
}
