package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckProgramsAndTemplates: check warns, each at its argv[0] or
// value, about a command whose program the daemon would not find in its
// PATH under systemd (suggesting the absolute path check's own PATH
// finds), one whose absolute program does not exist, and a report whose
// $( is not closed; exit 0, or 2 with --strict; --command-path gives the
// daemon's PATH.
func TestCheckProgramsAndTemplates(t *testing.T) {
	dir := t.TempDir()
	progs := filepath.Join(dir, "bin")
	if err := os.Mkdir(progs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(progs, "restart-milter"), []byte("#!/bin/sh\n"), 0o755); err != nil || os.Chmod(filepath.Join(progs, "restart-milter"), 0o755) != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "r.yaml")
	writeFile(t, file, `measurements:
  - handle: h
    path: /var/log/auth.log
    select_line_matching: '.*x.*'
commands:
  - if: h_high
    command: [restart-milter, now]          # relative: found how, at run time, under systemd's PATH?
  - if: h_high
    command: [/nonexistent/bin/tool]        # absolute, missing
reports:
  - if: h_high
    message: "value $(value_h and more"     # unclosed $(
`)
	withPATH := func(cmd *exec.Cmd) { cmd.Env = append(os.Environ(), "PATH="+progs+":/usr/bin:/bin") }
	unclosed := file + `:12:14: warning: reports[0].message: $( is not closed by ), so "$(value_h and more" is written as it is (did you mean $(value_h)?)`
	missing := file + `:9:15: warning: commands[1].command[0]: program "/nonexistent/bin/tool" does not exist`
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"systemd's PATH", nil, 0, []string{
			file + `:7:15: warning: commands[0].command[0]: program "restart-milter" is not in the daemon's PATH under systemd (its default for services): /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin (write its absolute path: ` + progs + `/restart-milter)`,
			missing, unclosed}},
		{"strict", []string{"--strict"}, 2, []string{
			file + `:7:15: warning: commands[0].command[0]: program "restart-milter" is not in the daemon's PATH under systemd`,
			missing, unclosed}},
		{"the daemon's PATH given", []string{"--command-path", progs}, 0, []string{missing, unclosed}},
		{"another PATH given", []string{"--command-path", "/nonexistent"}, 0, []string{
			file + `:7:15: warning: commands[0].command[0]: program "restart-milter" is not in the daemon's PATH (--command-path): /nonexistent (write its absolute path: ` + progs + `/restart-milter)`,
			missing, unclosed}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runWith(t, bin, "", withPATH, append([]string{"check", "--rules", file}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d warnings, want %d:\n%s", len(lines), len(tc.want), r.stderr)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("warning %d:\n got %s\nwant %s", i, lines[i], w)
				}
			}
			if n := len(tc.want); !strings.Contains(r.stdout, "2 commands, 1 report: OK ("+map[bool]string{true: "3 warnings", false: "2 warnings"}[n == 3]+")") {
				t.Errorf("summary: %s", r.stdout)
			}
		})
	}
}
