/**
 * What `custos seal` does once its flags are parsed (commands/seal.ts defines them). Sealing with
 * `--cert FILE` loads only YAML and node:crypto: the Kubernetes client and undici (fetching the
 * certificate from the controller or a URL) and the key tooling (--recovery-unseal) are imported
 * when those paths run.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createPrivateKey, type KeyObject } from "node:crypto";
import { parseAllDocuments, parseDocument, stringify } from "yaml";
import { CustosError } from "../../util/errors.ts";
import { hybridEncrypt, scopeLabel, scopeOf, type Scope } from "../../sealing/crypto.ts";
import { publicKeyFromCertificate } from "../../sealing/cert.ts";
import type { KeySecret } from "../../sealing/keys.ts";
import {
  sealSecret,
  unsealToSecret,
  type SealedSecret,
  type SecretLike,
} from "../../sealing/sealedsecret.ts";

/** The flags of `custos seal` (commands/seal.ts). */
export interface SealOptions {
  file?: string | undefined;
  format: "yaml" | "json";
  cert?: string | undefined;
  controllerNamespace: string;
  controllerName: string;
  kubeconfig?: string | undefined;
  scope?: Scope | undefined;
  fetchCert: boolean;
  raw: boolean;
  name?: string | undefined;
  namespace?: string | undefined;
  fromFile?: string | undefined;
  mergeInto?: string | undefined;
  reEncrypt: boolean;
  validate: boolean;
  recoveryUnseal: boolean;
  recoveryPrivateKey?: string[] | undefined;
  allowEmptyData: boolean;
}

interface Controller {
  namespace: string;
  name: string;
  kubeconfig?: string | undefined;
}

/**
 * Calls the controller's HTTP API through the API server's service proxy, as kubeseal does:
 * `services/http:<name>:<port name>/proxy/...`, with the name of the Service's first port.
 */
export async function controllerCall(
  c: Controller,
  method: "GET" | "POST",
  path: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  const [{ KubeApi }, { request }] = await Promise.all([import("../../kube/api.ts"), import("undici")]);
  const api = KubeApi.fromDefault(c.kubeconfig);
  const ns = encodeURIComponent(c.namespace);
  const name = encodeURIComponent(c.name);
  const service = await api.getOrUndefined<{ spec?: { ports?: { name?: string }[] } }>(
    `/api/v1/namespaces/${ns}/services/${name}`,
  );
  if (!service)
    throw new CustosError(
      "CUSTOS_CERT_INVALID",
      `service ${c.namespace}/${c.name} not found: pass --controller-namespace/--controller-name, or --cert`,
      { retryable: false },
    );
  const port = encodeURIComponent(service.spec?.ports?.[0]?.name ?? "");
  const url = api.url(`/api/v1/namespaces/${ns}/services/http:${name}:${port}/proxy${path}`);
  const { headers, dispatcher } = await api.prepare(method, url);
  const res = await request(url, {
    method,
    headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body } : {}),
    ...(dispatcher ? { dispatcher } : {}),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

export async function loadCertificate(cert: string | undefined, c: Controller): Promise<string> {
  const source = cert ?? process.env.SEALED_SECRETS_CERT;
  if (source && /^https?:\/\//.test(source)) {
    const { request } = await import("undici");
    const res = await request(source);
    if (res.statusCode !== 200)
      throw new CustosError("CUSTOS_CERT_INVALID", `fetching ${source}: HTTP ${res.statusCode}`, {
        retryable: false,
      });
    return res.body.text();
  }
  if (source) return readFileSync(source, "utf8");
  const res = await controllerCall(c, "GET", "/v1/cert.pem");
  if (res.status !== 200) {
    throw new CustosError(
      "CUSTOS_CERT_INVALID",
      `cannot fetch the certificate from service ${c.namespace}/${c.name} (HTTP ${res.status}); pass --cert or --controller-namespace/--controller-name`,
      { retryable: false },
    );
  }
  return res.text;
}

function readInput(file: string | undefined): string {
  return readFileSync(file && file !== "-" ? file : 0, "utf8");
}

/** The first YAML/JSON document of the input; the caller states what it expects. */
function parseObject(text: string, what: string): unknown {
  const docs = parseAllDocuments(text);
  const first = Array.isArray(docs) ? docs[0] : undefined;
  const obj: unknown = first?.toJS();
  if (!obj || typeof obj !== "object")
    throw new CustosError("CUSTOS_INVALID_SPEC", `no ${what} found in the input (YAML or JSON expected)`, {
      retryable: false,
    });
  return obj;
}

function output(obj: unknown, format: string): string {
  return format === "json" ? `${JSON.stringify(obj, null, 2)}\n` : stringify(obj);
}

async function privateKeys(files: string[]): Promise<KeyObject[]> {
  const { keyFromSecret } = await import("../../sealing/keys.ts");
  const keys: KeyObject[] = [];
  for (const f of files.flatMap((x) => x.split(",")).filter(Boolean)) {
    const text = readFileSync(f, "utf8");
    if (text.includes("-----BEGIN")) {
      keys.push(createPrivateKey(text));
      continue;
    }
    const obj = parseObject(text, "key Secret") as KeySecret & { items?: KeySecret[] };
    for (const s of obj.items ?? [obj]) keys.push(keyFromSecret(s).privateKey);
  }
  return keys;
}

export async function runSeal(o: SealOptions): Promise<void> {
  const ctl: Controller = {
    namespace: o.controllerNamespace,
    name: o.controllerName,
    kubeconfig: o.kubeconfig,
  };
  if (o.fetchCert) {
    process.stdout.write(await loadCertificate(o.cert, ctl));
    return;
  }
  if (o.recoveryUnseal) {
    if (!o.recoveryPrivateKey?.length)
      throw new CustosError("CUSTOS_INVALID_SPEC", "--recovery-unseal needs --recovery-private-key", {
        retryable: false,
      });
    const ss = parseObject(readInput(o.file), "SealedSecret") as SealedSecret;
    process.stdout.write(output(unsealToSecret(ss, await privateKeys(o.recoveryPrivateKey)), o.format));
    return;
  }
  if (o.validate || o.reEncrypt) {
    const ss = parseObject(readInput(o.file), "SealedSecret") as SealedSecret;
    const res = await controllerCall(
      ctl,
      "POST",
      o.validate ? "/v1/verify" : "/v1/rotate",
      JSON.stringify(ss),
    );
    if (o.validate) {
      if (res.status !== 200)
        throw new CustosError("CUSTOS_UNSEAL_FAILED", "the controller cannot unseal this SealedSecret", {
          retryable: false,
        });
      process.stderr.write("the SealedSecret can be unsealed\n");
      return;
    }
    if (res.status !== 200)
      throw new CustosError("CUSTOS_UNSEAL_FAILED", `re-encryption failed: ${res.text}`, {
        retryable: false,
      });
    process.stdout.write(output(JSON.parse(res.text), o.format));
    return;
  }
  const publicKey = publicKeyFromCertificate(await loadCertificate(o.cert, ctl));
  if (o.raw) {
    const scope: Scope = o.scope ?? "strict";
    if (scope !== "cluster-wide" && !o.namespace)
      throw new CustosError("CUSTOS_INVALID_SPEC", "--raw needs --namespace (or --scope cluster-wide)", {
        retryable: false,
      });
    if (scope === "strict" && !o.name)
      throw new CustosError("CUSTOS_INVALID_SPEC", "--raw with strict scope needs --name", {
        retryable: false,
      });
    if (!o.fromFile)
      throw new CustosError("CUSTOS_INVALID_SPEC", "--raw needs --from-file", { retryable: false });
    const value = readFileSync(o.fromFile === "/dev/stdin" || o.fromFile === "-" ? 0 : o.fromFile);
    process.stdout.write(
      hybridEncrypt(publicKey, value, scopeLabel(scope, o.namespace ?? "", o.name ?? "")).toString("base64"),
    );
    return;
  }
  const secret = parseObject(readInput(o.file), "Secret") as SecretLike;
  if (secret.kind && secret.kind !== "Secret")
    throw new CustosError("CUSTOS_INVALID_SPEC", `the input is a ${secret.kind}, not a Secret`, {
      retryable: false,
    });
  if (!secret.metadata.namespace && o.namespace) secret.metadata.namespace = o.namespace;
  if (o.mergeInto) {
    const doc = parseDocument(readFileSync(o.mergeInto, "utf8"));
    const target = doc.toJS() as SealedSecret;
    const scope = o.scope ?? scopeOf(target.metadata.annotations);
    const meta = {
      ...secret.metadata,
      name: target.metadata.name ?? secret.metadata.name,
      namespace: target.metadata.namespace ?? secret.metadata.namespace,
    };
    const sealed = sealSecret({ ...secret, metadata: meta }, publicKey, scope, {
      allowEmptyData: o.allowEmptyData,
    });
    for (const [k, v] of Object.entries(sealed.spec.encryptedData ?? {}))
      doc.setIn(["spec", "encryptedData", k], v);
    writeFileSync(o.mergeInto, doc.toString());
    return;
  }
  const scope: Scope = o.scope ?? scopeOf(secret.metadata.annotations);
  process.stdout.write(
    output(sealSecret(secret, publicKey, scope, { allowEmptyData: o.allowEmptyData }), o.format),
  );
}
