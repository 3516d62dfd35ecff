/**
 * A Mount, whatever the dialect: the pod's tokens are recorded, each object's store is bound as
 * the pod (one session per store identity: engine/sessions.ts), every remote secret is read
 * through the shared read cache (engine/reads.ts: one read per unique key and identity per
 * window, however many pods ask), and the results become files, each with its object version.
 *
 * Failures are CustosErrors with the store's real cause; server.ts redacts them before they leave.
 */
import type { Logger } from "../util/log.ts";
import type { KubeAccess, RemoteSecret, StoreContext } from "../providers/types.ts";
import { providerFor } from "../providers/registry.ts";
import type { SessionPool } from "../engine/sessions.ts";
import { ReadCache } from "../engine/reads.ts";
import { CustosError } from "../util/errors.ts";
import { redactor } from "../util/redact.ts";
import type { MountInput } from "./attributes.ts";
import { objectVersion } from "./files.ts";
import type { BindingPlan, MountPlan, ObjectPlan, PlannedFile } from "./plan.ts";
import type { PodTokens } from "./identity.ts";

export interface MountEngine {
  sessions: SessionPool;
  reads: ReadCache;
  tokens: PodTokens;
  /** The KubeAccess sessions log in through (PodTokens.kubeAccess). */
  kube: KubeAccess;
  /** How long a read is shared with other pods of the same identity (ms). */
  readWindowMs: number;
  /** HMAC key of object versions. */
  versionKey: Uint8Array;
  log?: Logger | undefined;
}

export interface MountResult {
  files: PlannedFile[];
  versions: { id: string; version: string }[];
}

function bindingKey(b: BindingPlan): string {
  return JSON.stringify([b.provider, b.storeKind, b.storeName, b.storeUid, b.spec]);
}

/** Records the pod's tokens for the audiences the plan logs in with. */
export function recordTokens(engine: MountEngine, input: MountInput, audiences: Iterable<string>): void {
  for (const aud of audiences) {
    const t = input.tokens.get(aud);
    if (t) engine.tokens.set(input.pod, aud, t.token);
  }
}

export async function runMount(
  engine: MountEngine,
  input: MountInput,
  plan: MountPlan,
): Promise<MountResult> {
  const groups = new Map<string, { binding: BindingPlan; objects: ObjectPlan[] }>();
  for (const o of plan.objects) {
    const k = bindingKey(o.binding);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { binding: o.binding, objects: [] }));
    g.objects.push(o);
  }
  const results = new Map<ObjectPlan, RemoteSecret[]>();
  await Promise.all(
    [...groups.values()].map(async ({ binding, objects }) => {
      const found = providerFor({ [binding.provider]: binding.spec });
      if ("error" in found) throw new CustosError("CUSTOS_INVALID_SPEC", found.error, { retryable: false });
      const problems = found.def.validate(found.spec);
      if (problems.length)
        throw new CustosError(
          "CUSTOS_INVALID_SPEC",
          `${binding.storeKind} "${binding.storeName}" is invalid: ${problems.join("; ")}`,
          {
            retryable: false,
          },
        );
      const ctx: StoreContext = {
        storeKind: binding.storeKind,
        storeName: binding.storeName,
        storeUid: binding.storeUid,
        namespace: input.pod.namespace,
        kube: engine.kube,
      };
      const { key, session } = await engine.sessions.get(found.def, found.spec, ctx);
      const refs = objects.flatMap((o) => o.reads);
      const read = await engine.reads.readAll(key, session, refs, engine.readWindowMs);
      for (const o of objects) {
        results.set(
          o,
          o.reads.map((r) => {
            const v = read.get(ReadCache.refKey(key, r));
            if (v === undefined) throw new CustosError("CUSTOS_INTERNAL", `no result for "${r.key}"`);
            if (v instanceof Error) throw v;
            return v;
          }),
        );
      }
    }),
  );
  const files: PlannedFile[] = [];
  const versions: { id: string; version: string }[] = [];
  const seen = new Set<string>();
  for (const o of plan.objects) {
    const of = o.files(results.get(o)!);
    for (const f of of) {
      if (seen.has(f.path))
        throw new CustosError("CUSTOS_INVALID_SPEC", `two objects write the file "${f.path}"`, {
          retryable: false,
        });
      seen.add(f.path);
      redactor.add(f.contents);
      files.push(f);
      // one version per file: a remount after a change moves only the changed files' versions
      versions.push({ id: f.path, version: objectVersion(engine.versionKey, o.config, [f]) });
    }
  }
  if (versions.length === 0)
    throw new CustosError("CUSTOS_SECRET_NOT_FOUND", "no file to mount: every object is empty", {
      retryable: false,
    });
  return { files, versions };
}
