package rules

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadBytes checks that no input panics the loader and that every error
// names the file and a line (0 only for a whole-file error), in any format.
// Minimizing an interesting input runs the loader thousands of times, so
// run it with a short -fuzzminimizetime, e.g.
//
//	go test ./rules -run '^$' -fuzz FuzzLoadBytes -fuzztime 60s -fuzzminimizetime 3s
func FuzzLoadBytes(f *testing.F) {
	for _, name := range []string{"full/full.yaml", "full/full.toml", "full/full.json", "broken/a.yaml", "broken/b.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, byte(len(name)))
	}
	f.Add([]byte("measurements:\n  - handle: h_$(m)\n    for: {m: [a, b]}\n    path: x\n    select_line_matching: '(('\n"), byte(0))
	f.Add([]byte("a: &x [*x]\n"), byte(0))
	f.Add([]byte("base: &b {path: /x}\nmeasurements:\n  - <<: *b\n    handle: h\n"), byte(0))
	f.Add([]byte("[[measurements]]\n[[measurements.for]]\n"), byte(1))
	f.Add([]byte(`{"classes": {"a": "b.(c"}}`), byte(2))
	exts := []string{".yaml", ".toml", ".json"}
	f.Fuzz(func(t *testing.T, data []byte, format byte) {
		name := "f" + exts[int(format)%len(exts)]
		set, err := LoadBytes(name, data)
		if err == nil {
			if set == nil {
				t.Fatal("nil Set without error")
			}
			for _, w := range set.Warnings {
				if w.Pos.File != name || w.Pos.Line < 0 {
					t.Errorf("warning without position: %v", w)
				}
			}
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error %v (%T) is not a non-empty ErrorList", err, err)
		}
		for _, e := range list {
			if e.Pos.File != name {
				t.Errorf("error names file %q, want %q: %v", e.Pos.File, name, e)
			}
			if e.Pos.Line < 1 && (e.Pos.Line != 0 || e.Key != "") {
				t.Errorf("error without a line: %v", e)
			}
		}
	})
}
