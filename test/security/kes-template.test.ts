/**
 * Attack class: hostile KES templates. KES ran `spec.template` through lodash's `template` inside
 * its own process, so a tenant who could write a KES ExternalSecret ran code with the controller's
 * Node globals: `process.env` (its cloud credentials, its token), `require('child_process')`,
 * a `while (true)` that stopped every sync, an allocation loop that killed the pod.
 * What the tenant observes now: the same templates run in QuickJS compiled to WebAssembly with no
 * host objects, in a fresh runtime per render with a memory, stack and time budget; each hostile
 * template fails with a typed error (CUSTOS_TEMPLATE, or CUSTOS_TEMPLATE_BUDGET when a budget
 * stopped it), and the next, innocent template renders as before.
 * No timed assertions: a budget is shown by the error code, not by a clock.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { renderInSandbox, DEFAULT_LIMITS, type SandboxLimits } from "../../src/template/lodash/sandbox.ts";
import { isCustosError } from "../../src/util/errors.ts";
import { OffThreadRenderer } from "../../src/template/lodash/off-thread.ts";

// smaller budgets than the operator's default, so the file runs quickly on a shared machine
const limits: SandboxLimits = { ...DEFAULT_LIMITS, timeMs: 500, memoryBytes: 16 * 1024 * 1024 };
const data = { password: "s3cr3t-value" };
const render = (text: string): Promise<Record<string, unknown>> =>
  renderInSandbox({ stringData: { k: text } }, data, limits);

const escapes: [string, string][] = [
  ["process", "<%= process.env.HOME %>"],
  ["require", "<%= require('child_process').execSync('id') %>"],
  ["globalThis", "<%= Object.keys(globalThis) %>"],
  ["global", "<%= global.process %>"],
  ["constructor escape", "<%= this.constructor.constructor('return process')() %>"],
  ["function constructor escape", "<%= (() => 0).constructor('return process')().pid %>"],
  ["data's constructor", "<%= data.constructor.constructor('return require')()('fs') %>"],
  ["yaml's function type", "<%= yaml.load('!!js/function \"function () { return process }\"')().pid %>"],
  ["eval", "<%= eval('process') %>"],
  ["Reflect and Proxy", "<%= Reflect.ownKeys(Proxy) %>"],
  ["a host Buffer", "<%= Buffer.alloc(10) %>"],
  ["an engine module", "<%= std.getenv('HOME') + os.exec(['id']) %>"],
];
for (const [what, text] of escapes)
  test(`reaching the host through ${what} fails with CUSTOS_TEMPLATE and names no value`, async () => {
    await assert.rejects(
      render(text),
      (e) => isCustosError(e, "CUSTOS_TEMPLATE") && !e.message.includes(data.password),
    );
  });

const exhaustion: [string, string][] = [
  ["an endless loop", "<% while (true) {} %>"],
  ["an endless loop that catches", "<% for (;;) { try { while (true) {} } catch (e) {} } %>"],
  ["a memory bomb (array)", "<% const a = []; for (;;) a.push({ n: a.length, s: 'x'.repeat(64) }) %>"],
  ["a memory bomb (string doubling)", "<% let s = data.password; for (;;) s += s %>"],
  ["a memory bomb (repeat)", "<%= 'x'.repeat(1e8) %>"],
  ["unbounded recursion", "<% const f = (n) => f(n + 1) + 1; f(0) %>"],
  ["a catastrophic regular expression", "<%= /^(a+)+$/.test('a'.repeat(40) + 'b') %>"],
];
for (const [what, text] of exhaustion)
  test(`${what} is stopped by its budget (CUSTOS_TEMPLATE_BUDGET)`, async () => {
    await assert.rejects(
      render(text),
      (e) => isCustosError(e, "CUSTOS_TEMPLATE_BUDGET") && !e.message.includes(data.password),
    );
  });

test("a render cannot change what the next one sees (fresh runtime per render)", async () => {
  await render(
    "<% Object.prototype.polluted = 'yes'; Array.prototype.join = () => 'owned'; JSON.stringify = () => 'x' %>",
  );
  assert.deepEqual(
    await render("<%= ({}).polluted %>|<%= [1, 2].join('-') %>|<%= JSON.stringify({ a: 1 }) %>"),
    {
      stringData: { k: '|1-2|{"a":1}' },
    },
  );
  // nor Object.prototype of the operator itself
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("after every hostile template, an innocent one renders as before", async () => {
  for (const [, text] of [...escapes, ...exhaustion]) await render(text).catch(() => undefined);
  assert.deepEqual(await render("<%= data.password.length %> ${data.password.slice(0, 2)}"), {
    stringData: { k: "12 s3" },
  });
});

test("a template that overruns its budget does not hold the operator's event loop: renders run on a worker thread", async () => {
  const sandbox = new OffThreadRenderer();
  try {
    // ticks of this thread while a hostile render runs: with an in-thread render there would be
    // none (the render returns only after its budget, holding the loop all the while)
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    await assert.rejects(sandbox.render({ stringData: { k: "<% while (true) {} %>" } }, data, limits), (e) =>
      isCustosError(e, "CUSTOS_TEMPLATE_BUDGET"),
    );
    clearInterval(timer);
    const elapsed = Date.now() - started;
    assert.ok(ticks >= 1, `the event loop ticked ${ticks} times in ${elapsed} ms`);
    // the worker survives a budget error and renders the next template
    assert.deepEqual(
      await sandbox.render({ stringData: { k: "<%= data.password.length %>" } }, data, limits),
      {
        stringData: { k: String(data.password.length) },
      },
    );
    // errors cross the thread boundary typed and value-free
    await assert.rejects(
      sandbox.render({ stringData: { k: "<%= JSON.parse(data.password) %>" } }, data, limits),
      (e) => isCustosError(e, "CUSTOS_TEMPLATE") && !e.message.includes(data.password),
    );
  } finally {
    await sandbox.close();
  }
});
