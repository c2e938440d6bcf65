package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/logtally/logtally/internal/testutil"
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

// TestCheckWarningsAfterErrors: as check --help says, the warnings of a
// rule file are printed once it has no error; with an error, only the
// errors, then, fixed, the warning.
func TestCheckWarningsAfterErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "r.yaml")
	const rel = "measurements:\n  - handle: a\n    path: relative.log\n    select_line_matching: '.*GET .*'\n"
	writeFile(t, file, rel+"    data_type: intt\n")
	r := run(t, "", "check", "--rules", file)
	if r.code != 2 || !strings.Contains(r.stderr, `data_type: unknown value "intt"`) || strings.Contains(r.stderr, "warning:") {
		t.Errorf("with an error: exit %d, stderr %q; want 2, the error, no warning", r.code, r.stderr)
	}
	writeFile(t, file, rel)
	r = run(t, "", "check", "--rules", file)
	if r.code != 0 || !strings.Contains(r.stderr, `warning: measurements[0].path: relative path "relative.log"`) {
		t.Errorf("fixed: exit %d, stderr %q; want 0 and the warning", r.code, r.stderr)
	}
	r = run(t, "", "check", "--help")
	if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "are printed once the files have no error") {
		t.Errorf("check --help does not say when warnings are printed:\n%s", r.stdout)
	}
}

func TestCheckValid(t *testing.T) {
	r := run(t, "", "check", "--rules", repo("examples", "rules"))
	if r.code != 0 || !strings.Contains(r.stdout, "OK") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestCheckSummaryCounts: check's summary counts what the files define,
// file watches too, with the right plurals.
func TestCheckSummaryCounts(t *testing.T) {
	rulesFile := filepath.Join(t.TempDir(), "watch.yaml")
	writeFile(t, rulesFile, `observe: [users]
watch_files:
  - handle: etc_ssh
    paths: [/etc/ssh]
reports:
  - if: etc_ssh_changed
    message: "changed: $(changed_etc_ssh)"
`)
	r := run(t, "", "check", "--rules", rulesFile)
	if want := rulesFile + ": 1 file, 1 measurement, 1 file watch, 0 classes, 0 commands, 1 report: OK\n"; r.code != 0 || r.stdout != want {
		t.Errorf("check: exit %d, %q; want %q", r.code, r.stdout, want)
	}
}

// TestCheckNamesFullMatching: check names the measurements that have no
// literal for the shared prefilter, which cost a match on every line, and
// only those.
func TestCheckNamesFullMatching(t *testing.T) {
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	body := `measurements:
  - handle: any_line
    path: /var/log/x.log
    select_line_matching: '.*\d+.*'
  - handle: invalid_user
    path: /var/log/x.log
    select_line_matching: '.*sshd\[\d+\]: Invalid user .*'
  - handle: refused
    path: /var/log/x.log
    select_line_matching: '(?i).*refused.*'
`
	if err := os.WriteFile(rulesFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "check", "--rules", rulesFile)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "1 of 3 measurements") || !strings.Contains(r.stdout, "matched on every line: any_line\n") {
		t.Errorf("check does not name the one measurement matched on every line:\n%s", r.stdout)
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

// TestTestKeyRejects: the table names the selected lines whose key
// key_type refused (counted, without a key), as the JSON does.
func TestTestKeyRejects(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "a.log")
	if err := os.WriteFile(log, []byte("Invalid user a from 192.0.2.4\nInvalid user a from $(reboot)\nInvalid user a from ;id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rulesFile := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(rulesFile, []byte("measurements:\n  - handle: probe\n    path: "+log+"\n    select_line_matching: '.*Invalid user .*'\n    key: 'from (\\S+)'\n    key_type: ip\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "test", "--rules", rulesFile)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "probe: 2 selected lines counted without a key: theirs is not of key_type ip\n") {
		t.Errorf("key rejects not named:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`(?m)^probe\s+3\s+3\s+3\s`).MatchString(r.stdout) {
		t.Errorf("want value 3 of 3 lines, 3 selected:\n%s", r.stdout)
	}
}

// TestNoticesUnknownAction: notices --action with a value no notice can
// have is a usage error naming the actions, not an empty answer.
func TestNoticesUnknownAction(t *testing.T) {
	file := filepath.Join(t.TempDir(), "notices.jsonl")
	line := `{"time":"2026-12-06T14:35:00Z","type":"notice","notice":"storm","priority":"warning","action":"page","policy":"storm_page","key":"192.0.2.9","message":"storm (warning)"}` + "\n"
	if err := os.WriteFile(file, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "notices", "--file", file, "--action", "pages")
	if r.code != 2 || !strings.Contains(r.stderr, `--action "pages": unknown action (ignore, log, alarm, page, suppressed, tally)`) {
		t.Errorf("--action pages: exit %d, stderr %q; want 2 and the actions named", r.code, r.stderr)
	}
	r = run(t, "", "notices", "--file", file, "--action", "page")
	if r.code != 0 || !strings.Contains(r.stdout, "192.0.2.9") {
		t.Errorf("--action page: exit %d, stdout %q, stderr %q; want the page listed", r.code, r.stdout, r.stderr)
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

// TestReplayErrorsNameTheirCommand: learn, backtest and survey read logs
// through the same replay; an error names the command the user ran, once,
// and what to do (survey said "logtally survey: backtest: ...").
func TestReplayErrorsNameTheirCommand(t *testing.T) {
	rulesFile := repo("examples", "rules", "ssh.yaml")
	log := filepath.Join(t.TempDir(), "other.log")
	if err := os.WriteFile(log, []byte("Dec 10 06:55:46 h sshd[1]: Invalid user bob from 10.0.0.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state.db")
	for _, c := range []struct{ command string }{{"learn"}, {"backtest"}, {"survey"}} {
		args := []string{c.command, "--rules", rulesFile, log}
		if c.command == "learn" {
			args = append(args, "--state", state)
		}
		r := run(t, "", args...)
		want := "logtally " + c.command + ": " + log + " is not the file of any measurement (use --all to apply it to every one)\n"
		if r.code != 1 || r.stderr != want {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", c.command, r.code, r.stderr, want)
		}
	}
}

// TestIntervalFlag: every command's --interval is held to what
// settings.interval must be: "0s" was taken for the default, and "500ms"
// or "11m" ran at a width no time-of-week baseline can have.
func TestIntervalFlag(t *testing.T) {
	for _, c := range []string{"run", "learn", "backtest", "survey", "graph"} {
		for _, tc := range []struct{ value, want string }{
			{"0s", "must be at least 1s"},
			{"-5m", "must be at least 1s"},
			{"500ms", "must be at least 1s"},
			{"11m", "11m does not divide a week into whole time slots"},
			{"five", "not a duration"},
		} {
			r := run(t, "", c, "--interval", tc.value, "--rules", "/nonexistent/rules.yaml")
			want := `logtally ` + c + `: invalid argument "` + tc.value + `" for "--interval" flag: ` + tc.want
			if r.code != 2 || !strings.HasPrefix(r.stderr, want) {
				t.Errorf("%s --interval %s: exit %d, stderr %q; want 2 and %q", c, tc.value, r.code, r.stderr, want)
			}
		}
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

// TestFlagsAnywhere: flags may come before or after positional arguments,
// and the single-dash spelling of long flags (-rules) that earlier versions
// took still works; all give the same result.
func TestFlagsAnywhere(t *testing.T) {
	rulesFile := repo("examples", "rules", "ssh.yaml")
	log := repo("examples", "testdata", "ssh", "auth.log")
	variants := [][]string{
		{"backtest", "--rules", rulesFile, "--interval", "1h", "--all", log},
		{"backtest", log, "--interval", "1h", "--rules", rulesFile, "--all"},
		{"backtest", log, "--interval=1h", "-rules", rulesFile, "-all"},
		{"backtest", "--all", log, "-interval=1h", "--rules=" + rulesFile},
	}
	var first result
	for i, args := range variants {
		r := run(t, "", args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		if countLines(r.stdout) < 2 {
			t.Fatalf("%v: no rows:\n%s", args, r.stdout)
		}
		if i == 0 {
			first = r
			continue
		}
		if r.stdout != first.stdout {
			t.Errorf("%v: output differs from %v:\n%s\nvs\n%s", args, variants[0], r.stdout, first.stdout)
		}
	}
	// "--" ends the flags: what follows is an argument even if it looks like one.
	if r := run(t, "", "backtest", "--rules", rulesFile, "--", "--interval"); r.code == 0 || !strings.Contains(r.stderr, "--interval") {
		t.Errorf("backtest -- --interval: exit %d, stderr %q; want a failure to read the file --interval", r.code, r.stderr)
	}
	// A positional argument where a command takes none names the flag meant.
	r := run(t, "", "check", repo("examples", "rules"))
	if r.code != 2 || !strings.Contains(r.stderr, "did you mean --rules") {
		t.Errorf("check DIR: exit %d, stderr %q; want 2 with a hint", r.code, r.stderr)
	}
}

// helpFlags returns the long flags a command's --help lists, and the flags
// its synopsis mentions.
func helpFlags(t *testing.T, command string) (listed, synopsis map[string]bool) {
	t.Helper()
	r := run(t, "", command, "--help")
	if r.code != 0 {
		t.Fatalf("%s --help: exit %d: %s", command, r.code, r.stderr)
	}
	usage, rest, _ := strings.Cut(r.stdout, "\n")
	_, flags, ok := strings.Cut(rest, "\nFlags:\n")
	if !ok {
		t.Fatalf("%s --help: no Flags section:\n%s", command, r.stdout)
	}
	flags, _, _ = strings.Cut(flags, "\n\n")
	listed, synopsis = map[string]bool{}, map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z][a-z-]*)`).FindAllStringSubmatch(flags, -1) {
		listed[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`--([a-z][a-z-]*)`).FindAllStringSubmatch(usage, -1) {
		synopsis[m[1]] = true
	}
	// Single-dash long flags are accepted, but the help never writes them.
	if m := regexp.MustCompile(`(?m)(^|[\s\[(])-[a-z]{2,}\b`).FindString(r.stdout); m != "" {
		t.Errorf("%s --help writes a long flag with one dash: %q", command, m)
	}
	return listed, synopsis
}

// commandNames are the commands `logtally --help` lists.
func commandNames(t *testing.T) []string {
	t.Helper()
	r := run(t, "", "--help")
	_, list, ok := strings.Cut(r.stdout, "\nCommands:\n")
	if !ok {
		t.Fatalf("--help lists no commands:\n%s", r.stdout)
	}
	list, _, _ = strings.Cut(list, "\n\n")
	var names []string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] != "help" {
			names = append(names, f[0])
		}
	}
	return names
}

// TestHelpCommandsAligned: the descriptions of the commands --help lists
// start in one column, however long the longest name (accept-changes).
func TestHelpCommandsAligned(t *testing.T) {
	r := run(t, "", "--help")
	_, list, _ := strings.Cut(r.stdout, "\nCommands:\n")
	list, _, _ = strings.Cut(list, "\n\n")
	lines := strings.Split(list, "\n")
	if len(lines) < 10 {
		t.Fatalf("--help lists %d commands, want every command:\n%s", len(lines), r.stdout)
	}
	col := -1
	for _, line := range lines {
		name := strings.Fields(line)[0]
		rest := strings.TrimPrefix(line, "  "+name)
		at := len(line) - len(strings.TrimLeft(rest, " "))
		if len(rest) == len(strings.TrimLeft(rest, " ")) || len(rest)-len(strings.TrimLeft(rest, " ")) < 2 {
			t.Errorf("--help: %q: want at least two spaces between the name and its description", line)
		}
		if col == -1 {
			col = at
		} else if at != col {
			t.Errorf("--help: %q: description at column %d, want %d as the others", line, at, col)
		}
	}
}

// TestHelpAgreesWithFlags: every flag a synopsis mentions exists, and is
// written --name in both.
func TestHelpAgreesWithFlags(t *testing.T) {
	for _, c := range commandNames(t) {
		listed, synopsis := helpFlags(t, c)
		for f := range synopsis {
			if !listed[f] {
				t.Errorf("%s: the synopsis mentions --%s, which the flags do not list", c, f)
			}
		}
		if !listed["help"] {
			t.Errorf("%s: --help not listed", c)
		}
	}
}

// TestManPages: `logtally man` writes logtally(8) and one page per command,
// each documenting every flag its --help lists.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if r := run(t, "", "man", dir); r.code != 0 {
		t.Fatalf("man: exit %d: %s", r.code, r.stderr)
	}
	root, err := os.ReadFile(filepath.Join(dir, "logtally.8"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(root), `.TH "LOGTALLY" "8"`) {
		t.Errorf("logtally.8 is not a section 8 page:\n%.300s", root)
	}
	for _, want := range []string{"FILES", "/etc/logtally/rules.d", "SIGHUP", "LOGTALLY_INFLUX_TOKEN", "EXIT STATUS"} {
		if !strings.Contains(string(root), want) {
			t.Errorf("logtally.8 lacks %q", want)
		}
	}
	for _, c := range commandNames(t) {
		page, err := os.ReadFile(filepath.Join(dir, "logtally-"+c+".8"))
		if err != nil {
			t.Errorf("%s: %v", c, err)
			continue
		}
		if !strings.Contains(string(root), roff("logtally-"+c)) {
			t.Errorf("logtally.8 does not point to logtally-%s(8)", c)
		}
		listed, _ := helpFlags(t, c)
		for f := range listed {
			if !strings.Contains(string(page), roff("--"+f)) {
				t.Errorf("logtally-%s.8 does not document --%s", c, f)
			}
		}
	}
	// A Unix daemon ships no PowerShell completion, nor its page.
	if _, err := os.Stat(filepath.Join(dir, "logtally-completion-powershell.8")); err == nil {
		t.Errorf("man wrote logtally-completion-powershell.8")
	}
	if manCmd, err := exec.LookPath("man"); err == nil {
		out, err := exec.Command(manCmd, "-l", filepath.Join(dir, "logtally-test.8")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "print-missed") {
			t.Errorf("man -l logtally-test.8: %v\n%s", err, out)
		}
		// At 80 columns the footer's three parts (source and version,
		// date, title) stand apart, on the page with the longest title.
		cmd := exec.Command(manCmd, "-l", filepath.Join(dir, "logtally-completion-bash.8"))
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=0")
		out, err = cmd.Output()
		lines := strings.Split(strings.TrimRight(string(out), "\n "), "\n")
		footer := lines[len(lines)-1]
		if parts := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(footer), -1); err != nil || len(parts) != 3 ||
			!strings.HasPrefix(parts[0], "logtally ") || parts[2] != "LOGTALLY-COMPLETION-BASH(8)" || len(footer) > 80 {
			t.Errorf("man -l logtally-completion-bash.8 at 80 columns (%v): footer %q, want source, date and title apart", err, footer)
		}
	}
}

// roff writes s as a man page writes it, with minus signs.
func roff(s string) string { return strings.ReplaceAll(s, "-", `\-`) }

// TestCompletions: the completion scripts, generated from the same command
// tree, complete commands, flags and flag values in real shells.
func TestCompletions(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := run(t, "", "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "logtally") {
			t.Errorf("completion %s: exit %d: %s", shell, r.code, r.stderr)
		}
	}
	cases := []struct {
		line string // the command line typed so far, after "logtally "
		want []string
	}{
		{"te", []string{"test"}},
		{"test --format ", []string{"table", "json", "lp"}},
		{"run --log-level ", []string{"debug", "info", "warn", "error"}},
		{"check --st", []string{"--strict"}},
		{"backtest --ser", []string{"--series"}},
	}
	t.Run("bash", func(t *testing.T) {
		bash := need(t, "bash")
		const lib = "/usr/share/bash-completion/bash_completion"
		if _, err := os.Stat(lib); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("bash-completion is required in CI (.ci/run installs it): %v", err)
			}
			t.Skipf("bash-completion not installed: %v", err)
		}
		script := filepath.Join(t.TempDir(), "logtally.bash")
		writeFile(t, script, run(t, "", "completion", "bash").stdout)
		for _, tc := range cases {
			words := append([]string{bin}, strings.Split(tc.line, " ")...)
			prog := fmt.Sprintf(`source %s; source %s
COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=%q; COMP_POINT=${#COMP_LINE}
__start_logtally; printf '%%s\n' "${COMPREPLY[@]}"`, lib, script, shellWords(words), len(words)-1, strings.Join(words, " "))
			// compopt complains outside a real completion: stderr is not
			// the answer.
			out, err := exec.Command(bash, "-c", prog).Output()
			if err != nil {
				t.Fatalf("%q: %v\n%s", tc.line, err, out)
			}
			wantWords(t, tc.line, string(out), tc.want)
		}
	})
	t.Run("fish", func(t *testing.T) {
		fish := need(t, "fish")
		script := filepath.Join(t.TempDir(), "logtally.fish")
		writeFile(t, script, run(t, "", "completion", "fish").stdout)
		for _, tc := range cases {
			cmd := exec.Command(fish, "--no-config", "-c", fmt.Sprintf("source %s; complete -C %s",
				shellWords([]string{script}), shellWords([]string{"logtally " + tc.line})))
			// The script runs "logtally __complete": the binary under test.
			cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%q: %v\n%s", tc.line, err, out)
			}
			wantWords(t, tc.line, string(out), tc.want)
		}
	})
	t.Run("zsh", func(t *testing.T) {
		zsh := need(t, "zsh")
		script := filepath.Join(t.TempDir(), "_logtally")
		writeFile(t, script, run(t, "", "completion", "zsh").stdout)
		if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
			t.Errorf("zsh -n _logtally: %v\n%s", err, out)
		}
	})
}

// shellWords quotes words for bash and fish.
func shellWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// wantWords checks that every wanted completion is offered, and nothing
// that does not begin with what was typed.
func wantWords(t *testing.T, line, out string, want []string) {
	t.Helper()
	got := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			got[f[0]] = true
		}
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("%q: completions %v lack %q", line, got, w)
		}
	}
	typed := line[strings.LastIndex(line, " ")+1:]
	for g := range got {
		if !strings.HasPrefix(g, typed) {
			t.Errorf("%q: completion %q does not begin with %q", line, g, typed)
		}
	}
}

// TestTestSummary: test sums up each stream as fail2ban-regex does — lines
// read, selected by at least one rule, by none, and the timestamps of the
// selected lines by format — in agreement with the lines --print-missed
// prints; each rule has its own time in the pass; --print-missed=HANDLE prints the
// lines one rule did not select.
func TestTestSummary(t *testing.T) {
	rulesFile := repo("examples", "rules", "ssh.yaml")
	log := repo("examples", "testdata", "ssh", "auth.log")
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := uint64(strings.Count(string(data), "\n"))
	r := run(t, "", "test", "--rules", rulesFile, "--log", log, "--format", "json")
	var out struct {
		Measurements []struct {
			Handle   string  `json:"handle"`
			Selected uint64  `json:"selected"`
			Ignored  uint64  `json:"ignored"` // selected by the pattern, of an ignore_keys key
			TimeMS   float64 `json:"time_ms"`
		} `json:"measurements"`
		Streams []struct {
			Lines, Selected, Unselected uint64
			Timestamps                  map[string]uint64
			PassMS                      float64 `json:"pass_ms"`
		} `json:"streams"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Streams) != 1 {
		t.Fatalf("exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	s := out.Streams[0]
	missed := run(t, "", "test", "--rules", rulesFile, "--log", log, "--print-missed", "--format", "json")
	if s.Lines != lines || s.Selected+s.Unselected != lines || uint64(countLines(missed.stderr)) != s.Unselected || s.Selected == 0 {
		t.Errorf("stream: %d lines, %d selected, %d not; the file has %d lines, --print-missed printed %d",
			s.Lines, s.Selected, s.Unselected, lines, countLines(missed.stderr))
	}
	if s.Timestamps["syslog"] != s.Selected || len(s.Timestamps) != 1 {
		t.Errorf("timestamps %v, want syslog for all %d selected lines", s.Timestamps, s.Selected)
	}
	for _, m := range out.Measurements {
		if m.TimeMS <= 0 {
			t.Errorf("%s: time %v ms", m.Handle, m.TimeMS)
		}
		if m.Handle != "ssh_username_probe" {
			continue
		}
		one := run(t, "", "test", "--rules", rulesFile, "--log", log, "--print-missed=ssh_username_probe", "--format", "json")
		if got := uint64(countLines(one.stderr)); got != lines-m.Selected-m.Ignored {
			t.Errorf("--print-missed=ssh_username_probe printed %d lines, want %d", got, lines-m.Selected-m.Ignored)
		}
	}
	table := run(t, "", "test", "--rules", rulesFile, "--log", log)
	want := fmt.Sprintf("%d lines read; %d selected by at least one rule, %d by none", lines, s.Selected, s.Unselected)
	if !strings.Contains(table.stdout, want) || !strings.Contains(table.stdout, fmt.Sprintf("(syslog %d)", s.Selected)) {
		t.Errorf("the table's summary lacks %q:\n%s", want, table.stdout)
	}
	if r := run(t, "", "test", "--rules", rulesFile, "--log", log, "--print-missed=no_such_rule"); r.code != 2 {
		t.Errorf("--print-missed=no_such_rule: exit %d, want 2", r.code)
	}
}

// TestTestSummaryCommand: a command's stream is named in the summary by
// its command line, in the table and in JSON.
func TestTestSummaryCommand(t *testing.T) {
	rulesFile := filepath.Join(t.TempDir(), "cmd.yaml")
	writeFile(t, rulesFile, `measurements:
  - handle: users
    stream_type: pipe
    pipe_mode: interval
    path: [/bin/sh, -c, 'echo root; echo daemon']
    data_type: slist
    select_line_matching: '.*'
`)
	const name = "/bin/sh -c echo root; echo daemon"
	if r := run(t, "", "test", "--rules", rulesFile); !strings.Contains(r.stdout, "\n"+name+": 2 lines read; 2 selected by at least one rule, 0 by none\n") {
		t.Errorf("exit %d; the summary does not name the command %q:\n%s%s", r.code, name, r.stdout, r.stderr)
	}
	r := run(t, "", "test", "--rules", rulesFile, "--format", "json")
	var out struct{ Streams []struct{ Source string } }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Streams) != 1 || out.Streams[0].Source != name {
		t.Errorf("streams %+v (%v), want one named %q", out.Streams, err, name)
	}
}

// TestTestHint: a rule written as a search ('Invalid user', as a fail2ban
// or mtail user writes it) selects nothing; test says why, in how many
// lines the text occurs, and gives the pattern that selects them, which
// does; check warns about it before.
func TestTestHint(t *testing.T) {
	log := repo("examples", "testdata", "ssh", "auth.log")
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	contain := 0
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, "Invalid user") {
			contain++
		}
	}
	dir := t.TempDir()
	search := filepath.Join(dir, "search.yaml")
	writeFile(t, search, "measurements:\n  - handle: invalid_user\n    path: /var/log/auth.log\n    select_line_matching: 'Invalid user'\n")
	r := run(t, "", "test", "--rules", search, "--log", log)
	if !strings.Contains(r.stdout, fmt.Sprintf("invalid_user selected no line, but its pattern occurs in %d of", contain)) ||
		!strings.Contains(r.stdout, "select_line_matching: '.*Invalid user.*'") {
		t.Errorf("no hint with %d lines and the fix:\n%s", contain, r.stdout)
	}
	c := run(t, "", "check", "--rules", search)
	if c.code != 0 || !strings.Contains(c.stderr, "warning: measurements[0].select_line_matching") || !strings.Contains(c.stderr, "'.*Invalid user.*'") {
		t.Errorf("check: exit %d, no warning with the fix:\n%s", c.code, c.stderr)
	}
	// The fix selects exactly those lines.
	fixed := filepath.Join(dir, "fixed.yaml")
	writeFile(t, fixed, "measurements:\n  - handle: invalid_user\n    path: /var/log/auth.log\n    select_line_matching: '.*Invalid user.*'\n")
	r = run(t, "", "test", "--rules", fixed, "--log", log, "--format", "json")
	var out testOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.Measurements[0]["selected"]; got != float64(contain) {
		t.Errorf("the suggested pattern selects %v lines, want %d", got, contain)
	}
	var hints struct{ Hints []any }
	if err := json.Unmarshal([]byte(r.stdout), &hints); err != nil || hints.Hints == nil || len(hints.Hints) != 0 {
		t.Errorf("hints for a rule that selects: %v %v", hints.Hints, err)
	}
}

// TestStatusSets: status prints the members of a set measurement and what
// expect: makes of them, which do not fit the table's VALUE column, as
// test does.
func TestStatusSets(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "set.yaml")
	state := filepath.Join(dir, "state.db")
	writeFile(t, rulesFile, `measurements:
  - handle: accounts
    stream_type: pipe
    pipe_mode: interval
    path: [/bin/sh, -c, 'echo root; echo daemon; echo mallory']
    data_type: slist
    select_line_matching: '.*'
    expect: [root, daemon, bin]
`)
	d := startDaemon(t, daemonOpts{rules: rulesFile, state: state, output: "file://" + filepath.Join(dir, "samples.lp")})
	d.waitLog(`committed`, 1)
	// status shows the last interval's set: asked until that interval is
	// one whose run the machine's load did not stretch past the interval's
	// end (killed, the interval is unavailable and has no set to show).
	want := []string{"\naccounts: daemon, mallory, root\n", "\naccounts: unexpected: mallory; missing: bin\n"}
	testutil.WaitForWhy(t, waitTimeout, "status showing the set of accounts", func() (bool, string) {
		m, ok := readStatus(t, state).measurement("accounts")
		if !ok || m.Last == nil || m.Last.Value == nil {
			return false, fmt.Sprintf("%+v", m)
		}
		r := run(t, "", "status", "--state", state)
		for _, w := range want {
			if !strings.Contains(r.stdout, w) {
				return false, fmt.Sprintf("status lacks %q:\n%s", w, r.stdout)
			}
		}
		return true, ""
	})
	d.stop()
}
