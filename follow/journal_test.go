package follow

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// journalEntry is one entry written into a test journal.
type journalEntry struct {
	realtime time.Time
	host     string
	ident    string
	pid      string
	unit     string
	message  string
}

// syslogLine matches a line of the real sshd log the tests turn into
// journal entries.
var syslogLine = regexp.MustCompile(`^(\w{3} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^\[: ]+)\[(\d+)\]: (.*)$`)

// realEntries turns the first n lines of the repository's real sshd log
// into journal entries of the year 2024, in UTC.
func realEntries(t *testing.T, n int) []journalEntry {
	t.Helper()
	f, err := os.Open("../examples/testdata/ssh/auth.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []journalEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(out) < n {
		m := syslogLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ts, err := time.ParseInLocation("2006 Jan _2 15:04:05", "2024 "+m[1], time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		// Lines of one second keep their order, a microsecond apart.
		if len(out) > 0 && !ts.After(out[len(out)-1].realtime) {
			ts = out[len(out)-1].realtime.Add(time.Microsecond)
		}
		out = append(out, journalEntry{realtime: ts, host: m[2], ident: m[3], pid: m[4], unit: "ssh.service", message: m[5]})
	}
	if len(out) < n {
		t.Fatalf("the sample log has %d sshd lines, want %d", len(out), n)
	}
	return out
}

// writeJournal appends entries to the journal file path.
func writeJournal(t *testing.T, path string, entries []journalEntry) {
	t.Helper()
	// One boot, which began on 2024-01-01: the monotonic time follows
	// the real time, so that journalctl orders the entries of several
	// files as they were written.
	boot := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var fields [][]exportField
	for _, e := range entries {
		fields = append(fields, []exportField{
			{Name: "__REALTIME_TIMESTAMP", Value: strconv.FormatInt(e.realtime.UnixMicro(), 10)},
			{Name: "__MONOTONIC_TIMESTAMP", Value: strconv.FormatInt(e.realtime.Sub(boot).Microseconds(), 10)},
			{Name: "_BOOT_ID", Value: "0123456789abcdef0123456789abcdef"},
			{Name: "_HOSTNAME", Value: e.host},
			{Name: "SYSLOG_IDENTIFIER", Value: e.ident},
			{Name: "_PID", Value: e.pid},
			{Name: "_SYSTEMD_UNIT", Value: e.unit},
			{Name: "MESSAGE", Value: e.message, Binary: strings.Contains(e.message, "\n")},
		})
	}
	testutil.WriteJournal(t, path, fields...)
}

// journalRecord is a Handler keeping lines with their time, cursors and
// events.
type journalRecord struct {
	mu      sync.Mutex
	lines   []string
	times   []time.Time
	backlog []bool
	ends    []string // the End cursor of each batch
	events  []Event
}

func (r *journalRecord) Batch(b *Batch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range b.Lines {
		r.lines = append(r.lines, string(l.Data))
		r.times = append(r.times, l.Time)
		r.backlog = append(r.backlog, b.Backlog)
	}
	r.ends = append(r.ends, b.End.Cursor)
}

func (r *journalRecord) Event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *journalRecord) snapshot() ([]string, []time.Time, []Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines), slices.Clone(r.times), slices.Clone(r.events)
}

func (r *journalRecord) eventsOf(kind EventKind) []Event {
	_, _, evs := r.snapshot()
	var out []Event
	for _, e := range evs {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// cursors returns the cursors of the entries of a journal, in order.
func cursors(t *testing.T, journalctl string, args ...string) []string {
	t.Helper()
	out, err := exec.Command(journalctl, append([]string{"--output=export", "--no-pager"}, args...)...).Output()
	if err != nil {
		t.Fatalf("journalctl: %v", err)
	}
	var cs []string
	for _, l := range strings.Split(string(out), "\n") {
		if c, ok := strings.CutPrefix(l, "__CURSOR="); ok {
			cs = append(cs, c)
		}
	}
	return cs
}

// TestJournalRunOnce reads a real journal file: the message of every
// entry, dated by its __REALTIME_TIMESTAMP; the syslog rendering is what
// journalctl -o short writes; filters select as journalctl's do.
func TestJournalRunOnce(t *testing.T) {
	journalctl := testutil.NeedTool(t, "journalctl")
	entries := realEntries(t, 300)
	entries[7].ident = "sshd-session" // OpenSSH 9.8 and later
	entries[9].message = "a message\nof two lines"
	file := filepath.Join(t.TempDir(), "j.journal")
	writeJournal(t, file, entries)

	read := func(cfg JournalConfig) *journalRecord {
		t.Helper()
		cfg.Files = []string{file}
		j, err := NewJournal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := &journalRecord{}
		if err := j.RunOnce(context.Background(), r); err != nil {
			t.Fatalf("RunOnce: %v (events %v)", err, r.events)
		}
		return r
	}

	r := read(JournalConfig{})
	if len(r.lines) != len(entries) {
		t.Fatalf("%d lines, want %d", len(r.lines), len(entries))
	}
	for i, e := range entries {
		want := strings.ReplaceAll(e.message, "\n", " ")
		if r.lines[i] != want || !r.times[i].Equal(e.realtime) {
			t.Errorf("entry %d: %q at %v, want %q at %v", i, r.lines[i], r.times[i], want, e.realtime)
		}
	}
	all := cursors(t, journalctl, "--file="+file)
	if got := r.ends[len(r.ends)-1]; got != all[len(all)-1] {
		t.Errorf("the last batch ends at %q, want the last entry's cursor %q", got, all[len(all)-1])
	}

	// The syslog rendering, against journalctl's own.
	r = read(JournalConfig{Render: RenderSyslog, Location: time.UTC})
	short := exec.Command(journalctl, "--file="+file, "--output=short", "--no-pager", "--quiet")
	short.Env = append(os.Environ(), "TZ=UTC")
	out, err := short.Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if strings.HasPrefix(l, " ") { // the second line of a message
			want[len(want)-1] += " " + strings.TrimSpace(l)
			continue
		}
		want = append(want, l)
	}
	if !slices.Equal(r.lines, want) {
		for i := range min(len(r.lines), len(want)) {
			if r.lines[i] != want[i] {
				t.Errorf("syslog rendering, line %d:\n got %q\nwant %q (journalctl -o short)", i, r.lines[i], want[i])
				break
			}
		}
		t.Errorf("%d lines, journalctl -o short %d", len(r.lines), len(want))
	}

	// Filters, as journalctl's: the sshd-session entry by identifier, a
	// pid by field match, both selections of one field.
	if r := read(JournalConfig{Identifiers: []string{"sshd-session"}}); len(r.lines) != 1 || r.lines[0] != entries[7].message {
		t.Errorf("identifier sshd-session: %q", r.lines)
	}
	if r := read(JournalConfig{Matches: []string{"_PID=" + entries[0].pid}}); len(r.lines) == 0 || r.lines[0] != entries[0].message {
		t.Errorf("_PID=%s: %q", entries[0].pid, r.lines)
	}
	if r := read(JournalConfig{Units: []string{"ssh.service"}, Identifiers: []string{"sshd", "sshd-session"}}); len(r.lines) != len(entries) {
		t.Errorf("unit and both identifiers: %d lines, want %d", len(r.lines), len(entries))
	}
	// Since and Until bound a one-shot read (the learn and test window).
	since, until := entries[100].realtime, entries[200].realtime
	if r := read(JournalConfig{Since: since, Until: until}); len(r.lines) == 0 || !r.times[0].Equal(since) || r.times[len(r.times)-1].After(until) {
		t.Errorf("since %v until %v: %d lines from %v", since, until, len(r.lines), r.times)
	}
}

// TestJournalResume: a read resumes just after a saved cursor, whatever
// the filter; when the cursor's entry was vacuumed away, it resumes at the
// oldest entry left, misses none of them, and says what was lost.
func TestJournalResume(t *testing.T) {
	journalctl := testutil.NeedTool(t, "journalctl")
	entries := realEntries(t, 300)
	dir := t.TempDir()
	older, newer := filepath.Join(dir, "older.journal"), filepath.Join(dir, "newer.journal")
	writeJournal(t, older, entries[:150])
	writeJournal(t, newer, entries[150:])
	all := cursors(t, journalctl, "--directory="+dir)
	if len(all) != 300 {
		t.Fatalf("%d entries in the journal, want 300", len(all))
	}
	run := func(cfg JournalConfig) *journalRecord {
		t.Helper()
		cfg.Directory = dir
		j, err := NewJournal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := &journalRecord{}
		if err := j.RunOnce(context.Background(), r); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		return r
	}
	r := run(JournalConfig{After: all[99]})
	if len(r.lines) != 200 || r.lines[0] != entries[100].message {
		t.Errorf("after entry 99: %d lines from %q, want 200 from %q", len(r.lines), r.lines, entries[100].message)
	}
	// With a filter: the entries of one identifier after one of its own.
	var pids []int
	for i, e := range entries {
		if e.pid == entries[120].pid {
			pids = append(pids, i)
		}
	}
	if len(pids) < 3 {
		t.Fatalf("pid %s has %d entries", entries[120].pid, len(pids))
	}
	r = run(JournalConfig{After: all[pids[0]], Matches: []string{"_PID=" + entries[120].pid}})
	if len(r.lines) != len(pids)-1 || r.lines[0] != entries[pids[1]].message {
		t.Errorf("pid %s after its first entry: %q, want the %d others", entries[120].pid, r.lines, len(pids)-1)
	}

	// Vacuum the older file: the saved entry (99) is gone.
	if err := os.Remove(older); err != nil {
		t.Fatal(err)
	}
	r = run(JournalConfig{After: all[99]})
	if len(r.lines) != 150 || r.lines[0] != entries[150].message {
		t.Errorf("after a vacuumed entry: %d lines from %q, want the 150 left from %q", len(r.lines), r.lines[:min(1, len(r.lines))], entries[150].message)
	}
	lost := r.eventsOf(EventLost)
	want := fmt.Sprintf("entries written from %s to %s may have been lost", entries[99].realtime.Format(time.RFC3339Nano), entries[150].realtime.Format(time.RFC3339Nano))
	if len(lost) != 1 || !strings.Contains(lost[0].Detail, want) {
		t.Errorf("lost events %v, want one saying %q", lost, want)
	}
	// With a filter whose first entry left is the oldest: not skipped.
	r = run(JournalConfig{After: all[99], Identifiers: []string{"sshd"}})
	if len(r.lines) != 150 || r.lines[0] != entries[150].message {
		t.Errorf("after a vacuumed entry, filtered: %d lines from %q", len(r.lines), r.lines[:min(1, len(r.lines))])
	}
}

// TestJournalFollow follows a journal that grows: only entries written
// after the start are read; killing journalctl restarts it without loss or
// repeat; a new Journal resumes exactly after the last cursor delivered.
func TestJournalFollow(t *testing.T) {
	journalctl := testutil.NeedTool(t, "journalctl")
	entries := realEntries(t, 100)
	now := time.Now().Truncate(time.Second)
	for i := range entries {
		entries[i].realtime = now.Add(time.Duration(i) * time.Millisecond)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "j.journal")
	writeJournal(t, file, entries[:50])

	follow := func(after string) (*Journal, *journalRecord, context.CancelFunc, chan error) {
		j, err := NewJournal(JournalConfig{Directory: dir, After: after, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		r := &journalRecord{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- j.Run(ctx, r) }()
		return j, r, cancel, done
	}
	waitLines := func(r *journalRecord, n int) {
		t.Helper()
		testutil.WaitForWhy(t, waitLimit, fmt.Sprintf("%d lines", n), func() (bool, string) {
			lines, _, _ := r.snapshot()
			return len(lines) >= n, fmt.Sprintf("%d lines", len(lines))
		})
	}

	j, r, cancel, done := follow("")
	testutil.WaitFor(t, waitLimit, "the open event", func() bool { return len(r.eventsOf(EventOpen)) > 0 })
	open := r.eventsOf(EventOpen)[0]
	all := cursors(t, journalctl, "--directory="+dir)
	if open.Pos.Cursor != all[49] {
		t.Errorf("open at %q, want the last entry's cursor %q", open.Pos.Cursor, all[49])
	}
	// Wait for journalctl to run before writing, so that the test shows
	// new entries are followed (not read at a later start).
	testutil.WaitFor(t, waitLimit, "journalctl to run", func() bool { return j.pipe.Running() })
	writeJournal(t, file, entries[50:70])
	waitLines(r, 20)

	// Kill journalctl: it is restarted after the last entry delivered.
	kills := 0
	for _, pid := range pidsOf(t, "journalctl", dir) {
		if err := syscallKill(pid); err == nil {
			kills++
		}
	}
	if kills == 0 {
		t.Fatal("no journalctl to kill")
	}
	testutil.WaitFor(t, waitLimit, "journalctl to restart", func() bool { return j.Stats().Restarts > 0 && j.pipe.Running() })
	writeJournal(t, file, entries[70:80])
	waitLines(r, 30)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	lines, times, _ := r.snapshot()
	for i, l := range lines {
		if l != entries[50+i].message || !times[i].Equal(entries[50+i].realtime) {
			t.Fatalf("line %d: %q, want %q (each entry once, in order)", i, l, entries[50+i].message)
		}
	}
	if len(lines) != 30 {
		t.Fatalf("%d lines, want 30", len(lines))
	}
	last := j.Cursor()

	// A new Journal resumes just after it (the daemon's restart), with
	// more than the 10 entries journalctl --follow shows by default
	// written meanwhile.
	writeJournal(t, file, entries[80:95])
	_, r2, cancel2, done2 := follow(last)
	writeJournal(t, file, entries[95:100])
	waitLines(r2, 20)
	cancel2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	lines2, _, _ := r2.snapshot()
	var want []string
	for _, e := range entries[80:100] {
		want = append(want, e.message)
	}
	if !slices.Equal(lines2, want) {
		t.Errorf("after a restart: %q\nwant %q", lines2, want)
	}
	if lost := r2.eventsOf(EventLost); len(lost) != 0 {
		t.Errorf("lost events after a clean resume: %v", lost)
	}
}

// pidsOf returns the processes named name whose command line mentions arg.
func pidsOf(t *testing.T, name, arg string) []int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if filepath.Base(args[0]) == name && strings.Contains(string(b), arg) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
			out = append(out, pid)
		}
	}
	return out
}

func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// TestJournalRender: the line of an entry, as a MESSAGE or a syslog line;
// line breaks at the end of a message are dropped (sshd -E writes CRLF),
// the others become spaces; a long line is cut.
func TestJournalRender(t *testing.T) {
	at := time.Date(2024, 12, 10, 6, 55, 46, 0, time.UTC)
	e := &exportEntry{realtime: at, hostname: []byte("labsz"), ident: []byte("sshd-session"), pid: []byte("24200"),
		message: []byte("Connection closed by 192.0.2.1 port 38442 [preauth]\r\n")}
	for _, tc := range []struct {
		cfg  JournalConfig
		want string
		cut  bool
	}{
		{JournalConfig{}, "Connection closed by 192.0.2.1 port 38442 [preauth]", false},
		{JournalConfig{Render: RenderSyslog, Location: time.UTC}, "Dec 10 06:55:46 labsz sshd-session[24200]: Connection closed by 192.0.2.1 port 38442 [preauth]", false},
		{JournalConfig{MaxLine: 20}, "Connection closed by", true},
	} {
		j, err := NewJournal(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, cut := j.render(nil, e)
		if string(got) != tc.want || cut != tc.cut {
			t.Errorf("%+v: %q (cut %v), want %q (cut %v)", tc.cfg, got, cut, tc.want, tc.cut)
		}
	}
	e.message = []byte("two\nlines")
	j, _ := NewJournal(JournalConfig{})
	if got, _ := j.render(nil, e); string(got) != "two lines" {
		t.Errorf("%q", got)
	}
}
