// Command yaml-golden writes, for every JSON value of test/fixtures/template/yaml-cases.json, what
// ESO's toYaml (sigs.k8s.io/yaml.Marshal, final newline trimmed) and Sprig's toJson, toPrettyJson
// and toRawJson print for it, to test/fixtures/template/yaml-golden.json. Each value is rendered
// twice: a value whose YAML key order depends on Go's map iteration (go-yaml's key order is not
// transitive for digit runs with leading zeros) is left out.
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

type result struct {
	Input      string `json:"input"`
	Yaml       string `json:"yaml"`
	JSON       string `json:"json"`
	PrettyJSON string `json:"prettyJson"`
	RawJSON    string `json:"rawJson"`
}

func toYAML(v any) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func main() {
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var cases []json.RawMessage
	if err := json.Unmarshal(raw, &cases); err != nil {
		panic(err)
	}
	out := []result{}
	for _, c := range cases {
		var v any
		if err := json.Unmarshal(c, &v); err != nil {
			panic(err)
		}
		y := toYAML(v)
		stable := true
		for i := 0; i < 20; i++ {
			if toYAML(v) != y {
				stable = false
			}
		}
		if !stable {
			continue
		}
		j, _ := json.Marshal(v)
		p, _ := json.MarshalIndent(v, "", "  ")
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		out = append(out, result{string(c), y, string(j), string(p), strings.TrimSuffix(b.String(), "\n")})
	}
	b, _ := json.MarshalIndent(out, "", " ")
	if err := os.WriteFile(os.Args[2], append(b, '\n'), 0o644); err != nil {
		panic(err)
	}
}
