/**
 * Benchmark: redact() on long messages with many registered values, and the cost of registering.
 * Usage: node --expose-gc --import tsx bench/redact.ts [values=100000] [messageBytes=10240]
 * Messages: one with no secret (the common case), one with 20 values in various forms, one made of
 * near-misses (every registered value's first 12 characters), to show the trie's worst path.
 */
import { Redactor } from "../src/util/redact.ts";
import { randomBytes } from "node:crypto";

const count = Number(process.argv[2] ?? 100_000);
const size = Number(process.argv[3] ?? 10_240);
const r = new Redactor({ maxOwnerValues: count * 4 });
const owner = {};
const values: string[] = [];
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const heap0 = process.memoryUsage().heapUsed;
let t = performance.now();
for (let i = 0; i < count; i++) {
  // a mix: random tokens, passwords with quotes and newlines, JSON documents, binary keys
  let v: string | Buffer;
  if (i % 4 === 0) v = randomBytes(18).toString("base64url");
  else if (i % 4 === 1) v = `p@ss"${randomBytes(6).toString("hex")}\\\n${i}`;
  else if (i % 4 === 2)
    v = JSON.stringify({ username: `user-${i}`, password: randomBytes(12).toString("hex") });
  else v = randomBytes(32);
  r.add(v, owner);
  if (typeof v === "string") values.push(v);
}
const addMs = performance.now() - t;
gc?.();
const heap = process.memoryUsage().heapUsed - heap0;

const filler = (n: number): string => {
  const words = [
    "error",
    "reading",
    "secret",
    "from",
    "store",
    "status",
    "code",
    "403",
    "the",
    "value",
    "of",
  ];
  let s = "";
  while (s.length < n) s += `${words[(s.length * 7) % words.length]!} `;
  return s.slice(0, n);
};
const clean = filler(size);
let dirty = filler(size);
for (let k = 0; k < 20; k++) {
  const v = values[(k * 977) % values.length]!;
  const form = [v, JSON.stringify(v), Buffer.from(v).toString("base64"), Buffer.from(v).toString("hex")][
    k % 4
  ]!;
  const at = Math.floor((dirty.length * k) / 20);
  dirty = dirty.slice(0, at) + form + dirty.slice(at + form.length);
}
dirty = dirty.slice(0, size);
let near = "";
for (let k = 0; near.length < size; k++) near += values[k % values.length]!.slice(0, 12) + " ";
near = near.slice(0, size);

function perCall(msg: string): { ms: number; mbPerSecond: number } {
  let n = 0;
  t = performance.now();
  while (performance.now() - t < 2000) {
    r.redact(msg);
    n++;
  }
  const ms = (performance.now() - t) / n;
  return { ms: +ms.toFixed(3), mbPerSecond: +(msg.length / 1e6 / (ms / 1000)).toFixed(1) };
}

process.stdout.write(
  JSON.stringify(
    {
      values: r.size,
      patterns: r.patterns,
      registerUsPerValue: +((addMs * 1000) / count).toFixed(1),
      heapMB: Math.round(heap / 1e6),
      heapBytesPerValue: Math.round(heap / count),
      messageBytes: size,
      cleanMessage: perCall(clean),
      messageWith20Values: perCall(dirty),
      nearMissMessage: perCall(near),
    },
    null,
    2,
  ) + "\n",
);
