import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { vaultProvider } from "../../../src/providers/vault/index.ts";
import { awsProvider } from "../../../src/providers/aws/index.ts";
import { SessionPool } from "../../../src/engine/sessions.ts";
import { grantOperatorIdentity } from "../../../src/engine/operator-identity.ts";
import { OPERATOR_IDENTITY_FLAG } from "../../../src/providers/operator.ts";
import { isCustosError } from "../../../src/util/errors.ts";
import type {
  KubeAccess,
  OperatorIdentity,
  ProviderDefinition,
  StoreContext,
} from "../../../src/providers/types.ts";

// Network spy: every TCP connection attempt of this process (undici, the AWS SDK, anything).
const connects: string[] = [];
// eslint-disable-next-line @typescript-eslint/unbound-method -- re-applied below with its socket as `this`
const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
  const o = args[0] as { host?: string; port?: number } | number;
  connects.push(typeof o === "object" ? `${o.host ?? ""}:${o.port ?? ""}` : String(o));
  return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof originalConnect;

// Nothing listens on port 1: an allowed request fails fast, after the spy has seen it.
const CLOSED = "http://127.0.0.1:1";
process.env.AWS_ENDPOINT_URL = CLOSED;

// The operator's identity, as a spy.
const used: string[] = [];
const operator: OperatorIdentity = {
  kubernetesToken: () => {
    used.push("kubernetesToken");
    return Promise.resolve("operator-sa-token");
  },
  awsCredentials: () => {
    used.push("awsCredentials");
    return () => {
      used.push("awsCredentials()");
      return Promise.resolve({ accessKeyId: "AKIDOPERATOR", secretAccessKey: "operator-secret" });
    };
  },
};

const tokenRequests: string[] = [];
const kube: KubeAccess = {
  secretKey: (ns, name, key) => Promise.resolve(new TextEncoder().encode(`${ns}/${name}/${key}`)),
  configMapKey: () => Promise.resolve(""),
  serviceAccountToken: (ns, name) => {
    tokenRequests.push(`${ns}/${name}`);
    return Promise.resolve(`token-of-${ns}-${name}`);
  },
  serviceAccountAnnotations: () => Promise.resolve({ "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r" }),
};

const ctx = (storeKind: StoreContext["storeKind"]): StoreContext => ({
  storeKind,
  storeName: "s",
  storeUid: "u",
  namespace: "tenant",
  kube,
});

const deps = { recordCall: () => undefined, redact: () => undefined };

function pool(allow: boolean): SessionPool {
  return new SessionPool(deps, {
    operatorIdentity: { allowForNamespacedStores: allow },
    identity: operator,
    failureBackoffMs: [0, 0],
  });
}

beforeEach(() => {
  connects.length = 0;
  used.length = 0;
  tokenRequests.length = 0;
});

interface Case {
  name: string;
  def: ProviderDefinition;
  spec: unknown;
  /** What the message must name as the tenant's alternative. */
  instead: RegExp;
  /** What the operator identity is used for when allowed. */
  uses: string;
}

const vault = vaultProvider as unknown as ProviderDefinition;
const aws = awsProvider as unknown as ProviderDefinition;
const cases: Case[] = [
  {
    name: "Vault kubernetes auth without serviceAccountRef/secretRef",
    def: vault,
    spec: { server: CLOSED, path: "secret", auth: { kubernetes: { role: "r" } } },
    instead: /auth\.kubernetes\.serviceAccountRef or auth\.kubernetes\.secretRef/,
    uses: "kubernetesToken",
  },
  {
    name: "Vault iam auth without secretRef/jwt (signs with the operator's AWS chain)",
    def: vault,
    spec: { server: CLOSED, auth: { iam: { vaultRole: "r", region: "us-east-1" } } },
    instead: /auth\.iam\.secretRef or auth\.iam\.jwt\.serviceAccountRef/,
    uses: "awsCredentials",
  },
  {
    name: "Vault iam auth with a role but no credentials",
    def: vault,
    spec: { server: CLOSED, auth: { iam: { role: "arn:aws:iam::1:role/x", region: "us-east-1" } } },
    instead: /auth\.iam\.secretRef/,
    uses: "awsCredentials",
  },
  {
    name: "AWS store without auth",
    def: aws,
    spec: { service: "SecretsManager", region: "us-east-1" },
    instead: /auth\.secretRef or auth\.jwt\.serviceAccountRef/,
    uses: "awsCredentials",
  },
  {
    name: "AWS store with a role but no auth (would assume it with the operator's chain)",
    def: aws,
    spec: { service: "ParameterStore", region: "us-east-1", role: "arn:aws:iam::1:role/admin" },
    instead: /auth\.secretRef/,
    uses: "awsCredentials",
  },
  {
    name: "AWS store with auth.jwt but no serviceAccountRef",
    def: aws,
    spec: { service: "SecretsManager", region: "us-east-1", auth: { jwt: {} } },
    instead: /auth\.jwt\.serviceAccountRef/,
    uses: "awsCredentials",
  },
];

for (const c of cases) {
  test(`namespaced store, flag off: ${c.name} is refused at validation and at connect, before any request`, async () => {
    const problems = c.def.validate(c.spec as never, { storeKind: "SecretStore" });
    assert.equal(problems.length, 1, problems.join());
    assert.ok(problems[0]!.includes(OPERATOR_IDENTITY_FLAG));
    await assert.rejects(
      pool(false).get(c.def, c.spec, ctx("SecretStore")),
      (e: unknown) =>
        isCustosError(e, "CUSTOS_OPERATOR_IDENTITY_DENIED") &&
        e.message.includes(OPERATOR_IDENTITY_FLAG) &&
        c.instead.test(e.message) &&
        /namespaced SecretStore/.test(e.message),
    );
    // the provider directly, with a context nobody granted anything: same refusal
    await assert.rejects(c.def.connect(c.spec as never, ctx("SecretStore"), deps), (e: unknown) =>
      isCustosError(e, "CUSTOS_OPERATOR_IDENTITY_DENIED"),
    );
    assert.deepEqual(used, [], "the operator identity was never touched");
    assert.deepEqual(connects, [], "no connection was attempted");
  });

  test(`${c.name}: allowed for a ClusterSecretStore, and for a namespaced one with the flag`, async () => {
    for (const [allow, kind] of [
      [false, "ClusterSecretStore"],
      [true, "SecretStore"],
    ] as const) {
      used.length = 0;
      assert.deepEqual(c.def.validate(c.spec as never, { storeKind: kind, operator }), []);
      await pool(allow)
        .get(c.def, c.spec, ctx(kind))
        .catch(() => undefined); // nothing listens: what matters is what was attempted
      assert.ok(used.includes(c.uses), `${kind}: ${used.join()}`);
    }
  });
}

test("the spy sees requests: an allowed Vault kubernetes login and an allowed role assumption go out", async () => {
  await pool(true)
    .get(vault, cases[0]!.spec, ctx("SecretStore"))
    .catch(() => undefined);
  assert.ok(connects.length > 0);
  connects.length = 0;
  await pool(true)
    .get(aws, cases[4]!.spec, ctx("SecretStore"))
    .catch(() => undefined);
  assert.ok(connects.length > 0, "STS AssumeRole attempted with the operator's credentials");
  assert.ok(used.includes("awsCredentials()"));
});

test("credentials the tenant names are not the operator's: allowed without the flag", async () => {
  const specs: [ProviderDefinition, unknown][] = [
    [vault, { server: CLOSED, auth: { kubernetes: { role: "r", serviceAccountRef: { name: "app" } } } }],
    [vault, { server: CLOSED, auth: { kubernetes: { role: "r", secretRef: { name: "jwt" } } } }],
    [
      vault,
      {
        server: CLOSED,
        auth: { jwt: { role: "r", kubernetesServiceAccountToken: { serviceAccountRef: { name: "app" } } } },
      },
    ],
    [
      vault,
      {
        server: CLOSED,
        auth: {
          iam: {
            region: "us-east-1",
            secretRef: {
              accessKeyIDSecretRef: { name: "k", key: "id" },
              secretAccessKeySecretRef: { name: "k", key: "secret" },
            },
          },
        },
      },
    ],
    [
      aws,
      {
        service: "SecretsManager",
        region: "us-east-1",
        role: "arn:aws:iam::1:role/r",
        auth: { jwt: { serviceAccountRef: { name: "app" } } },
      },
    ],
  ];
  for (const [def, spec] of specs) {
    assert.deepEqual(def.validate(spec as never, { storeKind: "SecretStore" }), []);
    await pool(false)
      .get(def, spec, ctx("SecretStore"))
      .catch((e: unknown) => assert.ok(!isCustosError(e, "CUSTOS_OPERATOR_IDENTITY_DENIED"), String(e)));
  }
  assert.deepEqual(used, [], "never the operator's identity");
});

test("jwt auth with kubernetesServiceAccountToken mints a token for the store's own namespace only", async () => {
  const spec = {
    server: CLOSED,
    auth: {
      jwt: {
        role: "r",
        kubernetesServiceAccountToken: { serviceAccountRef: { name: "custos", namespace: "custos-system" } },
      },
    },
  };
  await pool(false)
    .get(vault, spec, ctx("SecretStore"))
    .catch(() => undefined);
  assert.deepEqual(tokenRequests, ["tenant/custos"], "the namespace in the ref is ignored on a SecretStore");
  assert.deepEqual(used, []);
});

test("a context cannot smuggle the operator identity in: the pool strips it for namespaced stores", () => {
  const smuggled = { ...ctx("SecretStore"), operator };
  assert.equal(
    grantOperatorIdentity(smuggled, { allowForNamespacedStores: false }, operator).operator,
    undefined,
  );
  assert.equal(
    grantOperatorIdentity(ctx("ClusterSecretStore"), { allowForNamespacedStores: false }, operator).operator,
    operator,
  );
});

test("by construction: only src/engine/operator-identity.ts reaches the operator's own credentials", () => {
  const root = join(import.meta.dirname, "..", "..", "..", "src");
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".ts")) files.push(p);
    }
  };
  walk(root);
  const sources =
    /fromNodeProviderChain|fromEnv\b|fromIni\b|fromInstanceMetadata|fromContainerMetadata|fromProcess\b|fromSSO\b|fromTokenFile|defaultProvider\b|serviceaccount\/token|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_WEB_IDENTITY_TOKEN_FILE|AWS_ROLE_ARN/;
  const hits = files.filter((f) => sources.test(readFileSync(f, "utf8"))).map((f) => relative(root, f));
  assert.deepEqual(hits, ["engine/operator-identity.ts"]);
});
