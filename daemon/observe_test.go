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

// slowUsers runs a daemon whose users observable reads a FIFO: each
// reading hangs until release writes it one session. Its rules count
// probe's lines and the load average (of a fake /proc: 0.5); its cut
// budget is budget.
type slowUsers struct {
	*fixture
	d    *Daemon
	logs *testutil.Buffer
	utmp string
}

func startSlowUsers(t testing.TB, budget time.Duration) *slowUsers {
	t.Helper()
	dir := t.TempDir()
	s := &slowUsers{utmp: filepath.Join(dir, "utmp"), logs: &testutil.Buffer{}}
	if err := syscall.Mkfifo(s.utmp, 0o600); err != nil {
		t.Fatal(err)
	}
	proc := filepath.Join(dir, "proc")
	if err := os.Mkdir(proc, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "loadavg"), []byte("0.50 0.40 0.30 1/100 4242\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "auth.log")
	writeProbeRules(t, dir, log, `observe:
  - {name: users, expireafter: 1h}
  - loadavg
`)
	clock := testutil.NewClock(t0)
	var stop func() error
	s.d, stop = runDaemon(t, dir, clock, runOpts{logs: s.logs, prepare: func(d *Daemon) {
		d.budget = budget
		d.sampler = &observe.Sampler{Proc: proc, Utmp: s.utmp}
	}})
	s.fixture = &fixture{t: t, dir: dir, log: log, clock: clock, stop: stop}
	return s
}

// release answers the hung reading of users with one session (a
// USER_PROCESS record of glibc's struct utmp; pid 0 is never taken for
// dead).
func (s *slowUsers) release() {
	s.t.Helper()
	rec := make([]byte, 384)
	binary.NativeEndian.PutUint16(rec[0:], 7)
	copy(rec[44:], "alice")
	w, err := os.OpenFile(s.utmp, os.O_WRONLY, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := w.Write(rec); err != nil {
		s.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		s.t.Fatal(err)
	}
}

// lateUsers counts the late commits of users.
func (s *slowUsers) lateUsers() int {
	return strings.Count(s.logs.String(), `msg="committed late" observables=[users] interval_start=`)
}

// last returns the last sample of each measurement.
func (s *slowUsers) last() map[string]*interval.Sample {
	out := map[string]*interval.Sample{}
	for _, m := range s.status().Measurements {
		out[m.Handle] = m.Last
	}
	return out
}

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
	u := startSlowUsers(t, time.Second)
	defer u.shutdown()

	first := time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC)
	u.closeAt(first) // after the budget: users' reading hangs
	if s := u.last()["users"]; s != nil {
		t.Fatalf("users: %+v committed while its reading hangs", s)
	}
	u.release()
	testutil.WaitFor(t, 10*time.Second, "the late commit of users", func() bool { return u.lateUsers() == 1 })
	if s := u.last()["users"]; s == nil || !s.End.Equal(first) || s.Value == nil || *s.Value != 1 || !s.CatchUp {
		t.Fatalf("users: %+v, want 1 session in the interval ending %v, committed late", s, first)
	}

	u.d.mu.Lock()
	u.d.budget = time.Hour
	u.d.mu.Unlock()
	u.append("Mar  2 10:01:40 h sshd[1]: Invalid user a from 10.0.0.1")
	second := first.Add(time.Minute)
	u.closeAt(second) // while users' reading hangs again
	got := u.last()
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
	u.release()
	testutil.WaitFor(t, 10*time.Second, "the second late commit of users", func() bool { return u.lateUsers() == 2 })
	if s := u.last()["users"]; s == nil || !s.End.Equal(second) || s.Value == nil || *s.Value != 1 || !s.CatchUp {
		t.Fatalf("users: %+v, want 1 session in the interval ending %v, committed late", s, second)
	}
}

// BenchmarkCommitWithSlowObservable measures how long after the end of
// its interval an interval is committed (ms/commit) when an observable's
// readings take longer than the cut budget (the daemon's, 0.4 s): each
// reading of users lasts twice the budget, and at least until the commit
// is seen. The first interval, whose reading is not known to be slow yet,
// is not counted.
func BenchmarkCommitWithSlowObservable(b *testing.B) {
	s := startSlowUsers(b, cutBudget)
	defer s.shutdown()
	end := t0.Truncate(time.Minute)
	var waited time.Duration
	interval := func() {
		end = end.Add(time.Minute)
		began := time.Now()
		s.closeAt(end)
		waited += time.Since(began)
		<-time.After(2*cutBudget - time.Since(began)) // the reading is slow
		s.release()
		n := s.lateUsers()
		testutil.WaitFor(b, 10*time.Second, "the late commit of users", func() bool { return s.lateUsers() > n })
	}
	interval()
	waited = 0
	n := 0
	for b.Loop() {
		interval()
		n++
	}
	b.ReportMetric(float64(waited.Microseconds())/1e3/float64(n), "ms/commit")
}
