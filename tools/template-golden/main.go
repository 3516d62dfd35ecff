// Command template-golden renders every case of test/fixtures/template/cases.json with Go's own
// text/template and Sprig (as ESO does: env and expandenv removed) and writes the results to
// test/fixtures/template/golden.json. The TypeScript engine's tests compare against that file.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

type testCase struct {
	Name       string          `json:"name"`
	Template   string          `json:"template"`
	Data       json.RawMessage `json:"data"`
	MissingKey string          `json:"missingKey,omitempty"`
}

type result struct {
	Name   string `json:"name"`
	Output string `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
}

func main() {
	in, out := os.Args[1], os.Args[2]
	raw, err := os.ReadFile(in)
	if err != nil {
		panic(err)
	}
	var cases []testCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		panic(err)
	}
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	results := make([]result, 0, len(cases))
	for _, c := range cases {
		var data interface{}
		if len(c.Data) > 0 {
			if err := json.Unmarshal(c.Data, &data); err != nil {
				panic(fmt.Sprintf("%s: %v", c.Name, err))
			}
		}
		mk := c.MissingKey
		if mk == "" {
			mk = "default"
		}
		r := result{Name: c.Name}
		t, err := template.New(c.Name).Option("missingkey=" + mk).Funcs(funcs).Parse(c.Template)
		if err != nil {
			r.Error = err.Error()
		} else {
			var buf bytes.Buffer
			if err := t.Execute(&buf, data); err != nil {
				r.Error = err.Error()
			} else {
				r.Output = buf.String()
			}
		}
		results = append(results, r)
	}
	b, _ := json.MarshalIndent(results, "", "  ")
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		panic(err)
	}
}
