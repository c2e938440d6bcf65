package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// groupAlive reports whether any live (non-zombie) process is in process
// group pgid, reading /proc: zombies are dead but may wait long for a
// reaper in a container.
func groupAlive(t testing.TB, pgid int) bool {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			return true
		}
	}
	return false
}

// waitGroupGone waits until process group pgid has no live process.
func waitGroupGone(t testing.TB, pgid int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for groupAlive(t, pgid) {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has live processes after %v", pgid, waitLimit)
		}
		<-tick.C
	}
}

func newTestPipe(t *testing.T, cfg PipeConfig) *Pipe {
	t.Helper()
	p, err := NewPipe(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runOnce runs RunOnce in the background and returns its result channel.
func runOnce(p *Pipe, rec *recorder) <-chan error {
	done := make(chan error, 1)
	go func() { done <- p.RunOnce(context.Background(), rec) }()
	return done
}

func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(waitLimit):
		t.Fatalf("the run did not return within %v", waitLimit)
		return nil
	}
}

func TestPipeInterval(t *testing.T) {
	tests := []struct {
		name    string
		argv    []string
		want    []string
		wantErr bool
	}{
		{"lines", []string{"printf", `a\nb\n`}, []string{"a", "b"}, false},
		{"partial last line counts", []string{"printf", `a\r\nb`}, []string{"a", "b"}, false},
		{"no output", []string{"true"}, nil, false},
		{"no shell", []string{"echo", "$(id)", ";", "ls", "|", "x"}, []string{"$(id) ; ls | x"}, false},
		{"failure is reported, output kept", []string{"sh", "-c", "echo out; exit 3"}, []string{"out"}, true},
		{"leftover child does not hold the run", []string{"sh", "-c", "echo x; sleep 1000 &"}, []string{"x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			p := newTestPipe(t, PipeConfig{Argv: tt.argv, Mode: "interval", Clock: newFakeClock()})
			err := waitErr(t, runOnce(p, rec))
			if (err != nil) != tt.wantErr {
				t.Fatalf("RunOnce: %v (want error: %v)", err, tt.wantErr)
			}
			if got := rec.lines(); !slices.Equal(got, tt.want) {
				t.Fatalf("lines %q, want %q", got, tt.want)
			}
			exits := rec.events(EventExit)
			if len(exits) != 1 || (exits[0].Err != nil) != tt.wantErr {
				t.Fatalf("exit events %+v", exits)
			}
			waitGroupGone(t, exits[0].Pid)
			for _, b := range rec.batches() {
				if b.Source != p.Source() || !b.End.IsZero() {
					t.Errorf("batch source %q end %+v", b.Source, b.End)
				}
			}
		})
	}
}

// TestPipeHangKilled: an interval command that hangs, with a child, is
// killed with its whole process group at the timeout, and RunOnce returns.
func TestPipeHangKilled(t *testing.T) {
	clk := newFakeClock()
	rec := newRecorder()
	p := newTestPipe(t, PipeConfig{
		Argv: []string{"sh", "-c", "echo started; sleep 1000 & sleep 1000"},
		Mode: "interval", Timeout: 30 * time.Second, Clock: clk,
	})
	done := runOnce(p, rec)
	rec.waitLines(t, 1)
	clk.WaitTimer(t, waitLimit)
	select {
	case err := <-done:
		t.Fatalf("RunOnce returned before the timeout: %v", err)
	default:
	}
	clk.Advance(30 * time.Second)
	err := waitErr(t, done)
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("RunOnce: %v, want a kill", err)
	}
	kills := rec.events(EventKill)
	if len(kills) != 1 || !strings.Contains(kills[0].Detail, "timeout") {
		t.Fatalf("kill events %+v", kills)
	}
	waitGroupGone(t, kills[0].Pid)
	if got := rec.lines(); !slices.Equal(got, []string{"started"}) {
		t.Errorf("lines %q", got)
	}
	if st := p.Stats(); st.Kills != 1 {
		t.Errorf("kills %d, want 1", st.Kills)
	}
}

// TestPipeLongLine: a 10 MB line is cut, not buffered.
func TestPipeLongLine(t *testing.T) {
	const size = 10 << 20
	rec := newRecorder()
	p := newTestPipe(t, PipeConfig{
		Argv: []string{"sh", "-c", fmt.Sprintf(`head -c %d /dev/zero | tr '\000' a; echo; echo after`, size)},
		Mode: "interval", Clock: newFakeClock(),
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := waitErr(t, runOnce(p, rec)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	bs := rec.batches()
	var got []string
	var cuts []bool
	for _, b := range bs {
		got = append(got, b.Lines...)
		cuts = append(cuts, b.Cut...)
	}
	if len(got) != 2 || len(got[0]) != 64<<10 || strings.Trim(got[0], "a") != "" || got[1] != "after" {
		t.Fatalf("got %d lines", len(got))
	}
	if !cuts[0] || cuts[1] {
		t.Errorf("cut flags %v", cuts)
	}
	st := p.Stats()
	if st.Cut != 1 || st.Lines != 2 || st.Bytes != size+1+6 {
		t.Errorf("stats %+v", st)
	}
	// Everything allocated during the run, garbage included: far less
	// than the line.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/2 {
		t.Errorf("allocated %d bytes while reading a %d-byte line", alloc, size)
	}
}

// TestPipeMaxOutput: a chatty command is killed once it passes the limit.
func TestPipeMaxOutput(t *testing.T) {
	rec := newRecorder()
	p := newTestPipe(t, PipeConfig{Argv: []string{"yes"}, Mode: "interval", MaxOutput: 1 << 20, Clock: newFakeClock()})
	err := waitErr(t, runOnce(p, rec))
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("RunOnce: %v", err)
	}
	kills := rec.events(EventKill)
	if len(kills) != 1 {
		t.Fatalf("kill events %+v", kills)
	}
	waitGroupGone(t, kills[0].Pid)
	if n := len(rec.lines()); n != 1<<19+1 {
		t.Errorf("%d lines delivered, want exactly the limit (%d) plus the line that passed it", n, 1<<19+1)
	}
}

// TestPipeStreamRestart: a stream command that exits is restarted with
// backoff, and the lines of every run are delivered.
func TestPipeStreamRestart(t *testing.T) {
	clk := newFakeClock()
	rec := newRecorder()
	p := newTestPipe(t, PipeConfig{Argv: []string{"sh", "-c", "echo one; echo two"}, Clock: clk,
		Backoff: time.Second, MaxBackoff: 8 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, rec) }()

	rec.waitEvent(t, EventExit, 1)
	rec.waitLines(t, 2)
	// Backoff doubles after each quick exit: 1s, 2s, 4s.
	for i, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		clk.WaitTimer(t, waitLimit)
		clk.Advance(d - time.Millisecond)
		if n := len(rec.events(EventExit)); n != i+1 {
			t.Fatalf("restarted before its backoff: %d exits", n)
		}
		clk.Advance(time.Millisecond)
		rec.waitEvent(t, EventExit, i+2)
		rec.waitLines(t, 2*(i+2))
	}
	cancel()
	if err := waitErr(t, done); err != nil {
		t.Fatal(err)
	}
	if got := rec.lines(); !slices.Equal(got, []string{"one", "two", "one", "two", "one", "two", "one", "two"}) {
		t.Errorf("lines %q", got)
	}
	if st := p.Stats(); st.Restarts != 3 {
		t.Errorf("restarts %d, want 3", st.Restarts)
	}
}

// TestPipeStreamStop: stopping a stream kills the running command's group;
// the kill was asked for, so it is a stop, not a kill (which would be
// logged as a warning and counted).
func TestPipeStreamStop(t *testing.T) {
	rec := newRecorder()
	p := newTestPipe(t, PipeConfig{Argv: []string{"sh", "-c", "echo up; sleep 1000 & exec sleep 1000"}, Clock: newFakeClock()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, rec) }()
	rec.waitLines(t, 1)
	cancel()
	if err := waitErr(t, done); err != nil {
		t.Fatal(err)
	}
	if kills := rec.events(EventKill); len(kills) != 0 {
		t.Errorf("kill events %q, want none", rec.allEvents())
	}
	if st := p.Stats(); st.Kills != 0 {
		t.Errorf("kills %d, want 0", st.Kills)
	}
	stops := rec.events(EventStop)
	if len(stops) != 1 {
		t.Fatalf("stop events %q", rec.allEvents())
	}
	waitGroupGone(t, stops[0].Pid)
}

// TestPipeNotFound: a command that does not exist is an event, retried
// with backoff; nothing crashes.
func TestPipeNotFound(t *testing.T) {
	clk := newFakeClock()
	rec := newRecorder()
	p := newTestPipe(t, PipeConfig{Argv: []string{"/nonexistent/logtally-no-such-command", "-f"}, Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, rec) }()
	rec.waitEvent(t, EventStartError, 1)
	clk.WaitTimer(t, waitLimit)
	clk.Advance(DefaultBackoff)
	rec.waitEvent(t, EventStartError, 2)
	cancel()
	if err := waitErr(t, done); err != nil {
		t.Fatal(err)
	}
	e := rec.events(EventStartError)[0]
	if !errors.Is(e.Err, os.ErrNotExist) {
		t.Errorf("start error %v, want not-exist", e.Err)
	}
	if err := p.RunOnce(context.Background(), rec); err == nil {
		t.Error("RunOnce of a missing command returned no error")
	}
}

// TestPipeStderrFlood: stderr goes to the log, rate-limited; the drops are
// counted and summarised.
func TestPipeStderrFlood(t *testing.T) {
	var logs testutil.Buffer
	rec := newRecorder()
	p := newTestPipe(t, PipeConfig{
		Argv:   []string{"sh", "-c", `i=0; while [ $i -lt 2000 ]; do echo "err $i" >&2; i=$((i+1)); done; echo out`},
		Mode:   "interval",
		Clock:  newFakeClock(), // frozen: the bucket never leaks
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err := waitErr(t, runOnce(p, rec)); err != nil {
		t.Fatal(err)
	}
	if got := rec.lines(); !slices.Equal(got, []string{"out"}) {
		t.Errorf("stdout lines %q", got)
	}
	text := logs.String()
	if n := strings.Count(text, `msg="command stderr"`); n != DefaultStderrBurst {
		t.Errorf("%d stderr lines logged, want %d", n, DefaultStderrBurst)
	}
	if !strings.Contains(text, `msg="command stderr suppressed"`) || !strings.Contains(text, "lines=1990") {
		t.Errorf("no suppression summary for 1990 lines:\n%s", text)
	}
	if st := p.Stats(); st.StderrLines != 2000 || st.StderrDrop != 1990 {
		t.Errorf("stats %+v", st)
	}
}

func TestNewPipeErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  PipeConfig
	}{
		{"empty", PipeConfig{}},
		{"empty command", PipeConfig{Argv: []string{""}}},
		{"bad mode", PipeConfig{Argv: []string{"x"}, Mode: "cron"}},
		{"negative timeout", PipeConfig{Argv: []string{"x"}, Timeout: -1}},
		{"negative max output", PipeConfig{Argv: []string{"x"}, MaxOutput: -1}},
		{"burst too large", PipeConfig{Argv: []string{"x"}, StderrBurst: 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPipe(tt.cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestPipeEscapedChild: a child that left the process group (setsid) and
// keeps stdout open cannot hold the run: once the group is dead, waiting
// for more output is bounded.
func TestPipeEscapedChild(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "escaped.pid")
	rec := newRecorder()
	p := newTestPipe(t, PipeConfig{
		// The leader exits once the child has left its group.
		Argv: []string{"sh", "-c", `echo x; setsid sh -c 'echo $$ > "$0"; exec sleep 1000' "$1" &
			while [ ! -s "$1" ]; do sleep 0.01; done`, "sh", pidFile},
		Mode: "interval", Clock: newFakeClock(),
	})
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	if err := waitErr(t, runOnce(p, rec)); err != nil {
		t.Fatal(err)
	}
	if got := rec.lines(); !slices.Equal(got, []string{"x"}) {
		t.Errorf("lines %q", got)
	}
	if b, err := os.ReadFile(pidFile); err != nil || len(b) == 0 {
		t.Fatalf("the child never left the group (%v): the case was not exercised", err)
	}
}
