/**
 * Byte compatibility with the real kubeseal (built from its Go module): kubeseal seals with our
 * certificate and we unseal; we seal and kubeseal --recovery-unseal opens it with our private key.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";
import { ensureTool } from "../env/index.ts";
import { generateSealingKey, keyToSecret, publicKeyOf, type SealingKey } from "../../src/sealing/keys.ts";
import {
  sealSecret,
  unsealToSecret,
  unsealValues,
  type SealedSecret,
} from "../../src/sealing/sealedsecret.ts";

const run = promisify(execFile);
let kubeseal: string;
let dir: string;
let key: SealingKey;
let certFile: string;
let keyFile: string;

before(async () => {
  kubeseal = join(await ensureTool("kubeseal"), "bin", "kubeseal");
  dir = mkdtempSync(join(tmpdir(), "custos-kubeseal-"));
  key = await generateSealingKey();
  certFile = join(dir, "cert.pem");
  keyFile = join(dir, "key.pem");
  writeFileSync(certFile, key.certificatePem);
  writeFileSync(keyFile, key.privateKey.export({ type: "pkcs1", format: "pem" }));
  writeFileSync(
    join(dir, "kubeconfig"),
    "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

const secret = (name = "db", namespace = "app") => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace },
  type: "Opaque",
  data: {
    username: Buffer.from("admin").toString("base64"),
    password: Buffer.from("kubeseal-compat-value").toString("base64"),
  },
});

async function kubesealRun(args: string[], input: string): Promise<string> {
  const p = run(kubeseal, args, { env: { ...process.env, KUBECONFIG: join(dir, "kubeconfig") } });
  // kubeseal --raw never reads stdin and may exit before it is written: EPIPE is not a failure
  p.child.stdin?.on("error", () => undefined);
  p.child.stdin?.end(input);
  return (await p).stdout;
}

for (const scope of ["strict", "namespace-wide", "cluster-wide"] as const) {
  test(`kubeseal --cert (${scope}) -> Custos unseals`, async () => {
    const out = await kubesealRun(
      ["--cert", certFile, "--format", "yaml", "--scope", scope],
      stringify(secret()),
    );
    const ss = parse(out) as SealedSecret;
    assert.equal(ss.kind, "SealedSecret");
    const plain = unsealToSecret({ ...ss, metadata: { ...ss.metadata, uid: "u" } }, [key.privateKey]);
    assert.equal(Buffer.from(plain.data!.password!, "base64").toString(), "kubeseal-compat-value");
    if (scope === "strict") {
      assert.throws(
        () => unsealValues({ ...ss, metadata: { ...ss.metadata, name: "other" } }, [key.privateKey]),
        /no key could decrypt/,
      );
      assert.throws(
        () => unsealValues({ ...ss, metadata: { ...ss.metadata, namespace: "other" } }, [key.privateKey]),
        /no key could decrypt/,
      );
    }
  });

  test(`Custos seals (${scope}) -> kubeseal --recovery-unseal opens it`, async () => {
    const ss = sealSecret(secret(), publicKeyOf(key), scope);
    const out = await kubesealRun(
      ["--recovery-unseal", "--recovery-private-key", keyFile, "-o", "yaml"],
      stringify(ss),
    );
    const s = parse(out) as { data: Record<string, string>; metadata: { name: string } };
    assert.equal(Buffer.from(s.data.password!, "base64").toString(), "kubeseal-compat-value");
    assert.equal(s.metadata.name, "db");
  });
}

test("a key Secret in Bitnami's format is accepted by kubeseal's recovery", async () => {
  const keySecretFile = join(dir, "key-secret.yaml");
  writeFileSync(
    keySecretFile,
    stringify({
      ...keyToSecret(key, "kube-system"),
      metadata: {
        name: "sealed-secrets-keyabcde",
        namespace: "kube-system",
        labels: { "sealedsecrets.bitnami.com/sealed-secrets-key": "active" },
      },
    }),
  );
  const ss = sealSecret(secret("x", "team-y"), publicKeyOf(key), "strict");
  const out = await kubesealRun(
    ["--recovery-unseal", "--recovery-private-key", keySecretFile, "-o", "json"],
    stringify(ss),
  );
  assert.equal(
    Buffer.from((JSON.parse(out) as { data: Record<string, string> }).data.username!, "base64").toString(),
    "admin",
  );
});

test("kubeseal --raw output unseals here", async () => {
  const valueFile = join(dir, "value.txt");
  writeFileSync(valueFile, "raw-value-123");
  const out = await kubesealRun(
    ["--cert", certFile, "--raw", "--name", "db", "--namespace", "app", `--from-file=${valueFile}`],
    "",
  );
  const values = unsealValues(
    {
      apiVersion: "bitnami.com/v1alpha1",
      kind: "SealedSecret",
      metadata: { name: "db", namespace: "app" },
      spec: { encryptedData: { k: out.trim() } },
    },
    [key.privateKey],
  );
  assert.equal(values.k!.toString(), "raw-value-123");
});
