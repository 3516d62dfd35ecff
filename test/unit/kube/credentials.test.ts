import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCredentials } from "../../../src/kube/credentials.ts";

const dir = (): string => mkdtempSync(join(tmpdir(), "custos-cred-"));

function kubeconfig(user: string, cluster = "    server: https://k.example:6443/\n"): string {
  const d = dir();
  const file = join(d, "config");
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
${cluster}users:
- name: u
  user:
${user}contexts:
- name: x
  context: { cluster: c, user: u }
current-context: x
`,
  );
  return file;
}

test("a kubeconfig with a token: server and bearer header, no client-node", async () => {
  const creds = loadCredentials({ kubeconfig: kubeconfig("    token: abc\n"), env: {} });
  assert.ok(creds);
  assert.equal(creds.server, "https://k.example:6443");
  assert.equal(
    (await creds.prepare("GET", "https://k.example:6443/api")).headers.authorization,
    "Bearer abc",
  );
});

test("a token file relative to the kubeconfig is read again after a minute", async () => {
  let now = 0;
  const file = kubeconfig("    tokenFile: tok\n");
  const tokenPath = join(file, "..", "tok");
  writeFileSync(tokenPath, "one\n");
  const creds = loadCredentials({ kubeconfig: file, env: {}, now: () => now });
  assert.ok(creds);
  const auth = async (): Promise<string | undefined> =>
    (await creds.prepare("GET", "x")).headers.authorization;
  assert.equal(await auth(), "Bearer one");
  writeFileSync(tokenPath, "two\n");
  now = 30_000;
  assert.equal(await auth(), "Bearer one");
  now = 61_000;
  assert.equal(await auth(), "Bearer two");
});

test("what only client-node knows gives undefined: exec plugins, auth providers, proxies, merged files", () => {
  const exec = "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n";
  assert.equal(loadCredentials({ kubeconfig: kubeconfig(exec), env: {} }), undefined);
  const ap = "    auth-provider:\n      name: oidc\n";
  assert.equal(loadCredentials({ kubeconfig: kubeconfig(ap), env: {} }), undefined);
  const proxied = "    server: https://k:6443\n    proxy-url: http://proxy:3128\n";
  assert.equal(loadCredentials({ kubeconfig: kubeconfig("    token: t\n", proxied), env: {} }), undefined);
  assert.equal(loadCredentials({ env: { KUBECONFIG: "/a:/b" } }), undefined);
});

test("$KUBECONFIG, then ~/.kube/config, then the in-cluster service account", async () => {
  const file = kubeconfig("    token: from-env\n");
  assert.equal(loadCredentials({ env: { KUBECONFIG: file } })?.server, "https://k.example:6443");
  const home = dir();
  mkdirSync(join(home, ".kube"));
  writeFileSync(
    join(home, ".kube", "config"),
    `current-context: x
contexts: [{ name: x, context: { cluster: c, user: u } }]
clusters: [{ name: c, cluster: { server: "https://home:1" } }]
users: [{ name: u, user: { token: t } }]
`,
  );
  assert.equal(loadCredentials({ env: {}, home })?.server, "https://home:1");
  const sa = dir();
  writeFileSync(join(sa, "token"), "sa-token");
  const empty = dir();
  const inCluster = loadCredentials({
    env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" },
    home: empty,
    serviceAccountDir: sa,
  });
  assert.equal(inCluster?.server, "https://[fd00::1]:443");
  assert.equal((await inCluster.prepare("GET", "x")).headers.authorization, "Bearer sa-token");
  assert.equal(
    loadCredentials({
      env: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "8080" },
      home: empty,
      serviceAccountDir: sa,
    })?.server,
    "http://10.0.0.1:8080",
  );
  assert.equal(loadCredentials({ env: {}, home: empty, serviceAccountDir: empty }), undefined);
});
