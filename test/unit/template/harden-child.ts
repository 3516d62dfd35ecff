/**
 * Run by harden.test.ts in a child process: loads the operator's modules, freezes the intrinsics,
 * then exercises templates and the libraries, and prints what it observed as JSON.
 */
import "../../../src/manager/index.ts";
import { renderEsoTemplate } from "../../../src/template/index.ts";
import { hardenIntrinsics, intrinsicsHardened } from "../../../src/util/harden.ts";
import { CustosError } from "../../../src/util/errors.ts";
import { parse, stringify } from "yaml";
import pino from "pino";
import { Writable } from "node:stream";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { request } from "undici";

const frozen = hardenIntrinsics();
const results: Record<string, unknown> = { frozen, hardened: intrinsicsHardened() };

const attempt = (name: string, fn: () => void): void => {
  try {
    fn();
    results[name] = "no error";
  } catch (e) {
    results[name] = (e as Error).name;
  }
};
// direct pollution fails loudly (this module is strict: an ES module)
attempt("assignObjectPrototype", () => {
  (Object.prototype as Record<string, unknown>).polluted = "yes";
});
attempt("assignProtoViaLiteral", () => {
  // the classic gadget: obj["__proto__"][key] = value
  const o: Record<string, Record<string, unknown>> = {};
  const k = "__proto__";
  o[k]!.polluted = "yes";
});
attempt("defineOnArrayPrototype", () => {
  Object.defineProperty(Array.prototype, "polluted", { value: 1 });
});
attempt("replaceJsonParse", () => {
  (JSON as { parse: unknown }).parse = () => ({});
});
// the override mistake is tamed: instances may still set these
class MyError extends Error {
  constructor() {
    super("m");
    this.name = "MyError";
  }
}
function Legacy(this: Record<string, unknown>): void {
  this.x = 1;
}
attempt("instanceOverrides", () => {
  const e = new MyError();
  if (e.name !== "MyError") throw new Error("name not set");
  const o: Record<string, unknown> = {};
  o.toString = () => "custom";
  if ((o.toString as () => string)() !== "custom") throw new Error("toString not set");
  (Legacy.prototype as Record<string, unknown>).toString = () => "legacy";
  o.constructor = Legacy;
});
attempt("custosError", () => {
  const e = new CustosError("CUSTOS_TEMPLATE", "m");
  if (e.name !== "CustosError") throw new Error("name");
});
attempt("libraries", () => {
  if (stringify(parse("a: [1, 2]")) !== "a:\n  - 1\n  - 2\n") throw new Error("yaml");
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb): void {
      lines.push(chunk.toString());
      cb();
    },
  });
  pino(sink).info({ a: 1 }, "hello");
  if (!lines[0]?.includes("hello")) throw new Error("pino");
});
attempt("templates", () => {
  const out = renderEsoTemplate(
    "t",
    '{{ $d := dict "a" (list 1 2) }}{{ $_ := set $d "b" (.x | upper) }}{{ toJson $d }}{{ range $i := 3 }}{{ $i }}{{ end }}{{ .x | b64enc | sha256sum | trunc 8 }}{{ printf "%05d" 42 }}{{ "a,b" | splitList "," | join "-" }}',
    { x: "v" },
  );
  results.templateOutput = out;
});
attempt("templatePollution", () => {
  renderEsoTemplate("t", '{{ $p := get (dict) "__proto__" }}{{ $_ := set $p "polluted" "yes" }}', {});
});
results.prototypeClean =
  Object.getOwnPropertyNames(Object.prototype).every((k) => k !== "polluted") &&
  ({} as Record<string, unknown>).polluted === undefined &&
  Object.isFrozen(Object.prototype) &&
  Object.isFrozen(Array.prototype) &&
  Object.isFrozen(Function.prototype);
// promises and async work as usual, and libraries that load modules lazily (the AWS SDK's
// credential chain, its serializers and retry logic; undici) work after the freeze
void (async () => {
  results.async = await Promise.all([1, 2].map(async (x) => Promise.resolve(x * 2)));
  process.env.AWS_ACCESS_KEY_ID = "AKIDEXAMPLE";
  process.env.AWS_SECRET_ACCESS_KEY = "example-secret-key";
  const creds = await fromNodeProviderChain()();
  results.awsCredentials = creds.accessKeyId === "AKIDEXAMPLE";
  const sm = new SecretsManagerClient({
    region: "us-east-1",
    endpoint: "http://127.0.0.1:9",
    maxAttempts: 1,
    credentials: creds,
  });
  results.awsCall = await sm.send(new GetSecretValueCommand({ SecretId: "x" })).then(
    () => "answered",
    (e: unknown) => (e instanceof Error && !(e instanceof TypeError) ? "network error" : String(e)),
  );
  results.undici = await request("http://127.0.0.1:9").then(
    () => "answered",
    (e: unknown) => (e instanceof Error && !(e instanceof TypeError) ? "network error" : String(e)),
  );
  process.stdout.write(JSON.stringify(results));
})();
