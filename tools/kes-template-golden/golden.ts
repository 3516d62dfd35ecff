/**
 * Renders test/fixtures/kes-template/cases.json the way KES 8.5.5 did (lib/utils.js: lodash's
 * template with { imports: { yaml }, variable: 'data' } on every non-empty string of the template
 * object, plain objects recursed, arrays kept), with the libraries KES ran (lodash 4.17.21,
 * js-yaml 3.14) and Node's globals (Buffer). A test tool only: the operator never runs template
 * text in Node (it uses src/template/lodash/sandbox.ts).
 *   npx tsx tools/kes-template-golden/golden.ts > test/fixtures/kes-template/golden.json
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
type Compiled = (data: Record<string, string>) => string;
const template = require("lodash/template") as (text: string, options: object) => Compiled;
const yaml = require("js-yaml-3") as object;
const version = (pkg: string): string => (require(`${pkg}/package.json`) as { version: string }).version;

const compile = (text: string, data: Record<string, string>): string =>
  template(text, { imports: { yaml }, variable: "data" })(data);
const walk = (object: Record<string, unknown>, data: Record<string, string>): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(object)) {
    if (v && typeof v === "string") out[k] = compile(v, data);
    else if (v && typeof v === "object" && !Array.isArray(v))
      out[k] = walk(v as Record<string, unknown>, data);
    else out[k] = v;
  }
  return out;
};

interface Case {
  name: string;
  template: Record<string, unknown>;
  data: Record<string, string>;
}
const cases = JSON.parse(
  readFileSync(new URL("../../test/fixtures/kes-template/cases.json", import.meta.url), "utf8"),
) as Case[];
const golden: Record<string, unknown> = {};
for (const c of cases) golden[c.name] = walk(c.template, c.data);
process.stdout.write(
  JSON.stringify({ lodash: version("lodash"), "js-yaml": version("js-yaml-3"), golden }, null, 2) + "\n",
);
