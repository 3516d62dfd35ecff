/**
 * Copies the generated sections of one faults report into another (`npm run faults -- --out X`
 * writes elsewhere than docs/reliability.md, e.g. from a clean worktree; this brings its sections
 * home and keeps the hand-written text around them).
 *   node --import tsx scripts/faults-report.ts FROM [TO=docs/reliability.md]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatMarkdown, withSection } from "../bench/faults/invariants.ts";

const [from, to = join(import.meta.dirname, "..", "docs", "reliability.md")] = process.argv.slice(2);
if (!from) {
  process.stderr.write("usage: scripts/faults-report.ts FROM [TO]\n");
  process.exit(2);
}
const source = readFileSync(from, "utf8");
let doc = readFileSync(to, "utf8");
const re =
  /<!-- npm run faults --section ([\w-]+): generated, do not edit -->\n([\s\S]*?)<!-- end of section \1 -->/g;
const names: string[] = [];
for (const m of source.matchAll(re)) {
  doc = withSection(doc, m[1]!, m[2]!);
  names.push(m[1]!);
}
writeFileSync(to, await formatMarkdown(doc, to));
process.stdout.write(`sections copied: ${names.join(", ") || "none"}\n`);
