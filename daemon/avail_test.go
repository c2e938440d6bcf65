package daemon

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/state"
)

// TestReasonStarting: a command or journal stream whose follower has not
// started yet is starting, not down: an interval that ends before a
// loaded machine has started journalctl is no outage.
func TestReasonStarting(t *testing.T) {
	p, err := follow.NewPipe(follow.PipeConfig{Argv: []string{"sleep", "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	j, err := follow.NewJournal(follow.JournalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*stream{
		{source: "pipe", kind: interval.KindPipe, pipe: p},
		{source: "journal", kind: interval.KindJournal, journal: j},
	} {
		if why := reason(s, time.Now()); why != "" {
			t.Errorf("%s not started yet: unavailable (%q), want starting, not down", s.source, why)
		}
	}
}

// TestMigrateDown: an outage a state file keeps under a command stream's
// old name (argv joined with NUL bytes) is found under the readable name
// streams have now; other outages are left as they are.
func TestMigrateDown(t *testing.T) {
	store, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const v = `{"since":"2026-03-02T10:00:00Z","why":"killed"}`
	old := map[string]string{
		"down/pipe:interval:/bin/sh\x00-c\x00sleep 300; echo 1": "down/pipe:interval:/bin/sh -c 'sleep 300; echo 1'",
		"down/pipe:stream:/bin/false":                           "down/pipe:stream:/bin/false",
		"down/pipe:stream:/usr/bin/journalctl\x00-f":            "down/pipe:stream:/usr/bin/journalctl -f",
		"down//var/log/auth.log":                                "down//var/log/auth.log",
	}
	if err := store.Update(func(tx *state.Tx) error {
		for k := range old {
			if err := tx.Set(k, v); err != nil {
				return err
			}
		}
		return migrateDown(tx)
	}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	if err := store.View(func(tx *state.Tx) error {
		return tx.Ascend(prefixDown, func(k, val string) bool { got[k] = val; return true })
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(old) {
		t.Errorf("keys after the migration %q, want %d", got, len(old))
	}
	for from, to := range old {
		if got[to] != v {
			t.Errorf("%q: not found as %q (keys %q)", from, to, got)
		}
	}
}

// TestEventText: a reason names an event's detail and error, each once.
func TestEventText(t *testing.T) {
	tests := []struct {
		name string
		e    follow.Event
		want string
	}{
		{"exit status as detail and error", follow.Event{Detail: "exit status 1", Err: errors.New("exit status 1")}, "exit status 1"},
		{"detail and error", follow.Event{Detail: "exited; reading its output failed", Err: errors.New("read: EIO")}, "exited; reading its output failed: read: EIO"},
		{"error alone", follow.Event{Err: errors.New("exit status 2")}, "exit status 2"},
		{"detail alone", follow.Event{Detail: "process group killed: timeout"}, "process group killed: timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := eventText(tt.e); got != tt.want {
				t.Errorf("eventText = %q, want %q", got, tt.want)
			}
		})
	}
}
