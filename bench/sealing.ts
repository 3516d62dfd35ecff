/**
 * Benchmark: seal and unseal values per second with a 4096-bit key (the controller's size).
 * Usage: npx tsx bench/sealing.ts [seconds]
 */
import { generateSealingKey, publicKeyOf } from "../src/sealing/keys.ts";
import { hybridDecrypt, hybridEncrypt, scopeLabel } from "../src/sealing/crypto.ts";

const seconds = Number(process.argv[2] ?? 3);
const key = await generateSealingKey();
const pub = publicKeyOf(key);
const label = scopeLabel("strict", "app", "db");
const value = Buffer.from("a 32-byte database password value");

function rate(fn: () => void): number {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    fn();
    n++;
  }
  return +(n / seconds).toFixed(1);
}

const sealed = hybridEncrypt(pub, value, label);
const result = {
  keyBits: 4096,
  sealPerSecond: rate(() => hybridEncrypt(pub, value, label)),
  unsealPerSecond: rate(() => hybridDecrypt([key.privateKey], sealed, label)),
  unsealPerSecondWithThreeKeys: 0,
};
const others = [(await generateSealingKey()).privateKey, (await generateSealingKey()).privateKey];
result.unsealPerSecondWithThreeKeys = rate(() => hybridDecrypt([...others, key.privateKey], sealed, label));
process.stdout.write(JSON.stringify(result, null, 2) + "\n");
