/**
 * A session on AWS Secrets Manager or SSM Parameter Store. Plain AWSCURRENT reads of several
 * secrets go out as BatchGetSecretValue (20 per call) or GetParameters (10 per call); versions,
 * `uuid/<VersionId>`, tags (metadataPolicy Fetch) and binary values are read one by one.
 */
import {
  SecretsManagerClient,
  GetSecretValueCommand,
  BatchGetSecretValueCommand,
  DescribeSecretCommand,
  ListSecretsCommand,
  type Filter,
} from "@aws-sdk/client-secrets-manager";
import {
  SSMClient,
  GetParameterCommand,
  GetParametersCommand,
  GetParametersByPathCommand,
  ListTagsForResourceCommand,
} from "@aws-sdk/client-ssm";
import type { AwsCredentialIdentityProvider } from "@aws-sdk/types";
import type { FindQuery, ProviderDeps, RemoteKey, RemoteSecret, Session } from "../types.ts";
import { CustosError, type CustosErrorCode } from "../../util/errors.ts";
import { endpointFor } from "./credentials.ts";
import type { AwsProviderSpec } from "./schema.ts";

const SM_BATCH = 20;
const SSM_BATCH = 10;
const MAX_FIND = 5_000;
const enc = new TextEncoder();

export function mapAwsError(e: unknown, what: string): CustosError {
  if (e instanceof CustosError) return e;
  const err = e as {
    name?: string;
    message?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const name = err.name ?? err.code ?? "Error";
  let code: CustosErrorCode = "CUSTOS_STORE_ERROR";
  if (
    name === "ResourceNotFoundException" ||
    name === "ParameterNotFound" ||
    name === "ParameterVersionNotFound"
  )
    code = "CUSTOS_SECRET_NOT_FOUND";
  else if (/AccessDenied|UnrecognizedClient|InvalidSignature|ExpiredToken|NotAuthorized/i.test(name))
    code = "CUSTOS_ACCESS_DENIED";
  else if (
    /Throttl|TooManyRequests|RequestLimitExceeded|SlowDown/i.test(name) ||
    err.$metadata?.httpStatusCode === 429
  )
    code = "CUSTOS_THROTTLED";
  else if (
    /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|TimeoutError|NetworkingError/i.test(
      `${name} ${err.code ?? ""} ${err.message ?? ""}`,
    )
  )
    code = "CUSTOS_STORE_UNREACHABLE";
  return new CustosError(code, `AWS ${what}: ${name}${err.message ? `: ${err.message}` : ""}`, {
    cause: e,
    retryable: code !== "CUSTOS_SECRET_NOT_FOUND" && code !== "CUSTOS_ACCESS_DENIED",
  });
}

export class AwsSession implements Session {
  readonly #sm: SecretsManagerClient | undefined;
  readonly #ssm: SSMClient | undefined;
  readonly #prefix: string;

  constructor(
    readonly spec: AwsProviderSpec,
    region: string,
    credentials: AwsCredentialIdentityProvider,
    readonly deps: ProviderDeps,
  ) {
    this.#prefix = spec.prefix ?? "";
    // Throttling is retried by the SDK with backoff (adaptive mode), then reported.
    const common = { region, credentials, maxAttempts: 4, retryMode: "adaptive" as const };
    if (spec.service === "ParameterStore") {
      const endpoint = endpointFor("SSM");
      this.#ssm = new SSMClient({ ...common, ...(endpoint ? { endpoint } : {}) });
    } else {
      const endpoint = endpointFor("SECRETS_MANAGER");
      this.#sm = new SecretsManagerClient({ ...common, ...(endpoint ? { endpoint } : {}) });
    }
  }

  async #call<T>(call: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      const out = await fn();
      this.deps.recordCall(call, "success");
      return out;
    } catch (e) {
      this.deps.recordCall(call, "error");
      throw mapAwsError(e, `${call} ${what}`);
    }
  }

  #bytes(s: string | Uint8Array | undefined, key: string): RemoteSecret {
    if (s === undefined)
      throw new CustosError("CUSTOS_SECRET_NOT_FOUND", `AWS secret "${key}" has no value`, {
        retryable: false,
      });
    const value = typeof s === "string" ? enc.encode(s) : s;
    this.deps.redact(value);
    return { kind: "bytes", value };
  }

  async read(ref: RemoteKey): Promise<RemoteSecret> {
    const id = this.#prefix + ref.key;
    if (this.#ssm) {
      const ssm = this.#ssm;
      if (ref.metadataPolicy === "Fetch") {
        const out = await this.#call("ListTagsForResource", id, () =>
          ssm.send(new ListTagsForResourceCommand({ ResourceType: "Parameter", ResourceId: id })),
        );
        return {
          kind: "map",
          value: Object.fromEntries((out.TagList ?? []).map((t) => [t.Key ?? "", t.Value ?? ""])),
        };
      }
      const name = ref.version ? `${id}:${ref.version}` : id;
      const out = await this.#call("GetParameter", id, () =>
        ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true })),
      );
      return this.#bytes(out.Parameter?.Value, ref.key);
    }
    const sm = this.#sm!;
    if (ref.metadataPolicy === "Fetch") {
      const out = await this.#call("DescribeSecret", id, () =>
        sm.send(new DescribeSecretCommand({ SecretId: id })),
      );
      return {
        kind: "map",
        value: Object.fromEntries((out.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""])),
      };
    }
    const version = ref.version?.startsWith("uuid/")
      ? { VersionId: ref.version.slice(5) }
      : ref.version
        ? { VersionStage: ref.version }
        : {};
    const out = await this.#call("GetSecretValue", id, () =>
      sm.send(new GetSecretValueCommand({ SecretId: id, ...version })),
    );
    return this.#bytes(out.SecretString ?? out.SecretBinary, ref.key);
  }

  async readMany(refs: RemoteKey[]): Promise<Map<string, RemoteSecret | Error>> {
    const out = new Map<string, RemoteSecret | Error>();
    const plain = refs.filter((r) => !r.version && r.metadataPolicy !== "Fetch");
    const single = refs.filter((r) => !plain.includes(r));
    await Promise.all(
      single.map(async (r) => {
        out.set(r.key, await this.read(r).catch((e: unknown) => e as Error));
      }),
    );
    const size = this.#ssm ? SSM_BATCH : SM_BATCH;
    for (let i = 0; i < plain.length; i += size) {
      const chunk = plain.slice(i, i + size);
      try {
        await (this.#ssm ? this.#ssmBatch(chunk, out) : this.#smBatch(chunk, out));
      } catch (e) {
        for (const r of chunk) if (!out.has(r.key)) out.set(r.key, e as Error);
      }
    }
    return out;
  }

  async #smBatch(chunk: RemoteKey[], out: Map<string, RemoteSecret | Error>): Promise<void> {
    const sm = this.#sm!;
    const ids = chunk.map((r) => this.#prefix + r.key);
    const res = await this.#call("BatchGetSecretValue", `${ids.length} secrets`, () =>
      sm.send(new BatchGetSecretValueCommand({ SecretIdList: ids })),
    );
    const byId = new Map<string, RemoteSecret>();
    for (const v of res.SecretValues ?? []) {
      const value = this.#bytes(v.SecretString ?? v.SecretBinary, v.Name ?? "");
      if (v.Name) byId.set(v.Name, value);
      if (v.ARN) byId.set(v.ARN, value);
    }
    const errors = new Map((res.Errors ?? []).map((e) => [e.SecretId ?? "", e]));
    for (const r of chunk) {
      const id = this.#prefix + r.key;
      const hit = byId.get(id);
      if (hit) {
        out.set(r.key, hit);
        continue;
      }
      const err = errors.get(id);
      out.set(
        r.key,
        err
          ? mapAwsError({ name: err.ErrorCode, message: err.Message }, `BatchGetSecretValue ${id}`)
          : new CustosError("CUSTOS_SECRET_NOT_FOUND", `AWS secret "${id}" not found`, { retryable: false }),
      );
    }
  }

  async #ssmBatch(chunk: RemoteKey[], out: Map<string, RemoteSecret | Error>): Promise<void> {
    const ssm = this.#ssm!;
    const names = chunk.map((r) => this.#prefix + r.key);
    const res = await this.#call("GetParameters", `${names.length} parameters`, () =>
      ssm.send(new GetParametersCommand({ Names: names, WithDecryption: true })),
    );
    const byName = new Map((res.Parameters ?? []).map((p) => [p.Name ?? "", p]));
    for (const r of chunk) {
      const p = byName.get(this.#prefix + r.key);
      out.set(
        r.key,
        p
          ? this.#bytes(p.Value, r.key)
          : new CustosError("CUSTOS_SECRET_NOT_FOUND", `SSM parameter "${this.#prefix + r.key}" not found`, {
              retryable: false,
            }),
      );
    }
  }

  async find(q: FindQuery): Promise<Map<string, RemoteSecret>> {
    const re = q.name?.regexp ? new RegExp(q.name.regexp) : undefined;
    const out = new Map<string, RemoteSecret>();
    if (this.#ssm) {
      const ssm = this.#ssm;
      let token: string | undefined;
      const path = q.path ?? "/";
      do {
        const page = await this.#call("GetParametersByPath", path, () =>
          ssm.send(
            new GetParametersByPathCommand({
              Path: path,
              Recursive: true,
              WithDecryption: true,
              ...(token ? { NextToken: token } : {}),
            }),
          ),
        );
        for (const p of page.Parameters ?? []) {
          if (!p.Name || (re && !re.test(p.Name))) continue;
          out.set(p.Name, this.#bytes(p.Value, p.Name));
        }
        token = page.NextToken;
      } while (token && out.size < MAX_FIND);
      return out;
    }
    const sm = this.#sm!;
    const filters: Filter[] = [];
    if (q.path) filters.push({ Key: "name", Values: [q.path] });
    for (const [k, v] of Object.entries(q.tags ?? {})) {
      filters.push({ Key: "tag-key", Values: [k] }, { Key: "tag-value", Values: [v] });
    }
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#call("ListSecrets", "find", () =>
        sm.send(
          new ListSecretsCommand({
            Filters: filters.length ? filters : undefined,
            MaxResults: 100,
            ...(token ? { NextToken: token } : {}),
          }),
        ),
      );
      for (const s of page.SecretList ?? []) {
        if (!s.Name) continue;
        if (q.path && !s.Name.startsWith(q.path)) continue;
        if (re && !re.test(s.Name)) continue;
        const tags = new Map((s.Tags ?? []).map((t) => [t.Key, t.Value]));
        if (!Object.entries(q.tags ?? {}).every(([k, v]) => tags.get(k) === v)) continue;
        names.push(s.Name);
      }
      token = page.NextToken;
    } while (token && names.length < MAX_FIND);
    const values = await this.readMany(
      names.map((key) => ({ key: key.startsWith(this.#prefix) ? key.slice(this.#prefix.length) : key })),
    );
    for (const [k, v] of values) if (!(v instanceof Error)) out.set(this.#prefix + k, v);
    return out;
  }

  async close(): Promise<void> {
    this.#sm?.destroy();
    this.#ssm?.destroy();
  }
}
