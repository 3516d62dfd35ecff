import { test } from "node:test";
import assert from "node:assert/strict";
import { parseMountRequest, pickAudience, tokenMismatch, type PodInfo } from "../../../src/csi/attributes.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const pod: PodInfo = { name: "p", namespace: "team-a", uid: "uid-1", serviceAccountName: "app" };

function jwt(claims: unknown): string {
  const b = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${b({ alg: "RS256" })}.${b(claims)}.sig`;
}
const k8sToken = (ns = "team-a", sa = "app", uid = "uid-1") =>
  jwt({ "kubernetes.io": { namespace: ns, serviceaccount: { name: sa }, pod: { name: "p", uid } } });

function attrs(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    objects: "[]",
    "csi.storage.k8s.io/pod.name": "p",
    "csi.storage.k8s.io/pod.namespace": "team-a",
    "csi.storage.k8s.io/pod.uid": "uid-1",
    "csi.storage.k8s.io/serviceAccount.name": "app",
    ...extra,
  });
}

test("parses what the driver sends: parameters, pod, tokens by audience, permission", () => {
  const token = k8sToken();
  const input = parseMountRequest({
    attributes: attrs({
      "csi.storage.k8s.io/serviceAccount.tokens": JSON.stringify({
        vault: { token, expirationTimestamp: "2030-01-01T00:00:00Z" },
      }),
    }),
    secrets: "null",
    targetPath: "/x",
    permission: "420",
  });
  assert.deepEqual(input.pod, pod);
  assert.equal(input.parameters.objects, "[]");
  assert.equal(input.tokens.get("vault")?.token, token);
  assert.equal(input.defaultMode, 0o644);
  assert.equal(
    input.parameters["csi.storage.k8s.io/serviceAccount.tokens"],
    undefined,
    "tokens are not parameters",
  );
});

test("pod fields are required (podInfoOnMount)", () => {
  assert.throws(
    () => parseMountRequest({ attributes: "{}", secrets: "{}", targetPath: "", permission: "420" }),
    /pod.namespace is missing .*podInfoOnMount/,
  );
  assert.throws(
    () =>
      parseMountRequest({
        attributes: attrs({ "csi.storage.k8s.io/serviceAccount.name": "" }),
        secrets: "{}",
        targetPath: "",
        permission: "420",
      }),
    /serviceAccount.name is missing/,
  );
  assert.throws(
    () => parseMountRequest({ attributes: "[1]", secrets: "{}", targetPath: "", permission: "420" }),
    /not a JSON object/,
  );
});

test("a token whose claims name another namespace, service account or pod is refused", () => {
  assert.equal(tokenMismatch(k8sToken(), pod), undefined);
  assert.match(tokenMismatch(k8sToken("team-b"), pod) ?? "", /namespace/);
  assert.match(tokenMismatch(k8sToken("team-a", "admin"), pod) ?? "", /service account/);
  assert.match(tokenMismatch(k8sToken("team-a", "app", "uid-2"), pod) ?? "", /another pod/);
  assert.equal(tokenMismatch("not-a-jwt", pod), undefined, "non-Kubernetes tokens are left to the store");
  assert.throws(
    () =>
      parseMountRequest({
        attributes: attrs({
          "csi.storage.k8s.io/serviceAccount.tokens": JSON.stringify({
            vault: { token: k8sToken("team-b") },
          }),
        }),
        secrets: "null",
        targetPath: "",
        permission: "420",
      }),
    (e) => isCustosError(e, "CUSTOS_STORE_DENIED") && /namespace is not the pod's/.test(e.message),
  );
});

test("the audience: asked, else the store's preferred, else the only one", () => {
  const t = (...auds: string[]) => new Map(auds.map((a) => [a, { token: "t" }]));
  assert.equal(pickAudience(t("vault", "sts"), "sts", ["vault"]), "sts");
  assert.equal(pickAudience(t("x", "vault"), undefined, ["vault"]), "vault");
  assert.equal(pickAudience(t("only"), undefined, []), "only");
  assert.throws(
    () => pickAudience(t("x"), undefined, ["vault"]),
    /audience "vault" \(the driver passed "x"\).*tokenRequests/,
  );
  assert.throws(() => pickAudience(t(), "vault", []), /passed none/);
});
