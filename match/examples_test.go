package match_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// TestExampleRules compiles the patterns of every example rule file and
// compares the fast engines, line by line and in blocks, with the
// reference on every line of the real logs. Every select pattern must run
// on the literal or bytes engine and every extraction and key on the bytes
// engine: real rules need neither Go's regexp nor regexp2 on ASCII lines.
func TestExampleRules(t *testing.T) {
	files, err := filepath.Glob("../examples/rules/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example rules: %v", err)
	}
	var lines []string
	for _, l := range match.RealLogs(t) {
		data, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'}) {
			lines = append(lines, string(line))
		}
	}
	if len(lines) < 1000 {
		t.Fatalf("%d lines of real logs: too few", len(lines))
	}
	for _, f := range files {
		set, err := rules.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		var specs []match.Spec
		for _, m := range set.Measurements {
			if m.Select == "" { // an observable, or a line selected by number
				continue
			}
			specs = append(specs, match.Spec{Select: m.Select, Extract: m.Extract, Key: m.Key})
		}
		if len(specs) == 0 {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			ms, err := match.Compile(specs, match.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i, sp := range specs {
				info := ms.Describe(i)
				if info.Select != "bytes" && info.Select != "literal" ||
					sp.Extract != "" && info.Extract != "bytes" || sp.Key != "" && info.Key != "bytes" {
					t.Errorf("%+v: engines %+v, want bytes (or literal)", sp, info)
				}
			}
			match.CompareSets(t, specs, lines)
		})
	}
}
