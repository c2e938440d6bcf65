package tests

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// syslogLine formats line n of a writer with a syslog timestamp, so that
// lines read back after a restart are dated by their own time.
func syslogLine(n int) string {
	return time.Now().Format(time.Stamp) + " host app[7]: seq " + strconv.Itoa(n)
}

// crashRand returns the source of the random kill moments, seeded by
// LOGTALLY_CRASH_SEED when set (to replay a failure), else by the time,
// and logs the seed.
func crashRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LOGTALLY_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LOGTALLY_CRASH_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (LOGTALLY_CRASH_SEED=%d replays these kill moments)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed>>1))
}

// waitPosition waits until a position for the followed file is committed.
func waitPosition(t *testing.T, state string) {
	t.Helper()
	testutil.WaitForWhy(t, waitTimeout, "a committed stream position", func() (bool, string) {
		st := readStatus(t, state)
		return len(st.Streams) > 0, "none yet"
	})
}

// TestCrashSafety kills logtally with SIGKILL at random moments (and around
// interval boundaries) while a writer appends 20000 lines at a steady
// rate, restarting it each time; then stops it with SIGTERM. Every line is
// committed exactly once.
func TestCrashSafety(t *testing.T) {
	const n = 20000
	rng := crashRand(t)

	r := newRig(t, "")
	log := r.path("app.log")
	writeFile(t, r.rules, counterRules(log, "all", ".*", "seqs", ".* seq \\d+"))
	writeFile(t, log, "")
	d := r.start("inotify", 0)
	d.waitLog(`event=open `, 1)
	w := newSteadyWriter(t, log, 4*time.Millisecond, 10) // about 2500 lines/s
	w.line, w.limit = syslogLine, n
	w.start()
	// Until a position is committed, a restart takes the file as seen for
	// the first time (TestCrashBeforeFirstCommit).
	waitPosition(t, r.state)

	kills := 0
	for done := false; !done; {
		var at time.Time
		if kills%2 == 1 {
			// Around an interval boundary: up to 30 ms either side.
			at = time.Now().Truncate(time.Second).Add(time.Second).
				Add(time.Duration(rng.IntN(61)-30) * time.Millisecond)
		} else {
			at = time.Now().Add(time.Duration(100+rng.IntN(1400)) * time.Millisecond)
		}
		select {
		case <-time.After(time.Until(at)):
		case <-w.finished():
			done = true
			continue
		}
		d.kill()
		kills++
		down := time.Duration(rng.IntN(300)) * time.Millisecond
		t.Logf("kill %d at %s (%d lines written), down for %v",
			kills, at.Format("15:04:05.000"), w.written(), down)
		<-time.After(down) // lines keep coming while logtally is down
		d = r.start("inotify", 0)
	}
	if kills < 4 {
		t.Errorf("only %d kills: the writer finished too soon to test much", kills)
	}
	written := w.finish()
	if written != n {
		t.Fatalf("writer wrote %d lines, want %d", written, n)
	}
	d.stop()
	wantTotal(t, r.state, "all", n)
	wantTotal(t, r.state, "seqs", n)
}

// TestCrashBeforeFirstCommit: logtally is killed before it has committed
// anything for a file it has just started to follow (the interval is a
// minute, so no interval closes): a file seen at the very first start
// (start: end), a file that appears under a glob, and a file added by a
// reload. After the restart, every line written since logtally first
// looked at the file is counted once.
func TestCrashBeforeFirstCommit(t *testing.T) {
	cases := []struct {
		name string
		glob bool
		// reload: the measurement is added by SIGHUP after the start.
		reload bool
	}{
		{name: "first start"},
		{name: "new glob match", glob: true},
		{name: "added by reload", reload: true},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			r := newRig(t, "")
			log := r.path("app.log")
			pattern := log
			if c.glob {
				pattern = r.path("*.log")
				log = r.path("new.log")
				writeFile(t, r.path("first.log"), "")
			} else {
				writeFile(t, log, "there before logtally: not counted\n")
			}
			rules := counterRules(pattern, "all", ".*")
			if c.reload {
				writeFile(t, r.rules, counterRules(r.path("other.log"), "other", ".*"))
				writeFile(t, r.path("other.log"), "")
			} else {
				writeFile(t, r.rules, rules)
			}
			start := func() *daemonProc {
				return startDaemon(t, daemonOpts{rules: r.rules, state: r.state, output: r.outLP, interval: time.Minute})
			}
			d := start()
			d.waitLog(`event=open `, 1)
			if c.reload {
				d.waitLog(`msg=started `, 1)
				writeFile(t, r.rules, rules+strings.TrimPrefix(counterRules(r.path("other.log"), "other", ".*"), "measurements:\n"))
				d.signal(syscall.SIGHUP)
				d.waitLog(`msg=reloaded `, 1)
				d.waitLog(`app\.log event=open `, 1)
			}
			if c.glob {
				appendString(t, log, numbered("new", 0, 20))
				d.waitLog(`new\.log.* event=open |event=open .*new\.log`, 1)
			} else {
				appendString(t, log, numbered("line", 0, 20))
			}
			d.kill()
			appendString(t, log, numbered("while down", 0, 5))
			d = start()
			d.waitLog(`event=(open|resume|reset) `, 1)
			appendString(t, log, numbered("after", 0, 3))
			d.stop()
			wantTotal(t, r.state, "all", 28)
		})
	}
}

// TestKillDuringRotation: logtally is killed with SIGKILL around a rename
// + create rotation and restarted. The rotated file is found again by its
// inode and drained from the committed position; the new file is read from
// its start; nothing is lost or counted twice.
func TestKillDuringRotation(t *testing.T) {
	cases := []struct {
		name string
		// seen: wait for logtally to log the rotation before the kill.
		seen bool
	}{
		{"rotated while down", false},
		{"killed just after the rotation was seen", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, "")
			log := r.path("app.log")
			writeFile(t, r.rules, counterRules(log, "all", ".*"))
			writeFile(t, log, "")
			d := r.start("inotify", 0)
			d.waitLog(`event=open `, 1)
			want := 0
			add := func(path string, s string) {
				appendString(t, path, s)
				want += countLines(s)
			}
			add(log, numbered("before", 0, 100))
			waitTotal(t, r.state, "all", want) // a position is committed
			add(log, numbered("uncommitted", 0, 50))
			if !c.seen {
				d.kill()
			}
			rename(t, log, log+".1")
			add(log+".1", numbered("late", 0, 20))
			add(log, numbered("new", 0, 30))
			if c.seen {
				d.waitLog(`event=rotate `, 1)
				d.kill()
			}
			add(log+".1", numbered("while down", 0, 7))
			add(log, numbered("while down", 0, 9))
			d = r.start("inotify", 0)
			d.waitLog(`event=(resume|open) `, 1)
			add(log, numbered("after", 0, 10))
			d.stop()
			wantTotal(t, r.state, "all", want)
			if !c.seen && d.countLog(reLine(`event=resume .*rotated while stopped; draining it from offset`)) != 1 {
				t.Errorf("logtally did not report draining the rotated file from its position")
			}
		})
	}
}

// TestKillDuringRapidRotation: the real logrotate renames the log every
// 300 ms (create), faster than rotated files are drained (a writer may go
// on appending to a renamed file for a while), so that each rotated file
// is renamed again (app.log.1 to app.log.2, ...) while it is read and its
// old name is taken by the next one; meanwhile logtally is killed with
// SIGKILL at random moments and restarted. Every line is committed
// exactly once: a drained file's saved position follows it to its new
// name, and a name taken by another file never loses that file's
// position.
func TestKillDuringRapidRotation(t *testing.T) {
	lr := need(t, "logrotate")
	rng := crashRand(t)
	r := newRig(t, "")
	log := r.path("app.log")
	writeFile(t, r.rules, counterRules(log, "all", ".*", "seqs", ".* seq \\d+"))
	writeFile(t, log, "")
	conf := r.path("logrotate.conf")
	writeFile(t, conf, log+" {\n  rotate 99\n  missingok\n  create 0644\n  nocompress\n}\n")
	lrState := r.path("logrotate.state")

	d := r.start("inotify", 0)
	d.waitLog(`event=open `, 1)
	w := newSteadyWriter(t, log, 2*time.Millisecond, 1)
	w.line = syslogLine
	w.start()
	waitPosition(t, r.state)

	rotate := time.NewTicker(300 * time.Millisecond)
	defer rotate.Stop()
	kills, rotations := 0, 0
	killAt := time.Now().Add(time.Duration(500+rng.IntN(1000)) * time.Millisecond)
	for kills < 4 {
		select {
		case <-rotate.C:
			out, err := exec.Command(lr, "-f", "-s", lrState, conf).CombinedOutput()
			if err != nil {
				t.Fatalf("logrotate: %v\n%s", err, out)
			}
			rotations++
			if rng.IntN(2) == 0 {
				w.reopenLog() // else the writer goes on in the renamed file until the next time
			}
		case <-time.After(time.Until(killAt)):
			d.kill()
			kills++
			t.Logf("kill %d after %d rotations (%d lines written)", kills, rotations, w.written())
			d = r.start("inotify", 0)
			killAt = time.Now().Add(time.Duration(500+rng.IntN(1000)) * time.Millisecond)
		}
	}
	written := w.finish()
	d.stop()
	got := readStatus(t, r.state).total("all")
	t.Logf("%d lines written across %d rotations and %d kills, %v counted", written, rotations, kills, got)
	wantTotal(t, r.state, "all", written)
	wantTotal(t, r.state, "seqs", written)
	if strings.Contains(d.log(), "event=lost") {
		t.Errorf("logtally reported lost lines")
	}
}
