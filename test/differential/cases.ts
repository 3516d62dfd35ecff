/**
 * The differential case table: ExternalSecrets run by the real ESO and by Custos against the same
 * Vault and moto data (scripts/differential.ts), generated over the behaviours of ESO v2.9 that a
 * user observes (reference: ESO's ExternalSecret spec, status/labels/annotations, write semantics).
 *
 * A case is pure data: its remote store, its ExternalSecret spec (the store reference is filled in
 * by the runner), and objects that exist before it (a Secret to merge into, a ConfigMap for
 * templateFrom). Titles are unique and stable: recorded ESO outputs are keyed by them.
 */

export type StoreKind = "vault2" | "vault1" | "awssm" | "ssm";

export interface PreObject {
  kind: "Secret" | "ConfigMap";
  /** Default: the case's target name. */
  name?: string;
  data: Record<string, string>;
  labels?: Record<string, string>;
}

export interface Case {
  title: string;
  family: string;
  store: StoreKind;
  /** ExternalSecret spec without secretStoreRef (filled in by the runner). */
  spec: Record<string, unknown>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  pre?: PreObject[];
}

/** Vault KV mounts (v2 and v1) the seed data is written to. */
export const VAULT_MOUNT_V2 = "diffkv2";
export const VAULT_MOUNT_V1 = "diffkv1";

/** A throwaway self-signed test certificate (EC P-256, SANs a.example, b.example, 10.1.2.3) and its key: test data only. */
export const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBrTCCAVKgAwIBAgIUTu0dCJFcQUrNEAMXlQw5HxBWArowCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMZGlmZi5leGFtcGxlMCAXDTI2MTIwMjAwMjY1M1oYDzIxMjYx
MTA4MDAyNjUzWjAXMRUwEwYDVQQDDAxkaWZmLmV4YW1wbGUwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAAQ4vJZOS0o5y5+JkQuDBiI59q/uCVAdlsHlhWFCox2IEIun
RZ12ZGe5hIAsR/5xIWApsf5c2WWWeV0tjYrBRztfo3oweDAdBgNVHQ4EFgQUYk1H
DDbeAf6cL5+rhR08Yn9uJMMwHwYDVR0jBBgwFoAUYk1HDDbeAf6cL5+rhR08Yn9u
JMMwDwYDVR0TAQH/BAUwAwEB/zAlBgNVHREEHjAcgglhLmV4YW1wbGWCCWIuZXhh
bXBsZYcECgECAzAKBggqhkjOPQQDAgNJADBGAiEAwrJqpCWz++ctAiTFZFfpxF5p
SBVXJYAmo5jBHQncdCECIQDNq4tbjP8n5K0K+RO816LhZvX2OydhnAvLHisyjPDO
BQ==
-----END CERTIFICATE-----
`;
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfPGz33tM3v/kDUws
wkNtjAvBRkT5PDw81f25VQCcPMWhRANCAAQ4vJZOS0o5y5+JkQuDBiI59q/uCVAd
lsHlhWFCox2IEIunRZ12ZGe5hIAsR/5xIWApsf5c2WWWeV0tjYrBRztf
-----END PRIVATE KEY-----
`;
const TEST_JWK =
  '{"kty":"EC","x":"OLyWTktKOcufiZELgwYiOfav7glQHZbB5YVhQqMdiBA","y":"i6dFnXZkZ7mEgCxH_nEhYCmx_lzZZZZ5XS2NisFHO18","crv":"P-256"}';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");
const b64url = (s: string | Buffer): string => Buffer.from(s).toString("base64url");

/** Vault secrets (same data under both mounts); keys are paths below the mount. */
export const VAULT_SEED: Record<string, Record<string, unknown>> = {
  plain: { user: "admin", pass: "s3cr3t", "dot.key": "dotted", html: "<a&b>" },
  nested: {
    db: { host: "db.local", port: 5432, opts: { ssl: true, mode: "verify-full" } },
    list: ["a", "b", { name: "n1" }],
    num: 1.5,
    int: 42,
    big: 12345678901,
    t: true,
    f: false,
    nul: null,
    empty: "",
    obj: { z: 1, a: { y: "<>" } },
  },
  b64: {
    std: b64("hello world?>"),
    url: b64url("hello world?>"),
    plain: "hello!",
    bin: b64(Buffer.from([0xff, 0xfe, 0x00, 0x41])),
    padded: "aGk=",
    unpadded: "aGk",
  },
  unicode: { ключ: "значение", emoji: "😀", "key with space": "v", "a/b": "slash", "x@y": "at" },
  tmpl: {
    user: "admin",
    pass: "s3cr3t",
    json: '{"b":2,"a":[1,2],"c":{"y":"<x>","x":null}}',
    yaml: "b: 1\na: [x, y]\nc:\n  on: yes\n",
    num: "42",
    csv: "a,b,c",
    pem: TEST_CERT,
    bundle: TEST_CERT + TEST_KEY,
    jwk: TEST_JWK,
    spaces: "  padded  ",
  },
  "find/app1/db": { password: "p1" },
  "find/app1/api": { token: "t1" },
  "find/app2/db": { password: "p2", user: "u2" },
  "find/other": { k: "v" },
};

/** custom_metadata written to the KV v2 metadata of these secrets. */
export const VAULT_METADATA: Record<string, Record<string, string>> = {
  plain: { owner: "team-a", env: "prod" },
  "find/app2/db": { env: "prod" },
};

/** AWS Secrets Manager secrets (SecretString) and Parameter Store parameters. */
export const SM_SEED: Record<string, string> = {
  "diff/plain": JSON.stringify({ user: "admin", pass: "s3cr3t", "dot.key": "dotted" }),
  "diff/nested": JSON.stringify({ db: { host: "h", port: 5432 }, list: [1, 2], html: "<b>" }),
  "diff/text": "just text",
  "diff/b64": b64("decoded!"),
};
export const SSM_SEED: Record<string, string> = {
  "/diff/p1": "v1",
  "/diff/json": '{"a":"b","n":{"m":1}}',
  "/diff/b64": b64("decoded!"),
};

function gen(): Case[] {
  const cases: Case[] = [];
  const add = (c: Case): void => {
    cases.push(c);
  };
  const one = (
    key: string,
    property?: string,
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> => ({
    data: [{ secretKey: "v", remoteRef: { key, ...(property === undefined ? {} : { property }), ...extra } }],
  });

  // §2 properties and gjson paths, KV v2 and v1
  const props: [string, (string | undefined)[]][] = [
    ["plain", [undefined, "user", "dot.key", "html", "missing"]],
    [
      "nested",
      [
        undefined,
        "db",
        "db.host",
        "db.port",
        "db.opts",
        "db.opts.ssl",
        "list",
        "list.0",
        "list.2.name",
        "list.#",
        "num",
        "int",
        "big",
        "t",
        "f",
        "nul",
        "empty",
        "obj",
        "obj.a",
        "missing",
        "db.missing",
        "list.7",
      ],
    ],
    ["unicode", [undefined, "ключ", "emoji", "key with space", "a/b", "x@y"]],
  ];
  for (const store of ["vault2", "vault1"] as const)
    for (const [key, ps] of props)
      for (const p of ps)
        add({
          title: `${store} property ${key}:${p ?? "(none)"}`,
          family: "property",
          store,
          spec: one(key, p),
        });
  for (const store of ["vault2", "vault1"] as const) {
    add({ title: `${store} missing secret`, family: "missing", store, spec: one("does/not/exist") });
    add({
      title: `${store} missing secret, property`,
      family: "missing",
      store,
      spec: one("does/not/exist", "x"),
    });
    add({
      title: `${store} version 1`,
      family: "property",
      store,
      spec: one("plain", "user", { version: "1" }),
    });
  }

  // AWS Secrets Manager and Parameter Store
  const smProps: [string, (string | undefined)[]][] = [
    ["diff/plain", [undefined, "user", "dot.key", "missing"]],
    ["diff/nested", [undefined, "db", "db.host", "db.port", "list", "list.1", "html"]],
    ["diff/text", [undefined, "x"]],
    ["diff/missing", [undefined]],
  ];
  for (const [key, ps] of smProps)
    for (const p of ps)
      add({
        title: `awssm property ${key}:${p ?? "(none)"}`,
        family: "property",
        store: "awssm",
        spec: one(key, p),
      });
  for (const [key, ps] of [
    ["/diff/p1", [undefined, "x"]],
    ["/diff/json", [undefined, "a", "n.m", "n"]],
    ["/diff/missing", [undefined]],
  ] as [string, (string | undefined)[]][])
    for (const p of ps)
      add({
        title: `ssm property ${key}:${p ?? "(none)"}`,
        family: "property",
        store: "ssm",
        spec: one(key, p),
      });
  for (const [store, key] of [
    ["awssm", "diff/plain"],
    ["awssm", "diff/nested"],
    ["ssm", "/diff/json"],
  ] as const)
    add({
      title: `${store} dataFrom.extract ${key}`,
      family: "extract",
      store,
      spec: { dataFrom: [{ extract: { key } }] },
    });
  for (const d of ["None", "Base64", "Auto"])
    for (const [store, key] of [
      ["awssm", "diff/b64"],
      ["ssm", "/diff/b64"],
    ] as const)
      add({
        title: `${store} decodingStrategy ${d} ${key}`,
        family: "decoding",
        store,
        spec: one(key, undefined, { decodingStrategy: d }),
      });

  // §2 decoding and conversion strategies
  const decodings = [undefined, "None", "Base64", "Base64URL", "Auto"];
  for (const d of decodings)
    for (const k of Object.keys(VAULT_SEED.b64!))
      add({
        title: `vault2 decodingStrategy ${d ?? "(unset)"} b64.${k}`,
        family: "decoding",
        store: "vault2",
        spec: one("b64", k, d ? { decodingStrategy: d } : {}),
      });
  for (const d of decodings)
    add({
      title: `vault2 dataFrom.extract b64 decodingStrategy ${d ?? "(unset)"}`,
      family: "decoding",
      store: "vault2",
      spec: { dataFrom: [{ extract: { key: "b64", ...(d ? { decodingStrategy: d } : {}) } }] },
    });
  for (const conv of [undefined, "Default", "Unicode"]) {
    add({
      title: `vault2 dataFrom.extract unicode conversionStrategy ${conv ?? "(unset)"}`,
      family: "conversion",
      store: "vault2",
      spec: { dataFrom: [{ extract: { key: "unicode", ...(conv ? { conversionStrategy: conv } : {}) } }] },
    });
    add({
      title: `vault2 find unicode conversionStrategy ${conv ?? "(unset)"}`,
      family: "conversion",
      store: "vault2",
      spec: { dataFrom: [{ find: { path: "find", ...(conv ? { conversionStrategy: conv } : {}) } }] },
    });
  }
  for (const key of ["plain", "nested", "b64", "tmpl"])
    for (const store of ["vault2", "vault1"] as const)
      add({
        title: `${store} dataFrom.extract ${key}`,
        family: "extract",
        store,
        spec: { dataFrom: [{ extract: { key } }] },
      });
  add({
    title: "vault2 dataFrom.extract nested property db",
    family: "extract",
    store: "vault2",
    spec: { dataFrom: [{ extract: { key: "nested", property: "db" } }] },
  });
  add({
    title: "vault2 dataFrom.extract then data override",
    family: "extract",
    store: "vault2",
    spec: {
      dataFrom: [{ extract: { key: "plain" } }],
      data: [{ secretKey: "user", remoteRef: { key: "tmpl", property: "pass" } }],
    },
  });
  add({
    title: "vault2 dataFrom.extract two sources, later wins",
    family: "extract",
    store: "vault2",
    spec: { dataFrom: [{ extract: { key: "plain" } }, { extract: { key: "tmpl" } }] },
  });

  // metadataPolicy Fetch (KV v2)
  for (const p of [undefined, "owner", "env", "missing", "current_version"])
    add({
      title: `vault2 metadataPolicy Fetch plain:${p ?? "(none)"}`,
      family: "metadata",
      store: "vault2",
      spec: one("plain", p, { metadataPolicy: "Fetch" }),
    });

  // §2 find and rewrite
  const finds: [string, Record<string, unknown>][] = [
    ["path find", { path: "find" }],
    ["path find/app1", { path: "find/app1" }],
    ["name ^find/app", { name: { regexp: "^find/app" } }],
    ["name db$", { name: { regexp: "db$" } }],
    ["path find name app2", { path: "find", name: { regexp: "app2" } }],
    ["name nomatch", { name: { regexp: "^nomatch$" } }],
    ["tags env=prod", { tags: { env: "prod" } }],
  ];
  const rewrites: [string, unknown[] | undefined][] = [
    ["none", undefined],
    ["regexp slash to underscore", [{ regexp: { source: "/", target: "_" } }]],
    ["regexp strip prefix", [{ regexp: { source: "^find/", target: "" } }]],
    ["regexp $2-$1", [{ regexp: { source: "^find/(?:([^/]+)/)?(.*)$", target: "$2-$1" } }]],
    ["regexp $1_x", [{ regexp: { source: "^find/([a-z0-9]+)/?(.*)$", target: "$1_x" } }]],
    ["regexp ${1}_x_${2}", [{ regexp: { source: "^find/([a-z0-9]+)/?(.*)$", target: "${1}_x_${2}" } }]],
    ["regexp all empty", [{ regexp: { source: ".*", target: "" } }]],
    [
      "regexp named group",
      [{ regexp: { source: "^find/(?P<app>[a-z0-9]+)/?(?P<rest>.*)$", target: "${rest}.${app}" } }],
    ],
    ["transform upper", [{ transform: { template: '{{ .value | upper | replace "/" "_" }}' } }]],
    [
      "regexp then transform",
      [{ regexp: { source: "/", target: "-" } }, { transform: { template: "x-{{ .value }}" } }],
    ],
    ["regexp on plain keys", [{ regexp: { source: "^(u|p)(.*)$", target: "${2}_$1" } }]],
  ];
  for (const [fn, find] of finds)
    for (const [rn, rewrite] of rewrites)
      add({
        title: `vault2 find ${fn} rewrite ${rn}`,
        family: "find",
        store: "vault2",
        spec: { dataFrom: [{ find, ...(rewrite ? { rewrite } : {}) }] },
      });
  for (const [rn, rewrite] of rewrites.slice(1))
    add({
      title: `vault2 extract plain rewrite ${rn}`,
      family: "rewrite",
      store: "vault2",
      spec: { dataFrom: [{ extract: { key: "plain" }, rewrite }] },
    });
  for (const [fn, find] of [
    ["name ^diff/", { name: { regexp: "^diff/" } }],
    ["path diff", { path: "diff" }],
  ] as const)
    add({
      title: `awssm find ${fn}`,
      family: "find",
      store: "awssm",
      spec: { dataFrom: [{ find, rewrite: [{ regexp: { source: "^diff_", target: "" } }] }] },
    });
  add({
    title: "ssm find path /diff",
    family: "find",
    store: "ssm",
    spec: { dataFrom: [{ find: { path: "/diff" } }] },
  });

  // §7 templates: one expression per case, over dataFrom.extract of "tmpl"
  const exprs: [string, string][] = [
    ["text", "{{ .user }}:{{ .pass }}"],
    ["upper", "{{ .user | upper }}"],
    ["lower title", "{{ .user | title | lower }}"],
    ["trim", "[{{ .spaces | trim }}]"],
    ["trimPrefix", "{{ .user | trimPrefix `ad` }}"],
    ["replace", '{{ .csv | replace "," ";" }}'],
    ["quote squote", "{{ .user | quote }} {{ .user | squote }}"],
    ["indent nindent", "{{ .csv | indent 2 }}{{ .csv | nindent 4 }}"],
    ["repeat", "{{ .user | repeat 2 }}"],
    ["substr trunc", "{{ .pass | substr 1 3 }}{{ .pass | trunc 2 }}"],
    ["printf", '{{ printf "%s-%05d-%q" .user 42 .pass }}'],
    ["b64enc", "{{ .pass | b64enc }}"],
    ["b64dec", "{{ .pass | b64enc | b64dec }}"],
    ["b32enc", "{{ .pass | b32enc }}"],
    ["sha256sum", "{{ .pass | sha256sum }}"],
    ["sha1sum", "{{ .pass | sha1sum }}"],
    ["adler32sum", "{{ .pass | adler32sum }}"],
    ["splitList join", '{{ .csv | splitList "," | join "|" }}'],
    ["split", '{{ (split "," .csv)._1 }}'],
    ["list sortAlpha", "{{ list 3 1 2 | sortAlpha | toJson }}"],
    ["dict toJson", '{{ dict "b" "<1>" "a" 2 | toJson }}'],
    ["dict toPrettyJson", '{{ dict "b" 1 "a" (list 1 2) | toPrettyJson }}'],
    ["dict toRawJson", '{{ dict "b" "<&>" | toRawJson }}'],
    ["fromJson toJson", "{{ .json | fromJson | toJson }}"],
    ["fromJson field", "{{ (.json | fromJson).b }}"],
    ["fromJson toYaml", "{{ .json | fromJson | toYaml }}"],
    ["fromYaml toJson", "{{ .yaml | fromYaml | toJson }}"],
    ["fromYaml toYaml", "{{ .yaml | fromYaml | toYaml }}"],
    ["keys sortAlpha", '{{ dict "b" 1 "a" 2 | keys | sortAlpha | join "," }}'],
    ["pluck", '{{ pluck "a" (dict "a" 1) (dict "a" 2) | toJson }}'],
    ["dig", '{{ dig "c" "y" "none" (.json | fromJson) }}'],
    ["atoi add", "{{ .num | atoi | add 1 }}"],
    ["math", "{{ mul 6 7 }} {{ div 7 2 }} {{ mod 7 2 }} {{ max 1 9 3 }} {{ sub 1 5 }}"],
    ["float", "{{ addf 1.5 2 }} {{ 3.0 | float64 }}"],
    ["default empty", '{{ "" | default "dflt" }}|{{ empty "" }}|{{ coalesce "" "c" }}'],
    ["ternary", '{{ ternary "y" "n" true }}'],
    ["regexFind", '{{ regexFind "[0-9]+" .pass }}'],
    ["regexReplaceAll", '{{ regexReplaceAll "[aeiou]" .user "_" }}'],
    ["regexSplit", '{{ regexSplit "," .csv -1 | toJson }}'],
    ["contains hasPrefix", '{{ contains "dm" .user }} {{ hasPrefix "ad" .user }}'],
    ["urlquery", "{{ urlquery .json }}"],
    ["date fixed", '{{ date "2006-01-02" (toDate "2006-01-02" "2024-03-05") }}'],
    ["semver", '{{ (semver "1.2.3").Minor }}'],
    ["uniq compact", "{{ list 1 1 2 | uniq | toJson }} {{ list 1 0 2 | compact | toJson }}"],
    ["filterPEM CERTIFICATE", '{{ .bundle | filterPEM "CERTIFICATE" }}'],
    ["filterPEM PRIVATE KEY", '{{ .bundle | filterPEM "PRIVATE KEY" }}'],
    ["filterCertChain leaf", '{{ .pem | filterCertChain "leaf" }}'],
    ["certSANs", "{{ .pem | certSANs | toJson }}"],
    ["jwkPublicKeyPem", "{{ .jwk | jwkPublicKeyPem }}"],
    ["missing key", "{{ .nope }}"],
    ["parse error", "{{ .user "],
    ["fail", '{{ fail "boom" }}'],
    ["if else", '{{ if eq .user "admin" }}root{{ else }}user{{ end }}'],
    ["range", '{{ range $i, $v := splitList "," .csv }}{{ $i }}={{ $v }};{{ end }}'],
    ["with", "{{ with .user }}{{ . }}{{ end }}"],
  ];
  for (const [name, expr] of exprs)
    add({
      title: `template ${name}`,
      family: "template",
      store: "vault2",
      spec: {
        dataFrom: [{ extract: { key: "tmpl" } }],
        target: { template: { engineVersion: "v2", data: { out: expr } } },
      },
    });

  // template structure: type, metadata, mergePolicy, templateFrom
  const tplBase = { dataFrom: [{ extract: { key: "plain" } }] };
  const tplCases: [string, Record<string, unknown>, PreObject[]?][] = [
    ["type custom", { type: "example.com/custom", data: { a: "{{ .user }}" } }],
    ["type tls", { type: "kubernetes.io/tls", data: { "tls.crt": "{{ .user }}", "tls.key": "{{ .pass }}" } }],
    [
      "metadata labels annotations",
      {
        metadata: { labels: { app: "x", user: "{{ .user }}" }, annotations: { note: "n" } },
        data: { a: "{{ .user }}" },
      },
    ],
    ["mergePolicy Merge", { mergePolicy: "Merge", data: { user: "{{ .user | upper }}", extra: "e" } }],
    ["mergePolicy Replace", { mergePolicy: "Replace", data: { extra: "e" } }],
    ["no data (metadata only)", { metadata: { labels: { only: "labels" } } }],
    ["empty value key", { data: { empty: "" } }],
    [
      "templateFrom configMap Values",
      { templateFrom: [{ configMap: { name: "tpl", items: [{ key: "conf", templateAs: "Values" }] } }] },
      [{ kind: "ConfigMap", name: "tpl", data: { conf: "user={{ .user }}" } }],
    ],
    [
      "templateFrom configMap KeysAndValues",
      {
        templateFrom: [{ configMap: { name: "tpl", items: [{ key: "conf", templateAs: "KeysAndValues" }] } }],
      },
      [{ kind: "ConfigMap", name: "tpl", data: { conf: "k1: {{ .user }}\nk2: {{ .pass }}" } }],
    ],
    [
      "templateFrom secret Values",
      { templateFrom: [{ secret: { name: "tplsecret", items: [{ key: "conf" }] } }] },
      [{ kind: "Secret", name: "tplsecret", data: { conf: "p={{ .pass }}" } }],
    ],
    ["templateFrom literal", { templateFrom: [{ literal: "lit: {{ .user }}" }] }],
    [
      "templateFrom target Labels",
      { templateFrom: [{ target: "Labels", literal: "team: {{ .user }}" }], data: { a: "b" } },
    ],
    [
      "templateFrom target Annotations",
      { templateFrom: [{ target: "Annotations", literal: "note: {{ .pass }}" }], data: { a: "b" } },
    ],
    ["template.data over templateFrom", { templateFrom: [{ literal: "a: from" }], data: { a: "data" } }],
  ];
  for (const [name, template, pre] of tplCases)
    add({
      title: `template ${name}`,
      family: "template-structure",
      store: "vault2",
      spec: { ...tplBase, target: { template: { engineVersion: "v2", ...template } } },
      ...(pre ? { pre } : {}),
    });
  add({
    title: "no template: ES labels and annotations copied",
    family: "metadata-copy",
    store: "vault2",
    spec: one("plain", "user"),
    labels: { team: "a", "app.kubernetes.io/name": "x" },
    annotations: { "example.com/note": "n" },
  });
  add({
    title: "template: ES labels not copied",
    family: "metadata-copy",
    store: "vault2",
    spec: { ...one("plain", "user"), target: { template: { data: { v: "{{ .v }}" } } } },
    labels: { team: "a" },
  });
  add({
    title: "target name and immutable",
    family: "target",
    store: "vault2",
    spec: { ...one("plain", "user"), target: { name: "renamed", immutable: true } },
  });

  // §2/§4 policy combinations, with and without a Secret already there, remote present or missing
  const creations = [undefined, "Owner", "Orphan", "Merge", "None"];
  const deletions = [undefined, "Retain", "Delete", "Merge"];
  for (const c of creations)
    for (const d of deletions)
      for (const existing of [false, true])
        add({
          title: `policy creation=${c ?? "(unset)"} deletion=${d ?? "(unset)"} existing=${existing}`,
          family: "policy",
          store: "vault2",
          spec: {
            ...one("plain", "user"),
            ...(c || d
              ? { target: { ...(c ? { creationPolicy: c } : {}), ...(d ? { deletionPolicy: d } : {}) } }
              : {}),
          },
          ...(existing
            ? {
                pre: [{ kind: "Secret" as const, data: { keep: "kept", v: "old" }, labels: { mine: "yes" } }],
              }
            : {}),
        });
  for (const c of ["Owner", "Orphan", "Merge"])
    for (const d of deletions)
      add({
        title: `policy missing remote creation=${c} deletion=${d ?? "(unset)"}`,
        family: "policy-missing",
        store: "vault2",
        spec: {
          ...one("does/not/exist", "x"),
          target: { creationPolicy: c, ...(d ? { deletionPolicy: d } : {}) },
        },
        pre: [{ kind: "Secret", data: { keep: "kept" } }],
      });
  add({
    title: "policy find no match deletion=Delete",
    family: "policy-missing",
    store: "vault2",
    spec: { dataFrom: [{ find: { name: { regexp: "^nomatch$" } } }], target: { deletionPolicy: "Delete" } },
  });

  // §2 validation (admission)
  for (const d of deletions)
    add({
      title: `duplicate secretKey deletion=${d ?? "(unset)"}`,
      family: "admission",
      store: "vault2",
      spec: {
        data: [
          { secretKey: "k", remoteRef: { key: "plain", property: "user" } },
          { secretKey: "k", remoteRef: { key: "plain", property: "pass" } },
        ],
        ...(d ? { target: { deletionPolicy: d } } : {}),
      },
    });
  add({ title: "neither data nor dataFrom", family: "admission", store: "vault2", spec: {} });
  add({
    title: "empty data and dataFrom lists",
    family: "admission",
    store: "vault2",
    spec: { data: [], dataFrom: [] },
  });
  add({
    title: "dataFrom with extract and find",
    family: "admission",
    store: "vault2",
    spec: { dataFrom: [{ extract: { key: "plain" }, find: { path: "find" } }] },
  });
  add({ title: "dataFrom entry empty", family: "admission", store: "vault2", spec: { dataFrom: [{}] } });
  add({
    title: "secretKey with invalid characters",
    family: "admission",
    store: "vault2",
    spec: { data: [{ secretKey: "a b", remoteRef: { key: "plain", property: "user" } }] },
  });
  add({
    title: "remoteRef without key",
    family: "admission",
    store: "vault2",
    spec: { data: [{ secretKey: "a", remoteRef: { property: "user" } }] },
  });
  add({
    title: "unknown creationPolicy",
    family: "admission",
    store: "vault2",
    spec: { ...one("plain", "user"), target: { creationPolicy: "Sometimes" } },
  });
  add({
    title: "unknown decodingStrategy",
    family: "admission",
    store: "vault2",
    spec: one("plain", "user", { decodingStrategy: "Hex" }),
  });
  add({
    title: "refreshInterval 0s",
    family: "admission",
    store: "vault2",
    spec: { ...one("plain", "user"), refreshInterval: "0s" },
  });
  add({
    title: "refreshPolicy CreatedOnce",
    family: "admission",
    store: "vault2",
    spec: { ...one("plain", "user"), refreshPolicy: "CreatedOnce" },
  });
  add({
    title: "rewrite with regexp and transform in one entry",
    family: "admission",
    store: "vault2",
    spec: {
      dataFrom: [
        {
          extract: { key: "plain" },
          rewrite: [{ regexp: { source: "a", target: "b" }, transform: { template: "{{ .value }}" } }],
        },
      ],
    },
  });
  add({
    title: "rewrite regexp invalid",
    family: "rewrite",
    store: "vault2",
    spec: { dataFrom: [{ extract: { key: "plain" }, rewrite: [{ regexp: { source: "(", target: "x" } }] }] },
  });

  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.title)) throw new Error(`duplicate case title: ${c.title}`);
    seen.add(c.title);
  }
  return cases;
}

export const CASES: readonly Case[] = gen();

/** The object name of case i: short, stable for a given table. */
export function caseName(index: number): string {
  return `c${String(index).padStart(3, "0")}`;
}
