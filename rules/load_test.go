package rules

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadBroken(t *testing.T) {
	dir := filepath.Join("testdata", "broken")
	_, err := Load(dir)
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Load(%s) = %v, want an ErrorList", dir, err)
	}
	// Exactly the four mistakes, each with its file and line; the
	// leftovers beside them (c.yaml~, .hidden.yaml, ...) are not loaded.
	want := []wantErr{
		{"7:5", "measurements[0].track_growing_files", "unknown key", "did you mean track_growing_file?"},
		{"10:27", "measurements[1].select_line_matching", "invalid regex", ""},
		{"15:23", "measurements[2].extraction_regex", "missing capture group", "first group"},
	}
	checkErrs(t, list[:min(3, len(list))], a, want)
	if len(list) != 4 {
		t.Fatalf("got %d errors, want 4:\n%v", len(list), err)
	}
	checkErrs(t, list[3:], b, []wantErr{
		{"2:13", "measurements[0].handle", "handle ssh_invalid_user already defined at " + a + ":3:13", ""},
	})
}

// writeFiles writes name → content into a new temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadDirectory(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"10-ssh.yaml":    "measurements:\n  - handle: ssh\n    path: /var/log/auth.log\n    select_line_matching: '.*sshd.*'\n",
		"20-ftp.toml":    "[[measurements]]\nhandle = \"ftp\"\npath = \"/var/log/xferlog\"\nselect_line_matching = \".*\"\n",
		"30-dns.json":    `{"measurements": [{"handle": "dns", "path": "/var/log/named.log", "select_line_matching": ".*query.*"}]}`,
		"40-classes.yml": "classes:\n  busy: ssh_high | ftp_high | dns_high\n",
		"README.md":      "not rules",
		"old.yaml~":      "not: [rules",
		".x.yaml.swp":    "not: [rules",
	})
	set, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var handles []string
	for _, m := range set.Measurements {
		handles = append(handles, m.Handle)
	}
	if want := []string{"ssh", "ftp", "dns"}; !reflect.DeepEqual(handles, want) {
		t.Errorf("handles = %v, want %v", handles, want)
	}
	var files []string
	for _, f := range set.Files {
		files = append(files, filepath.Base(f))
	}
	if want := []string{"10-ssh.yaml", "20-ftp.toml", "30-dns.json", "40-classes.yml"}; !reflect.DeepEqual(files, want) {
		t.Errorf("files = %v, want %v", files, want)
	}
	if set.Measurement("ftp") != set.Measurements[1] || set.Measurement("nope") != nil {
		t.Errorf("Measurement lookup is wrong")
	}
	if len(set.Warnings) != 0 {
		t.Errorf("warnings: %v", set.Warnings)
	}
}

func TestLoadAllErrorsOfAllFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml": "measurements:\n  - handle: a\n    path: /x\n    select_line_matching: x\nsettings:\n  interval: 1m\n  host: h1\nclasses:\n  c: a_high\n",
		"b.yaml": "measurements: [\n",
		"c.toml": "[settings]\ninterval = \"2m\"\n[classes]\nc = \"a_low\"\n[[commands]]\nif = \"c\"\ncommand = \"restart\"\n",
		"d.json": "{\"reports\": [{\"message\": 5}]}",
	})
	_, err := Load(dir)
	f := func(n string) string { return filepath.Join(dir, n) }
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Load = %v, want an ErrorList", err)
	}
	want := []string{
		f("b.yaml") + ":1: syntax error",
		f("c.toml") + ":2:1: settings.interval: already set at " + f("a.yaml") + ":6:3",
		f("c.toml") + ":4:1: classes.c: class c already defined at " + f("a.yaml") + ":9:3",
		f("c.toml") + ":7:11: commands[0].command: must be an argv list",
		f("d.json") + ":1:26: reports[0].message: must be a string, not a number",
	}
	if len(list) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(list), len(want), err)
	}
	for i := range min(len(list), len(want)) {
		if !strings.HasPrefix(list[i].Error(), want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, list[i], want[i])
		}
	}
}

func TestLoadPaths(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"rules.conf":  "measurements:\n  - handle: a\n    path: /x\n    select_line_matching: x\n",
		"empty/.keep": "",
	})
	if err := os.Symlink(filepath.Join(dir, "missing.yaml"), filepath.Join(dir, "empty", "dangling.yaml")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		wantErr    string // "" for success
		wantWarn   string
	}{
		{"single file of any name reads YAML", "rules.conf", "", ""},
		{"missing path", "nope", "nope: load rules: no such file or directory", ""},
		{"dangling symlink", "empty", "dangling.yaml: read rules: no such file or directory", ""},
		{"empty directory", "", "", "no rule files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.path)
			if tt.path == "" {
				p = t.TempDir()
			}
			set, err := Load(p)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.HasSuffix(err.Error(), tt.wantErr) {
					t.Fatalf("Load(%s) = %v, want error ending %q", p, err, tt.wantErr)
				}
				var list ErrorList
				if errors.As(err, &list) && list[0].Pos.Line != 0 {
					t.Errorf("whole-file error has line %d", list[0].Pos.Line)
				}
			case err != nil:
				t.Fatalf("Load(%s): %v", p, err)
			case tt.wantWarn != "":
				if len(set.Warnings) != 1 || !strings.Contains(set.Warnings[0].Msg, tt.wantWarn) {
					t.Errorf("warnings = %v, want %q", set.Warnings, tt.wantWarn)
				}
			}
		})
	}
}

func TestIsRuleFile(t *testing.T) {
	tests := map[string]bool{
		"a.yaml": true, "a.yml": true, "a.toml": true, "a.json": true, "A.YAML": true,
		"a.yaml~": false, ".a.yaml": false, "a.yaml.swp": false, "a.yaml.dpkg-old": false,
		"a.yaml.rpmnew": false, "a.yaml.rpmsave": false, "#a.yaml#": false, "a.txt": false,
		"a": false, "a.yaml.bak": false, "a.yaml.dpkg-dist": false,
	}
	for name, want := range tests {
		if got := isRuleFile(name); got != want {
			t.Errorf("isRuleFile(%q) = %v, want %v", name, got, want)
		}
	}
}
