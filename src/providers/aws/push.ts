/**
 * PushSecret to AWS, with ESO v2.9's semantics: a remote secret is created with the tag
 * `managed-by: external-secrets`, and one without that tag is never overwritten or deleted
 * (CUSTOS_PUSH_NOT_OURS; deleting it is skipped, as ESO does). `property` merges into the JSON
 * value; nothing is written when the bytes are already there.
 *
 * Concurrency. Neither service has a conditional write that standard readers honour, so:
 * - Secrets Manager: the value is read by the VersionId that DescribeSecret reports as AWSCURRENT,
 *   and written with a ClientRequestToken derived from that VersionId. Two pushers (Custos or a
 *   replica) racing from the same version use the same token: AWS accepts one and answers the
 *   other ResourceExistsException → CUSTOS_PUSH_CONFLICT. A writer with its own token (console,
 *   ESO) is caught after the write: AWS moves AWSPREVIOUS to the version AWSCURRENT had, so when
 *   AWSPREVIOUS is not the version read, another value landed in between; it is put back as
 *   AWSCURRENT (nothing lost) and the push fails with CUSTOS_PUSH_CONFLICT, to redo its merge on the
 *   retry. (UpdateSecretVersionStage with RemoveFromVersionId is a true compare-and-swap, but moto
 *   keeps serving the old default version to reads without a stage after it, so it is not used.)
 * - Parameter Store: PutParameter answers the version it wrote; anything but the read version + 1
 *   means another write landed in between: its value is put back and the push fails the same way.
 *   Creation uses Overwrite=false (ParameterAlreadyExists → CUSTOS_PUSH_CONFLICT).
 */
import { createHash, randomUUID } from "node:crypto";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type DescribeSecretCommandOutput,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import {
  AddTagsToResourceCommand,
  DeleteParameterCommand,
  GetParameterCommand,
  ListTagsForResourceCommand,
  PutParameterCommand,
  RemoveTagsFromResourceCommand,
  type PutParameterCommandInput,
  type SSMClient,
} from "@aws-sdk/client-ssm";
import type { PushEntry, PushOutcome, PushRef, PushSession } from "../types.ts";
import { CustosError, isCustosError } from "../../util/errors.ts";
import { checkAwsKey } from "./names.ts";
import {
  EXTERNAL_SECRETS,
  MANAGED_BY,
  hasProperty,
  mergeProperty,
  removeProperty,
  sameBytes,
  secretMapJson,
  smPushMetadata,
  ssmPushMetadata,
  tagChanges,
  type SsmPushMetadata,
} from "./push-format.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** ESO's ClientRequestToken for a secret's first value. */
export const INITIAL_VERSION = "00000000-0000-0000-0000-000000000001";

/** What push.ts needs of its session. */
export interface PushContext {
  prefix: string;
  /** Runs one AWS call, counting it and mapping its error to a CustosError (cause: the AWS error). */
  call<T>(call: string, what: string, fn: () => Promise<T>): Promise<T>;
  redact(value: Uint8Array): void;
  secretsManager?: {
    forceDeleteWithoutRecovery?: boolean | undefined;
    recoveryWindowInDays?: number | undefined;
  };
}

/** The AWS error name behind a mapped error. */
function awsName(e: unknown): string | undefined {
  const cause = (e as { cause?: { name?: string } }).cause;
  return cause?.name;
}

const conflict = (message: string, cause?: unknown): CustosError =>
  new CustosError("CUSTOS_PUSH_CONFLICT", message, { retryable: true, cause });

const notOurs = (what: string): CustosError =>
  new CustosError(
    "CUSTOS_PUSH_NOT_OURS",
    `${what} exists and is not managed by external-secrets (no tag ${MANAGED_BY}: ${EXTERNAL_SECRETS}); it is not overwritten`,
    { retryable: false },
  );

/**
 * The ClientRequestToken for a write based on `version` of `arn`: the same for every pusher that
 * read that version, so only one of racing writes from it is accepted.
 */
export function tokenFor(arn: string, version: string): string {
  const h = createHash("sha256").update(`custos-push\n${arn}\n${version}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const tagMap = (
  tags: { Key?: string | undefined; Value?: string | undefined }[] | undefined,
): Record<string, string> => Object.fromEntries((tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));

const isOurs = (tags: Record<string, string>): boolean => tags[MANAGED_BY] === EXTERNAL_SECRETS;

function pushedBytes(entry: PushEntry, values: "string" | "base64"): Uint8Array {
  return entry.value.kind === "bytes" ? entry.value.value : secretMapJson(entry.value.value, values);
}

/** The version holding `stage` in a DescribeSecret answer. */
function versionWith(d: DescribeSecretCommandOutput, stage: string): string | undefined {
  for (const [id, stages] of Object.entries(d.VersionIdsToStages ?? {}))
    if (stages.includes(stage)) return id;
  return undefined;
}

interface SmValue {
  bytes: Uint8Array;
  /** Stored as SecretString (true) or SecretBinary. */
  string: boolean;
}

export class SecretsManagerPush implements PushSession {
  constructor(
    private readonly sm: SecretsManagerClient,
    private readonly ctx: PushContext,
  ) {}

  #id(remoteKey: string): string {
    const id = this.ctx.prefix + remoteKey;
    checkAwsKey(id);
    return id;
  }

  async #describe(id: string): Promise<DescribeSecretCommandOutput | undefined> {
    try {
      return await this.ctx.call("DescribeSecret", id, () =>
        this.sm.send(new DescribeSecretCommand({ SecretId: id })),
      );
    } catch (e) {
      if (isCustosError(e, "CUSTOS_SECRET_NOT_FOUND")) return undefined;
      throw e;
    }
  }

  async #value(id: string, versionId: string): Promise<SmValue> {
    const out = await this.ctx.call("GetSecretValue", id, () =>
      this.sm.send(new GetSecretValueCommand({ SecretId: id, VersionId: versionId })),
    );
    const bytes =
      out.SecretString !== undefined ? enc.encode(out.SecretString) : (out.SecretBinary ?? new Uint8Array());
    this.ctx.redact(bytes);
    return { bytes, string: out.SecretString !== undefined };
  }

  async #put(id: string, token: string, v: SmValue): Promise<string> {
    const out = await this.ctx.call("PutSecretValue", id, () =>
      this.sm.send(
        new PutSecretValueCommand({
          SecretId: id,
          ClientRequestToken: token,
          ...(v.string ? { SecretString: dec.decode(v.bytes) } : { SecretBinary: v.bytes }),
        }),
      ),
    );
    return out.VersionId ?? token;
  }

  /**
   * Writes `v` over `read` (the AWSCURRENT version the new value was computed from) and checks that
   * nothing else landed in between (see the file comment).
   */
  async #write(id: string, arn: string, read: string | undefined, v: SmValue): Promise<void> {
    if (read === undefined) {
      await this.#put(id, INITIAL_VERSION, v);
      return;
    }
    let token = tokenFor(arn, read);
    try {
      token = await this.#put(id, token, v);
    } catch (e) {
      if (awsName(e) !== "ResourceExistsException") throw e;
      // The token is taken: by a racing pusher from the same version, or (the secret was rolled
      // back to `read` since) by an earlier push of ours.
      const now = await this.#describe(id);
      if (!now || versionWith(now, "AWSCURRENT") !== read)
        throw conflict(`AWS secret "${id}" changed while it was being pushed`, e);
      token = await this.#put(id, randomUUID(), v);
    }
    const after = await this.#describe(id);
    if (!after) throw conflict(`AWS secret "${id}" was deleted while it was being pushed`);
    const current = versionWith(after, "AWSCURRENT");
    const previous = versionWith(after, "AWSPREVIOUS");
    if (current === token && previous === read) return;
    if (current === token && previous !== undefined) {
      // another value became current between our read and our write: make it current again
      const theirs = await this.#value(id, previous);
      await this.#put(id, randomUUID(), theirs);
      throw conflict(
        `AWS secret "${id}" was changed by another writer while it was being pushed (version ${previous}); that value was kept and the push will be retried`,
      );
    }
    throw conflict(`AWS secret "${id}" was changed by another writer right after the push`);
  }

  async push(entry: PushEntry): Promise<PushOutcome> {
    const meta = smPushMetadata(entry.metadata);
    const id = this.#id(entry.remoteKey);
    const pushed = pushedBytes(entry, "string");
    const asString = meta.secretPushFormat === "string";
    const d = await this.#describe(id);
    if (!d) {
      const value = entry.property ? mergeProperty(undefined, entry.property, pushed) : pushed;
      try {
        await this.ctx.call("CreateSecret", id, () =>
          this.sm.send(
            new CreateSecretCommand({
              Name: id,
              ClientRequestToken: INITIAL_VERSION,
              Description: meta.description,
              KmsKeyId: meta.kmsKeyId,
              Tags: Object.entries(meta.tags).map(([Key, Value]) => ({ Key, Value })),
              ...(asString ? { SecretString: dec.decode(value) } : { SecretBinary: value }),
            }),
          ),
        );
      } catch (e) {
        if (awsName(e) === "ResourceExistsException")
          throw conflict(`AWS secret "${id}" was created by another writer while it was being pushed`, e);
        throw e;
      }
      return "created";
    }
    const tags = tagMap(d.Tags);
    const scheduled = d.DeletedDate !== undefined;
    if (entry.updatePolicy === "IfNotExists" && !entry.property && !scheduled) return "skipped";
    if (!isOurs(tags)) throw notOurs(`AWS secret "${id}"`);
    const arn = d.ARN ?? id;
    let desc = d;
    if (scheduled) {
      // ours and scheduled for deletion (deletionPolicy Delete, then pushed again): bring it back
      await this.ctx.call("RestoreSecret", id, () =>
        this.sm.send(new RestoreSecretCommand({ SecretId: id })),
      );
      desc = (await this.#describe(id)) ?? d;
    }
    const read = versionWith(desc, "AWSCURRENT");
    const current = read ? await this.#value(id, read) : undefined;
    if (
      entry.updatePolicy === "IfNotExists" &&
      entry.property &&
      !scheduled &&
      hasProperty(current?.bytes, entry.property)
    )
      return "skipped";
    const next = entry.property ? mergeProperty(current?.bytes, entry.property, pushed) : pushed;
    if (meta.userTags) await this.#patchTags(id, tags, meta.tags);
    if (sameBytes(current?.bytes, next)) return scheduled ? "updated" : "unchanged";
    await this.#write(id, arn, read, { bytes: next, string: asString });
    return "updated";
  }

  async #patchTags(id: string, have: Record<string, string>, want: Record<string, string>): Promise<void> {
    const { remove, set } = tagChanges(have, want);
    if (remove.length)
      await this.ctx.call("UntagResource", id, () =>
        this.sm.send(new UntagResourceCommand({ SecretId: id, TagKeys: remove })),
      );
    if (Object.keys(set).length)
      await this.ctx.call("TagResource", id, () =>
        this.sm.send(
          new TagResourceCommand({
            SecretId: id,
            Tags: Object.entries(set).map(([Key, Value]) => ({ Key, Value })),
          }),
        ),
      );
  }

  async deletePushed(ref: PushRef): Promise<void> {
    const id = this.#id(ref.remoteKey);
    const d = await this.#describe(id);
    if (!d || d.DeletedDate !== undefined) return;
    if (!isOurs(tagMap(d.Tags))) return; // ESO: not ours is as good as deleted
    const arn = d.ARN ?? id;
    if (ref.property) {
      const read = versionWith(d, "AWSCURRENT");
      if (read) {
        const current = await this.#value(id, read);
        const rest = removeProperty(current.bytes, ref.property);
        if (rest === current.bytes) return; // the property is not there
        if (rest !== undefined) {
          await this.#write(id, arn, read, { bytes: rest, string: current.string });
          return;
        }
      }
    }
    const sm = this.ctx.secretsManager ?? {};
    if (sm.forceDeleteWithoutRecovery && sm.recoveryWindowInDays)
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        "secretsManager: forceDeleteWithoutRecovery and recoveryWindowInDays cannot both be set",
        { retryable: false },
      );
    if (
      sm.recoveryWindowInDays !== undefined &&
      (sm.recoveryWindowInDays < 7 || sm.recoveryWindowInDays > 30)
    )
      throw new CustosError(
        "CUSTOS_INVALID_SPEC",
        "secretsManager.recoveryWindowInDays must be between 7 and 30",
        {
          retryable: false,
        },
      );
    try {
      await this.ctx.call("DeleteSecret", id, () =>
        this.sm.send(
          new DeleteSecretCommand({
            SecretId: arn,
            ...(sm.forceDeleteWithoutRecovery ? { ForceDeleteWithoutRecovery: true } : {}),
            ...(sm.recoveryWindowInDays ? { RecoveryWindowInDays: sm.recoveryWindowInDays } : {}),
          }),
        ),
      );
    } catch (e) {
      if (!isCustosError(e, "CUSTOS_SECRET_NOT_FOUND")) throw e;
    }
  }

  async exists(ref: PushRef): Promise<boolean> {
    const id = this.#id(ref.remoteKey);
    const d = await this.#describe(id);
    if (!d || d.DeletedDate !== undefined) return false;
    const read = versionWith(d, "AWSCURRENT");
    if (!read) return false;
    if (!ref.property) return true;
    return hasProperty((await this.#value(id, read)).bytes, ref.property);
  }
}

interface Param {
  name: string;
  value: Uint8Array;
  version: number;
}

export class ParameterStorePush implements PushSession {
  constructor(
    private readonly ssm: SSMClient,
    private readonly ctx: PushContext,
  ) {}

  #id(remoteKey: string): string {
    const id = this.ctx.prefix + remoteKey;
    checkAwsKey(id);
    return id;
  }

  async #get(name: string): Promise<Param | undefined> {
    try {
      const out = await this.ctx.call("GetParameter", name, () =>
        this.ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true })),
      );
      const value = enc.encode(out.Parameter?.Value ?? "");
      this.ctx.redact(value);
      return { name: out.Parameter?.Name ?? name, value, version: out.Parameter?.Version ?? 0 };
    } catch (e) {
      if (isCustosError(e, "CUSTOS_SECRET_NOT_FOUND")) return undefined;
      throw e;
    }
  }

  async #tags(id: string): Promise<Record<string, string>> {
    const out = await this.ctx.call("ListTagsForResource", id, () =>
      this.ssm.send(new ListTagsForResourceCommand({ ResourceType: "Parameter", ResourceId: id })),
    );
    return tagMap(out.TagList);
  }

  #input(id: string, meta: SsmPushMetadata, value: Uint8Array): PutParameterCommandInput {
    return {
      Name: id,
      Value: dec.decode(value),
      Type: meta.secretType,
      Description: meta.description,
      ...(meta.secretType === "SecureString" ? { KeyId: meta.kmsKeyID } : {}),
      ...(meta.tier.type !== "Standard" ? { Tier: meta.tier.type } : {}),
      ...(meta.tier.type === "Advanced" && meta.tier.policies ? { Policies: meta.tier.policies } : {}),
    };
  }

  /** Overwrites `read` with `input`; another write in between is put back and reported. */
  async #overwrite(id: string, read: Param, input: PutParameterCommandInput): Promise<void> {
    const out = await this.ctx.call("PutParameter", id, () =>
      this.ssm.send(new PutParameterCommand({ ...input, Overwrite: true })),
    );
    const written = out.Version ?? read.version + 1;
    if (written === read.version + 1) return;
    const theirs = await this.#get(`${id}:${written - 1}`);
    if (theirs)
      await this.ctx.call("PutParameter", id, () =>
        this.ssm.send(
          new PutParameterCommand({ ...input, Value: dec.decode(theirs.value), Overwrite: true }),
        ),
      );
    throw conflict(
      `SSM parameter "${id}" was changed by another writer while it was being pushed (version ${written - 1}); that value was kept and the push will be retried`,
    );
  }

  async push(entry: PushEntry): Promise<PushOutcome> {
    const meta = ssmPushMetadata(entry.metadata);
    const id = this.#id(entry.remoteKey);
    const pushed = pushedBytes(entry, meta.encodeAsDecoded ? "string" : "base64");
    const cur = await this.#get(id);
    if (!cur) {
      const value = entry.property ? mergeProperty(undefined, entry.property, pushed) : pushed;
      try {
        await this.ctx.call("PutParameter", id, () =>
          this.ssm.send(
            new PutParameterCommand({
              ...this.#input(id, meta, value),
              Overwrite: false,
              Tags: Object.entries(meta.tags).map(([Key, Value]) => ({ Key, Value })),
            }),
          ),
        );
      } catch (e) {
        if (awsName(e) === "ParameterAlreadyExists")
          throw conflict(`SSM parameter "${id}" was created by another writer while it was being pushed`, e);
        throw e;
      }
      return "created";
    }
    if (entry.updatePolicy === "IfNotExists" && !entry.property) return "skipped";
    const tags = await this.#tags(id);
    if (!isOurs(tags)) throw notOurs(`SSM parameter "${id}"`);
    if (entry.updatePolicy === "IfNotExists" && entry.property && hasProperty(cur.value, entry.property))
      return "skipped";
    const next = entry.property ? mergeProperty(cur.value, entry.property, pushed) : pushed;
    if (sameBytes(cur.value, next)) return "unchanged";
    await this.#overwrite(id, cur, this.#input(id, meta, next));
    const { remove, set } = tagChanges(tags, meta.tags);
    if (remove.length)
      await this.ctx.call("RemoveTagsFromResource", id, () =>
        this.ssm.send(
          new RemoveTagsFromResourceCommand({ ResourceType: "Parameter", ResourceId: id, TagKeys: remove }),
        ),
      );
    if (Object.keys(set).length)
      await this.ctx.call("AddTagsToResource", id, () =>
        this.ssm.send(
          new AddTagsToResourceCommand({
            ResourceType: "Parameter",
            ResourceId: id,
            Tags: Object.entries(set).map(([Key, Value]) => ({ Key, Value })),
          }),
        ),
      );
    return "updated";
  }

  async deletePushed(ref: PushRef): Promise<void> {
    const id = this.#id(ref.remoteKey);
    const cur = await this.#get(id);
    if (!cur) return;
    if (!isOurs(await this.#tags(id))) return; // ESO: not ours is as good as deleted
    if (ref.property) {
      const rest = removeProperty(cur.value, ref.property);
      if (rest === cur.value) return;
      if (rest !== undefined) {
        await this.#overwrite(id, cur, { Name: id, Value: dec.decode(rest) });
        return;
      }
    }
    try {
      await this.ctx.call("DeleteParameter", id, () =>
        this.ssm.send(new DeleteParameterCommand({ Name: id })),
      );
    } catch (e) {
      if (!isCustosError(e, "CUSTOS_SECRET_NOT_FOUND")) throw e;
    }
  }

  async exists(ref: PushRef): Promise<boolean> {
    const cur = await this.#get(this.#id(ref.remoteKey));
    if (!cur) return false;
    return ref.property ? hasProperty(cur.value, ref.property) : true;
  }
}
