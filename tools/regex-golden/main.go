// Command regex-golden runs every case of tools/regex-golden/corpus.json through Go's own regexp
// package (the engine ESO, Vault and Reloader use) and writes what Go answers to
// test/fixtures/regex/golden.json. src/util/regex.ts is tested against that file.
package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
)

type testCase struct {
	Name        string `json:"name"`
	Pattern     string `json:"pattern"`
	Input       string `json:"input"`
	Replacement string `json:"replacement"`
}

type result struct {
	Name    string `json:"name"`
	Pattern string `json:"pattern"`
	Input   string `json:"input"`
	Repl    string `json:"replacement"`
	// Error is Go's compile error; the other fields are absent when it is set.
	Error             string              `json:"error,omitempty"`
	Match             *bool               `json:"match,omitempty"`
	Find              *string             `json:"find,omitempty"`
	FindAll           []string            `json:"findAll"`
	FindAllN          map[string][]string `json:"findAllN,omitempty"`
	Submatch          []string            `json:"submatch"`
	ReplaceAll        *string             `json:"replaceAll,omitempty"`
	ReplaceAllLiteral *string             `json:"replaceAllLiteral,omitempty"`
	Split             map[string][]string `json:"split,omitempty"`
	QuoteMeta         string              `json:"quoteMeta"`
}

// nil and empty slices are both written as [] (Sprig prints both as "[]").
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
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
	results := make([]result, 0, len(cases))
	for _, c := range cases {
		r := result{Name: c.Name, Pattern: c.Pattern, Input: c.Input, Repl: c.Replacement, QuoteMeta: regexp.QuoteMeta(c.Input)}
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			r.Error = err.Error()
			results = append(results, r)
			continue
		}
		match := re.MatchString(c.Input)
		find := re.FindString(c.Input)
		repl := re.ReplaceAllString(c.Input, c.Replacement)
		lit := re.ReplaceAllLiteralString(c.Input, c.Replacement)
		r.Match, r.Find, r.ReplaceAll, r.ReplaceAllLiteral = &match, &find, &repl, &lit
		r.FindAll = list(re.FindAllString(c.Input, -1))
		r.Submatch = re.FindStringSubmatch(c.Input)
		r.FindAllN = map[string][]string{}
		r.Split = map[string][]string{}
		for _, n := range []int{-1, 0, 1, 2, 3} {
			r.FindAllN[strconv.Itoa(n)] = list(re.FindAllString(c.Input, n))
			r.Split[strconv.Itoa(n)] = list(re.Split(c.Input, n))
		}
		results = append(results, r)
	}
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		panic(err)
	}
}
