package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/state"
)

type fixture struct {
	t     testing.TB
	dir   string
	log   string
	clock *testutil.Clock
	out   *testutil.Buffer
	stop  func() error // stops the daemon: Run's error
}

// runOpts are what a test varies of a daemon that runDaemon runs.
type runOpts struct {
	out, logs *testutil.Buffer // its points and its log; discarded when nil
	prepare   func(*Daemon)    // adjusts the daemon before it runs
	reload    chan struct{}    // reloads the rules, as SIGHUP does
}

// runDaemon runs a daemon over dir's rules.yaml and state.db at a
// one-minute interval on clock, following its files by polls that the
// commits make (an hour apart otherwise), and returns it once it waits for
// the end of its first interval, with the function that stops it and
// returns Run's error.
func runDaemon(t testing.TB, dir string, clock *testutil.Clock, o runOpts) (*Daemon, func() error) {
	t.Helper()
	if o.out == nil {
		o.out = &testutil.Buffer{}
	}
	logger := slog.New(slog.DiscardHandler)
	if o.logs != nil {
		logger = slog.New(slog.NewTextHandler(o.logs, nil))
	}
	d, err := New(Config{Rules: filepath.Join(dir, "rules.yaml"), State: filepath.Join(dir, "state.db"),
		Interval: time.Minute, Clock: clock, Stdout: o.out, Watch: "poll", PollEvery: time.Hour, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if o.prepare != nil {
		o.prepare(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, o.reload) }()
	testutil.WaitFor(t, 10*time.Second, "the daemon to wait for its interval", func() bool { return clock.Pending() > 0 })
	return d, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return errors.New("the daemon did not stop")
		}
	}
}

// start runs a daemon over one log with one counter and a one-minute
// interval, on a fake clock that begins at now.
func start(t *testing.T, dir string, now time.Time) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: dir, log: filepath.Join(dir, "auth.log"), clock: testutil.NewClock(now),
		out: &testutil.Buffer{}}
	writeProbeRules(t, dir, f.log, "")
	_, f.stop = runDaemon(t, dir, f.clock, runOpts{out: f.out})
	return f
}

// writeProbeRules writes dir's rules.yaml: probe, a counter of the
// invalid users of log (created empty when missing), then more (more
// measurements, or other sections).
func writeProbeRules(t testing.TB, dir, log, more string) {
	t.Helper()
	if _, err := os.Stat(log); os.IsNotExist(err) {
		if err := os.WriteFile(log, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rules := fmt.Sprintf(`measurements:
  - handle: probe
    path: %s
    select_line_matching: '.*Invalid user.*'
    history_type: scalar
`, log) + more
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
}

// append appends lines to the followed log. A line that starts with a
// syslog timestamp is given in UTC, the zone of the test's clock; it is
// written in the local zone, in which the daemon reads syslog timestamps,
// so that the test holds in any zone.
func (f *fixture) append(lines ...string) {
	f.t.Helper()
	fh, err := os.OpenFile(f.log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	defer fh.Close()
	for _, l := range lines {
		if len(l) >= len(time.Stamp) {
			if ts, err := time.Parse(time.Stamp, l[:len(time.Stamp)]); err == nil {
				ts = ts.AddDate(t0.Year(), 0, 0)
				l = ts.Local().Format(time.Stamp) + l[len(time.Stamp):]
			}
		}
		if _, err := fh.WriteString(l + "\n"); err != nil {
			f.t.Fatal(err)
		}
	}
}

// status reads the committed state through a snapshot, as `status` does.
func (f *fixture) status() *Status {
	f.t.Helper()
	st, err := state.OpenSnapshot(filepath.Join(f.dir, "state.db"))
	if err != nil {
		f.t.Fatal(err)
	}
	defer st.Close()
	s, err := ReadStatus(st)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) total() float64 {
	for _, m := range f.status().Measurements {
		if m.Handle == "probe" {
			return m.Total
		}
	}
	return 0
}

// closeAt advances the clock to t and waits for the interval ending then
// to be committed.
func (f *fixture) closeAt(t time.Time) {
	f.t.Helper()
	f.clock.Advance(t.Sub(f.clock.Now()))
	testutil.WaitFor(f.t, 10*time.Second, "the commit of the interval ending "+t.Format("15:04"), func() bool {
		return !f.status().CommittedEnd.Before(t)
	})
}

func (f *fixture) shutdown() {
	f.t.Helper()
	if err := f.stop(); err != nil {
		f.t.Fatalf("Run: %v", err)
	}
}

var t0 = time.Date(2026, 3, 2, 10, 0, 30, 0, time.UTC)

// TestIntervalsOnInjectedClock: intervals close exactly when the clock
// crosses a boundary, and each sample holds the lines read in it.
func TestIntervalsOnInjectedClock(t *testing.T) {
	f := start(t, t.TempDir(), t0)
	defer f.shutdown()
	f.append("Mar  2 10:00:40 h sshd[1]: Invalid user a from 10.0.0.1", "noise",
		"Mar  2 10:00:41 h sshd[1]: Invalid user b from 10.0.0.1")
	f.closeAt(time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC))
	st := f.status()
	if got := f.total(); got != 2 {
		t.Fatalf("total after the first interval = %v, want 2", got)
	}
	last := st.Measurements[0].Last
	if last == nil || !last.Start.Equal(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)) || *last.Value != 2 {
		t.Fatalf("first sample %+v, want 2 for the interval starting 10:00", last)
	}
	if !last.Short {
		t.Error("the first interval, observed from 10:00:30, is not marked short")
	}
	f.append("Mar  2 10:01:05 h sshd[2]: Invalid user c from 10.0.0.2")
	f.closeAt(time.Date(2026, 3, 2, 10, 2, 0, 0, time.UTC))
	last = f.status().Measurements[0].Last
	if f.total() != 3 || *last.Value != 1 || last.Short {
		t.Fatalf("second interval: total %v, sample %+v; want total 3, value 1, not short", f.total(), last)
	}
	// Nothing is committed between boundaries.
	f.append("Mar  2 10:02:05 h sshd[3]: Invalid user d from 10.0.0.3")
	f.clock.Advance(30 * time.Second)
	if got := f.total(); got != 3 {
		t.Fatalf("total moved to %v before the interval ended", got)
	}
}

// TestShutdownAndCatchUp: SIGTERM commits the partial interval; lines
// appended while the daemon is down are counted after the restart in the
// intervals of their own timestamps; the total counts every line once.
func TestShutdownAndCatchUp(t *testing.T) {
	dir := t.TempDir()
	f := start(t, dir, t0)
	f.append("Mar  2 10:00:40 h sshd[1]: Invalid user a from 10.0.0.1")
	f.closeAt(time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC))
	f.append("Mar  2 10:01:10 h sshd[1]: Invalid user b from 10.0.0.1")
	f.clock.Advance(20 * time.Second) // 10:01:20
	f.shutdown()
	st := f.status()
	if got := f.total(); got != 2 {
		t.Fatalf("total after shutdown = %v, want 2 (the partial interval is committed)", got)
	}
	if o := st.Measurements[0].Open; o == nil || !o.Start.Equal(time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC)) {
		t.Fatalf("open interval %+v, want the one starting 10:01", o)
	}

	// Down from 10:01:20 to 10:05:30; three lines are written meanwhile.
	f.append("Mar  2 10:01:50 h sshd[2]: Invalid user c from 10.0.0.2",
		"Mar  2 10:03:10 h sshd[2]: Invalid user d from 10.0.0.2",
		"Mar  2 10:03:20 h sshd[2]: Invalid user e from 10.0.0.2")
	f = start(t, dir, time.Date(2026, 3, 2, 10, 5, 30, 0, time.UTC))
	defer f.shutdown()
	f.closeAt(time.Date(2026, 3, 2, 10, 6, 0, 0, time.UTC))
	if got := f.total(); got != 5 {
		t.Fatalf("total after the catch-up = %v, want 5: every line once", got)
	}
	// The line-protocol output says which interval each catch-up line went
	// to: 10:01 (two lines: b before the shutdown, c after), 10:03 (two),
	// and zeros for 10:02 and 10:04.
	want := map[string]string{"10:02": "2", "10:03": "0", "10:04": "2", "10:05": "0"}
	for end, v := range want {
		ts := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		hm, _ := time.Parse("15:04", end)
		ts = ts.Add(time.Duration(hm.Hour())*time.Hour + time.Duration(hm.Minute())*time.Minute)
		line := fmt.Sprintf("probe,host=%s value=%s %d", hostOf(t), v, ts.Unix())
		if !containsLine(f.out.String(), line) {
			t.Errorf("no point %q in the output:\n%s", line, f.out.String())
		}
	}
}

func hostOf(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func containsLine(out, line string) bool {
	return slices.Contains(strings.Split(out, "\n"), line)
}

// TestStaleOpenIntervalDropped: the partial interval of a measurement that
// is gone from the rules at the next start is deleted by its first commit.
func TestStaleOpenIntervalDropped(t *testing.T) {
	dir := t.TempDir()
	f := start(t, dir, t0)
	f.append("Mar  2 10:00:40 h sshd[1]: Invalid user a from 10.0.0.1")
	f.shutdown()
	if f.status().Measurements[0].Open == nil {
		t.Fatal("no open interval after shutdown")
	}
	rules, err := os.ReadFile(filepath.Join(dir, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(rules), "handle: probe", "handle: probe2", 1)
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(renamed), 0o600); err != nil {
		t.Fatal(err)
	}
	f.clock = testutil.NewClock(t0.Add(10 * time.Second))
	_, f.stop = runDaemon(t, dir, f.clock, runOpts{})
	f.closeAt(time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC))
	f.shutdown()
	for _, m := range f.status().Measurements {
		if m.Handle == "probe" && m.Open != nil {
			t.Fatalf("the removed measurement's open interval %+v is still stored", m.Open)
		}
	}
}

// TestMissingFileIsAGap: an interval in which the stream's file does not
// exist has no value (a gap, not a zero), sets h_unavailable and teaches
// the baseline nothing; the outage is logged once, however many intervals
// it lasts, and its end once; an existing file without a line is a real
// zero.
func TestMissingFileIsAGap(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.log")
	quiet := filepath.Join(dir, "quiet.log")
	if err := os.WriteFile(quiet, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rules := fmt.Sprintf(`measurements:
  - handle: miss
    path: %s
    select_line_matching: '.*x.*'
  - handle: quiet
    path: %s
    select_line_matching: '.*x.*'
`, missing, quiet)
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := testutil.NewClock(t0)
	var logs testutil.Buffer
	d, stop := runDaemon(t, dir, clock, runOpts{logs: &logs})
	f := &fixture{t: t, dir: dir, clock: clock, stop: stop}
	defer f.shutdown()
	last := func(h string) *interval.Sample {
		for _, m := range f.status().Measurements {
			if m.Handle == h {
				return m.Last
			}
		}
		return nil
	}
	for k := 1; k <= 3; k++ {
		f.closeAt(time.Date(2026, 3, 2, 10, k, 0, 0, time.UTC))
		s := last("miss")
		if s == nil || s.Value != nil || !s.Unavailable || !slices.Contains(s.Classes, "miss_unavailable") {
			t.Fatalf("interval %d of the missing file: %+v, want no value, unavailable, miss_unavailable", k, s)
		}
		if q := last("quiet"); q == nil || q.Value == nil || *q.Value != 0 || q.Unavailable {
			t.Fatalf("interval %d of the quiet file: %+v, want a real 0", k, q)
		}
	}
	if st := f.status(); len(st.Down) != 1 || st.Down[0].Source != missing {
		t.Fatalf("status down %+v, want the missing file's stream", st.Down)
	}
	if n := strings.Count(logs.String(), "msg=\"stream unavailable"); n != 1 {
		t.Fatalf("%d unavailability warnings over three intervals, want 1:\n%s", n, logs.String())
	}
	if n := d.eng.State("miss").Base.Week(); n == nil {
		t.Fatal("no baseline for miss")
	}
	for _, slot := range d.eng.State("miss").Base.Week() {
		if slot.N != 0 {
			t.Fatalf("the baseline of the missing file learned slot %+v", slot)
		}
	}
	// The status view computes a learned week for its graph only.
	for _, m := range d.View().Measurements {
		if m.Handle != "miss" {
			continue
		}
		if m.Week != nil || m.Graph == nil {
			t.Fatalf("the view of miss: week %d slots, graph %v; want none, and a function", len(m.Week), m.Graph != nil)
		}
		if w, _ := m.Graph(); len(w) != d.eng.State("miss").Base.Slots() {
			t.Fatalf("the graph of miss has %d slots", len(w))
		}
	}

	// The file appears: its stream is back, and its intervals are real
	// zeros again.
	if err := os.WriteFile(missing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f.closeAt(time.Date(2026, 3, 2, 10, 4, 0, 0, time.UTC))
	if s := last("miss"); s.Unavailable || s.Value == nil || *s.Value != 0 {
		t.Fatalf("after the file appeared: %+v, want a real 0", s)
	}
	if !strings.Contains(logs.String(), `msg="stream available again" stream=`+missing) {
		t.Fatalf("no recovery logged:\n%s", logs.String())
	}
	if st := f.status(); len(st.Down) != 0 {
		t.Fatalf("status down %+v after the recovery, want none", st.Down)
	}
}

// TestLateStreamCommittedOnItsOwn: an interval command whose run is not
// over when its interval ends makes its stream late, and only it: the
// interval is committed at once for the other streams, and later, on its
// own and once, for the command, with its lines in the interval it ran
// for. The run is
// killed at its interval's end (it did not deliver: the interval is
// unavailable), but a process that left its group keeps its output open
// for a while (follow's drain after a kill), longer than the cut waits.
func TestLateStreamCommittedOnItsOwn(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "auth.log")
	detached := filepath.Join(dir, "detached")
	writeProbeRules(t, dir, log, fmt.Sprintf(`  - handle: slow
    stream_type: pipe
    pipe_mode: interval
    path: [sh, -c, 'echo one; echo two; setsid sh -c "touch %s; exec sleep 5" & exec sleep 30']
    select_line_matching: '.*'
    history_type: scalar
`, detached))
	clock := testutil.NewClock(t0)
	var logs testutil.Buffer
	_, stop := runDaemon(t, dir, clock, runOpts{logs: &logs})
	f := &fixture{t: t, dir: dir, log: log, clock: clock, stop: stop}
	defer f.shutdown()
	f.append("Mar  2 10:00:40 h sshd[1]: Invalid user a from 10.0.0.1")
	testutil.WaitFor(t, 10*time.Second, "the command's detached process", func() bool {
		_, err := os.Stat(detached)
		return err == nil
	})
	end := time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC)
	f.closeAt(end) // committed without waiting for the command
	st := f.status()
	byHandle := map[string]MeasurementStatus{}
	for _, m := range st.Measurements {
		byHandle[m.Handle] = m
	}
	if p := byHandle["probe"]; p.Total != 1 || p.Last == nil || !p.Last.End.Equal(end) {
		t.Fatalf("probe: %+v, want the interval ending %v with its line", p, end)
	}
	if s := byHandle["slow"]; s.Last != nil {
		t.Fatalf("slow: %+v committed with the others, want it late", s.Last)
	}
	testutil.WaitFor(t, 10*time.Second, "the late commit of the command's interval", func() bool {
		return strings.Contains(logs.String(), "msg=\"committed late\"")
	})
	for _, m := range f.status().Measurements {
		if m.Handle != "slow" {
			continue
		}
		// The lines it printed before the kill count (see
		// interval.Sample.Unavailable).
		if m.Total != 2 || m.Last == nil || !m.Last.End.Equal(end) || !m.Last.CatchUp || !m.Last.Unavailable {
			t.Fatalf("slow: total %v in %d samples, last %+v; want its 2 lines once, in the interval ending %v, unavailable", m.Total, m.Count, m.Last, end)
		}
	}
	if n := strings.Count(logs.String(), "msg=\"committed late\""); n != 1 {
		t.Fatalf("%d late commits, want 1", n)
	}
}

// TestProgramWarningsLogged: the daemon checks the programs of its
// commands in its own PATH when it loads the rules, and logs a warning for
// each it could not start.
func TestProgramWarningsLogged(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "found"), []byte("#!/bin/sh\n"), 0o755); err != nil || os.Chmod(filepath.Join(bin, "found"), 0o755) != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	writeProbeRules(t, dir, filepath.Join(dir, "auth.log"), `commands:
  - {if: probe_unavailable, command: [found]}
  - {if: probe_unavailable, command: [restart-milter]}
  - {if: probe_unavailable, command: [/nonexistent/bin/tool]}
`)
	logs := &testutil.Buffer{}
	_, stop := runDaemon(t, dir, testutil.NewClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)), runOpts{logs: logs})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{
		`commands[1].command[0]: program \"restart-milter\" is not in the daemon's PATH: ` + bin,
		`commands[2].command[0]: program \"/nonexistent/bin/tool\" does not exist`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s\n%s", want, out)
		}
	}
	if strings.Contains(out, `commands[0].command[0]`) {
		t.Errorf("a warning for a program in PATH:\n%s", out)
	}
}
