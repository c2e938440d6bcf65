package match

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// realLogs returns the real sample logs of the examples (the shared corpus,
// byte for byte, and the samples made for the examples), which every
// checkout has.
func realLogs(t testing.TB) []string {
	t.Helper()
	all, err := filepath.Glob("../examples/testdata/*/*")
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, f := range all {
		if fi, err := os.Stat(f); err == nil && fi.IsDir() {
			continue // a copy of /proc, for the observables
		}
		if !strings.HasSuffix(f, ".json") && !strings.HasSuffix(f, ".md") {
			logs = append(logs, f)
		}
	}
	if len(logs) < 7 {
		t.Fatalf("found %d sample logs under examples/testdata", len(logs))
	}
	return logs
}

// RealLogs gives the external test package realLogs.
func RealLogs(t testing.TB) []string { return realLogs(t) }
