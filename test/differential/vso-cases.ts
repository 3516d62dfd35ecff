/**
 * The VSO differential case table: VaultStaticSecrets run by the real Vault Secrets Operator and by
 * Custos against the same Vault data (scripts/differential-vso.ts), over the behaviours of VSO
 * 1.4 a user observes (reference: ../shared/reference/vso.md §5-6): kv-v1/kv-v2 and `_raw`,
 * version pins, includes/excludes/excludeRaw, templates and SecretTransformations, the destination
 * rules (`create`, `overwrite`, labels, annotations, type) and `hmacSecretData`.
 *
 * A case is pure data: the VaultStaticSecret's spec (the runner fills in `vaultAuthRef` and a
 * missing `destination.name`), its own labels and annotations, Secrets that exist before it and
 * the SecretTransformations it refers to. Titles are unique and stable: recorded VSO outputs are
 * keyed by them.
 */

/** Vault mounts of the VSO cases (KV v2, KV v1) and the Kubernetes auth mount VSO logs in with. */
export const VSO_KV2 = "vsodiff2";
export const VSO_KV1 = "vsodiff1";
export const VSO_K8S_MOUNT = "vsodiffk8s";
/** The Vault role (bound to ServiceAccount VSO_SA in every namespace, audience `vault`). */
export const VSO_ROLE = "diff";
export const VSO_SA = "vso-sa";

/**
 * The HMAC key both operators use (the Secret vso-cc-storage-hmac-key in the operator namespace is
 * created with it before either starts), so `status.secretMAC` compares: test data only.
 */
export const VSO_HMAC_KEY = Buffer.from("custos-vso-diff!", "latin1");

/** Vault KV data (both mounts); `versioned` is written twice on KV v2 (version 1 and 2). */
export const VSO_SEED: Record<string, Record<string, unknown>> = {
  app: { user: "admin", pass: "s3cr3t", html: "<a&b>", "dot.key": "dotted" },
  nested: {
    db: { host: "db.local", port: 5432, opts: { ssl: true, mode: "verify-full" } },
    list: ["a", { n: 1 }],
    num: 1.5,
    int: 42,
    big: 12345678901,
    t: true,
    nul: null,
    empty: "",
    uni: "ünï ☃ <tag>",
    obj: { z: 1, a: { y: "<>&" } },
  },
  tmpl: { user: "app", pass: "pw", json: '{"b":2,"a":[1,2]}', csv: "a,b,c" },
  rawfield: { _raw: "mine", a: "b" },
};
/** KV v2 `versioned`: version 1 then version 2. */
export const VSO_VERSIONS: Record<string, unknown>[] = [{ v: "one" }, { v: "two", extra: "x" }];
/** KV v2 custom metadata (templates see it as `.Metadata`). */
export const VSO_METADATA: Record<string, Record<string, string>> = { app: { owner: "team-a" } };

export interface VsoPreSecret {
  /** Default: the case's destination name. */
  name?: string;
  data: Record<string, string>;
  labels?: Record<string, string>;
}

export interface VsoCase {
  title: string;
  family: string;
  /** VaultStaticSecret spec without vaultAuthRef; destination.name defaults to the case's name. */
  spec: Record<string, unknown>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  pre?: VsoPreSecret[];
  /** SecretTransformations in the case's namespace (names prefixed with the case's name). */
  transformations?: { name: string; spec: Record<string, unknown> }[];
  /**
   * VSO writes no status for it (a Secret it may not write, or create: false without a Secret: an
   * event, requeued): observed after the others, without waiting for a condition.
   */
  noStatus?: boolean;
}

const v2 = (path: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: "kv-v2",
  mount: VSO_KV2,
  path,
  ...extra,
});
const v1 = (path: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: "kv-v1",
  mount: VSO_KV1,
  path,
  ...extra,
});
const create = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  destination: { create: true, ...extra },
});
const transform = (
  t: Record<string, unknown>,
  dest: Record<string, unknown> = {},
): Record<string, unknown> => ({
  destination: { create: true, ...dest, transformation: t },
});

export const VSO_CASES: readonly VsoCase[] = [
  // reads and _raw
  { title: "kv-v2 fields and _raw", family: "read", spec: v2("app", create()) },
  { title: "kv-v1 fields and _raw", family: "read", spec: v1("app", create()) },
  { title: "kv-v2 nested values", family: "read", spec: v2("nested", create()) },
  { title: "kv-v1 nested values", family: "read", spec: v1("nested", create()) },
  { title: "kv-v2 latest version", family: "read", spec: v2("versioned", create()) },
  { title: "kv-v2 version pin 1", family: "read", spec: v2("versioned", { version: 1, ...create() }) },
  { title: "kv-v2 missing path", family: "read", spec: v2("does/not/exist", create()) },
  { title: "kv-v1 missing path", family: "read", spec: v1("does/not/exist", create()) },
  { title: "kv-v2 field named _raw", family: "read", spec: v2("rawfield", create()) },
  {
    title: "kv-v2 field named _raw with excludeRaw",
    family: "read",
    spec: v2("rawfield", transform({ excludeRaw: true })),
  },
  // field selection
  { title: "excludeRaw", family: "select", spec: v2("app", transform({ excludeRaw: true })) },
  { title: "includes ^u", family: "select", spec: v2("app", transform({ includes: ["^u"] })) },
  { title: "excludes pass|html", family: "select", spec: v2("app", transform({ excludes: ["pass|html"] })) },
  {
    title: "includes and excludes",
    family: "select",
    spec: v2("app", transform({ includes: ["s"], excludes: ["^pass$"] })),
  },
  {
    title: "includes matching nothing",
    family: "select",
    spec: v1("app", transform({ includes: ["^nothing$"] })),
  },
  // templates
  {
    title: "templates sprig basics",
    family: "template",
    spec: v2(
      "app",
      transform({
        templates: {
          upper: { text: "{{ .Secrets.user | upper }}" },
          keys: { text: '{{ keys .Secrets | sortAlpha | join "," }}' },
          b64: { text: '{{ get .Secrets "pass" | b64enc }}' },
          dflt: { text: '{{ .Secrets.missing | default "fallback" }}' },
          dot: { text: '{{ index .Secrets "dot.key" | quote }}' },
          html: { text: "{{ .Secrets.html }}" },
        },
      }),
    ),
  },
  {
    title: "templates metadata",
    family: "template",
    spec: v2(
      "app",
      transform({
        templates: {
          owner: { text: "{{ .Metadata.custom_metadata.owner }}" },
          version: { text: "{{ .Metadata.version }}" },
          meta: { text: "{{ .Metadata | toJson }}" },
        },
        excludeRaw: true,
      }),
    ),
  },
  {
    title: "templates labels and annotations",
    family: "template",
    labels: { team: "blue" },
    annotations: { note: "n1" },
    spec: v2(
      "app",
      transform({
        templates: {
          lab: { text: "{{ .Labels.team }}" },
          ann: { text: '{{ get .Annotations "note" }}' },
          all: { text: "{{ .Labels | toJson }}" },
        },
      }),
    ),
  },
  {
    title: "template overrides a field and includes do not filter templates",
    family: "template",
    spec: v2(
      "app",
      transform({
        templates: { user: { text: "{{ .Secrets.user | title }}" }, extra: { text: "x" } },
        includes: ["^user$"],
      }),
    ),
  },
  {
    title: "templates json and lists",
    family: "template",
    spec: v2(
      "tmpl",
      transform({
        templates: {
          parsed: { text: "{{ (.Secrets.json | fromJson).b }}" },
          roundtrip: { text: "{{ .Secrets.json | fromJson | toJson }}" },
          pretty: { text: "{{ .Secrets.json | fromJson | toPrettyJson }}" },
          last: { text: '{{ splitList "," .Secrets.csv | last }}' },
          dsn: { text: '{{ printf "%s:%s@db" .Secrets.user .Secrets.pass }}' },
          ternary: { text: '{{ ternary "yes" "no" (hasKey .Secrets "csv") }}' },
        },
        excludeRaw: true,
      }),
    ),
  },
  {
    title: "templates nested values",
    family: "template",
    spec: v2(
      "nested",
      transform({
        templates: {
          host: { text: "{{ .Secrets.db.host }}" },
          port: { text: "{{ .Secrets.db.port }}" },
          big: { text: "{{ .Secrets.big }}" },
          num: { text: "{{ .Secrets.num }}" },
          list: { text: "{{ .Secrets.list | toJson }}" },
          nul: { text: "{{ .Secrets.nul }}" },
        },
        excludeRaw: true,
        excludes: [".*"],
      }),
    ),
  },
  {
    title: "template with an unknown function",
    family: "template",
    spec: v2("app", transform({ templates: { bad: { text: "{{ .Secrets.user | nosuchfn }}" } } })),
  },
  {
    title: "template calling fail",
    family: "template",
    spec: v2("app", transform({ templates: { bad: { text: '{{ fail "no" }}' } } })),
  },
  {
    title: "transformationRefs to templates without a name",
    family: "template",
    transformations: [
      {
        name: "tr",
        spec: {
          sourceTemplates: [
            { name: "helpers", text: '{{- define "conn" -}}{{ .Secrets.user }}@db{{- end -}}' },
          ],
          templates: {
            conn: { text: '{{ template "conn" . }}' },
            other: { text: "{{ .Secrets.pass | upper }}" },
          },
          excludes: ["^html$"],
        },
      },
    ],
    spec: v2(
      "app",
      transform({
        transformationRefs: [
          {
            name: "tr",
            templateRefs: [{ name: "conn", keyOverride: "connection" }, { name: "other" }],
          },
        ],
      }),
    ),
  },
  {
    title: "transformationRefs sourceTemplates define named like a template",
    family: "template",
    transformations: [
      {
        name: "tr",
        spec: {
          sourceTemplates: [
            { name: "helpers", text: '{{- define "conn" -}}{{ .Secrets.user }}@db{{- end -}}' },
          ],
          templates: {
            conn: { name: "conn", text: '{{ template "conn" . }}' },
            other: { name: "other", text: "{{ .Secrets.pass | upper }}" },
          },
          excludes: ["^html$"],
        },
      },
    ],
    spec: v2(
      "app",
      transform({
        transformationRefs: [
          {
            name: "tr",
            templateRefs: [{ name: "conn", keyOverride: "connection" }, { name: "other" }],
          },
        ],
      }),
    ),
  },
  {
    title: "transformationRefs with named templates and keyOverride",
    family: "template",
    transformations: [
      {
        name: "tr",
        spec: {
          sourceTemplates: [
            { name: "helpers", text: '{{- define "dsn" -}}{{ .Secrets.user }}@db{{- end -}}' },
          ],
          templates: {
            conn: { name: "conn", text: '{{ template "dsn" . }}' },
            other: { name: "other", text: "{{ .Secrets.pass | upper }}" },
          },
          excludes: ["^html$"],
        },
      },
    ],
    spec: v2(
      "app",
      transform({
        transformationRefs: [
          {
            name: "tr",
            templateRefs: [{ name: "conn", keyOverride: "connection" }, { name: "other" }],
          },
        ],
      }),
    ),
  },
  {
    title: "transformationRefs ignoreExcludes",
    family: "template",
    transformations: [{ name: "tr", spec: { templates: { t: { text: "t" } }, excludes: ["^user$"] } }],
    spec: v2(
      "app",
      transform({ transformationRefs: [{ name: "tr", ignoreExcludes: true }], excludes: ["^pass$"] }),
    ),
  },
  // destination
  {
    title: "destination labels annotations and type",
    family: "destination",
    spec: v2(
      "app",
      create({
        labels: { a: "1", "app.kubernetes.io/name": "mine" },
        annotations: { x: "y" },
        type: "custom/type",
      }),
    ),
  },
  {
    title: "destination type basic-auth from templates",
    family: "destination",
    spec: v2(
      "app",
      transform(
        {
          templates: { username: { text: "{{ .Secrets.user }}" }, password: { text: "{{ .Secrets.pass }}" } },
          excludes: [".*"],
          excludeRaw: true,
        },
        { type: "kubernetes.io/basic-auth" },
      ),
    ),
  },
  {
    title: "destination name other than the object",
    family: "destination",
    spec: v2("app", create({ name: "renamed-target" })),
  },
  {
    title: "create false with an existing Secret",
    family: "destination",
    pre: [{ data: { old: "x" }, labels: { keep: "me" } }],
    spec: v2("app", { destination: { create: false } }),
  },
  {
    title: "create false without a Secret",
    family: "destination",
    noStatus: true,
    spec: v2("app", { destination: { create: false } }),
  },
  {
    title: "create true overwrite false with a foreign Secret",
    family: "destination",
    noStatus: true,
    pre: [{ data: { old: "x" }, labels: { keep: "me" } }],
    spec: v2("app", create({ overwrite: false })),
  },
  {
    title: "create true overwrite true with a foreign Secret",
    family: "destination",
    pre: [{ data: { old: "x" }, labels: { keep: "me" } }],
    spec: v2("app", create({ overwrite: true, labels: { l: "v" } })),
  },
  {
    title: "create true with a foreign Secret carrying VSO labels",
    family: "destination",
    noStatus: true,
    pre: [
      {
        data: { old: "x" },
        labels: {
          "app.kubernetes.io/managed-by": "hashicorp-vso",
          "app.kubernetes.io/name": "vault-secrets-operator",
          "app.kubernetes.io/component": "secret-sync",
        },
      },
    ],
    spec: v2("app", create()),
  },
  {
    title: "create true overwrite true with a Secret carrying VSO labels",
    family: "destination",
    noStatus: true,
    pre: [
      {
        data: { old: "x" },
        labels: {
          "app.kubernetes.io/managed-by": "hashicorp-vso",
          "app.kubernetes.io/name": "vault-secrets-operator",
          "app.kubernetes.io/component": "secret-sync",
        },
      },
    ],
    spec: v2("app", create({ overwrite: true })),
  },
  // HMAC
  { title: "hmacSecretData false", family: "hmac", spec: v2("app", { hmacSecretData: false, ...create() }) },
  {
    title: "hmacSecretData false with refreshAfter",
    family: "hmac",
    spec: v1("nested", { hmacSecretData: false, refreshAfter: "1h", ...create() }),
  },
];

/** The name of case `index`: its VaultStaticSecret and (by default) its Secret. */
export const vsoCaseName = (index: number): string => `v${String(index).padStart(3, "0")}`;
