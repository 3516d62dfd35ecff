/**
 * One undici Agent (TLS context and connection pool) per distinct TLS setting, shared by the
 * sessions that use it. The setting comes from tenants' stores (their CA, their client
 * certificate), so the cache is bounded: a tenant creating stores with ever new CAs cannot grow
 * it without limit. An evicted agent is not closed — sessions holding it keep working, and it is
 * collected once they are gone and its idle sockets have timed out.
 */
import { createHash } from "node:crypto";
import type { LookupAddress, LookupOptions } from "node:dns";
import { Agent } from "undici";

type LookupCallback = (err: Error | null, address: string | LookupAddress[], family?: number) => void;

export interface TlsSetting {
  /** PEM of the CAs to trust; absent: the system roots. */
  ca?: string | undefined;
  /** Client certificate and key presented in the handshake. */
  client?: { cert: string; key: string } | undefined;
  /** Anything else that makes agents differ (e.g. a guarded DNS lookup's mode). */
  variant?: string | undefined;
  /** Agent options that are not part of the identity of the setting. */
  keepAliveTimeoutMs?: number | undefined;
  /** A DNS lookup for net/tls.connect (the webhook provider's reserved-address guard). */
  lookup?: ((hostname: string, options: LookupOptions, cb: LookupCallback) => void) | undefined;
}

export const MAX_AGENTS = 256;

export class TlsAgentCache {
  readonly #agents = new Map<string, Agent>();
  constructor(readonly max: number = MAX_AGENTS) {}

  get(s: TlsSetting): Agent {
    const id = createHash("sha256")
      .update(JSON.stringify([s.ca ?? "", s.client?.cert ?? "", s.client?.key ?? "", s.variant ?? ""]))
      .digest("hex");
    let a = this.#agents.get(id);
    if (a) {
      // most recently used last, so eviction takes the longest unused
      this.#agents.delete(id);
      this.#agents.set(id, a);
      return a;
    }
    a = new Agent({
      connect: {
        ...(s.ca ? { ca: s.ca } : {}),
        ...(s.client ? { cert: s.client.cert, key: s.client.key } : {}),
        ...(s.lookup ? { lookup: s.lookup } : {}),
      },
      keepAliveTimeout: s.keepAliveTimeoutMs ?? 30_000,
    });
    this.#agents.set(id, a);
    if (this.#agents.size > this.max) {
      const oldest = this.#agents.keys().next().value;
      if (oldest !== undefined) this.#agents.delete(oldest);
    }
    return a;
  }

  get size(): number {
    return this.#agents.size;
  }
}
