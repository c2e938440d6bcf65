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

// betweenLooks is one way of rotating a log more than once between two
// looks of a running follower (TestRotatedTwiceBetweenLooks).
type betweenLooks struct {
	name string
	// conf is the logrotate configuration's directives ("" when the
	// rotations are made by hand).
	conf string
	// rotate rotates the log once, by hand (when conf is "").
	rotate func(t *testing.T, log string, n int)
	n      int // rotations between two looks
}

// TestRotatedTwiceBetweenLooks: a log is rotated two or three times
// between two looks of a running follower (it is stopped by SIGSTOP
// meanwhile: a descheduled follower, a poll interval longer than the
// time between rotations, inotify events coalesced), with lines written
// before each rotation. The log renamed first is drained when the name is
// seen replaced; the log created in between, written to and rotated away
// before any look — with compress, already in app.log.1.gz and its plain
// file unlinked — is found in the rotated set after the drained one and
// read once. Every line is counted exactly once, with no loss reported:
// in rounds where the first log was read before the rotations and in
// rounds where it was not, under inotify and under polling, with
// logrotate's create and compress, delaycompress, numbered names without
// compression, and dated names.
func TestRotatedTwiceBetweenLooks(t *testing.T) {
	need(t, "logrotate")
	dated := func(t *testing.T, log string, n int) {
		rename(t, log, fmt.Sprintf("%s-2026120610%04d", log, n))
		writeFile(t, log, "")
	}
	cases := []betweenLooks{
		{name: "create_compress", conf: "create\n  compress", n: 2},
		{name: "create_compress_thrice", conf: "create\n  compress", n: 3},
		{name: "create_delaycompress", conf: "create\n  compress\n  delaycompress", n: 2},
		{name: "create_numbered", conf: "create\n  nocompress", n: 2},
		{name: "create_dated", rotate: dated, n: 2},
	}
	for _, c := range cases {
		for _, watch := range []string{"inotify", "poll"} {
			t.Run(c.name+"/"+watch, func(t *testing.T) {
				t.Parallel()
				r := newRig(t, "")
				log := r.path("a.log")
				writeFile(t, r.rules, counterRules(log, "hits", ".*GET .*"))
				logrotated := logrotate(t, r, fmt.Sprintf("%s {\n  rotate 60\n  %s\n}\n", log, c.conf))
				writeFile(t, log, "")
				pollEvery := time.Minute
				if watch == "poll" {
					pollEvery = 100 * time.Millisecond
				}
				rr := &rot{rig: r, d: r.start(watch, pollEvery)}
				rr.d.waitLog(`event=open `, 1)

				written, rotations := 0, 0
				write := func() {
					var b strings.Builder
					for i := 0; i < 20; i++ {
						written++
						fmt.Fprintf(&b, "Dec  6 10:00:00 host app: GET /x %d\n", written)
					}
					appendString(t, log, b.String())
				}
				rotate := func() {
					rotations++
					if c.rotate != nil {
						c.rotate(t, log, rotations)
						return
					}
					logrotated()
				}
				for round := 1; round <= 4; round++ {
					if round%2 == 1 {
						// The first log read to its end before it is rotated.
						write()
						waitCaughtUp(t, r.state, log)
					}
					rr.pause(func() {
						for i := 0; i < c.n; i++ {
							if i > 0 || round%2 == 0 {
								write()
							}
							rotate()
						}
					})
					write()
					waitCaughtUp(t, r.state, log)
				}
				waitTotal(t, r.state, "hits", written)
				rr.d.stop()
				got := readStatus(t, r.state).total("hits")
				t.Logf("%d lines written, %v counted, %d rotations", written, got, rotations)
				if got != float64(written) {
					t.Errorf("committed total %v, want the %d lines written", got, written)
				}
				if n := rr.d.countLog(reLine(`level=WARN msg=stream|event=lost`)); n != 0 {
					t.Errorf("%d stream WARN or lost lines logged, want none", n)
				}
				if n := rr.d.countLog(reLine(`event=open .*rotated in and away between two checks`)); n != 4*(c.n-1) {
					t.Errorf("%d logs read whole as rotated in and away between two checks, want %d", n, 4*(c.n-1))
				}
			})
		}
	}
}
