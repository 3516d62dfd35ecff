// Command vso-golden writes what VSO composes for a VaultStaticSecret from Vault data, using Go's
// own encoding/json and crypto/hmac as VSO does: the Secret data (top-level string fields as
// bytes, other fields as JSON, `_raw` as the JSON of the read response's data) and
// status.secretMAC (base64 of HMAC-SHA256 over the JSON of map[string][]byte).
//
//	go run . ../../test/fixtures/vso/cases.json ../../test/fixtures/vso/golden.json
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
)

type testCase struct {
	Name     string          `json:"name"`
	Kind     string          `json:"kind"` // kv-v1 or kv-v2
	Data     json.RawMessage `json:"data"`
	Metadata json.RawMessage `json:"metadata"`
	Key      string          `json:"key"` // HMAC key, base64
}

type result struct {
	Name string            `json:"name"`
	Data map[string]string `json:"data"` // Secret data, base64 (as the API shows it)
	MAC  string            `json:"mac"`
}

// decode as Vault's Go client does: numbers kept as json.Number
func decode(raw []byte, v any) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		panic(err)
	}
}

func main() {
	in, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var cases []testCase
	if err := json.Unmarshal(in, &cases); err != nil {
		panic(err)
	}
	out := []result{}
	for _, c := range cases {
		var data map[string]any
		decode(c.Data, &data)
		var rawResp any = data
		if c.Kind == "kv-v2" {
			var meta any
			decode(c.Metadata, &meta)
			rawResp = map[string]any{"data": data, "metadata": meta}
		}
		secret := map[string][]byte{}
		for k, v := range data {
			if s, ok := v.(string); ok {
				secret[k] = []byte(s)
				continue
			}
			b, err := json.Marshal(v)
			if err != nil {
				panic(err)
			}
			secret[k] = b
		}
		raw, err := json.Marshal(rawResp)
		if err != nil {
			panic(err)
		}
		secret["_raw"] = raw
		key, err := base64.StdEncoding.DecodeString(c.Key)
		if err != nil {
			panic(err)
		}
		msg, err := json.Marshal(secret)
		if err != nil {
			panic(err)
		}
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		r := result{Name: c.Name, Data: map[string]string{}, MAC: base64.StdEncoding.EncodeToString(m.Sum(nil))}
		for k, v := range secret {
			r.Data[k] = base64.StdEncoding.EncodeToString(v)
		}
		out = append(out, r)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile(os.Args[2], append(b, '\n'), 0o644); err != nil {
		panic(err)
	}
}
