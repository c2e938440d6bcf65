package daemon

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/observe"
)

// TestCommitWaitsNotForSlowReadings: the commit of an interval does not
// wait for an observable whose last reading took longer than the cut
// budget. The reading of users hangs while its utmp, a FIFO, is not
// written. The first interval waits the budget (a second) for it, and is
// committed without it; its reading, once the FIFO is written, is
// committed late, on its own, with its value. Then the budget is an hour:
// the next interval, whose reading of users hangs again, is committed at
// once with the stream's line and the load average (read quickly, so
// waited for), without users: a commit that waited for the slow reading
// would not come at all.
func TestCommitWaitsNotForSlowReadings(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "auth.log")
	utmp := filepath.Join(dir, "utmp")
	if err := syscall.Mkfifo(utmp, 0o600); err != nil {
		t.Fatal(err)
	}
	proc := filepath.Join(dir, "proc")
	if err := os.Mkdir(proc, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "loadavg"), []byte("0.50 0.40 0.30 1/100 4242\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeProbeRules(t, dir, log, `observe:
  - {name: users, expireafter: 1h}
  - loadavg
`)
	clock := testutil.NewClock(t0)
	var logs testutil.Buffer
	d, stop := runDaemon(t, dir, clock, runOpts{logs: &logs, prepare: func(d *Daemon) {
		d.budget = time.Second
		d.sampler = &observe.Sampler{Proc: proc, Utmp: utmp}
	}})
	f := &fixture{t: t, dir: dir, log: log, clock: clock, stop: stop}
	defer f.shutdown()
	last := func() map[string]*interval.Sample {
		out := map[string]*interval.Sample{}
		for _, m := range f.status().Measurements {
			out[m.Handle] = m.Last
		}
		return out
	}
	lateUsers := func() int { return strings.Count(logs.String(), `msg="committed late" observables=[users] interval_start=`) }
	// One session (a USER_PROCESS record of glibc's struct utmp; pid 0 is
	// never taken for dead), the answer of users' hung reading.
	rec := make([]byte, 384)
	binary.NativeEndian.PutUint16(rec[0:], 7)
	copy(rec[44:], "alice")
	release := func() {
		w, err := os.OpenFile(utmp, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}

	first := time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC)
	f.closeAt(first) // after the budget: users' reading hangs
	if s := last()["users"]; s != nil {
		t.Fatalf("users: %+v committed while its reading hangs", s)
	}
	release()
	testutil.WaitFor(t, 10*time.Second, "the late commit of users", func() bool { return lateUsers() == 1 })
	if s := last()["users"]; s == nil || !s.End.Equal(first) || s.Value == nil || *s.Value != 1 || !s.CatchUp {
		t.Fatalf("users: %+v, want 1 session in the interval ending %v, committed late", s, first)
	}

	d.mu.Lock()
	d.budget = time.Hour
	d.mu.Unlock()
	f.append("Mar  2 10:01:40 h sshd[1]: Invalid user a from 10.0.0.1")
	second := first.Add(time.Minute)
	f.closeAt(second) // while users' reading hangs again
	got := last()
	for _, c := range []struct {
		handle string
		value  float64
	}{{"probe", 1}, {"loadavg", 0.5}} {
		if s := got[c.handle]; s == nil || !s.End.Equal(second) || s.Value == nil || *s.Value != c.value || s.CatchUp {
			t.Errorf("%s: %+v, want %v in the interval ending %v, committed with it", c.handle, s, c.value, second)
		}
	}
	if s := got["users"]; s == nil || !s.End.Equal(first) {
		t.Errorf("users: %+v, want the sample of the interval ending %v still the last", s, first)
	}
	release()
	testutil.WaitFor(t, 10*time.Second, "the second late commit of users", func() bool { return lateUsers() == 2 })
	if s := last()["users"]; s == nil || !s.End.Equal(second) || s.Value == nil || *s.Value != 1 || !s.CatchUp {
		t.Fatalf("users: %+v, want 1 session in the interval ending %v, committed late", s, second)
	}
}
