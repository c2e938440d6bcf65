package rules

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestCheckPrograms: the programs of commands, pages and pipe streams are
// checked on the host as the daemon starts them, each at its argv[0], and
// a program known only at run time is not.
func TestCheckPrograms(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")     // the daemon's PATH
	local := filepath.Join(dir, "local") // only check's own PATH
	for _, d := range []string{bin, local, filepath.Join(bin, "subdir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
	write(filepath.Join(bin, "tool"), 0o755)
	write(filepath.Join(bin, "plain"), 0o644)
	write(filepath.Join(bin, "ownerx"), 0o700)
	write(filepath.Join(local, "restart-milter"), 0o755)
	write(filepath.Join(local, "plain"), 0o755)
	write(filepath.Join(bin, "milter-dcc"), 0o755)
	if err := os.Symlink(filepath.Join(bin, "tool"), filepath.Join(bin, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(bin, "gone"), filepath.Join(bin, "dangling")); err != nil {
		t.Fatal(err)
	}
	pp := ProgramPath{PATH: "relative/dir:" + bin, Of: "the daemon's PATH", Suggest: local + ":" + bin}
	notIn := `program %q is not in the daemon's PATH: ` + pp.PATH
	const m = "measurements:\n  - handle: h\n    path: /var/log/auth.log\n    select_line_matching: .*x.*\n    key: 'from (\\S+)'\n"
	cmd := func(argv string) string { return m + "commands:\n  - if: h_high\n    command: " + argv + "\n" }
	tests := []struct {
		name string
		src  string
		want []string // Warning.String(), with %[1]s for dir
	}{
		{"found in PATH", cmd("[tool, now]"), nil},
		{"absolute, executable", cmd("[BIN/tool]"), nil},
		{"absolute, executable by its owner only", cmd("[BIN/ownerx]"), nil},
		{"a symbolic link to a program", cmd("[BIN/link]"), nil},
		{"relative, missing, suggested", cmd("[restart-milter, now]"),
			[]string{`p.yaml:8:15: warning: commands[0].command[0]: ` + sprintf(notIn, "restart-milter") + ` (write its absolute path: LOCAL/restart-milter)`}},
		{"relative, missing everywhere", cmd("[no-such-tool]"),
			[]string{`p.yaml:8:15: warning: commands[0].command[0]: ` + sprintf(notIn, "no-such-tool") + ` (install it, or write its absolute path)`}},
		{"relative, not executable in PATH", cmd("[plain]"),
			[]string{`p.yaml:8:15: warning: commands[0].command[0]: ` + sprintf(notIn, "plain") + ` (write its absolute path: LOCAL/plain)`}},
		{"a directory in PATH is no program", cmd("[subdir]"),
			[]string{`p.yaml:8:15: warning: commands[0].command[0]: ` + sprintf(notIn, "subdir") + ` (install it, or write its absolute path)`}},
		{"env: PATH is not where it is looked up", cmd("[restart-milter]\n    env: {PATH: LOCAL}"),
			[]string{`p.yaml:8:15: warning: commands[0].command[0]: ` + sprintf(notIn, "restart-milter") + `; env: PATH is the command's environment, not where its program is looked up (write its absolute path: LOCAL/restart-milter)`}},
		{"relative path", cmd("[bin/tool]"),
			[]string{`p.yaml:8:15: warning: commands[0].command[0]: relative program path "bin/tool" resolves against the daemon's working directory (write its absolute path)`}},
		{"absolute, missing", cmd("[/nonexistent/bin/tool]"),
			[]string{`p.yaml:8:15: warning: commands[0].command[0]: program "/nonexistent/bin/tool" does not exist`}},
		{"absolute, under a file", cmd("[BIN/tool/x]"),
			[]string{`p.yaml:8:15: warning: commands[0].command[0]: program "BIN/tool/x" does not exist`}},
		{"dangling link", cmd("[BIN/dangling]"),
			[]string{`p.yaml:8:15: warning: commands[0].command[0]: program "BIN/dangling" does not exist`}},
		{"absolute, a directory", cmd("[BIN/subdir]"),
			[]string{`p.yaml:8:15: warning: commands[0].command[0]: program "BIN/subdir" is a directory`}},
		{"absolute, not a regular file", cmd("[/dev/null]"),
			[]string{`p.yaml:8:15: warning: commands[0].command[0]: program "/dev/null" is not a regular file`}},
		{"absolute, executable by nobody", cmd("[BIN/plain]"),
			[]string{`p.yaml:8:15: warning: commands[0].command[0]: program "BIN/plain" is not executable (mode 0644)`}},
		{"block list element", m + "commands:\n  - if: h_high\n    command:\n      - /nonexistent/x\n      - now\n",
			[]string{`p.yaml:9:9: warning: commands[0].command[0]: program "/nonexistent/x" does not exist`}},
		{"shell: true runs the shell", cmd("['no-such-tool --now']\n    shell: true"),
			[]string{`p.yaml:9:12: warning: commands[0].shell: runs through /bin/sh -c; an argv list without shell is safer`}},
		{"after for:, per item", m + "commands:\n  - if: h_high\n    for: {m: [dcc, bogom]}\n    command: [BIN/milter-$(m), restart]\n",
			[]string{`p.yaml:9:15: warning: commands[0].command[0]: program "BIN/milter-bogom" does not exist`}},
		{"the same for every item, once", m + "commands:\n  - if: h_high\n    for: {m: [dcc, bogom]}\n    command: [/nonexistent/x, $(m)]\n",
			[]string{`p.yaml:9:15: warning: commands[0].command[0]: program "/nonexistent/x" does not exist`}},
		{"known only at run time", cmd("['BIN/handler-$(value_h)', '$(host)']") + "  - if: h_high\n    command: ['$(host)']\n", nil},
		{"unclosed $( is the name", cmd("['BIN/tool-$(m']"),
			[]string{
				`p.yaml:8:15: warning: commands[0].command[0]: $( is not closed by ), so "$(m" is written as it is`,
				`p.yaml:8:15: warning: commands[0].command[0]: program "BIN/tool-$(m" does not exist`,
			}},
		{"page", m + "policy:\n  - action: page\n    command: [page-oncall, $(notice)]\n",
			[]string{`p.yaml:8:15: warning: policy[0].command[0]: ` + sprintf(notIn, "page-oncall") + ` (install it, or write its absolute path)`}},
		{"pipe stream", "measurements:\n  - handle: p\n    stream_type: pipe\n    path: [ss, -tn]\n    select_line_matching: .*x.*\n",
			[]string{`p.yaml:4:12: warning: measurements[0].path[0]: ` + sprintf(notIn, "ss") + ` (install it, or write its absolute path)`}},
		{"pipe stream, $( left", "measurements:\n  - handle: p\n    stream_type: pipe\n    path: ['/x/$(y)']\n    select_line_matching: .*x.*\n",
			[]string{`p.yaml:4:11: warning: measurements[0].path: $(y) is not defined in for: and measurements are not expanded at run time`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.NewReplacer("BIN", bin, "LOCAL", local).Replace(tt.src)
			set, err := LoadBytes("p.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			set.CheckPrograms(pp)
			var got []string
			for _, w := range set.Warnings {
				got = append(got, strings.NewReplacer(bin, "BIN", local, "LOCAL").Replace(w.String()))
			}
			want := tt.want
			for i := range want {
				want[i] = strings.NewReplacer(bin, "BIN", local, "LOCAL").Replace(want[i])
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("warnings\n got %q\nwant %q", got, want)
			}
		})
	}
}

func sprintf(format, name string) string {
	return strings.Replace(format, "%q", `"`+name+`"`, 1)
}
