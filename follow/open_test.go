package follow

import (
	"context"
	"os"
	"testing"
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
// has exited, and never true for a command that cannot start; Down is
// true for a command that cannot start, never before the first start.
func TestPipeRunning(t *testing.T) {
	for _, tc := range []struct {
		argv    []string
		running bool
	}{
		{[]string{"/bin/sh", "-c", "echo up; exec sleep 100"}, true},
		{[]string{"/nonexistent/command"}, false},
	} {
		p, err := NewPipe(PipeConfig{Argv: tc.argv, Mode: "stream", Clock: newFakeClock()})
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder()
		if p.Down() {
			t.Errorf("%v: down before it was started (starting is not down)", tc.argv)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx, rec) }()
		if tc.running {
			rec.waitLines(t, 1)
			if !p.Running() || p.Down() {
				t.Errorf("%v: not running, or down, while it runs", tc.argv)
			}
		} else {
			rec.waitEvent(t, EventStartError, 1)
			if p.Running() || !p.Down() {
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
