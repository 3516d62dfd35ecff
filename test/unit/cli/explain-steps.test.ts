/**
 * `custos explain` steps from fake inputs: each link's ✓/✗, the fix named for each real cause,
 * a Kubernetes 403 found through error causes, property names without values, and the output
 * stopping at the first ✗.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { KubeApiError } from "../../../src/kube/api.ts";
import { CustosError } from "../../../src/util/errors.ts";
import { redactor } from "../../../src/util/redact.ts";
import {
  buildStep,
  controllerClassStep,
  credentialsStep,
  failureOf,
  formatSteps,
  loginStep,
  namespaceAllowedStep,
  operatorIdentityStep,
  operatorStep,
  propertyNames,
  propertyStep,
  readStep,
  readyLine,
  storeFoundStep,
  syncStep,
  uncheckedStep,
  untilFirstFailure,
  type StoreId,
} from "../../../src/cli/explain/steps.ts";

const SS: StoreId = { kind: "SecretStore", name: "vault" };
const CSS: StoreId = { kind: "ClusterSecretStore", name: "shared" };

test("failureOf: code, redacted message, and a 403 found among the causes", () => {
  redactor.add("s3cr3t-token-value");
  const e = new CustosError("CUSTOS_INTERNAL", "reading Secret a/b: s3cr3t-token-value", {
    cause: new KubeApiError(403, "Forbidden", "GET /api/v1/namespaces/a/secrets/b: 403 forbidden"),
  });
  const f = failureOf(e);
  assert.equal(f.code, "CUSTOS_INTERNAL");
  assert.ok(!f.message.includes("s3cr3t-token-value"));
  assert.match(f.forbidden ?? "", /403 forbidden/);
  assert.equal(failureOf(new CustosError("CUSTOS_AUTH_FAILED", "no")).forbidden, undefined);
});

test("store found / not found / forbidden", () => {
  assert.equal(storeFoundStep(SS, "team-a", true).mark, "ok");
  const missing = storeFoundStep(CSS, "team-a", false);
  assert.equal(missing.text, 'ClusterSecretStore "shared" not found');
  assert.match(missing.fix ?? "", /create the ClusterSecretStore, or correct spec.secretStoreRef/);
  const forbidden = storeFoundStep(SS, "team-a", { message: "x", forbidden: "403" });
  assert.equal(forbidden.mark, "fail");
  assert.match(forbidden.fix ?? "", /secretstores in "team-a"/);
});

test("controller class: empty or equal is served, another class is named with both fixes", () => {
  assert.equal(controllerClassStep(SS, undefined, "default").mark, "ok");
  assert.equal(controllerClassStep(SS, "blue", "blue").mark, "ok");
  const s = controllerClassStep(SS, "blue", "default");
  assert.equal(s.text, 'SecretStore "vault" belongs to controller class "blue", not "default"');
  assert.match(s.fix ?? "", /--controller-class blue/);
});

test("namespace allowed: ClusterSecretStore conditions with ESO's denial text", () => {
  assert.equal(namespaceAllowedStep(CSS, undefined, "team-a", {}).mark, "ok");
  assert.equal(namespaceAllowedStep(CSS, [{ namespaces: ["team-a"] }], "team-a", {}).mark, "ok");
  assert.equal(namespaceAllowedStep(CSS, [{ namespaceRegexes: ["^team-.*"] }], "team-a", {}).mark, "ok");
  assert.equal(
    namespaceAllowedStep(CSS, [{ namespaceSelector: { matchLabels: { tier: "a" } } }], "team-a", {
      tier: "a",
    }).mark,
    "ok",
  );
  const denied = namespaceAllowedStep(CSS, [{ namespaces: ["team-b"] }], "team-a", {});
  assert.equal(denied.mark, "fail");
  assert.equal(
    denied.text,
    'using cluster store "shared" is not allowed from namespace "team-a": denied by spec.condition',
  );
  assert.match(denied.fix ?? "", /adds "team-a" to spec.conditions of ClusterSecretStore "shared"/);
  // a SecretStore has no conditions to check
  assert.equal(namespaceAllowedStep(SS, [{ namespaces: ["x"] }], "team-a", {}).mark, "ok");
});

test("operator identity: refused for a SecretStore, the operator's own login for a ClusterSecretStore", () => {
  const problems = ["auth.kubernetes has no serviceAccountRef or secretRef, so it would use ..."];
  const ss = operatorIdentityStep(SS, problems, false);
  assert.equal(ss.step.mark, "fail");
  assert.equal(ss.operatorLogin, false);
  assert.match(ss.step.fix ?? "", /--allow-operator-identity-for-namespaced-stores/);
  const allowed = operatorIdentityStep(SS, problems, true);
  assert.deepEqual([allowed.step.mark, allowed.operatorLogin], ["ok", true]);
  const css = operatorIdentityStep(CSS, problems, false);
  assert.deepEqual([css.step.mark, css.operatorLogin], ["ok", true]);
  assert.deepEqual(operatorIdentityStep(SS, [], false).operatorLogin, false);
});

test("credentials: listed when present; missing vs. not readable by the CLI user", () => {
  assert.equal(
    credentialsStep(SS, [{ what: 'Secret team-a/vault-token key "token"' }]).text,
    'credentials present: Secret team-a/vault-token key "token"',
  );
  const missing = credentialsStep(SS, [
    {
      what: 'Secret team-a/vault-token key "token"',
      failure: { code: "CUSTOS_MISSING_CREDENTIALS", message: "Secret team-a/vault-token not found" },
    },
  ]);
  assert.equal(missing.text, "credentials missing: Secret team-a/vault-token not found");
  const forbidden = credentialsStep(SS, [
    { what: 'Secret team-a/vault-token key "token"', failure: { message: "reading", forbidden: "403" } },
  ]);
  assert.match(forbidden.text, /refused this kubeconfig's user/);
  assert.match(forbidden.fix ?? "", /get that Secret/);
  const token = credentialsStep(SS, [
    { what: "token of ServiceAccount team-a/app", failure: { message: "x", forbidden: "403" } },
  ]);
  assert.match(token.fix ?? "", /create serviceaccounts\/token/);
});

test("login and read: the fix follows the cause", () => {
  const role = loginStep(SS, "vault", { code: "CUSTOS_AUTH_FAILED", message: 'invalid role name "nope"' });
  assert.match(role.text, /login to vault through SecretStore "vault" failed: invalid role name "nope"/);
  assert.match(role.fix ?? "", /role name/);
  const denied = readStep({ key: "app/db" }, { code: "CUSTOS_ACCESS_DENIED", message: "permission denied" });
  assert.match(denied.fix ?? "", /lacks read permission on this path/);
  const notFound = readStep(
    { key: "app/db", version: "3" },
    { code: "CUSTOS_SECRET_NOT_FOUND", message: "x" },
  );
  assert.equal(notFound.text, 'remote secret "app/db" (version 3) does not exist');
  assert.equal(readStep({ key: "app/db" }, undefined).mark, "ok");
});

test("property: names offered in the fix, never values", () => {
  const names = propertyNames({ kind: "map", value: { user: "admin", password: "hunter2-canary" } });
  assert.deepEqual(names, ["password", "user"]);
  assert.deepEqual(propertyNames({ kind: "bytes", value: new TextEncoder().encode('{"b":"v1","a":"v2"}') }), [
    "a",
    "b",
  ]);
  assert.deepEqual(propertyNames({ kind: "bytes", value: new TextEncoder().encode("plain") }), []);
  const s = propertyStep("user", { key: "db", property: "usr" }, names, {
    code: "CUSTOS_PROPERTY_NOT_FOUND",
    message: 'secret "db" has no property "usr"',
  });
  assert.equal(s.fix, 'correct remoteRef.property of data "user" (it has: password, user)');
  assert.ok(!JSON.stringify(s).includes("hunter2-canary"));
});

test("template and sync steps", () => {
  const t = buildStep(
    { code: "CUSTOS_TEMPLATE", message: 'template "dsn": function "nope" not defined' },
    true,
  );
  assert.match(t.text, /^template does not render: /);
  assert.match(t.fix ?? "", /spec.target.template/);
  assert.equal(buildStep(undefined, true).text, "template renders");
  const target = { namespace: "team-a", name: "db", es: "db" };
  assert.equal(syncStep("in-sync", target).mark, "ok");
  assert.match(
    syncStep("differs", target).fix ?? "",
    /kubectl annotate externalsecret db -n team-a force-sync/,
  );
  assert.equal(syncStep("missing", target).mark, "fail");
  assert.equal(syncStep({ message: 'target Secret "db" is already controlled by X' }, target).mark, "fail");
});

test("operator step: Ready, no status, or a stale failure", () => {
  assert.equal(operatorStep({ type: "Ready", status: "True" }, "team-a", "db", "default").mark, "ok");
  assert.match(operatorStep(undefined, "team-a", "db", "blue").fix ?? "", /--controller-class blue/);
  assert.equal(operatorStep({ type: "Ready", status: "False" }, "team-a", "db", "default").mark, "fail");
});

test("output: the Ready line, marks, the fix of the first ✗ and nothing after it", () => {
  const steps = untilFirstFailure([
    storeFoundStep(SS, "team-a", true),
    controllerClassStep(SS, "blue", "default"),
    storeFoundStep(SS, "team-a", false),
  ]);
  assert.equal(steps.length, 2);
  assert.equal(
    formatSteps(
      readyLine("ExternalSecret", "team-a", "db", {
        type: "Ready",
        status: "False",
        reason: "SecretSyncedError",
        message: "boom",
      }),
      steps,
    ),
    [
      "ExternalSecret team-a/db: Ready=False SecretSyncedError: boom",
      '✓ SecretStore "vault" in namespace "team-a" found',
      '✗ SecretStore "vault" belongs to controller class "blue", not "default"',
      '  fix: if an operator runs with --controller-class blue, pass the same --controller-class to this command; otherwise clear the store\'s spec.controller or set it to "default"',
      "",
    ].join("\n"),
  );
});

test("links the CLI cannot check: the operator's Ready condition decides", () => {
  assert.equal(uncheckedStep({ type: "Ready", status: "True" }).mark, "ok");
  const failing = uncheckedStep({ type: "Ready", status: "False", message: "permission denied" });
  assert.equal(failing.mark, "fail");
  assert.match(failing.text, /cannot check/);
  assert.equal(uncheckedStep(undefined).text, "no operator has reported on this ExternalSecret");
});
