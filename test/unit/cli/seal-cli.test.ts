/**
 * `custos seal` as a user runs it (a separate process, files and stdin): sealing with a
 * certificate file, JSON output, --raw, --merge-into keeping the file's comments, recovery with
 * private keys, and a clear refusal of an expired certificate. No servers needed.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";
import { generateSealingKey, keyToSecret, type SealingKey } from "../../../src/sealing/keys.ts";
import { unsealValues, type SealedSecret } from "../../../src/sealing/sealedsecret.ts";

const exec = promisify(execFile);
const main = join(import.meta.dirname, "..", "..", "..", "src", "cli", "main.ts");
let dir: string;
let key: SealingKey;
let certFile: string;

async function custos(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const p = exec(process.execPath, ["--import", "tsx", main, "seal", ...args]);
  p.child.stdin?.end(input ?? "");
  return p;
}
const secret = (data: Record<string, string>, name = "db", namespace = "app"): string =>
  stringify({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, stringData: data });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custos-seal-cli-"));
  key = await generateSealingKey({ bits: 2048 });
  certFile = join(dir, "cert.pem");
  writeFileSync(certFile, key.certificatePem);
  writeFileSync(join(dir, "key.yaml"), stringify(keyToSecret(key, "kube-system")));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("seal with a certificate file (YAML and JSON out); recovery-unseal with the private key gives the Secret back", async () => {
  const { stdout } = await custos(["--cert", certFile], secret({ password: "s3cret" }));
  const sealed = parse(stdout) as SealedSecret;
  assert.equal(sealed.kind, "SealedSecret");
  assert.ok(!stdout.includes("s3cret"));
  assert.equal(unsealValues(sealed, [key.privateKey]).password?.toString(), "s3cret");
  const json = JSON.parse(
    (await custos(["--cert", certFile, "-o", "json"], secret({ a: "b" }))).stdout,
  ) as SealedSecret;
  assert.equal(json.apiVersion, "bitnami.com/v1alpha1");
  const back = await custos(["--recovery-unseal", "--recovery-private-key", join(dir, "key.yaml")], stdout);
  const s = parse(back.stdout) as { data: Record<string, string> };
  assert.equal(Buffer.from(s.data.password!, "base64").toString(), "s3cret");
});

test("--raw seals one value for a name and namespace", async () => {
  writeFileSync(join(dir, "value"), "raw-value");
  const { stdout } = await custos([
    "--cert",
    certFile,
    "--raw",
    "--name",
    "db",
    "--namespace",
    "app",
    "--from-file",
    join(dir, "value"),
  ]);
  const sealed: SealedSecret = {
    apiVersion: "bitnami.com/v1alpha1",
    kind: "SealedSecret",
    metadata: { name: "db", namespace: "app" },
    spec: { encryptedData: { v: stdout.trim() } },
  };
  assert.equal(unsealValues(sealed, [key.privateKey]).v?.toString(), "raw-value");
});

test("--merge-into adds keys to a SealedSecret file and keeps its comments and other keys", async () => {
  const first = (await custos(["--cert", certFile], secret({ a: "1" }))).stdout;
  const file = join(dir, "sealed.yaml");
  writeFileSync(file, `# owned by team payments\n${first}`);
  await custos(["--cert", certFile, "--merge-into", file], secret({ b: "2" }));
  const text = readFileSync(file, "utf8");
  assert.match(text, /^# owned by team payments/);
  const merged = unsealValues(parse(text) as SealedSecret, [key.privateKey]);
  assert.deepEqual(Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, v.toString()])), {
    a: "1",
    b: "2",
  });
});

test("an expired certificate is refused with a clear message, and nothing is printed", async () => {
  const old = await generateSealingKey({ bits: 2048, now: new Date("2000-01-01T00:00:00Z") });
  const oldFile = join(dir, "old.pem");
  writeFileSync(oldFile, old.certificatePem);
  await assert.rejects(
    custos(["--cert", oldFile], secret({ a: "1" })),
    (e: { stderr: string; stdout: string }) => {
      assert.match(e.stderr, /expired/);
      assert.equal(e.stdout, "");
      return true;
    },
  );
});
