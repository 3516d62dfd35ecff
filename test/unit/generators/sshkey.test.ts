import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sshKey } from "../../../src/generators/sshkey.ts";
import { isCustosError } from "../../../src/util/errors.ts";

let keygen = true;
try {
  execFileSync("ssh-keygen", ["-?"], { stdio: "ignore" });
} catch (e) {
  keygen = (e as { status?: number | null }).status != null; // it exists (usage exits non-zero)
}

for (const spec of [
  { keyType: "ed25519", comment: "me@host" },
  { keyType: "rsa" },
  { keyType: "rsa", keySize: 3072, comment: "c" },
  { keyType: "ecdsa" },
  { keyType: "ecdsa", keySize: 384 },
  { keyType: "ecdsa", keySize: 521 },
]) {
  test(
    `SSHKey ${JSON.stringify(spec)}: OpenSSH reads the private key and derives the same public key`,
    { skip: !keygen && "no ssh-keygen" },
    () => {
      const k = sshKey(spec);
      assert.match(
        k.privateKey,
        /^-----BEGIN OPENSSH PRIVATE KEY-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END OPENSSH PRIVATE KEY-----\n$/,
      );
      assert.ok(k.publicKey.endsWith(spec.comment ? ` ${spec.comment}\n` : "\n"));
      const dir = mkdtempSync(join(tmpdir(), "sshkey-"));
      try {
        writeFileSync(join(dir, "k"), k.privateKey, { mode: 0o600 });
        const derived = execFileSync("ssh-keygen", ["-y", "-f", join(dir, "k")], { encoding: "utf8" });
        const [type, body] = k.publicKey.split(" ");
        assert.equal(derived.split(" ").slice(0, 2).join(" ").trim(), `${type} ${body!.trim()}`);
        const info = execFileSync("ssh-keygen", ["-l", "-f", join(dir, "k")], { encoding: "utf8" });
        const bits =
          spec.keyType === "ed25519" ? 256 : (spec.keySize ?? (spec.keyType === "rsa" ? 2048 : 256));
        assert.ok(info.startsWith(`${bits} `), info);
        if (spec.comment) assert.ok(info.includes(spec.comment), info);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}

test("SSHKey: defaults to rsa 2048; unknown types refused", () => {
  assert.ok(sshKey({}).publicKey.startsWith("ssh-rsa "));
  assert.throws(
    () => sshKey({ keyType: "dsa" }),
    (e: unknown) => isCustosError(e, "CUSTOS_INVALID_SPEC") && /unsupported key type: dsa/.test(e.message),
  );
  assert.throws(() => sshKey({ keyType: "rsa", keySize: 512 }), /keySize/);
});
