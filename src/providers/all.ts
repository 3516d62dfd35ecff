/**
 * Every built-in provider, by explicit list: adding a provider adds its folder and one entry here.
 * The registry (registry.ts) reads this list; nothing registers itself on import.
 */
import type { ProviderDefinition } from "./types.ts";
import { fakeProvider } from "./fake/index.ts";
import { vaultProvider } from "./vault/index.ts";
import { awsProvider } from "./aws/index.ts";
import { kubernetesProvider } from "./kubernetes/index.ts";
import { webhookProvider } from "./webhook/index.ts";

export const PROVIDERS: readonly ProviderDefinition<never>[] = [
  fakeProvider,
  vaultProvider,
  awsProvider,
  kubernetesProvider,
  webhookProvider,
];
