package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCheckBroken: a directory with a typo'd key, a bad regex, a missing
// capture group and a duplicate handle exits 2 and names all four with
// file:line.
func TestCheckBroken(t *testing.T) {
	r := run(t, "", "check", "--rules", repo("rules", "testdata", "broken"))
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`a\.yaml:\d+:\d+: \S*track_growing_files: unknown key .*did you mean track_growing_file`),
		regexp.MustCompile(`a\.yaml:\d+:\d+: \S*select_line_matching: invalid regex`),
		regexp.MustCompile(`a\.yaml:\d+:\d+: \S*extraction_regex: missing capture group`),
		regexp.MustCompile(`b\.yaml:\d+:\d+: \S*handle: handle \S+ already defined at \S*a\.yaml:\d+:\d+`),
	}
	for _, re := range want {
		if !re.MatchString(r.stderr) {
			t.Errorf("stderr lacks %v\n%s", re, r.stderr)
		}
	}
	if n := strings.Count(r.stderr, ".yaml:"); n < 4 {
		t.Errorf("%d errors with positions, want 4\n%s", n, r.stderr)
	}
}

func TestCheckValid(t *testing.T) {
	r := run(t, "", "check", "--rules", repo("examples", "rules"))
	if r.code != 0 || !strings.Contains(r.stdout, "OK") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestTestDirtyInputs: CRLF files, a file without a final newline, invalid
// UTF-8 and a 1 MB line give the same counts as their clean versions (the
// long line is cut and counted).
func TestTestDirtyInputs(t *testing.T) {
	clean, err := os.ReadFile(repo("examples", "testdata", "ssh", "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	variants := map[string][]byte{
		"clean":        clean,
		"crlf":         []byte(strings.ReplaceAll(string(clean), "\n", "\r\n")),
		"no-newline":   clean[:len(clean)-1],
		"invalid-utf8": []byte(strings.ReplaceAll(string(clean), "Accepted", "Acc\xff\xfepted")),
		"long-line":    append([]byte("Dec 10 06:55:46 LabSZ sshd[24200]: "+strings.Repeat("x", 1<<20)+"\n"), clean...),
	}
	results := map[string]map[string]map[string]any{}
	for name, data := range variants {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		r := run(t, "", "test", "--rules", repo("examples", "rules", "ssh.yaml"), "--log", p, "--format", "json")
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", name, r.code, r.stderr)
		}
		var out testOutput
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatal(err)
		}
		results[name] = map[string]map[string]any{}
		for _, m := range out.Measurements {
			results[name][m["handle"].(string)] = m
		}
	}
	for name, res := range results {
		for h, m := range res {
			c := results["clean"][h]
			if m["value"] != c["value"] || m["selected"] != c["selected"] {
				t.Errorf("%s %s: value %v selected %v, clean gives %v %v", name, h, m["value"], m["selected"], c["value"], c["selected"])
			}
			wantCut, wantLines := 0.0, c["lines"].(float64)
			if name == "long-line" {
				wantCut, wantLines = 1, wantLines+1
			}
			if m["cut"] != wantCut || m["lines"] != wantLines {
				t.Errorf("%s %s: cut %v lines %v, want %v %v", name, h, m["cut"], m["lines"], wantCut, wantLines)
			}
		}
	}
}

// TestTestStdinAndPrint: --log - reads stdin, --print-missed prints exactly
// the lines no rule selected, --print-matched the others with their handles.
func TestTestStdinAndPrint(t *testing.T) {
	in := "Dec 10 06:55:46 h sshd[1]: Invalid user bob from 10.0.0.1\nsomething else\nDec 10 06:55:47 h sshd[2]: Failed password for root from 10.0.0.2 port 22 ssh2\n"
	r := run(t, in, "test", "--rules", repo("examples", "rules", "ssh.yaml"), "--log", "-", "--print-missed", "--print-matched")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "something else\n") {
		t.Errorf("missed line not printed:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "ssh_username_probe: Dec 10 06:55:46 h sshd[1]: Invalid user bob") ||
		!strings.Contains(r.stdout, "ssh_failed_password: Dec 10 06:55:47") {
		t.Errorf("matched lines not printed with handles:\n%s", r.stdout)
	}
}

func TestUsage(t *testing.T) {
	for _, c := range []string{"run", "check", "test", "learn", "backtest", "graph", "status", "version"} {
		r := run(t, "", c, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Usage: logtally "+c) || !strings.Contains(r.stdout, "Example") {
			t.Errorf("%s --help: exit %d, no usage with an example:\n%s%s", c, r.code, r.stdout, r.stderr)
		}
		if n := strings.Count(r.stdout, "Usage:"); n != 1 || r.stderr != "" {
			t.Errorf("%s --help: usage printed %d times on stdout, stderr %q", c, n, r.stderr)
		}
		bad := run(t, "", c, "--no-such-flag")
		if bad.code != 2 || !strings.Contains(bad.stderr, "no-such-flag") || !strings.Contains(bad.stderr, "Usage: logtally "+c) {
			t.Errorf("%s --no-such-flag: exit %d, stderr %q; want 2 with the error and the usage", c, bad.code, bad.stderr)
		}
	}
	if r := run(t, "", "frobnicate"); r.code != 2 {
		t.Errorf("unknown command: exit %d, want 2", r.code)
	}
}
