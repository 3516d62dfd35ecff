import { Type, type Static } from "@sinclair/typebox";

/** ESO's `spec.provider.fake`: static data served from the store spec itself (demos, tests). */
export const FakeProviderSchema = Type.Object({
  data: Type.Array(
    Type.Object({
      key: Type.String(),
      value: Type.Optional(Type.String()),
      valueMap: Type.Optional(Type.Record(Type.String(), Type.String())),
      version: Type.Optional(Type.String()),
    }),
  ),
});

export type FakeProviderSpec = Static<typeof FakeProviderSchema>;
