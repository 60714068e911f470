package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParse checks that Parse never panics, that every error is an *Error
// whose problems are placed in the input, and that whatever Parse accepts
// is valid and survives being written out and read back.
func FuzzParse(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*.yaml")
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(docsExample(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if c != nil {
				t.Fatal("got a Config with an error")
			}
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("got %v (%T), want an *Error with problems", err, err)
			}
			lines := bytes.Count(normalizeBreaks(data), []byte("\n")) + 1
			for _, p := range e.Problems {
				if p.File != "fuzz.yaml" || p.Line < 0 || p.Line > lines || p.Msg == "" {
					t.Fatalf("problem %+v is not placed in the %d-line input", p, lines)
				}
			}
			if bytes.Count([]byte(err.Error()), []byte("\n")) != len(e.Problems)-1 {
				t.Fatalf("error is not one problem per line:\n%s", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a Config that Validate rejects: %v", err)
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := Parse(out, "marshalled.yaml")
		if err != nil {
			t.Fatalf("reading back\n%s\nfailed: %v", out, err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip changed the Config:\n%+v\n%+v", *c, *back)
		}
	})
}
