/**
 * The fixed subset of differential cases whose ESO outputs are recorded
 * (`npm run differential -- --record`) and replayed against Custos in `npm test`
 * (test/e2e/differential-replay.test.ts) without ESO.
 */
import type { Observation } from "./observe.ts";

export const FIXTURE_FILE = "test/fixtures/differential/eso-v2.9.0.json";

export interface Fixture {
  eso: string;
  cases: Record<string, Observation>;
}

export const FIXTURE_TITLES: readonly string[] = [
  "vault2 property plain:(none)",
  "vault2 property plain:html",
  "vault2 property nested:(none)",
  "vault2 property nested:db",
  "vault2 property nested:list.2.name",
  "vault2 property nested:list.#",
  "vault2 property nested:big",
  "vault2 property nested:nul",
  "vault2 property nested:missing",
  "vault1 property nested:obj",
  "vault2 missing secret",
  "awssm property diff/nested:db",
  "awssm property diff/text:(none)",
  "ssm property /diff/json:n",
  "vault2 decodingStrategy Auto b64.plain",
  "vault2 decodingStrategy Base64URL b64.url",
  "vault2 decodingStrategy Base64 b64.unpadded",
  "vault2 decodingStrategy Auto b64.url",
  "vault2 dataFrom.extract unicode conversionStrategy Default",
  "policy find no match deletion=Delete",
  "rewrite with regexp and transform in one entry",
  "vault2 dataFrom.extract unicode conversionStrategy Unicode",
  "vault2 dataFrom.extract nested",
  "vault2 metadataPolicy Fetch plain:owner",
  "vault2 metadataPolicy Fetch plain:current_version",
  "vault2 find path find rewrite none",
  "vault2 find name ^find/app rewrite regexp $1_x",
  "vault2 find path find rewrite regexp all empty",
  "vault2 find path find rewrite regexp ${1}_x_${2}",
  "vault2 find tags env=prod rewrite transform upper",
  "template fromJson toYaml",
  "template fromYaml toYaml",
  "template dict toJson",
  "template certSANs",
  "template jwkPublicKeyPem",
  "template missing key",
  "template float",
  "template semver",
  "template templateFrom configMap KeysAndValues",
  "template templateFrom target Labels",
  "template mergePolicy Merge",
  "no template: ES labels and annotations copied",
  "policy creation=Merge deletion=(unset) existing=false",
  "policy creation=Merge deletion=(unset) existing=true",
  "policy creation=Orphan deletion=Delete existing=false",
  "policy creation=None deletion=Merge existing=false",
  "policy creation=(unset) deletion=Delete existing=true",
  "policy missing remote creation=Owner deletion=Delete",
  "duplicate secretKey deletion=(unset)",
  "duplicate secretKey deletion=Delete",
  "neither data nor dataFrom",
  "dataFrom with extract and find",
];
