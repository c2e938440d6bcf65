package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	gotoml "github.com/pelletier/go-toml/v2"
	"gopkg.in/yaml.v3"
)

func nest(open, close string, n int, inner string) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// TestScanDepth checks the nesting scan on files just within and just
// beyond MaxDepth in each format and style, and on what must not count as
// nesting: brackets in strings, comments and block scalars, and dotted
// text that is not a key.
func TestScanDepth(t *testing.T) {
	indented := func(levels int) string {
		var b strings.Builder
		for i := range levels {
			b.WriteString(strings.Repeat(" ", i) + "a:\n")
		}
		b.WriteString(strings.Repeat(" ", levels) + "1\n")
		return b.String()
	}
	tests := []struct {
		name, file, data string
		want             string // "" when accepted, else the position of the error
	}{
		{"flow within", "f.yaml", "x: " + nest("{a: ", "}", MaxDepth-1, "1") + "\n", ""},
		{"flow beyond", "f.yaml", "x: " + nest("{a: ", "}", MaxDepth, "1") + "\n", "f.yaml:1:128"},
		{"flow lists", "f.yaml", "x: " + nest("[", "]", MaxDepth, "") + "\n", "f.yaml:1:35"},
		{"indented within", "f.yaml", indented(MaxDepth - 1), ""}, // the scalar on a line of its own counts as a level
		{"indented beyond", "f.yaml", indented(MaxDepth + 1), "f.yaml:33:33"},
		{"dashes", "f.yaml", "x:\n  " + strings.Repeat("- ", MaxDepth) + "1\n", "f.yaml:2:67"},
		{"json within", "f.json", `{"x": ` + nest(`{"a":`, "}", MaxDepth-1, "1") + "}", ""},
		{"json beyond", "f.json", `{"x": ` + nest(`{"a":`, "}", MaxDepth, "1") + "}", "f.json:1:162"},
		{"json strings", "f.json", `{"x": "` + strings.Repeat(`[{\"`, 100) + `"}`, ""},
		{"quoted brackets", "f.yaml", "x: '" + strings.Repeat("[{", 100) + "'\ny: \"" + strings.Repeat(`\"[{`, 100) + "\"\n", ""},
		{"quote in a plain scalar", "f.yaml", "x: don't " + strings.Repeat("[", 100) + "\n", ""},
		{"comment", "f.yaml", "x: 1 # " + strings.Repeat("{[", 100) + "\n" + strings.Repeat("#[", 100) + "\n", ""},
		{"block scalar", "f.yaml", "x: |\n  " + strings.ReplaceAll(indented(MaxDepth+5), "\n", "\n  ") + "\ny: 1\n", ""},
		{"regex", "f.yaml", "x: '.*sshd\\[\\d+\\]: ' # [\ny: .*sshd\\[\\d+\\]: {\n", ""},
		{"multi-line flow", "f.yaml", "x: [\n  " + strings.Repeat("[\n  ", MaxDepth) + "]\n", "f.yaml:" + strconv.Itoa(MaxDepth) + ":3"},
		{"toml dotted key", "f.toml", "x" + strings.Repeat(".a", MaxDepth) + " = 1\n", "f.toml:1:64"},
		{"toml quoted key", "f.toml", `"` + strings.Repeat("a.", 100) + `" = 1` + "\n", ""},
		{"toml header", "f.toml", "[x" + strings.Repeat(".a", MaxDepth) + "]\n", "f.toml:1:63"},
		{"toml arrays", "f.toml", "x = " + nest("[", "]", MaxDepth, "") + "\n", "f.toml:1:36"},
		{"toml inline tables", "f.toml", "x = " + nest("{a = ", "}", MaxDepth-2, "1") + "\n", ""},
		{"toml inline beyond", "f.toml", "x = " + nest("{a.b = ", "}", MaxDepth/2, "1") + "\n", "f.toml:1:112"},
		{"toml strings", "f.toml", "x = \"" + strings.Repeat("[{.", 100) + "\"\ny = '''\n" + strings.Repeat("[", 100) + "\n'''\nz = 1.5\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := scanDepth(tt.file, []byte(tt.data))
			switch {
			case tt.want == "" && e != nil:
				t.Fatalf("refused: %v", e)
			case tt.want != "" && e == nil:
				t.Fatalf("accepted, want an error at %s", tt.want)
			case e != nil && e.Pos.String() != tt.want:
				t.Fatalf("error %v, want it at %s", e, tt.want)
			}
			if tt.want == "" {
				return
			}
			// The whole loader refuses it the same way.
			_, err := LoadBytes(tt.file, []byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want+": nested more than") {
				t.Fatalf("LoadBytes: %v, want the error at %s", err, tt.want)
			}
		})
	}
}

// TestScanDepthShipped checks that no shipped or test rule file comes
// near the limits.
func TestScanDepthShipped(t *testing.T) {
	files, _ := filepath.Glob("../examples/rules/*")
	more, _ := filepath.Glob("testdata/*/*.*")
	for _, f := range append(files, more...) {
		if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if e := scanDepth(f, data); e != nil {
			t.Errorf("%v", e)
		}
		if e := checkSize(f, data); e != nil {
			t.Errorf("%v", e)
		}
	}
}

func TestRuleFileLimits(t *testing.T) {
	laughs := "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i <= 6; i++ {
		laughs += fmt.Sprintf("a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	keys := make([]string, MaxMapKeys+1)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d: 1", i)
	}
	item := func(i, n int) string {
		vals := make([]string, n)
		for j := range vals {
			vals[j] = strconv.Itoa(j)
		}
		return fmt.Sprintf("  - handle: h%d_$(n)\n    for: {n: [%s]}\n    path: /x\n    select_line_matching: 'x$(n)'\n", i, strings.Join(vals, ", "))
	}
	tests := []struct {
		name, data string
		want       string // the error
	}{
		{"size", "measurements: []\n" + strings.Repeat("#\n", MaxFileSize/2), "f.yaml:131065: the file is larger than 256 KiB (split it into several files in the rules directory)"},
		{"aliases", laughs, "f.yaml:5:5: more than 100000 values, counting each use of an alias (*name) as the whole value it names"},
		{"merged aliases", "b: &b {" + strings.Join(keys[:1000], ", ") + "}\nc: [" + strings.Repeat("{<<: *b}, ", 101) + "]\n",
			"f.yaml:2:4: more than 100000 values"},
		{"wide map", "x: {" + strings.Join(keys, ", ") + "}\n", "f.yaml:1:4: a map of more than 2000 keys (rules need far fewer: split the file)"},
		{"items", "measurements:\n" + item(0, 1000) + item(1, 1000) + item(2, 1000) + item(3, 1000) + item(4, 1000) + item(5, 1),
			"f.yaml:22:5: measurements[5]: more than 5000 measurements, commands and reports in all, once for: is expanded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadBytes("f.yaml", []byte(tt.data))
			var list ErrorList
			if err == nil || !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("LoadBytes: %v, want one error", err)
			}
			if got := list[0].Error(); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("error %q, want %q", got, tt.want)
			}
		})
	}
	// Just within: 5000 items load.
	src := "measurements:\n" + item(0, 1000) + item(1, 1000) + item(2, 1000) + item(3, 1000) + item(4, 999) + item(5, 1)
	set, err := LoadBytes("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Measurements) != MaxItems {
		t.Fatalf("%d measurements, want %d", len(set.Measurements), MaxItems)
	}
}

// TestLoadBoundedRead checks that Load reads at most MaxFileSize bytes of
// a file that does not end, such as /dev/zero.
func TestLoadBoundedRead(t *testing.T) {
	_, err := Load("/dev/zero")
	if err == nil || !strings.Contains(err.Error(), "/dev/zero:1: the file is larger than 256 KiB") {
		t.Fatalf("Load(/dev/zero): %v", err)
	}
}

// FuzzScanDepth checks that the nesting scan never lets through a file
// its decoder finds nested deeper than MaxDepth, in any format.
func FuzzScanDepth(f *testing.F) {
	for _, s := range []string{"a: {b: [c, {d: e}]}", "a:\n  - - b\n    - c: |\n        {[\n", `{"a": [{"b": "[{"}]}`,
		"a.b.c = [{d = 1}, [2]]\n[x.y]\nz = \"[\"\n", "'a': \"b\\\"[\"\n? [x]\n: y\n",
		// Near the limit once repeated.
		"{a: [[", "[[[[[[[", "- - - - - - -\n", "a.b.c.d.e.f.g = [[\n", "[a.b.c.d.e.f]\n", "x:\n  y:\n   z:\n    - - a:\n"} {
		f.Add(s, byte(0))
		f.Add(s, byte(1))
		f.Add(s, byte(2))
	}
	f.Fuzz(func(t *testing.T, s string, format byte) {
		name := []string{"f.yaml", "f.json", "f.toml"}[int(format)%3]
		if len(s) > 4096 {
			return
		}
		// Deepen the input so that the limit is within reach.
		data := []byte(strings.Repeat(s, 1+MaxDepth/8))
		if scanDepth(name, data) != nil {
			return
		}
		var depth int
		switch name {
		case "f.toml":
			var v any
			if gotoml.Unmarshal(data, &v) != nil {
				return
			}
			depth = valueDepth(v)
		case "f.json":
			var v any
			if json.Unmarshal(data, &v) != nil {
				return
			}
			depth = valueDepth(v)
		default:
			var n yaml.Node
			if yaml.Unmarshal(data, &n) != nil {
				return
			}
			depth = nodeDepth(&n) - 1 // the document node
		}
		if depth > MaxDepth {
			t.Fatalf("%s nested %d deep passed the scan:\n%q", name, depth, data)
		}
	})
}

// valueDepth is the nesting of maps and lists of a decoded value.
func valueDepth(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, c := range v {
			d = max(d, valueDepth(c))
		}
		return d + 1
	case []any:
		for _, c := range v {
			d = max(d, valueDepth(c))
		}
		return d + 1
	}
	return 0
}

// nodeDepth is the nesting of maps and lists of a YAML node, aliases not
// followed (the decoder's own limits bound those).
func nodeDepth(n *yaml.Node) int {
	d := 0
	for _, c := range n.Content {
		d = max(d, nodeDepth(c))
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode || n.Kind == yaml.DocumentNode {
		return d + 1
	}
	return d
}
