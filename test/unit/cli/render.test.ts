/**
 * The pure parts of `custos render`: values files answered as a store would (reads, finds, not
 * found), the controller's pipeline and its messages (wrong property, missing remote secret,
 * template error, invalid spec, missing template source), what is printed (keys and sizes; values,
 * templated metadata and the data hash only with --show-values), the manifests accepted; and the
 * command as a process offline, with its exact output. Canary: no value without --show-values.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import type { ExternalSecret } from "../../../src/controllers/externalsecret/types.ts";
import { isCustosError } from "../../../src/util/errors.ts";
import { resultsFromValues, valuesFrom } from "../../../src/cli/render/values.ts";
import { renderExternalSecret } from "../../../src/cli/render/pipeline.ts";
import { formatRendered, type Rendered } from "../../../src/cli/render/output.ts";
import { collectTemplateSources, manifestSources, parseRenderInput } from "../../../src/cli/render/input.ts";

const CANARY = "canary-0f3a9c-value";
const exec = promisify(execFile);
const main = join(import.meta.dirname, "..", "..", "..", "src", "cli", "main.ts");

function es(spec: Record<string, unknown>, meta: Record<string, unknown> = {}): ExternalSecret {
  return {
    metadata: { name: "db", namespace: "app", ...meta },
    spec: { secretStoreRef: { name: "vault", kind: "SecretStore" }, ...spec },
  } as ExternalSecret;
}

const values = valuesFrom({
  "app/db": { username: "admin", password: CANARY },
  "app/api-key": "k-123456",
  "team/a": "one",
  "team/b": "two",
});

function renderWith(e: ExternalSecret): ReturnType<typeof renderExternalSecret> {
  return renderExternalSecret({
    es: e,
    results: resultsFromValues(e, values),
    templateSources: { configMaps: new Map(), secrets: new Map() },
    now: new Date(0),
  });
}

const data = (secretKey: string, key: string, property?: string): Record<string, unknown> => ({
  secretKey,
  remoteRef: { key, ...(property ? { property } : {}) },
});

test("values: properties of objects, whole strings, finds by path and name", () => {
  const r = renderWith(
    es({
      data: [data("password", "app/db", "password"), data("key", "app/api-key")],
      dataFrom: [{ find: { path: "team/", name: { regexp: "b$" } } }],
    }),
  );
  assert.ok(r.ok && r.secret);
  const decoded = Object.fromEntries(
    Object.entries(r.secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
  );
  assert.deepEqual(decoded, { password: CANARY, key: "k-123456", team_b: "two" });
});

test("failures carry the controller's messages", () => {
  const wrong = renderWith(es({ data: [data("p", "app/db", "passwd")] }));
  assert.deepEqual(wrong, { ok: false, message: `secret "app/db" has no property "passwd"` });
  const missing = renderWith(es({ data: [data("p", "app/nothing")] }));
  assert.deepEqual(missing, { ok: false, message: `remote secret "app/nothing" not found (for p)` });
  const template = renderWith(
    es({
      data: [data("p", "app/db", "password")],
      target: { template: { data: { x: "{{ .p | nosuch }}" } } },
    }),
  );
  assert.ok(!template.ok && template.message.startsWith("template "), JSON.stringify(template));
  assert.ok(!template.message.includes(CANARY));
  const invalid = renderWith(es({}, {}));
  assert.deepEqual(invalid, {
    ok: false,
    message: "invalid ExternalSecret: either data or dataFrom should be specified",
  });
  const tags = renderWith(es({ dataFrom: [{ find: { tags: { team: "a" } } }] }));
  assert.deepEqual(tags, {
    ok: false,
    message: "dataFrom.find by tags needs the store: a values file has no tags",
  });
});

test("a values file must be a map of strings or objects; a bad entry is named, its value never", () => {
  assert.throws(
    () => valuesFrom(["x"]),
    (e) => isCustosError(e, "CUSTOS_INVALID_SPEC"),
  );
  assert.throws(
    () => valuesFrom({ "app/list": [CANARY] }),
    (e: Error) => e.message === `values file: "app/list" must be a string or an object`,
  );
});

function rendered(e: ExternalSecret): Rendered {
  const r = renderWith(e);
  assert.ok(r.ok && r.secret, JSON.stringify(r));
  return { es: e, secret: r.secret };
}

test("printing: sizes by default; values, templated labels and the data hash only with --show-values", () => {
  const plain = rendered(
    es({ data: [data("password", "app/db", "password")] }, { labels: { team: "payments" } }),
  );
  const summary = formatRendered([plain], "summary", false);
  assert.equal(
    summary,
    `Secret app/db (type Opaque) from ExternalSecret app/db
  labels:
    reconcile.external-secrets.io/created-by  ${plain.secret.metadata.labels?.["reconcile.external-secrets.io/created-by"] ?? ""}
    reconcile.external-secrets.io/managed     true
    team                                      payments
  annotations:
    reconcile.external-secrets.io/data-hash  <hidden: 56 bytes>
  data: 1 key
    password  ${CANARY.length} bytes
`,
  );
  const templated = rendered(
    es({
      data: [data("password", "app/db", "password")],
      target: {
        template: { metadata: { labels: { hint: "{{ .password }}" } }, data: { dsn: "x:{{ .password }}" } },
      },
    }),
  );
  for (const format of ["summary", "yaml", "json"] as const) {
    for (const r of [plain, templated]) {
      const out = formatRendered([r], format, false);
      assert.ok(!out.includes(CANARY) && !out.includes(Buffer.from(CANARY).toString("base64")), format);
      assert.ok(
        !out.includes(r.secret.metadata.annotations?.["reconcile.external-secrets.io/data-hash"] ?? "?"),
      );
    }
    const shown = formatRendered([templated], format, true);
    assert.ok(shown.includes(CANARY) || shown.includes(Buffer.from(CANARY).toString("base64")), format);
  }
  const yaml = parse(formatRendered([templated], "yaml", false)) as {
    metadata: { labels: Record<string, string>; ownerReferences: Record<string, unknown>[] };
    data: Record<string, string>;
  };
  assert.equal(yaml.metadata.labels.hint, `<hidden: ${CANARY.length} bytes>`);
  assert.equal(yaml.data.dsn, `<hidden: ${CANARY.length + 2} bytes>`);
  assert.equal(yaml.metadata.ownerReferences[0]?.uid, undefined, "no empty uid");
});

test("manifests: ExternalSecrets with the ConfigMaps their templates use; KES/VSO refused by name", async () => {
  const input = parseRenderInput(
    `apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: db}
spec: {}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: tpl}
data: {config: "user={{ .username }}"}
`,
    "in.yaml",
    "team",
  );
  assert.equal(input.externalSecrets[0]?.metadata.namespace, "team");
  const e = es(
    { target: { template: { templateFrom: [{ configMap: { name: "tpl", items: [{ key: "config" }] } }] } } },
    { namespace: "team" },
  );
  const sources = await collectTemplateSources(e, manifestSources(input, e));
  assert.deepEqual(sources.configMaps.get("tpl"), { config: "user={{ .username }}" });
  const other = es({ target: { template: { templateFrom: [{ configMap: { name: "nope" } }] } } });
  await assert.rejects(collectTemplateSources(other, manifestSources(input, other)), {
    message: `template ConfigMap "nope" not found`,
  });
  assert.throws(
    () =>
      parseRenderInput(
        "apiVersion: secrets.hashicorp.com/v1beta1\nkind: VaultStaticSecret\nmetadata: {name: v}\n",
        "in.yaml",
        "x",
      ),
    {
      message:
        'in.yaml: VaultStaticSecret "v" cannot be rendered: custos render takes ExternalSecrets (external-secrets.io), with the ConfigMaps and Secrets their templates use; KES and VSO objects are not supported yet',
    },
  );
});

test("custos render --values as a process: exact output, exit codes, no value without --show-values", async () => {
  const dir = mkdtempSync(join(tmpdir(), "custos-render-unit-"));
  try {
    const file = join(dir, "es.yaml");
    writeFileSync(
      file,
      `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: db, namespace: app}
spec:
  secretStoreRef: {name: vault}
  target: {name: db-credentials}
  data:
    - {secretKey: password, remoteRef: {key: app/db, property: password}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: broken, namespace: app}
spec:
  secretStoreRef: {name: vault}
  data:
    - {secretKey: password, remoteRef: {key: app/db, property: passwd}}
`,
    );
    const valuesFile = join(dir, "values.json");
    writeFileSync(valuesFile, JSON.stringify({ "app/db": { password: CANARY } }));
    const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      exec(process.execPath, [
        "--import",
        "tsx",
        main,
        "render",
        "-f",
        file,
        "--values",
        valuesFile,
        ...args,
      ]).then(
        (r) => ({ code: 0, ...r }),
        (e: unknown) => {
          const f = e as { code: number; stdout: string; stderr: string };
          return { code: f.code, stdout: f.stdout, stderr: f.stderr };
        },
      );
    const r = await run([]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `custos: ExternalSecret app/broken: secret "app/db" has no property "passwd"\n`);
    assert.match(r.stdout, /^Secret app\/db-credentials \(type Opaque\) from ExternalSecret app\/db\n/);
    assert.match(r.stdout, new RegExp(`\\n    password  ${CANARY.length} bytes\\n$`));
    for (const args of [[], ["-o", "yaml"], ["-o", "json"]]) {
      const out = await run(args);
      assert.ok(!`${out.stdout}${out.stderr}`.includes(CANARY), args.join(" "));
    }
    const shown = await run(["--show-values"]);
    assert.match(shown.stdout, new RegExp(`password  ${CANARY.length} bytes  "${CANARY}"`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
