/**
 * kubeseal's HTTP API (POST /v1/verify, POST /v1/rotate), answered as Bitnami's controller does
 * (200 / 409 "cannot decrypt"; kubeseal tells only those apart), with what an unauthenticated
 * endpoint in a shared cluster needs:
 * - every answer is a fixed text: nothing decrypted, parsed or quoted from the request reaches it
 *   (a parse error of decrypted legacy data was a decryption oracle);
 * - bounded work: body size (413) and value count (400) limits, a cap on requests in progress
 *   (429), decryption on the thread pool and re-encryption in slices that yield to the event loop,
 *   so a burst of requests never holds up the controllers or the Lease renewal;
 * - decrypted values live only for the request (a redaction scope of their own).
 */
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KeyObject } from "node:crypto";
import { HttpEndpoints, HttpError, readBody, text } from "../../manager/http.ts";
import { hybridEncrypt, scopeLabel, scopeOf } from "../../sealing/crypto.ts";
import { unsealValuesAsync, type SealedSecret } from "../../sealing/sealedsecret.ts";
import { isCustosError } from "../../util/errors.ts";
import { redactor } from "../../util/redact.ts";

export interface SealingApiLimits {
  /** Largest request body (bytes); a SealedSecret object is at most ~1.5 MB in etcd. */
  maxBodyBytes: number;
  /** Most encrypted values in one request. */
  maxEntries: number;
  /** verify/rotate requests processed at a time; more get 429. */
  maxInFlight: number;
}

export const SEALING_API_LIMITS: SealingApiLimits = {
  maxBodyBytes: 2 * 1024 * 1024,
  maxEntries: 1024,
  maxInFlight: 4,
};

/** What the API needs of the keyring. */
export interface SealingKeys {
  readonly privateKeys: KeyObject[];
  newestPublicKey(): KeyObject;
}

/** Fixed answers: kubeseal shows the text, so it says what to do, never what was inside. */
export const ANSWERS = {
  cannotDecrypt: "cannot decrypt this SealedSecret with the controller's keys",
  notSealedSecret: "the request body is not a SealedSecret in JSON",
  busy: "too many sealing requests in progress; retry later",
} as const;

const RESEAL_SLICE = 16; // RSA public operations between yields (~0.1 ms each at 4096 bits)

export function mountSealingApi(
  http: HttpEndpoints,
  keys: SealingKeys,
  limits: SealingApiLimits = SEALING_API_LIMITS,
): void {
  let inFlight = 0;
  const guarded =
    (handler: (ss: SealedSecret, res: ServerResponse) => Promise<void>) =>
    async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      if (inFlight >= limits.maxInFlight) {
        req.resume(); // drain, unread
        res.setHeader("retry-after", "1");
        text(res, 429, ANSWERS.busy);
        return;
      }
      inFlight++;
      try {
        const ss = parseSealedSecret(await readBody(req, limits.maxBodyBytes));
        if (Object.keys(ss.spec.encryptedData ?? {}).length > limits.maxEntries)
          throw new HttpError(400, `more than ${limits.maxEntries} encrypted values in one request`);
        await redactor.scoped(() => handler(ss, res));
      } catch (e) {
        if (e instanceof HttpError) text(res, e.status, e.message);
        else if (isCustosError(e, "CUSTOS_UNSEAL_FAILED")) text(res, 409, ANSWERS.cannotDecrypt);
        else throw e; // the server answers 500 with a fixed text
      } finally {
        inFlight--;
      }
    };

  http.route(
    "POST /v1/verify",
    guarded(async (ss, res) => {
      await unsealValuesAsync(ss, keys.privateKeys, { maxEntries: limits.maxEntries });
      text(res, 200, "");
    }),
  );

  http.route(
    "POST /v1/rotate",
    guarded(async (ss, res) => {
      // Values only, never the template: rendering it here would be another oracle (as Bitnami's fix).
      const values = await unsealValuesAsync(ss, keys.privateKeys, { maxEntries: limits.maxEntries });
      const label = scopeLabel(
        scopeOf(ss.metadata.annotations),
        ss.metadata.namespace ?? "",
        ss.metadata.name ?? "",
      );
      const publicKey = keys.newestPublicKey();
      const encryptedData: Record<string, string> = {};
      let n = 0;
      for (const k of Object.keys(values).sort()) {
        encryptedData[k] = hybridEncrypt(publicKey, values[k]!, label).toString("base64");
        if (++n % RESEAL_SLICE === 0) await yieldToLoop();
      }
      // legacy spec.data is folded into encryptedData, as the Secret it unseals to is the same
      const spec = { ...ss.spec };
      delete spec.data;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ...ss, spec: { ...spec, encryptedData } }));
    }),
  );
}

/** The request as a SealedSecret, or a 400 with a fixed text (never the parser's message). */
export function parseSealedSecret(body: Buffer): SealedSecret {
  let v: unknown;
  try {
    v = JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, ANSWERS.notSealedSecret);
  }
  const obj = v as { kind?: unknown; metadata?: unknown; spec?: unknown } | null;
  const isMap = (x: unknown): boolean => typeof x === "object" && x !== null && !Array.isArray(x);
  if (
    !isMap(obj) ||
    !isMap(obj!.spec) ||
    (obj!.metadata !== undefined && !isMap(obj!.metadata)) ||
    ((obj!.spec as { encryptedData?: unknown }).encryptedData !== undefined &&
      !isMap((obj!.spec as { encryptedData?: unknown }).encryptedData)) ||
    (obj!.kind !== undefined && obj!.kind !== "SealedSecret")
  )
    throw new HttpError(400, ANSWERS.notSealedSecret);
  return { ...(obj as SealedSecret), metadata: (obj!.metadata ?? {}) as SealedSecret["metadata"] };
}
