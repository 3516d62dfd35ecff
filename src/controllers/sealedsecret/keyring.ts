/**
 * The sealing keys of the controller, kept where Bitnami's controller keeps them: Secrets in the
 * controller namespace labelled `sealedsecrets.bitnami.com/sealed-secrets-key=active` (plus the
 * legacy Secret named `sealed-secrets-key`). All keys unseal; the newest seals. A new key is made
 * at start when there is none, and whenever the newest is older than the renewal period
 * (0 = never). Old keys are never deleted.
 */
import type { KeyObject } from "node:crypto";
import { KubeApi, resourcePath, SECRETS } from "../../kube/api.ts";
import type { Logger } from "../../util/log.ts";
import {
  generateSealingKey,
  keyFromSecret,
  keyToSecret,
  KEY_LABEL,
  KEY_LABEL_ACTIVE,
  type KeySecret,
  type SealingKey,
} from "../../sealing/keys.ts";

const MAX_TIMER_MS = 2_147_483_647;

export interface KeyringOptions {
  namespace: string;
  renewPeriodMs: number;
  commonName: string;
  /** RSA modulus size; 4096 as Bitnami's controller (tests may lower it). */
  bits?: number;
}

export class Keyring {
  #keys: SealingKey[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly api: KubeApi,
    readonly opts: KeyringOptions,
    readonly log: Logger,
  ) {}

  get keys(): readonly SealingKey[] {
    return this.#keys;
  }

  get privateKeys(): KeyObject[] {
    return this.#keys.map((k) => k.privateKey);
  }

  /** The key new seals use. */
  get newest(): SealingKey {
    const k = this.#keys[this.#keys.length - 1];
    if (!k) throw new Error("no sealing key loaded");
    return k;
  }

  async load(): Promise<void> {
    const ns = this.opts.namespace;
    const list = await this.api.list<KeySecret>(resourcePath({ ...SECRETS, namespace: ns }), {
      labelSelector: `${KEY_LABEL}=${KEY_LABEL_ACTIVE}`,
    });
    const legacy = await this.api.getOrUndefined<KeySecret>(
      resourcePath({ ...SECRETS, namespace: ns, name: "sealed-secrets-key" }),
    );
    const keys: SealingKey[] = [];
    for (const s of [...list.items, ...(legacy ? [legacy] : [])]) {
      try {
        keys.push(keyFromSecret(s));
      } catch (e) {
        this.log.warn(
          { secret: s.metadata.name, err: (e as Error).message },
          "ignoring an unreadable sealing key Secret",
        );
      }
    }
    keys.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    this.#keys = keys;
  }

  /** Creates a key now (rotation). */
  async rotate(): Promise<SealingKey> {
    const key = await generateSealingKey({
      commonName: this.opts.commonName,
      ...(this.opts.bits ? { bits: this.opts.bits } : {}),
    });
    const created = await this.api.create<KeySecret>(
      resourcePath({ ...SECRETS, namespace: this.opts.namespace }),
      keyToSecret(key, this.opts.namespace),
    );
    const withMeta = {
      ...key,
      secretName: created.metadata.name,
      createdAt: created.metadata.creationTimestamp
        ? new Date(created.metadata.creationTimestamp)
        : key.createdAt,
    };
    this.#keys = [...this.#keys, withMeta];
    this.log.info({ secret: created.metadata.name, namespace: this.opts.namespace }, "new sealing key");
    return withMeta;
  }

  /** Loads the keys, makes one if needed, and schedules renewals. */
  async start(): Promise<void> {
    await this.load();
    const period = this.opts.renewPeriodMs;
    const newestAge = this.#keys.length ? Date.now() - this.newest.createdAt.getTime() : Infinity;
    if (!this.#keys.length || (period > 0 && newestAge >= period)) await this.rotate();
    this.#schedule();
  }

  #schedule(afterFailure = false): void {
    const period = this.opts.renewPeriodMs;
    if (period <= 0) return;
    const due = afterFailure ? 60_000 : Math.max(1000, this.newest.createdAt.getTime() + period - Date.now());
    // Timers overflow past 2^31-1 ms (about 24.8 days; the default period is 30 days): wake up
    // early and look again.
    if (due > MAX_TIMER_MS) {
      this.#timer = setTimeout(() => {
        this.#schedule();
      }, MAX_TIMER_MS);
      this.#timer.unref();
      return;
    }
    this.#timer = setTimeout(() => {
      this.rotate().then(
        () => {
          this.#schedule();
        },
        (e: unknown) => {
          this.log.error({ err: (e as Error).message }, "sealing key renewal failed; retrying in a minute");
          this.#schedule(true);
        },
      );
    }, due);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
  }
}
