/**
 * KES's lodash templates in the WebAssembly sandbox against what KES's own templating (lodash
 * 4.17.21 + js-yaml 3.14 in Node, tools/kes-template-golden/golden.cjs) rendered for the corpus.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { renderInSandbox, cachedRenderer } from "../../../src/template/lodash/sandbox.ts";
import { desiredSecret, normalize, renderTemplate } from "../../../src/controllers/kes/mapping.ts";
import type { KesExternalSecret } from "../../../src/controllers/kes/api.ts";
import { isCustosError } from "../../../src/util/errors.ts";

interface Case {
  name: string;
  template: Record<string, unknown>;
  data: Record<string, string>;
}
const fixture = (f: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../fixtures/kes-template/${f}`, import.meta.url), "utf8"));
const cases = fixture("cases.json") as Case[];
const { golden } = fixture("golden.json") as { golden: Record<string, unknown> };

for (const c of cases)
  test(`corpus: ${c.name} renders as KES rendered it`, async () => {
    assert.deepEqual(await renderInSandbox(c.template, c.data), golden[c.name]);
  });

test("the corpus and its golden file list the same cases", () => {
  assert.deepEqual(cases.map((c) => c.name).sort(), Object.keys(golden).sort());
});

const es: KesExternalSecret = {
  metadata: { name: "db", namespace: "team-a", uid: "u1" },
  spec: {
    backendType: "vault",
    template: {
      type: "kubernetes.io/basic-auth",
      metadata: { labels: { user: "${data.user}" }, annotations: { fixed: "yes" } },
      stringData: { url: "postgres://<%= data.user %>:<%= data.password %>@db" },
      data: { b64: "<%= Buffer.from(data.user).toString('base64') %>" },
    },
  },
};

test("renderTemplate: values reach the template as UTF-8 text; desiredSecret uses the rendered template", async () => {
  const fetched = { user: Buffer.from("ädmin"), password: Buffer.from("pw") };
  const spec = await renderTemplate(normalize(es), fetched, (t, d) => renderInSandbox(t, d));
  const s = desiredSecret(es, spec, fetched);
  assert.equal(s.type, "kubernetes.io/basic-auth");
  assert.deepEqual({ ...s.labels }, { user: "ädmin" });
  assert.deepEqual({ ...s.annotations }, { fixed: "yes" });
  assert.equal(Buffer.from(s.data.url ?? []).toString(), "postgres://ädmin:pw@db");
  assert.equal(Buffer.from(s.data.b64 ?? []).toString(), "ädmin");
  assert.equal(Buffer.from(s.data.user ?? []).toString(), "ädmin");
});

test("renderTemplate: a template without lodash syntax never reaches the renderer", async () => {
  let calls = 0;
  const spec = normalize({
    metadata: { name: "x" },
    spec: {
      backendType: "vault",
      template: { stringData: { a: "plain" }, metadata: { labels: { b: "$x" } } },
    },
  });
  const out = await renderTemplate(spec, { a: Buffer.from("v") }, (t) => {
    calls++;
    return Promise.resolve(t);
  });
  assert.equal(calls, 0);
  assert.equal(out, spec);
});

test("cachedRenderer: the same template and data render once; a change renders again; failures are kept", async () => {
  const render = cachedRenderer();
  const t = { stringData: { a: "<%= data.a %>" } };
  const one = await render(t, { a: "1" });
  (one.stringData as Record<string, string>).a = "mutated by a caller";
  assert.deepEqual(await render(t, { a: "1" }), { stringData: { a: "1" } });
  assert.deepEqual(await render(t, { a: "2" }), { stringData: { a: "2" } });
  const bad = { stringData: { a: "<%= process.pid %>" } };
  for (let i = 0; i < 2; i++)
    await assert.rejects(render(bad, {}), (e) => isCustosError(e, "CUSTOS_TEMPLATE"));
});

test("template errors name where, and never the value", async () => {
  const secret = "do-not-print-me";
  for (const text of [
    "<%= JSON.parse(data.s) %>",
    "<%= yaml.safeLoad(data.s + ': [') %>",
    "<% throw data.s %>",
    "<% throw new Error(data.s) %>",
  ])
    await assert.rejects(
      renderInSandbox({ stringData: { k: text } }, { s: secret }),
      (e) =>
        isCustosError(e, "CUSTOS_TEMPLATE") &&
        e.message.startsWith("template.stringData.k: ") &&
        !e.message.includes(secret),
    );
});
