package tests

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// copyCrash is a rig whose daemon follows a.log, empty at first, with an
// hour-long interval, so that nothing is committed before it is stopped
// or killed: a.log's lines are counted under the handle "all".
type copyCrash struct {
	*rig
	watch string
	log   string
}

func newCopyCrash(t *testing.T, watch string) *copyCrash {
	r := newRig(t, "")
	c := &copyCrash{rig: r, watch: watch, log: r.path("a.log")}
	writeFile(t, r.rules, counterRules(c.log, "all", ".*"))
	writeFile(t, c.log, "")
	return c
}

// start starts the daemon, with its web listener for waitRead.
func (c *copyCrash) start() *daemonProc {
	return startDaemon(c.t, daemonOpts{rules: c.rules, state: c.state, output: c.outLP,
		watch: c.watch, pollEvery: 100 * time.Millisecond, interval: time.Hour,
		extra: []string{"--listen", "127.0.0.1:0"}})
}

// waitRead waits until the daemon listening at addr has read n lines of
// a.log (and its copies).
func (c *copyCrash) waitRead(d *daemonProc, addr string, n int) {
	c.t.Helper()
	testutil.WaitForWhy(c.t, waitTimeout, "the lines to be read", func() (bool, string) {
		got, _ := metricValue(scrape(c.t, addr), "logtally_stream_lines_total", "source", c.log)
		return int(got) >= n, fmt.Sprintf("%v of %d lines read", got, n)
	})
}

// TestCopyOpenedThenKilled: logtally reads lines from its log, then a
// copytruncate copies the log away and truncates it, and logtally is
// killed with SIGKILL after it opened the copy at the offset it had read
// to, before any commit (the interval is an hour long); the copy is
// compressed while logtally is down, as compress does. The copy's
// position must not be saved ahead of the counts of the lines read
// before it (it was, at once: a restart found a saved copy "read to its
// end" whose lines no commit had counted, and warned that a rotated file
// was not found, for a copy that lost nothing). On restart every line is
// counted once, the copy whole then the log, without a warning.
func TestCopyOpenedThenKilled(t *testing.T) {
	for _, watch := range []string{"inotify", "poll"} {
		t.Run(watch, func(t *testing.T) {
			t.Parallel()
			c := newCopyCrash(t, watch)
			r, log, start, waitRead := c.rig, c.log, c.start, c.waitRead
			// A first copytruncate; the truncated log's start is committed
			// (SIGTERM), with the rotated set it saw.
			d := start()
			d.waitLog(`event=open .*first seen`, 1)
			first := numbered("line", 1, 100)
			appendString(t, log, first)
			waitRead(d, d.webAddr(), 100)
			copyPath := r.path("a.log.1")
			writeFile(t, copyPath, first)
			if err := os.Truncate(log, 0); err != nil {
				t.Fatal(err)
			}
			d.waitLog(`event=truncate .*read from its copy`, 1)
			d.stop()
			if err := os.Rename(copyPath, r.path("a.log.2")); err != nil {
				t.Fatal(err)
			}

			d = start()
			addr := d.webAddr()
			d.waitLog(`event=resume`, 1)
			before := numbered("line", 101, 400)
			appendString(t, log, before)
			waitRead(d, addr, 400)
			// copytruncate again: copy, then truncate.
			writeFile(t, copyPath, before)
			if err := os.Truncate(log, 0); err != nil {
				t.Fatal(err)
			}
			d.waitLog(`event=truncate .*read from its copy`, 1)
			d.kill()

			// compress, while logtally is down; then more lines.
			writeGzip(t, copyPath+".gz", before)
			if err := os.Remove(copyPath); err != nil {
				t.Fatal(err)
			}
			appendString(t, log, numbered("line", 501, 100))

			d = start()
			waitRead(d, d.webAddr(), 500) // the copy's 400 unread lines, then the log's 100
			d.stop()
			wantTotal(t, r.state, "all", 600)
			if n := d.countLog(reLine(`level=(WARN|ERROR)`)); n != 0 {
				t.Errorf("%d warnings or errors after the restart, want none", n)
			}
		})
	}
}

// TestCopyReadWholeThenKilled: the log was empty when logtally last
// looked, then written, copied (compressed) and truncated before it
// looked again: the copy is read whole, as one it never saw. logtally is
// killed with SIGKILL before a commit (the interval is an hour long);
// while it is down, logrotate runs once more, so that copy is
// a.log.2.gz and a new one is a.log.1.gz. On restart every line is
// counted once: the first copy was both drained from the position saved
// when it was opened and read whole again as one of the copies made
// while logtally was stopped (3,850 counted for 3,000 in one of 40 runs
// of five kill -9 under copytruncate and compress).
func TestCopyReadWholeThenKilled(t *testing.T) {
	for _, watch := range []string{"inotify", "poll"} {
		t.Run(watch, func(t *testing.T) {
			t.Parallel()
			c := newCopyCrash(t, watch)
			r, log, start, waitRead := c.rig, c.log, c.start, c.waitRead
			// copytruncate and compress: copy, truncate, gzip the copy.
			rotate := func(lines string) {
				t.Helper()
				if _, err := os.Stat(r.path("a.log.1.gz")); err == nil {
					if err := os.Rename(r.path("a.log.1.gz"), r.path("a.log.2.gz")); err != nil {
						t.Fatal(err)
					}
				}
				writeFile(t, r.path("a.log.1"), lines)
				if err := os.Truncate(log, 0); err != nil {
					t.Fatal(err)
				}
				writeGzip(t, r.path("a.log.1.gz"), lines)
				if err := os.Remove(r.path("a.log.1")); err != nil {
					t.Fatal(err)
				}
			}

			d := start()
			addr := d.webAddr()
			d.waitLog(`event=open .*first seen`, 1)
			// Between two looks: logtally is frozen while the log is
			// written, copied and truncated.
			first := numbered("line", 1, 100)
			(&rot{rig: r, d: d}).pause(func() {
				appendString(t, log, first)
				rotate(first)
			})
			d.waitLog(`event=open .*a\.log\.1\.gz.*reading it from the start`, 1)
			waitRead(d, addr, 100)
			d.kill()

			second := numbered("line", 101, 50)
			appendString(t, log, second)
			rotate(second)
			appendString(t, log, numbered("line", 151, 10))

			d = start()
			waitRead(d, d.webAddr(), 160)
			d.stop()
			wantTotal(t, r.state, "all", 160)
			if n := d.countLog(reLine(`level=(WARN|ERROR)`)); n != 0 {
				t.Errorf("%d warnings or errors after the restart, want none", n)
			}
		})
	}
}
