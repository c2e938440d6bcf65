package tests

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestLogrotateCreateCompress rotates a log with the real logrotate in
// create mode with compress, twelve times, from an empty rotated set and
// from one that already holds 40 compressed files: every other rotation
// follows 20 new lines (the others rotate an empty log), half of them at
// once and half once logtally has committed the lines; each is seen by
// logtally before the next. Each rotation
// renames the log (logtally drains it), creates a new empty one, shifts
// the .gz files up by one and compresses the drained file into
// app.log.1.gz. None of that is a copytruncate: the new log is empty when
// the siblings change, and an empty head matches any file, but no rotated
// file, shifted or compressed, is read again. Every line is counted
// exactly once, under inotify and under polling, with no copy read and no
// loss reported.
func TestLogrotateCreateCompress(t *testing.T) {
	lr := need(t, "logrotate")
	for _, watch := range []string{"inotify", "poll"} {
		for _, old := range []int{0, 40} {
			t.Run(fmt.Sprintf("%s/%d_old", watch, old), func(t *testing.T) {
				t.Parallel()
				r := newRig(t, "")
				log := r.path("a.log")
				writeFile(t, r.rules, counterRules(log, "hits", ".*GET .*"))
				conf := r.path("logrotate.conf")
				writeFile(t, conf, fmt.Sprintf("%s {\n  rotate 60\n  create\n  compress\n}\n", log))
				for i := 1; i <= old; i++ {
					writeGzip(t, fmt.Sprintf("%s.%d.gz", log, i), fmt.Sprintf("Dec  6 09:00:00 old GET %d\n", i))
				}
				writeFile(t, log, "")
				d := r.start(watch, 100*time.Millisecond)
				d.waitLog(`event=open `, 1)

				written := 0
				for round := 1; round <= 12; round++ {
					if round%2 == 1 {
						var b strings.Builder
						for i := 0; i < 20; i++ {
							written++
							fmt.Fprintf(&b, "Dec  6 10:00:00 host app: GET /x %d\n", written)
						}
						if err := appendLine(log, []byte(b.String())); err != nil {
							t.Fatal(err)
						}
						if round%4 == 1 {
							waitCaughtUp(t, r.state, log)
						}
					}
					if out, err := exec.Command(lr, "-f", "-s", r.path("logrotate.state"), conf).CombinedOutput(); err != nil {
						t.Fatalf("logrotate: %v\n%s", err, out)
					}
					// Each rotation is seen before the next: a log created
					// and rotated away between two looks is another case.
					d.waitLog(`event=open .*appeared; reading from the start`, round)
				}
				if _, err := os.Stat(log + ".12.gz"); err != nil {
					t.Fatalf("logrotate did not rotate twelve times: %v", err)
				}
				waitTotal(t, r.state, "hits", written)
				d.stop()

				got := readStatus(t, r.state).total("hits")
				t.Logf("%d lines written, %v counted", written, got)
				if got != float64(written) {
					t.Errorf("committed total %v, want the %d lines written", got, written)
				}
				if n := d.countLog(reLine(`copied away|event=truncate `)); n != 0 {
					t.Errorf("%d rotated files taken for copies of a truncated log, want none", n)
				}
				if n := d.countLog(reLine(`level=WARN msg=stream|event=lost`)); n != 0 {
					t.Errorf("%d stream WARN or lost lines logged, want none", n)
				}
			})
		}
	}
}

// writeGzip writes content to path, gzip-compressed.
func writeGzip(t *testing.T, path, content string) {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b.String())
}

// TestRotatedTwiceBetweenLooks: with create and compress, the log is
// rotated twice between two looks of a polling follower, with lines
// written before each rotation. The log renamed first is drained when the
// name is seen replaced; the log created in between, written to, renamed,
// compressed and unlinked before any look, is only in app.log.1.gz by
// then. Every line must be counted once.
//
// Known gap: live, the rotated set is walked for the files rotated in
// after a drained one only at startup (TestRotatedTwiceWhileStopped), so
// the file created and rotated away between two looks is not read (120
// of 180 counted: the middle 20 lines of each round). The README's
// reliability section says so.
func TestRotatedTwiceBetweenLooks(t *testing.T) {
	t.Skip("known gap: a log created and rotated away between two looks of a running follower is not read; see the test's doc")
	lr := need(t, "logrotate")
	r := newRig(t, "")
	log := r.path("a.log")
	writeFile(t, r.rules, counterRules(log, "hits", ".*GET .*"))
	conf := r.path("logrotate.conf")
	writeFile(t, conf, fmt.Sprintf("%s {\n  rotate 60\n  create\n  compress\n}\n", log))
	writeFile(t, log, "")
	d := r.start("poll", 2*time.Second)
	d.waitLog(`event=open `, 1)

	written := 0
	write := func() {
		var b strings.Builder
		for i := 0; i < 20; i++ {
			written++
			fmt.Fprintf(&b, "Dec  6 10:00:00 host app: GET /x %d\n", written)
		}
		if err := appendLine(log, []byte(b.String())); err != nil {
			t.Fatal(err)
		}
	}
	rotate := func() {
		if out, err := exec.Command(lr, "-f", "-s", r.path("logrotate.state"), conf).CombinedOutput(); err != nil {
			t.Fatalf("logrotate: %v\n%s", err, out)
		}
	}
	for round := 1; round <= 3; round++ {
		// Two rotations well within one poll interval of 2 s.
		write()
		rotate()
		write()
		rotate()
		write()
		waitCaughtUp(t, r.state, log)
	}
	waitTotal(t, r.state, "hits", written)
	d.stop()
	if got := readStatus(t, r.state).total("hits"); got != float64(written) {
		t.Errorf("committed total %v, want the %d lines written", got, written)
	}
}
