package follow

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFilesOpen: Open counts the followed names with a file open, so that
// the daemon can tell a missing or unreadable log (a gap) from a quiet one
// (a zero): nothing before the file exists, one once it is opened, none
// once it is deleted, one again when it comes back.
func TestFilesOpen(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		log := h.path("app.log")
		h.start(FileConfig{Paths: []string{log}})
		h.sync()
		if n := h.files.Open(); n != 0 {
			t.Fatalf("Open = %d before the file exists, want 0", n)
		}
		writeFile(t, log, "a\n")
		h.sync()
		if n := h.files.Open(); n != 1 {
			t.Fatalf("Open = %d once the file exists, want 1", n)
		}
		if err := os.Remove(log); err != nil {
			t.Fatal(err)
		}
		h.sync()
		if n := h.files.Open(); n != 0 {
			t.Fatalf("Open = %d once the file is deleted, want 0", n)
		}
		writeFile(t, log, "b\n")
		h.sync()
		if n := h.files.Open(); n != 1 {
			t.Fatalf("Open = %d once the file is back, want 1", n)
		}
	})
}

// TestPipeRunning: Running is true while the command runs, false once it
// has exited, and never true for a command that cannot start; DownAt now
// is true for a command that cannot start, never before the first start.
func TestPipeRunning(t *testing.T) {
	for _, tc := range []struct {
		argv    []string
		running bool
	}{
		{[]string{"/bin/sh", "-c", "echo up; exec sleep 100"}, true},
		{[]string{"/nonexistent/command"}, false},
	} {
		clock := newFakeClock()
		p, err := NewPipe(PipeConfig{Argv: tc.argv, Mode: "stream", Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder()
		if p.DownAt(clock.Now()) {
			t.Errorf("%v: down before it was started (starting is not down)", tc.argv)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx, rec) }()
		if tc.running {
			rec.waitLines(t, 1)
			if !p.Running() || p.DownAt(clock.Now()) {
				t.Errorf("%v: not running, or down, while it runs", tc.argv)
			}
		} else {
			rec.waitEvent(t, EventStartError, 1)
			if p.Running() || !p.DownAt(clock.Now()) {
				t.Errorf("%v: running, or not down, though it cannot start", tc.argv)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if p.Running() {
			t.Errorf("%v: running after Run returned", tc.argv)
		}
	}
}

// TestPipeDownAt: a stream command in its restart backoff at an
// interval's end was down then, even when it runs again by the time the
// interval is looked at (a restart just after the end); before its first
// start it was starting, not down.
func TestPipeDownAt(t *testing.T) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "started-once")
	clock := newFakeClock()
	t0 := clock.Now()
	// The first run fails at once; the second runs on.
	p, err := NewPipe(PipeConfig{Argv: []string{"/bin/sh", "-c",
		`if [ -e "$1" ]; then echo up; exec sleep 100; fi; : > "$1"; exit 1`, "sh", mark},
		Mode: "stream", Clock: clock, Backoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, rec) }()
	rec.waitEvent(t, EventExit, 1)
	clock.WaitTimer(t, 10*time.Second) // the backoff before the restart
	if !p.DownAt(t0.Add(500 * time.Millisecond)) {
		t.Errorf("not down in its backoff")
	}
	clock.Advance(time.Second)
	rec.waitLines(t, 1)
	for _, c := range []struct {
		at   time.Duration
		down bool
	}{
		{-time.Second, false},            // before the first start: starting
		{500 * time.Millisecond, true},   // in the backoff, though it runs now
		{time.Second, false},             // restarted then
		{1500 * time.Millisecond, false}, // running
	} {
		if got := p.DownAt(t0.Add(c.at)); got != c.down {
			t.Errorf("DownAt(start%+v) = %v, want %v", c.at, got, c.down)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !p.DownAt(clock.Now()) {
		t.Errorf("not down once stopped")
	}
}
