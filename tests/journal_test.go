package tests

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// sshMessages are the real sshd messages of the journal example's sample:
// OpenSSH 9.2 (kex_exchange_identification, banner exchange, connections
// closed by invalid users) and the loghub sshd log without its syslog
// prefix.
func sshMessages(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(repo("examples", "testdata", "ssh-journal", "messages.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// journalEntries are journal entries of messages, written from start one
// step apart, alternately by sshd and sshd-session (OpenSSH 9.8 and
// later); after every tenth, one by cron whose message the ssh rules would
// select, were they not for sshd.
func journalEntries(messages []string, start time.Time, step time.Duration) [][]testutil.JournalField {
	boot := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	entry := func(at time.Time, ident, pid, msg string) []testutil.JournalField {
		return []testutil.JournalField{
			{Name: "__REALTIME_TIMESTAMP", Value: strconv.FormatInt(at.UnixMicro(), 10)},
			{Name: "__MONOTONIC_TIMESTAMP", Value: strconv.FormatInt(at.Sub(boot).Microseconds(), 10)},
			{Name: "_BOOT_ID", Value: "0123456789abcdef0123456789abcdef"},
			{Name: "_HOSTNAME", Value: "labsz"},
			{Name: "SYSLOG_IDENTIFIER", Value: ident},
			{Name: "_PID", Value: pid},
			{Name: "MESSAGE", Value: msg},
		}
	}
	var out [][]testutil.JournalField
	for i, m := range messages {
		at := start.Add(time.Duration(i) * step)
		ident := []string{"sshd", "sshd-session"}[i%2]
		out = append(out, entry(at, ident, strconv.Itoa(24200+i), m))
		if i%10 == 9 {
			out = append(out, entry(at.Add(step/2), "cron", "99", "Invalid user cron-is-not-sshd from 192.0.2.99"))
		}
	}
	return out
}

// journalRules writes the journal example, reading the journal files of
// dir.
func journalRules(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(repo("examples", "rules", "ssh-journal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "    stream_type: journal\n",
		"    stream_type: journal\n    journal_directory: "+dir+"\n")
	p := filepath.Join(t.TempDir(), "ssh-journal.yaml")
	writeFile(t, p, text)
	return p
}

// selectedBy returns each measurement's selected lines of a test --format
// json run.
func selectedBy(t *testing.T, args ...string) map[string]float64 {
	t.Helper()
	r := run(t, "", append(args, "--format", "json")...)
	var out testOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("logtally %v: exit %d, %v\n%s", args, r.code, err, r.stderr)
	}
	m := map[string]float64{}
	for _, x := range out.Measurements {
		m[x["handle"].(string)] = x["selected"].(float64)
	}
	return m
}

// TestJournalTestLearnBacktest: test, learn and backtest read a real
// journal file (written by systemd-journal-remote): the ssh journal example
// counts the sshd and sshd-session entries as it counts their messages, and
// no other; --since and --until split them; learn and backtest date each
// entry by its own time.
func TestJournalTestLearnBacktest(t *testing.T) {
	testutil.NeedTool(t, "journalctl")
	dir := t.TempDir()
	messages := sshMessages(t)
	start := time.Now().Add(-72 * time.Hour).Truncate(time.Hour)
	step := 6 * time.Minute
	testutil.WriteJournal(t, filepath.Join(dir, "system.journal"), journalEntries(messages, start, step)...)
	rulesPath := journalRules(t, dir)

	want := selectedBy(t, "test", "--rules", repo("examples", "rules", "ssh-journal.yaml"), "--log", repo("examples", "testdata", "ssh-journal", "messages.log"))
	got := selectedBy(t, "test", "--rules", rulesPath)
	for h, n := range want {
		if got[h] != n {
			t.Errorf("%s: %v entries of the journal, %v lines of its messages", h, got[h], n)
		}
	}
	if want["journal_ssh_username_probe"] == 0 || want["journal_ssh_no_identification"] == 0 {
		t.Fatalf("the sample selects nothing: %v", want)
	}
	// Between two entries (cron's are half a step after theirs).
	mid := start.Add(time.Duration(len(messages)/2)*step + step/4).Format(time.RFC3339)
	first := selectedBy(t, "test", "--rules", rulesPath, "--until", mid)
	second := selectedBy(t, "test", "--rules", rulesPath, "--since", mid)
	for h, n := range want {
		if first[h]+second[h] != n || (n > 20 && (first[h] == 0 || second[h] == 0)) {
			t.Errorf("%s: %v before %s and %v after, want %v in all, some in each", h, first[h], mid, second[h], n)
		}
	}

	// learn: every selected entry is dated, so none is undated.
	statePath := filepath.Join(t.TempDir(), "state.db")
	r := run(t, "", "learn", "--rules", rulesPath, "--state", statePath, "--interval", "1h")
	if r.code != 0 {
		t.Fatalf("learn: exit %d\n%s", r.code, r.stderr)
	}
	row := regexp.MustCompile(`(?m)^journal_ssh_username_probe\s+(\d+)\s+\d+\s+.*\s(\d+)\s*$`).FindStringSubmatch(r.stdout)
	if row == nil || row[1] == "0" || row[2] != "0" {
		t.Errorf("learn: no intervals, or undated entries, for journal_ssh_username_probe:\n%s", r.stdout)
	}

	// backtest: the values of its rows add up to the entries selected.
	r = run(t, "", "backtest", "--rules", rulesPath, "--interval", "1h")
	if r.code != 0 {
		t.Fatalf("backtest: exit %d\n%s", r.code, r.stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, row := range rows[1:] {
		if row[1] == "journal_ssh_username_probe" {
			v, _ := strconv.ParseFloat(row[2], 64)
			sum += v
		}
	}
	if sum != want["journal_ssh_username_probe"] {
		t.Errorf("backtest: the rows of journal_ssh_username_probe add up to %v, want %v", sum, want["journal_ssh_username_probe"])
	}
}

// TestJournalDaemon: the daemon follows a real journal from its end, counts
// every new sshd and sshd-session entry once across a kill -9 and a
// restart, and, when the entry of its saved cursor was vacuumed while it
// was down, says what may have been lost and counts what is left.
func TestJournalDaemon(t *testing.T) {
	testutil.NeedTool(t, "journalctl")
	dir := t.TempDir()
	file := filepath.Join(dir, "system.journal")
	messages := sshMessages(t)
	const handle = "journal_ssh_username_probe"
	probes := func(msgs []string) int {
		n := 0
		for _, m := range msgs {
			if strings.HasPrefix(m, "Invalid user ") {
				n++
			}
		}
		return n
	}
	// What was there before logtally starts is not counted.
	testutil.WriteJournal(t, file, journalEntries(messages[:40], time.Now().Add(-time.Hour), time.Second)...)
	rulesPath := journalRules(t, dir)
	state := filepath.Join(t.TempDir(), "state.db")
	out := filepath.Join(t.TempDir(), "out.lp")
	opts := daemonOpts{rules: rulesPath, state: state, output: out, extra: []string{"--listen="}}

	d := startDaemon(t, opts)
	d.waitLog(`event=open .*detail="following new entries"`, 1)
	a := messages[40:240]
	testutil.WriteJournal(t, file, journalEntries(a, time.Now(), time.Millisecond)...)
	waitTotal(t, state, handle, probes(a))

	// kill -9 right after more entries arrive: a restart resumes after the
	// saved cursor, and counts each entry once.
	b := messages[240:440]
	testutil.WriteJournal(t, file, journalEntries(b, time.Now(), time.Millisecond)...)
	d.kill()
	c := messages[440:540]
	testutil.WriteJournal(t, file, journalEntries(c, time.Now(), time.Millisecond)...)
	d = startDaemon(t, opts)
	want := probes(a) + probes(b) + probes(c)
	waitTotal(t, state, handle, want)
	d.stop()
	// `status` shows where the journal stream resumes: its cursor.
	if res := run(t, "", "status", "--state", state); !regexp.MustCompile(`(?m)^journal:\S*\s.*cursor s=[0-9a-f]+;`).MatchString(res.stdout) ||
		regexp.MustCompile(`\s0:0\s`).MatchString(res.stdout) {
		t.Errorf("status does not show the journal stream's cursor:\n%s", res.stdout)
	}

	// Vacuumed while logtally was down: the file holding the saved cursor
	// is gone; the oldest entry left is the first counted again.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	rest := messages[540:]
	testutil.WriteJournal(t, filepath.Join(dir, "newer.journal"), journalEntries(rest, time.Now(), time.Millisecond)...)
	d = startDaemon(t, opts)
	d.waitLog(`event=lost .*may have been lost`, 1)
	want += probes(rest)
	waitTotal(t, state, handle, want)
	d.stop()
	if lost := d.countLog(regexp.MustCompile(`event=lost`)); lost != 1 {
		t.Errorf("%d lost events, want 1", lost)
	}
	t.Logf("%d probe entries counted once; after the vacuum: %s", want,
		regexp.MustCompile(`detail="[^"]*may have been lost[^"]*"`).FindString(d.log()))
	if n := probes(messages[:40]); n > 0 && readStatus(t, state).total(handle) != float64(want) {
		t.Errorf("total %v, want %d (the %d probes written before the start are not counted)", readStatus(t, state).total(handle), want, n)
	}
}

// TestJournalTestSaysWhyNothingRead: `logtally test` on a journal stream
// that reads no entry says why under the stream's line — no journal file
// where it looks, no entry its selection picks, none in the time range
// (and when the last one is from) — and exits 0, as 0 is then the answer
// (learn and backtest say it on stderr);
// journal files it may not read fail the run with a reason that says who
// may read them.
func TestJournalTestSaysWhyNothingRead(t *testing.T) {
	testutil.NeedTool(t, "journalctl")
	messages := sshMessages(t)[:20]
	start := time.Now().Add(-72 * time.Hour).Truncate(time.Hour).UTC()
	step := 6 * time.Minute
	last := start.Add(time.Duration(len(messages)-1) * step) // the last sshd entry
	cron := [][]testutil.JournalField{journalEntries(messages, start, step)[10]}
	if cron[0][4].Value != "cron" {
		t.Fatalf("entry 10 is of %s, want cron", cron[0][4].Value)
	}
	for _, c := range []struct {
		name    string
		entries [][]testutil.JournalField
		args    []string
		want    func(dir string) string // a regular expression
	}{
		{"no journal files", nil, nil, func(dir string) string {
			return regexp.QuoteMeta("no journal files in " + dir)
		}},
		{"no entry of the selection", cron, nil, func(dir string) string {
			return regexp.QuoteMeta("no entry of identifier sshd or sshd-session in the journal (1 file in " + dir + ")")
		}},
		{"none in the time range", journalEntries(messages, start, step), []string{"--since", "24h"}, func(string) string {
			return `no entry of identifier sshd or sshd-session since \S+; the last one is from ` + regexp.QuoteMeta(last.Format(time.RFC3339))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.entries != nil {
				testutil.WriteJournal(t, filepath.Join(dir, "system.journal"), c.entries...)
			}
			r := run(t, "", append([]string{"test", "--rules", journalRules(t, dir)}, c.args...)...)
			line := regexp.MustCompile(`(?m)^journal:\S+: 0 lines read; 0 selected by at least one rule, 0 by none\n  nothing read: ` + c.want(dir) + `\n`)
			if r.code != 0 || !line.MatchString(r.stdout) {
				t.Errorf("exit %d, want 0 and the stream's line followed by %s:\n%s%s", r.code, line, r.stdout, r.stderr)
			}
			// learn and backtest say the same on stderr.
			for _, cmd := range [][]string{
				{"learn", "--state", filepath.Join(t.TempDir(), "state.db"), "--interval", "1h"},
				{"backtest", "--interval", "1h"},
			} {
				r := run(t, "", append(append(cmd, "--rules", journalRules(t, dir)), c.args...)...)
				line := regexp.MustCompile(`(?m)^logtally ` + cmd[0] + `: journal:\S+: nothing read: ` + c.want(dir) + `$`)
				if r.code != 0 || !line.MatchString(r.stderr) {
					t.Errorf("%s: exit %d, want 0 and %s on stderr:\n%s", cmd[0], r.code, line, r.stderr)
				}
			}
		})
	}

	t.Run("unreadable journal file", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "system.journal")
		testutil.WriteJournal(t, file, journalEntries(messages, start, step)...)
		// Root reads any file: the binary runs as nobody, as a sysadmin
		// outside group systemd-journal would; another user takes the
		// permission away from itself.
		var r result
		if os.Geteuid() == 0 {
			r = runAsNobody(t, "test", "--rules", journalRules(t, dir))
		} else {
			if err := os.Chmod(file, 0); err != nil {
				t.Fatal(err)
			}
			r = run(t, "", "test", "--rules", journalRules(t, dir))
		}
		want := "permission denied: " + file + " cannot be read as uid "
		if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("exit %d, want 1 and one error line saying %q:\n%s", r.code, want, r.stderr)
		}
	})
}

// runAsNobody runs a copy of the binary as uid and gid 65534, from a
// directory it may read, with the way to the files named in args opened.
func runAsNobody(t *testing.T, args ...string) result {
	t.Helper()
	dir := t.TempDir()
	nobody := filepath.Join(dir, "logtally")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nobody, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// t.TempDir makes a test's directory 0700: open the way down to the
	// binary and to the files the arguments name.
	for _, p := range append([]string{dir}, args...) {
		for d := p; filepath.IsAbs(p) && strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				if err := os.Chmod(d, fi.Mode().Perm()|0o005); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return runWith(t, nobody, "", func(cmd *exec.Cmd) {
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}, args...)
}
