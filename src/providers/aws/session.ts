/**
 * A session on AWS Secrets Manager or SSM Parameter Store. Plain AWSCURRENT reads of several
 * secrets go out as BatchGetSecretValue (20 per call) or GetParameters (10 per call); versions,
 * `uuid/<VersionId>`, tags (metadataPolicy Fetch) and binary values are read one by one.
 * Batch results are matched to what was asked (name, ARN or partial ARN); anything a batch leaves
 * unanswered is read alone. A find fails as a whole on any read error: fewer secrets would read
 * as deletions.
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
import type {
  FindQuery,
  ProviderDeps,
  PushEntry,
  PushOutcome,
  PushRef,
  PushSession,
  RemoteKey,
  RemoteSecret,
  Session,
} from "../types.ts";
import { CustosError, isCustosError, type CustosErrorCode } from "../../util/errors.ts";
import { specMatcher } from "../../util/regex.ts";
import { endpointFor } from "./credentials.ts";
import { checkAwsKey, isRequested } from "./names.ts";
import type { AwsProviderSpec } from "./schema.ts";
import { ParameterStorePush, SecretsManagerPush } from "./push.ts";

const SM_BATCH = 20;
const SSM_BATCH = 10;
const MAX_FIND = 5_000;
const enc = new TextEncoder();

/** A requested secret and the full identifier it is asked by. */
interface Ask {
  ref: RemoteKey;
  id: string;
}

const tooMany = (): CustosError =>
  new CustosError("CUSTOS_INVALID_SPEC", `dataFrom.find matched more than ${MAX_FIND} secrets`, {
    retryable: false,
  });

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

export class AwsSession implements Session, PushSession {
  readonly #sm: SecretsManagerClient | undefined;
  readonly #ssm: SSMClient | undefined;
  readonly #prefix: string;
  readonly #push: PushSession;

  constructor(
    readonly spec: AwsProviderSpec,
    region: string,
    credentials: AwsCredentialIdentityProvider,
    readonly deps: ProviderDeps,
    /** For tests: SDK clients to use instead of new ones. */
    clients: { sm?: SecretsManagerClient; ssm?: SSMClient } = {},
  ) {
    this.#prefix = spec.prefix ?? "";
    // Throttling is retried by the SDK with backoff (adaptive mode), then reported.
    const common = { region, credentials, maxAttempts: 4, retryMode: "adaptive" as const };
    if (spec.service === "ParameterStore") {
      const endpoint = endpointFor("SSM");
      this.#ssm = clients.ssm ?? new SSMClient({ ...common, ...(endpoint ? { endpoint } : {}) });
    } else {
      const endpoint = endpointFor("SECRETS_MANAGER");
      this.#sm = clients.sm ?? new SecretsManagerClient({ ...common, ...(endpoint ? { endpoint } : {}) });
    }
    const ctx = {
      prefix: this.#prefix,
      call: <T>(call: string, what: string, fn: () => Promise<T>): Promise<T> => this.#call(call, what, fn),
      redact: (v: Uint8Array): void => {
        deps.redact(v);
      },
      secretsManager: spec.secretsManager,
    };
    this.#push = this.#ssm ? new ParameterStorePush(this.#ssm, ctx) : new SecretsManagerPush(this.#sm!, ctx);
  }

  /** PushSecret: see push.ts. */
  push(entry: PushEntry): Promise<PushOutcome> {
    return this.#push.push(entry);
  }

  deletePushed(ref: PushRef): Promise<void> {
    return this.#push.deletePushed(ref);
  }

  exists(ref: PushRef): Promise<boolean> {
    return this.#push.exists(ref);
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
    return this.#readId(ref, this.#prefix + ref.key);
  }

  /** One read of `id` (the full identifier); `ref.key` names it in messages. */
  async #readId(ref: RemoteKey, id: string): Promise<RemoteSecret> {
    checkAwsKey(id);
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
    return this.#readMany(refs.map((ref) => ({ ref, id: this.#prefix + ref.key })));
  }

  /** Reads by full identifier; the result map is keyed by `ref.key`. */
  async #readMany(asks: Ask[]): Promise<Map<string, RemoteSecret | Error>> {
    const out = new Map<string, RemoteSecret | Error>();
    const plain: Ask[] = [];
    const single: Ask[] = [];
    for (const a of asks) {
      try {
        checkAwsKey(a.id); // never requested when invalid
      } catch (e) {
        out.set(a.ref.key, e as Error);
        continue;
      }
      (!a.ref.version && a.ref.metadataPolicy !== "Fetch" ? plain : single).push(a);
    }
    const size = this.#ssm ? SSM_BATCH : SM_BATCH;
    for (let i = 0; i < plain.length; i += size) {
      const chunk = plain.slice(i, i + size);
      try {
        // what the batch left unanswered is read alone, for a definite answer
        single.push(...(await (this.#ssm ? this.#ssmBatch(chunk, out) : this.#smBatch(chunk, out))));
      } catch (e) {
        for (const a of chunk) if (!out.has(a.ref.key)) out.set(a.ref.key, e as Error);
      }
    }
    await Promise.all(
      single.map(async (a) => {
        out.set(a.ref.key, await this.#readId(a.ref, a.id).catch((e: unknown) => e as Error));
      }),
    );
    return out;
  }

  /** One BatchGetSecretValue; returns the asks it did not answer. */
  async #smBatch(chunk: Ask[], out: Map<string, RemoteSecret | Error>): Promise<Ask[]> {
    const sm = this.#sm!;
    const ids = chunk.map((a) => a.id);
    const res = await this.#call("BatchGetSecretValue", `${ids.length} secrets`, () =>
      sm.send(new BatchGetSecretValueCommand({ SecretIdList: ids })),
    );
    const values = res.SecretValues ?? [];
    const errors = res.Errors ?? [];
    const unanswered: Ask[] = [];
    for (const a of chunk) {
      const hit = values.find((v) => isRequested(a.id, v));
      if (hit) {
        out.set(a.ref.key, this.#bytes(hit.SecretString ?? hit.SecretBinary, a.ref.key));
        continue;
      }
      // An error for this id is that error; "not found" only when AWS says so.
      const err =
        errors.find((e) => e.SecretId === a.id) ??
        errors.find(
          (e) => e.SecretId !== undefined && isRequested(a.id, { ARN: e.SecretId, Name: e.SecretId }),
        );
      if (err)
        out.set(
          a.ref.key,
          mapAwsError(
            { name: err.ErrorCode ?? "UnknownError", message: err.Message },
            `BatchGetSecretValue ${a.id}`,
          ),
        );
      else unanswered.push(a);
    }
    return unanswered;
  }

  /** One GetParameters; returns the asks it did not answer. */
  async #ssmBatch(chunk: Ask[], out: Map<string, RemoteSecret | Error>): Promise<Ask[]> {
    const ssm = this.#ssm!;
    const names = chunk.map((a) => a.id);
    const res = await this.#call("GetParameters", `${names.length} parameters`, () =>
      ssm.send(new GetParametersCommand({ Names: names, WithDecryption: true })),
    );
    const params = res.Parameters ?? [];
    const invalid = new Set(res.InvalidParameters ?? []);
    const unanswered: Ask[] = [];
    for (const a of chunk) {
      const p = params.find((x) => x.Name === a.id || x.ARN === a.id);
      if (p) out.set(a.ref.key, this.#bytes(p.Value, a.ref.key));
      else if (invalid.has(a.id))
        out.set(
          a.ref.key,
          new CustosError("CUSTOS_SECRET_NOT_FOUND", `SSM parameter "${a.id}" not found`, {
            retryable: false,
          }),
        );
      else unanswered.push(a);
    }
    return unanswered;
  }

  async find(q: FindQuery): Promise<Map<string, RemoteSecret>> {
    const re = q.name?.regexp ? specMatcher(q.name.regexp, "find.name.regexp") : undefined;
    const out = new Map<string, RemoteSecret>();
    if (this.#ssm) {
      const ssm = this.#ssm;
      let token: string | undefined;
      const path = q.path ?? "/";
      checkAwsKey(path);
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
        if (out.size > MAX_FIND) throw tooMany();
        token = page.NextToken;
      } while (token);
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
      if (names.length > MAX_FIND) throw tooMany();
      token = page.NextToken;
    } while (token);
    // read by the exact listed name (the store's prefix is not added again)
    const values = await this.#readMany(names.map((name) => ({ ref: { key: name }, id: name })));
    for (const [name, v] of values) {
      if (!(v instanceof Error)) out.set(name, v);
      // deleted between list and read: gone; anything else (throttling, 5xx, network) fails the find
      else if (!isCustosError(v, "CUSTOS_SECRET_NOT_FOUND")) throw v;
    }
    return out;
  }

  async close(): Promise<void> {
    this.#sm?.destroy();
    this.#ssm?.destroy();
  }
}
