/**
 * The `fake` provider (ESO-compatible): serves the key/value pairs written in the store spec.
 * A `value` is returned as bytes (a JSON value may be read with `property`); a `valueMap` as a map.
 */
import { createHash } from "node:crypto";
import type { ProviderDefinition, RemoteSecret, Session } from "../types.ts";
import { CustosError } from "../../util/errors.ts";
import { specMatcher } from "../../util/regex.ts";
import { FakeProviderSchema, type FakeProviderSpec } from "./schema.ts";

export const fakeProvider: ProviderDefinition<FakeProviderSpec> = {
  name: "fake",
  schema: FakeProviderSchema,
  validate(spec) {
    return Array.isArray(spec?.data) ? [] : ["spec.provider.fake.data must be a list"];
  },
  identity(spec, ctx) {
    // The data is the identity: a changed spec is a new session.
    return `${ctx.storeUid}:${createHash("sha256").update(JSON.stringify(spec)).digest("hex")}`;
  },
  async connect(spec, _ctx, deps): Promise<Session> {
    const find = (key: string, version?: string): RemoteSecret => {
      const entry = spec.data.find(
        (d) => d.key === key && (version === undefined || (d.version ?? "") === version),
      );
      if (!entry)
        throw new CustosError(
          "CUSTOS_SECRET_NOT_FOUND",
          `fake store has no key "${key}"${version ? ` at version "${version}"` : ""}`,
          { retryable: false },
        );
      deps.recordCall("GetSecret", "success");
      if (entry.valueMap) {
        deps.redact(JSON.stringify(entry.valueMap));
        return { kind: "map", value: entry.valueMap };
      }
      deps.redact(entry.value ?? "");
      return { kind: "bytes", value: new TextEncoder().encode(entry.value ?? "") };
    };
    return {
      read: async (ref) => find(ref.key, ref.version),
      find: async (q) => {
        const out = new Map<string, RemoteSecret>();
        const re = q.name?.regexp ? specMatcher(q.name.regexp, "find.name.regexp") : undefined;
        for (const d of spec.data) {
          if (q.path && !d.key.startsWith(q.path)) continue;
          if (re && !re.test(d.key)) continue;
          out.set(d.key, find(d.key, d.version));
        }
        return out;
      },
      close: async () => undefined,
    };
  },
};
