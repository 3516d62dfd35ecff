/**
 * Writes test/fixtures/template/cases.json: template + data pairs whose expected output comes
 * from Go itself (main.go). Only deterministic functions appear here.
 *   npx tsx tools/template-golden/cases.ts && (cd tools/template-golden && go run . ../../test/fixtures/template/cases.json ../../test/fixtures/template/golden.json)
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

interface Case {
  name: string;
  template: string;
  data?: unknown;
  missingKey?: "error" | "zero" | "default";
}

const cases: Case[] = [];
const add = (name: string, template: string, data: unknown = {}, missingKey?: Case["missingKey"]): void => {
  cases.push({
    name: `${String(cases.length).padStart(3, "0")}-${name}`,
    template,
    data,
    ...(missingKey ? { missingKey } : {}),
  });
};

const eso = {
  username: "admin",
  password: "s3cr3t",
  host: "db.example.com",
  port: "5432",
  json: '{"a":1,"b":"two","c":[1,2]}',
  yaml: "a: 1\nb: two\n",
  empty: "",
  spaced: "  padded  ",
  multi: "line1\nline2",
};
const nested = {
  user: { name: "alice", roles: ["admin", "dev"], meta: { team: "blue" } },
  list: [3, 1, 2],
  strs: ["b", "a", "c", "a"],
  m: { z: 1, a: 2, m: 3 },
  n: 0,
  t: true,
  f: false,
  s: "",
  nil: null,
  num: 3.5,
  big: 100000000,
  neg: -4,
};

// text, actions, trim markers, comments
for (const t of [
  "plain text",
  "{{ .username }}",
  "a {{- .username -}} b",
  "a  {{- .username }}  b",
  "a {{ .username -}}  \n b",
  "{{/* comment */}}x",
  "x {{- /* c */ -}} y",
  "{{ `raw \\n string` }}",
  '{{ "esc\\t\\"q\\"\\n" }}',
  "{{ 'a' }}",
  "{{ 42 }}",
  "{{ -7 }}",
  "{{ 3.25 }}",
  "{{ 1e3 }}",
  "{{ 0x1F }}",
  "{{ true }}",
  "{{ nil }}",
])
  add("syntax", t, eso);
// fields, variables, dot
for (const t of [
  "{{ .user.name }}",
  "{{ .user.meta.team }}",
  "{{ .user.roles }}",
  "{{ .list }}",
  "{{ .m }}",
  "{{ . | len }}",
  "{{ $x := .user.name }}{{ $x }}",
  "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}",
  "{{ with .user }}{{ .name }} {{ $.list }}{{ end }}",
  "{{ $ }}",
  "{{ .num }}",
  "{{ .big }}",
  "{{ .neg }}",
  "{{ .nil }}",
  "{{ .missing }}",
  "{{ .user.missing }}",
  "{{ .t }} {{ .f }}",
])
  add("fields", t, nested);
// missingkey=error as ESO uses it
for (const t of ["{{ .missing }}", "{{ .user.name }}", "{{ .user.nokey }}", '{{ index . "missing" }}'])
  add("missingkey", t, nested, "error");
// if / else if / with / range
for (const t of [
  "{{ if .t }}yes{{ else }}no{{ end }}",
  "{{ if .f }}yes{{ else if .t }}elif{{ else }}no{{ end }}",
  "{{ if .s }}s{{ else }}empty{{ end }}",
  "{{ if .n }}n{{ else }}zero{{ end }}",
  "{{ if .list }}list{{ end }}",
  "{{ if .nil }}x{{ else }}nil is false{{ end }}",
  "{{ if and .t .f }}a{{ else }}b{{ end }}",
  "{{ if or .f .s .t }}a{{ else }}b{{ end }}",
  "{{ and 1 0 2 }}",
  '{{ or 0 "" "x" }}',
  "{{ not .t }}",
  "{{ with .missing }}x{{ else }}none{{ end }}",
  "{{ with .user.meta }}{{ .team }}{{ end }}",
  "{{ range .list }}[{{ . }}]{{ end }}",
  "{{ range $i, $v := .strs }}{{ $i }}={{ $v }};{{ end }}",
  "{{ range $k, $v := .m }}{{ $k }}:{{ $v }} {{ end }}",
  "{{ range .m }}{{ . }}{{ end }}",
  "{{ range .empty_list }}x{{ else }}empty{{ end }}",
  "{{ range $i, $v := .list }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ $v }}{{ end }}",
  "{{ range .list }}{{ if eq . 1 }}{{ break }}{{ end }}{{ . }}{{ end }}",
  "{{ range $x := .strs }}{{ $x }}{{ end }}",
  "{{ range 3 }}{{ . }}{{ end }}",
])
  add("control", t, { ...nested, empty_list: [] });
// define / template / block
for (const t of [
  '{{ define "t" }}T{{ . }}{{ end }}{{ template "t" .user.name }}',
  '{{ block "b" .list }}B{{ len . }}{{ end }}',
  '{{ define "a" }}A{{ template "b" }}{{ end }}{{ define "b" }}B{{ end }}{{ template "a" }}',
  '{{ template "nope" }}',
])
  add("templates", t, nested);
// comparisons and builtins
for (const t of [
  "{{ eq 1 1 }}",
  '{{ eq .user.name "alice" }}',
  "{{ eq 1 2 3 1 }}",
  "{{ ne 1 2 }}",
  "{{ lt 1 2 }}",
  "{{ le 2 2 }}",
  '{{ gt "b" "a" }}',
  "{{ ge 1 2 }}",
  "{{ len .strs }}",
  '{{ len "héllo" }}',
  "{{ index .strs 1 }}",
  '{{ index .m "z" }}',
  '{{ index .user "roles" 0 }}',
  "{{ slice .strs 1 3 }}",
  '{{ slice "abcdef" 2 4 }}',
  '{{ print 1 2 "a" "b" 3 }}',
  '{{ println "a" 1 }}',
  "{{ html \"<a href='x'>&\" }}",
  '{{ js "it\'s <b>" }}',
  '{{ urlquery "a b&c=d" }}',
  "{{ len 3 }}",
  '{{ eq "a" 1 }}',
  "{{ index .strs 10 }}",
])
  add("builtins", t, nested);
// printf verbs
for (const t of [
  '{{ printf "%s" "x" }}',
  '{{ printf "%d" 42 }}',
  '{{ printf "%05d" 42 }}',
  '{{ printf "%-10s|" "ab" }}',
  '{{ printf "%10s|" "ab" }}',
  '{{ printf "%.2f" 3.14159 }}',
  '{{ printf "%f" 2.5 }}',
  '{{ printf "%q" "a\\"b" }}',
  '{{ printf "%v" .list }}',
  '{{ printf "%v" .m }}',
  '{{ printf "%x" "hi" }}',
  '{{ printf "%X" 255 }}',
  '{{ printf "%t" true }}',
  '{{ printf "%c" 65 }}',
  '{{ printf "%o" 8 }}',
  '{{ printf "%b" 5 }}',
  '{{ printf "%e" 1234.5 }}',
  '{{ printf "%s-%s" .username .host }}',
  '{{ printf "%d%%" 5 }}',
  '{{ printf "%s" }}',
  '{{ printf "%d" "x" }}',
  '{{ printf "%+d" 5 }}',
  '{{ printf "%8.3f|" 3.14159 }}',
  '{{ printf "%-5d|" 42 }}',
  '{{ printf "%v %v" 1 }}',
  '{{ printf "%s" 1 2 }}',
])
  add("printf", t, eso);
// pipelines
for (const t of [
  "{{ .username | upper }}",
  '{{ .username | printf "%s!" }}',
  "{{ .password | b64enc | b64dec }}",
  "{{ .spaced | trim | quote }}",
  '{{ (printf "%s:%s" .username .password) | b64enc }}',
  '{{ .username | replace "a" "A" | upper }}',
  '{{ "x" | repeat 3 }}',
  "{{ list 1 2 3 | len }}",
])
  add("pipelines", t, eso);

// sprig strings, with several inputs each
const strInputs = ["hello world", "  spaced  ", "MiXeD Case", "", "a-b_c.d", "ünïcödé"];
const strFuncs = [
  "trim",
  "upper",
  "lower",
  "title",
  "nospace",
  "quote",
  "squote",
  "b64enc",
  "b32enc",
  "sha1sum",
  "sha256sum",
  "sha512sum",
  "adler32sum",
  "len",
  "toString",
  "cat",
];
for (const fn of strFuncs) for (const s of strInputs) add(`sprig-${fn}`, `{{ ${fn} .s }}`, { s });
for (const s of strInputs) {
  add("sprig-trimAll", '{{ trimAll "-_ " .s }}', { s });
  add("sprig-trimPrefix", '{{ trimPrefix "he" .s }}', { s });
  add("sprig-trimSuffix", '{{ trimSuffix "ld" .s }}', { s });
  add("sprig-contains", '{{ contains "o" .s }}', { s });
  add("sprig-hasPrefix", '{{ hasPrefix "he" .s }}', { s });
  add("sprig-hasSuffix", '{{ hasSuffix "ld" .s }}', { s });
  add("sprig-replace", '{{ replace "l" "L" .s }}', { s });
  add("sprig-substr", "{{ substr 1 4 .s }}", { s });
  add("sprig-trunc", "{{ trunc 3 .s }}", { s });
  add("sprig-trunc-neg", "{{ trunc -3 .s }}", { s });
  add("sprig-indent", "{{ indent 2 .s }}", { s });
  add("sprig-nindent", "{{ nindent 4 .s }}", { s });
  add("sprig-repeat", "{{ repeat 2 .s }}", { s });
  add("sprig-splitList", '{{ splitList " " .s }}', { s });
  add("sprig-split", '{{ (split " " .s)._0 }}', { s });
  add("sprig-regexMatch", '{{ regexMatch "^[a-z ]+$" .s }}', { s });
  add("sprig-regexFind", '{{ regexFind "[a-z]+" .s }}', { s });
  add("sprig-regexFindAll", '{{ regexFindAll "[a-z]" .s 3 }}', { s });
  add("sprig-regexReplaceAll", '{{ regexReplaceAll "([a-z])o" .s "${1}0" }}', { s });
  add("sprig-regexReplaceAllLiteral", '{{ regexReplaceAllLiteral "o" .s "$1" }}', { s });
  add("sprig-regexSplit", '{{ regexSplit " +" .s -1 }}', { s });
  add("sprig-default", '{{ default "dflt" .s }}', { s });
  add("sprig-empty", "{{ empty .s }}", { s });
}
// defaults and flow
for (const t of [
  '{{ default "d" .missing }}',
  '{{ default "d" "" }}',
  '{{ default "d" 0 }}',
  '{{ default "d" "x" }}',
  '{{ coalesce .missing "" "c" }}',
  '{{ ternary "y" "n" true }}',
  '{{ ternary "y" "n" false }}',
  "{{ empty .list }}",
  "{{ empty .n }}",
  '{{ fail "boom" }}',
])
  add("flow", t, nested);
// lists and dicts
for (const t of [
  "{{ list 1 2 3 }}",
  '{{ list "a" "b" | join "," }}',
  '{{ join "-" .strs }}',
  "{{ first .strs }}",
  "{{ last .strs }}",
  "{{ rest .strs }}",
  "{{ initial .strs }}",
  '{{ append .strs "d" }}',
  '{{ prepend .strs "z" }}',
  "{{ uniq .strs }}",
  '{{ without .strs "a" }}',
  '{{ has "b" .strs }}',
  '{{ has "q" .strs }}',
  "{{ sortAlpha .strs }}",
  "{{ reverse .strs }}",
  '{{ concat .strs (list "x") }}',
  '{{ compact (list 1 0 "" "a") }}',
  '{{ dict "a" 1 "b" "two" }}',
  '{{ $d := dict "a" 1 }}{{ get $d "a" }}',
  '{{ $d := dict "a" 1 }}{{ get $d "zz" }}',
  '{{ $d := dict "a" 1 }}{{ $_ := set $d "b" 2 }}{{ $d }}',
  '{{ $d := dict "a" 1 "b" 2 }}{{ $_ := unset $d "a" }}{{ $d }}',
  '{{ hasKey .m "z" }}',
  '{{ hasKey .m "q" }}',
  "{{ keys .m | sortAlpha }}",
  '{{ values (dict "a" 1) }}',
  '{{ pluck "team" .user.meta (dict "team" "red") }}',
  '{{ merge (dict "a" 1) (dict "a" 2 "b" 3) }}',
  "{{ until 4 }}",
  "{{ toStrings .list }}",
])
  add("lists", t, nested);
// encodings and conversions
for (const t of [
  "{{ toJson .user }}",
  "{{ toJson .list }}",
  "{{ toPrettyJson .m }}",
  '{{ toRawJson (dict "h" "<&>") }}',
  '{{ toJson (dict "h" "<&>") }}',
  "{{ (fromJson .json).b }}",
  "{{ (fromJson .json).a }}",
  "{{ (fromJson .json).c }}",
  "{{ fromJson .json | toJson }}",
  '{{ b64dec "aGVsbG8=" }}',
  '{{ b32dec "NBSWY3DP" }}',
  '{{ atoi "42" }}',
  '{{ atoi "x" }}',
  '{{ int "7" }}',
  "{{ int 3.9 }}",
  '{{ int64 "12" }}',
  '{{ float64 "1.5" }}',
  "{{ toString 12 }}",
])
  add("encodings", t, eso);
// math
for (const t of [
  "{{ add 1 2 3 }}",
  "{{ add1 5 }}",
  "{{ sub 10 4 }}",
  "{{ mul 2 3 4 }}",
  "{{ div 10 3 }}",
  "{{ mod 10 3 }}",
  "{{ max 1 9 3 }}",
  "{{ min 4 2 8 }}",
  "{{ floor 3.7 }}",
  "{{ ceil 3.2 }}",
  "{{ round 3.14159 2 }}",
  '{{ add "2" 3 }}',
  "{{ div 1 0 }}",
])
  add("math", t, nested);
// dates with a fixed time
for (const t of [
  '{{ date "2006-01-02" (toDate "2006-01-02" "2024-03-05") }}',
  '{{ dateInZone "2006-01-02 15:04:05" (toDate "2006-01-02" "2024-03-05") "UTC" }}',
  '{{ unixEpoch (toDate "2006-01-02" "2024-03-05") }}',
  "{{ duration 95 }}",
  "{{ duration 3661 }}",
])
  add("dates", t, {});
// parse errors
for (const t of [
  "{{ .username ",
  "{{ if .x }}no end",
  "{{ end }}",
  "{{ unknownFunc 1 }}",
  '{{ env "HOME" }}',
  "{{ $undefined }}",
  '{{ "unterminated }}',
  "{{ range }}{{ end }}",
  "{{ else }}",
  "{{ .a | }}",
  "{{ ( .a }}",
  "{{ break }}",
])
  add("parse-errors", t, eso);
// ESO-style templates
add(
  "eso-dockerconfig",
  '{"auths":{"{{ .host }}":{"username":"{{ .username }}","password":"{{ .password }}","auth":"{{ printf "%s:%s" .username .password | b64enc }}"}}}',
  eso,
  "error",
);
add(
  "eso-config",
  "[db]\nhost = {{ .host }}\nport = {{ .port }}\nuser = {{ .username | quote }}\n{{- if .password }}\npassword = {{ .password }}\n{{- end }}\n",
  eso,
  "error",
);
add("eso-json-extract", "{{ $c := .json | fromJson }}{{ $c.b }}-{{ index $c.c 1 }}", eso, "error");
add("eso-missing", "{{ .nothere }}", eso, "error");
add(
  "eso-yaml-ish",
  "{{- range $k, $v := . }}\n{{ $k }}: {{ $v | quote }}\n{{- end }}",
  { b: "2", a: "1" },
  "error",
);
add(
  "eso-url",
  "postgres://{{ .username }}:{{ .password | urlquery }}@{{ .host }}:{{ .port }}/app",
  { ...eso, password: "p@ss w/rd" },
  "error",
);

writeFileSync(
  join(import.meta.dirname, "..", "..", "test", "fixtures", "template", "cases.json"),
  JSON.stringify(cases, null, 2) + "\n",
);
process.stdout.write(`${cases.length} cases\n`);
