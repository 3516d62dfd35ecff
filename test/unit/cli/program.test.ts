/**
 * The lazily-loaded command table: only the command being run is imported, the others show in
 * --help by their summary; the table agrees with the modules it names; `custos --help`,
 * `custos seal --help` and `custos seal --cert` (a process each, with a module trace) load none of
 * the operator's dependencies; the kubectl plugin names itself `kubectl custos`.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import type { Command } from "@commander-js/extra-typings";
import { buildFullProgram, buildProgram, commandNameIn, programNameFor } from "../../../src/cli/program.ts";
import { COMMANDS, type CommandEntry } from "../../../src/cli/table.ts";
import { generateSealingKey } from "../../../src/sealing/keys.ts";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..", "..", "..");
const main = join(root, "src", "cli", "main.ts");
const tracer = join(import.meta.dirname, "fixtures", "trace-modules.js");
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "custos-program-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("the command is the first operand, or the one after help", () => {
  assert.equal(commandNameIn([]), undefined);
  assert.equal(commandNameIn(["--help"]), undefined);
  assert.equal(commandNameIn(["seal", "-f", "x.yaml"]), "seal");
  assert.equal(commandNameIn(["--version", "seal"]), "seal");
  assert.equal(commandNameIn(["help", "seal"]), "seal");
  assert.equal(commandNameIn(["help"]), undefined);
});

test("the program is `kubectl custos` when run as the kubectl plugin", () => {
  assert.equal(programNameFor("/usr/local/bin/kubectl-custos"), "kubectl custos");
  assert.equal(programNameFor("/repo/bin/kubectl-custos.js"), "kubectl custos");
  assert.equal(programNameFor("/repo/bin/custos.js"), "custos");
  assert.equal(programNameFor(undefined), "custos");
});

function fakeTable(loaded: string[]): CommandEntry[] {
  return ["alpha", "beta"].map((name) => ({
    name,
    summary: `the ${name} command`,
    load: async () => {
      loaded.push(name);
      return (program: Command) => {
        program
          .command(name)
          .description(`${name}, in full`)
          .option("--flag-of-" + name, "a flag");
      };
    },
  }));
}

test("only the named command is loaded; the others are listed by their summary", async () => {
  const loaded: string[] = [];
  const program = await buildProgram(fakeTable(loaded), ["beta", "--help"]);
  assert.deepEqual(loaded, ["beta"]);
  assert.match(program.helpInformation(), /alpha\s+the alpha command/);
  assert.match(program.helpInformation(), /beta \[options\]\s+the beta command/);
  const beta = program.commands.find((c) => c.name() === "beta");
  assert.ok(beta?.options.some((o) => o.long === "--flag-of-beta"));
  const none: string[] = [];
  await buildProgram(fakeTable(none), ["--help"]);
  assert.deepEqual(none, []);
});

test("every table entry loads a module that registers a command of that name", async () => {
  const program = await buildFullProgram(COMMANDS);
  assert.deepEqual(
    program.commands.map((c) => c.name()),
    COMMANDS.map((c) => c.name),
  );
  for (const c of program.commands) assert.ok(c.description().length > 0, `${c.name()} has a description`);
});

/** Runs the CLI from the sources with the module trace; returns its output and the loaded modules. */
async function traced(args: string[], bin = main): Promise<{ stdout: string; modules: string[] }> {
  const file = join(dir, `trace-${Math.random().toString(36).slice(2)}`);
  const { stdout } = await exec(process.execPath, ["--import", tracer, "--import", "tsx", bin, ...args], {
    env: { ...process.env, CUSTOS_TRACE_MODULES: file },
  });
  return { stdout, modules: readFileSync(file, "utf8").split("\n") };
}

// what only the operator, the Kubernetes client paths or key generation need
const HEAVY =
  /node_modules\/(@aws-sdk|@smithy|@kubernetes|node-forge|@peculiar|reflect-metadata|undici|prom-client|pino)\/|\/src\/(manager|kube|controllers|providers|template)\//;

function heavyIn(modules: string[]): string[] {
  return modules.filter((m) => HEAVY.test(m));
}

test("custos --help and custos seal --help load none of the operator's dependencies", async () => {
  const help = await traced(["--help"]);
  assert.match(help.stdout, /seal\s+Encrypt a Secret/);
  assert.deepEqual(heavyIn(help.modules), []);
  assert.ok(!help.modules.some((m) => m.includes("/src/cli/commands/")), "no command module for --help");
  const seal = await traced(["seal", "--help"]);
  assert.match(seal.stdout, /--cert <file\|url>/);
  assert.deepEqual(heavyIn(seal.modules), []);
  assert.ok(!seal.modules.some((m) => m.includes("/src/cli/seal/run.ts")), "the seal work is not loaded");
});

test("custos seal --cert FILE loads only what sealing needs (no Kubernetes client, undici or x509 library)", async () => {
  const key = await generateSealingKey({ bits: 2048 });
  writeFileSync(join(dir, "cert.pem"), key.certificatePem);
  const secret = join(dir, "secret.yaml");
  writeFileSync(
    secret,
    stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db", namespace: "app" },
      stringData: { k: "v1234" },
    }),
  );
  const { stdout, modules } = await traced(["seal", "--cert", join(dir, "cert.pem"), "-f", secret]);
  assert.match(stdout, /kind: SealedSecret/);
  assert.deepEqual(heavyIn(modules), []);
  assert.ok(modules.some((m) => m.endsWith("/src/cli/seal/run.ts")));
});

test("kubectl-custos runs the same CLI under the name `kubectl custos`", async () => {
  const { stdout } = await exec(process.execPath, [join(root, "bin", "kubectl-custos.js"), "--help"]);
  assert.match(stdout, /^Usage: kubectl custos \[options\] \[command\]/);
  assert.match(stdout, /seal\s+Encrypt a Secret/);
});
