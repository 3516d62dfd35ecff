import { test } from "node:test";
import assert from "node:assert/strict";
import { PodTokens, podIdentitySpec, storeAudiences } from "../../../src/csi/identity.ts";
import type { PodInfo } from "../../../src/csi/attributes.ts";
import { isCustosError } from "../../../src/util/errors.ts";

const pod: PodInfo = { name: "p", namespace: "team-a", uid: "u", serviceAccountName: "app" };

test("Vault kubernetes auth: the store's role and mount, the pod's service account", () => {
  const spec = {
    server: "https://vault",
    path: "kv",
    auth: {
      namespace: "ns1",
      kubernetes: {
        mountPath: "k8s",
        role: "r",
        serviceAccountRef: { name: "store-sa", namespace: "other" },
        secretRef: { name: "s" },
      },
    },
  };
  assert.deepEqual(podIdentitySpec("vault", spec, pod, "vault"), {
    server: "https://vault",
    path: "kv",
    auth: {
      namespace: "ns1",
      kubernetes: { mountPath: "k8s", role: "r", serviceAccountRef: { name: "app", audiences: ["vault"] } },
    },
  });
});

test("Vault jwt auth and AWS web identity become the pod's token; other auth is refused", () => {
  assert.deepEqual(
    podIdentitySpec(
      "vault",
      { server: "s", auth: { jwt: { path: "jwt", role: "r", secretRef: { name: "x" } } } },
      pod,
      "vault",
    ),
    {
      server: "s",
      auth: {
        jwt: {
          path: "jwt",
          role: "r",
          kubernetesServiceAccountToken: {
            serviceAccountRef: { name: "app", audiences: ["vault"] },
            audiences: ["vault"],
          },
        },
      },
    },
  );
  assert.deepEqual(
    podIdentitySpec(
      "aws",
      { service: "SecretsManager", role: "arn:r", auth: { jwt: { serviceAccountRef: { name: "x" } } } },
      pod,
      "sts.amazonaws.com",
    ),
    {
      service: "SecretsManager",
      role: "arn:r",
      auth: { jwt: { serviceAccountRef: { name: "app", audiences: ["sts.amazonaws.com"] } } },
    },
  );
  for (const [provider, spec] of [
    ["vault", { server: "s", auth: { tokenSecretRef: { name: "t" } } }],
    ["vault", { server: "s", auth: { appRole: { secretRef: { name: "t" } } } }],
    ["vault", { server: "s" }],
    ["aws", { service: "SecretsManager", auth: { secretRef: {} } }],
    ["aws", { service: "SecretsManager" }],
    ["fake", { data: [] }],
  ] as const)
    assert.throws(
      () => podIdentitySpec(provider, spec, pod, "vault"),
      (e) => isCustosError(e, "CUSTOS_OPERATOR_IDENTITY_DENIED"),
      `${provider} ${JSON.stringify(spec)}`,
    );
});

test("the store's audiences are preferred", () => {
  assert.deepEqual(storeAudiences("vault", { auth: { kubernetes: { role: "r" } } }), ["vault"]);
  assert.deepEqual(
    storeAudiences("vault", {
      auth: { kubernetes: { role: "r", serviceAccountRef: { name: "x", audiences: ["a"] } } },
    }),
    ["a"],
  );
  assert.deepEqual(
    storeAudiences("vault", { auth: { jwt: { kubernetesServiceAccountToken: { audiences: ["j"] } } } }),
    ["j"],
  );
  assert.deepEqual(storeAudiences("aws", { auth: { jwt: {} } }), ["sts.amazonaws.com"]);
  assert.deepEqual(storeAudiences("vault", { auth: { appRole: {} } }), []);
});

test("PodTokens: TokenRequests answered with the latest pod token only; no Secret is read", async () => {
  const tokens = new PodTokens();
  const calls: string[] = [];
  const kube = tokens.kubeAccess({
    configMapKey: (ns, name, key) => {
      calls.push(`cm ${ns}/${name}/${key}`);
      return Promise.resolve("ca");
    },
    serviceAccountAnnotations: (ns, name) => {
      calls.push(`sa ${ns}/${name}`);
      return Promise.resolve({});
    },
  });
  await assert.rejects(kube.serviceAccountToken("team-a", "app", ["vault"], 600), /no token of a pod/);
  tokens.set(pod, "vault", "t1");
  tokens.set(pod, "vault", "t2");
  assert.equal(await kube.serviceAccountToken("team-a", "app", ["vault"], 600), "t2");
  await assert.rejects(kube.serviceAccountToken("team-b", "app", ["vault"], 600), /no token/);
  await assert.rejects(kube.serviceAccountToken("team-a", "app", ["other"], 600), /no token/);
  await assert.rejects(kube.serviceAccountToken("team-a", "app", ["vault", "x"], 600), /no token/);
  await assert.rejects(kube.secretKey("team-a", "creds", "k"), (e) =>
    isCustosError(e, "CUSTOS_OPERATOR_IDENTITY_DENIED"),
  );
  assert.equal(await kube.configMapKey("team-a", "ca", "ca.crt"), "ca");
  assert.deepEqual(calls, ["cm team-a/ca/ca.crt"]);
  assert.equal(tokens.size, 1);
});
