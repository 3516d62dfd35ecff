/**
 * The VSO outputs recorded by `npm run differential:vso -- --record` (every case of the table)
 * and replayed against Custos in `npm test` (test/e2e/vso-differential-replay.test.ts) without VSO.
 */
import type { VsoObservation } from "./vso-observe.ts";

export const VSO_FIXTURE_FILE = "test/fixtures/differential/vso-v1.4.1.json";

export interface VsoFixture {
  vso: string;
  cases: Record<string, VsoObservation>;
}
