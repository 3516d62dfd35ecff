/**
 * Providers by their `spec.provider.<name>` key, built from the explicit list in all.ts; nothing
 * else in the code base names a provider.
 */
import type { ProviderDefinition } from "./types.ts";
import { PROVIDERS } from "./all.ts";

const providers = new Map<string, ProviderDefinition<never>>(PROVIDERS.map((p) => [p.name, p]));

export function allProviders(): ProviderDefinition<never>[] {
  return [...providers.values()];
}

/** The provider configured in a store's `spec.provider`: exactly one key must be set. */
export function providerFor(
  providerSpec: Record<string, unknown> | undefined,
): { def: ProviderDefinition; spec: unknown } | { error: string } {
  const keys = Object.keys(providerSpec ?? {}).filter((k) => providerSpec?.[k] != null);
  if (keys.length !== 1) {
    return {
      error: `spec.provider must set exactly one provider, found ${keys.length ? keys.join(", ") : "none"}`,
    };
  }
  const name = keys[0]!;
  const def = providers.get(name);
  if (!def)
    return { error: `provider "${name}" is not supported (supported: ${[...providers.keys()].join(", ")})` };
  return { def: def as unknown as ProviderDefinition, spec: providerSpec![name] };
}
