package tests

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// logrotateConf returns a logrotate configuration: one stanza per log,
// with its directives (and rotate 9, missingok).
func logrotateConf(logs []string, directives [][]string) string {
	var b strings.Builder
	for i, log := range logs {
		fmt.Fprintf(&b, "%s {\n  rotate 9\n  missingok\n  %s\n}\n", log, strings.Join(directives[i], "\n  "))
	}
	return b.String()
}

// logrotate returns a function that runs the real logrotate, forced, on a
// configuration (see logrotateConf).
func logrotate(t *testing.T, r *rig, conf string) func() {
	t.Helper()
	lr := need(t, "logrotate")
	path := r.path("logrotate.conf")
	writeFile(t, path, conf)
	st := r.path("logrotate.state")
	return func() {
		t.Helper()
		if strings.Contains(conf, "dateext") {
			// Dated names have a resolution of one second: two rotations
			// within one would want the same name (logrotate refuses).
			// logrotate reads the coarse clock (time(2)), which may lag
			// the boundary by a tick: start well after it.
			untilWallClock(time.Now().Truncate(time.Second).Add(time.Second + 100*time.Millisecond))
		}
		out, err := exec.Command(lr, "-f", "-s", st, path).CombinedOutput()
		if err != nil {
			t.Fatalf("logrotate: %v\n%s", err, out)
		}
	}
}

// logrotateModes are the ways logrotate rotates a log, as directives.
var logrotateModes = []struct {
	name       string
	directives []string
}{
	{"create", []string{"create 0644", "nocompress"}},
	{"create_compress", []string{"create 0644", "compress"}},
	{"create_delaycompress", []string{"create 0644", "compress", "delaycompress"}},
	{"create_dateext_compress", []string{"create 0644", "compress", "dateext", "dateformat -%Y%m%d-%s"}},
	{"copytruncate", []string{"copytruncate", "nocompress"}},
	{"copytruncate_compress", []string{"copytruncate", "compress"}},
	{"copytruncate_delaycompress", []string{"copytruncate", "compress", "delaycompress"}},
	{"copytruncate_dateext", []string{"copytruncate", "nocompress", "dateext", "dateformat -%Y%m%d-%s"}},
}

// TestRotatedTwiceWhileStopped: while logtally is stopped (SIGTERM, or
// kill -9 after a commit) its logs are rotated twice by the real logrotate,
// each log in another of logrotateModes, with lines written before,
// between and after: the file that holds a saved position has moved two
// places down the rotated set (renamed, compressed, or — copytruncate —
// copied away from under an unchanged inode), and a file that logtally
// never saw was created and rotated in between. On restart every line
// written is counted exactly once: the saved file from its position
// (through gzip where it was compressed), the file in between whole, then
// the current one.
func TestRotatedTwiceWhileStopped(t *testing.T) {
	for _, stop := range []string{"sigterm", "kill"} {
		for _, watch := range []string{"inotify", "poll"} {
			t.Run(stop+"/"+watch, func(t *testing.T) {
				t.Parallel()
				r := newRig(t, "")
				names, dirs := modesOf("")
				logs, rotate := modeLogs(t, r, names, dirs)
				written := map[string]int{}
				add := func(tag string, n int) {
					for i, m := range logrotateModes {
						appendString(t, logs[i], numbered(m.name+" "+tag, 0, n))
						written[m.name] += n
					}
				}
				var pollEvery time.Duration
				if watch == "poll" {
					pollEvery = 100 * time.Millisecond
				}

				d := r.start(watch, pollEvery)
				d.waitLog(`event=open `, len(logs))
				add("live", 500)
				for _, m := range logrotateModes {
					waitTotal(t, r.state, m.name, written[m.name])
				}
				add("unread", 50) // read by a SIGTERM's last check; maybe not before a kill
				if stop == "kill" {
					d.kill()
				} else {
					d.stop()
				}
				rotate()
				add("between", 100)
				rotate()
				add("last", 100)

				d = r.start(watch, pollEvery)
				d.waitLog(`msg=started `, 1)
				d.stop()
				st := readStatus(t, r.state)
				for _, m := range logrotateModes {
					got := st.total(m.name)
					t.Logf("%s: %d lines written, %v counted", m.name, written[m.name], got)
					if got != float64(written[m.name]) {
						t.Errorf("%s: committed total %v, want the %d lines written", m.name, got, written[m.name])
					}
				}
				if strings.Contains(d.log(), "event=lost") {
					t.Errorf("logtally reported lost lines")
				}
			})
		}
	}
}

// TestRotatedWhileStoppedEmpty: logtally stops (SIGTERM, or kill -9 after
// a commit) while its logs are empty, so that its saved positions are at
// offset 0 and describe no content; while it is stopped, lines are
// written and the real logrotate rotates each log twice, in every mode
// (renamed, compressed, copied and truncated, dated). The positions
// described the rotated sets: on restart the files that came since are
// read whole, oldest first, then the logs; every line once, nothing
// reported lost. A compressed log's inode, freed by gzip, may be taken by
// anything (logrotate's own state file took it: 1,000 lines were lost
// after a kill -9, that file being drained as the log), so it is not
// looked for.
func TestRotatedWhileStoppedEmpty(t *testing.T) {
	for _, stop := range []string{"sigterm", "kill"} {
		for _, watch := range []string{"inotify", "poll"} {
			t.Run(stop+"/"+watch, func(t *testing.T) {
				t.Parallel()
				r := newRig(t, "")
				names, dirs := modesOf("")
				logs, rotate := modeLogs(t, r, names, dirs)
				add := func(tag string) {
					for i, name := range names {
						appendString(t, logs[i], numbered(name+" "+tag, 0, 100))
					}
				}
				var pollEvery time.Duration
				if watch == "poll" {
					pollEvery = 100 * time.Millisecond
				}
				d := r.start(watch, pollEvery)
				d.waitLog(`event=open `, len(logs))
				d.waitLog(`msg=committed `, 1)
				if stop == "kill" {
					d.kill()
				} else {
					d.stop()
				}
				add("first")
				rotate()
				add("second")
				rotate()
				add("last")

				d = r.start(watch, pollEvery)
				d.waitLog(`msg=started `, 1)
				d.stop()
				st := readStatus(t, r.state)
				for _, name := range names {
					got := st.total(name)
					t.Logf("%s: 300 lines written, %v counted", name, got)
					if got != 300 {
						t.Errorf("%s: committed total %v, want the 300 lines written", name, got)
					}
				}
				if strings.Contains(d.log(), "event=lost") {
					t.Errorf("logtally reported lost lines")
				}
			})
		}
	}
}

// modesOf returns the names and directives of the logrotateModes whose
// names start with prefix ("copytruncate": those that copy and truncate;
// "": all).
func modesOf(prefix string) (names []string, directives [][]string) {
	for _, m := range logrotateModes {
		if strings.HasPrefix(m.name, prefix) {
			names, directives = append(names, m.name), append(directives, m.directives)
		}
	}
	return names, directives
}

// modeLogs makes in r one empty log per mode (names, with directives),
// and rules that count the lines of each under its mode's name. It
// returns the logs and a function that rotates them all with the real
// logrotate.
func modeLogs(t *testing.T, r *rig, names []string, directives [][]string) (logs []string, rotate func()) {
	t.Helper()
	var rules strings.Builder
	rules.WriteString("measurements:\n")
	for _, name := range names {
		log := r.path(name + ".log")
		logs = append(logs, log)
		writeFile(t, log, "")
		fmt.Fprintf(&rules, "  - {handle: %s, path: %q, select_line_matching: '.*', history_type: scalar}\n", name, log)
	}
	writeFile(t, r.rules, rules.String())
	return logs, logrotate(t, r, logrotateConf(logs, directives))
}

// TestCopytruncateBurst: a writer bursts lines into its log just before
// the real logrotate copies and truncates it (copytruncate, plain, with
// compress, delaycompress and dateext), several times: the burst is in
// the copy, not yet read by logtally, and gone from the log. Half of the
// rotations run while logtally is stopped (SIGSTOP), so that the burst is
// certainly unread when logrotate copies it; the others race as they
// would. Nothing is written while logrotate runs, so every line is in a
// file, and every line written is counted exactly once: the unread part
// of the log is read from its copy (through gzip where it was compressed)
// from where logtally had stopped.
func TestCopytruncateBurst(t *testing.T) {
	for _, watch := range []string{"inotify", "poll"} {
		t.Run(watch, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "")
			names, dirs := modesOf("copytruncate")
			logs, rotate := modeLogs(t, r, names, dirs)
			written := map[string]int{}
			add := func(tag string, n int) {
				for i, name := range names {
					appendString(t, logs[i], numbered(name+" "+tag, 0, n))
					written[name] += n
				}
			}
			pollEvery := time.Minute
			if watch == "poll" {
				pollEvery = 100 * time.Millisecond
			}
			rr := &rot{rig: r}
			rr.d = r.start(watch, pollEvery)
			rr.d.waitLog(`event=open `, len(logs))
			const rotations = 4
			for i := 0; i < rotations; i++ {
				add(fmt.Sprintf("steady%d", i), 100)
				for _, log := range logs {
					waitCaughtUp(t, r.state, log)
				}
				tag := fmt.Sprintf("burst%d", i)
				if i%2 == 0 {
					rr.pause(func() {
						add(tag, 300)
						rotate()
					})
				} else {
					add(tag, 300)
					rotate()
				}
			}
			add("last", 100)
			rr.d.stop()
			st := readStatus(t, r.state)
			for _, name := range names {
				got := st.total(name)
				t.Logf("%s: %d lines written, %v counted", name, written[name], got)
				if got != float64(written[name]) {
					t.Errorf("%s: committed total %v, want the %d lines written", name, got, written[name])
				}
			}
			if n := rr.d.countLog(reLine(`event=truncate `)); n != rotations*len(names) {
				t.Errorf("%d truncations logged, want %d", n, rotations*len(names))
			}
			if strings.Contains(rr.d.log(), "event=lost") {
				t.Errorf("logtally reported lost lines")
			}
		})
	}
}

// waitCaughtUp waits until the committed position of a followed file is
// its end.
func waitCaughtUp(t *testing.T, state, log string) {
	t.Helper()
	testutil.WaitForWhy(t, waitTimeout, "the committed position of "+log+" to reach its end", func() (bool, string) {
		size := fileSize(t, log)
		for _, s := range readStatus(t, state).Streams {
			if s.Path == log && s.Offset == size {
				return true, ""
			}
		}
		return false, fmt.Sprintf("size %d", size)
	})
}

// TestCopytruncateWindow: lines written between logrotate's copy and its
// truncate are in neither file. The copy and the truncate are done here,
// with logtally stopped (SIGSTOP) around them, so that logtally has read
// none of the lines written before the copy (they are read from the copy)
// nor those in the window. A writer without O_APPEND (a shell's "> log")
// keeps its offset across the truncate and leaves a hole of exactly the
// old size: the bytes of the window are proven lost, and logtally counts
// them in logtally_stream_lost_bytes_total with a WARN. A writer with
// O_APPEND leaves no trace of the window: nothing can measure it, and
// logtally reports no loss it cannot prove. Either way every other line is
// counted exactly once.
func TestCopytruncateWindow(t *testing.T) {
	const lineLen = len("seq 00000000\n")
	for _, appendMode := range []bool{false, true} {
		for _, watch := range []string{"inotify", "poll"} {
			name := "no_append/" + watch
			if appendMode {
				name = "append/" + watch
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				r := newRig(t, "")
				log := r.path("app.log")
				writeFile(t, r.rules, counterRules(log, "all", ".*", "seqs", "seq \\d{8}"))
				flag := os.O_WRONLY | os.O_CREATE
				if appendMode {
					flag |= os.O_APPEND
				}
				w, err := os.OpenFile(log, flag, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				seq, counted := 0, 0
				write := func(n int, count bool) {
					for i := 0; i < n; i++ {
						if _, err := fmt.Fprintf(w, "seq %08d\n", seq); err != nil {
							t.Fatal(err)
						}
						seq++
					}
					if count {
						counted += n
					}
				}
				pollEvery := time.Minute
				if watch == "poll" {
					pollEvery = 100 * time.Millisecond
				}
				rr := &rot{rig: r}
				rr.d = r.start(watch, pollEvery, "--listen", "127.0.0.1:0")
				addr := rr.d.webAddr()
				rr.d.waitLog(`event=open `, 1)
				write(100, true)
				waitTotal(t, r.state, "all", counted)
				const window = 30
				rr.pause(func() {
					write(200, true) // unread: read from the copy
					copyFile(t, log, log+".1")
					write(window, false) // in neither file
					truncate(t, log)
					write(100, true)
				})
				write(50, true)
				waitCaughtUp(t, r.state, log)
				lost, _ := metricValue(scrape(t, addr), "logtally_stream_lost_bytes_total", "source", log)
				rr.d.stop()
				got := readStatus(t, r.state).total("all")
				t.Logf("%d lines written, %d in neither file, %v counted; %v bytes reported lost (%d lines)",
					seq, window, got, lost, int(lost)/lineLen)
				if got != float64(counted) {
					t.Errorf("committed total %v, want the %d lines written to a file", got, counted)
				}
				if st := readStatus(t, r.state).total("seqs"); st != got {
					t.Errorf("%v whole seq lines of %v: a line was mangled", st, got)
				}
				warned := rr.d.countLog(reLine(`level=WARN .*event=lost .*` + fmt.Sprint(window*lineLen) + ` bytes`))
				switch {
				case !appendMode && (lost != float64(window*lineLen) || warned != 1):
					t.Errorf("%v bytes reported lost (%d WARN lines), want the %d bytes of the window, once",
						lost, warned, window*lineLen)
				case appendMode && lost != 0:
					t.Errorf("%v bytes reported lost, where nothing can tell", lost)
				}
			})
		}
	}
}

// TestRewrittenWhileStopped: while logtally is stopped, its log is
// rewritten in place (same inode) with the same size, the same first 1024
// bytes and the same 64 bytes before the saved offset, and other lines
// between: the saved position no longer describes the file, which the
// fingerprints sampled across it tell; the new content is read from its
// start.
func TestRewrittenWhileStopped(t *testing.T) {
	for _, stop := range []string{"sigterm", "kill"} {
		t.Run(stop, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "")
			log := r.path("app.log")
			writeFile(t, r.rules, counterRules(log, "all", ".*"))
			writeFile(t, log, "")
			d := r.start("inotify", 0)
			d.waitLog(`event=open `, 1)
			want := 300
			appendString(t, log, numbered("old", 0, want))
			waitCaughtUp(t, r.state, log)
			if stop == "kill" {
				d.kill()
			} else {
				d.stop()
			}
			old := readString(t, log)
			refill := sameHeadAndTail(old, "new")
			f, err := os.OpenFile(log, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString(refill + numbered("more", 0, 20)); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			want += countLines(refill) + 20

			d = r.start("inotify", 0)
			d.waitLog(`msg=started `, 1)
			d.stop()
			got := readStatus(t, r.state).total("all")
			t.Logf("%d lines written, %v counted", want, got)
			if got != float64(want) {
				t.Errorf("committed total %v, want the %d lines written", got, want)
			}
			if d.countLog(reLine(`event=reset .*sampled`)) != 1 {
				t.Errorf("no reset saying the sampled bytes changed")
			}
		})
	}
}

// TestCopytruncateShorterWhileStopped: the real logrotate copies the log
// (copytruncate; held by strace between its copy and its truncate), the
// writer adds lines, which logtally reads, and logtally is stopped
// (SIGTERM or kill -9) before logrotate truncates. At the restart the
// saved offset is beyond the copy's end: the copy holds nothing unread,
// and the lines after it were read from the log before it was
// truncated. Nothing is lost: every line is counted once and no loss is
// reported — with a copy longer than the first 1024 bytes and one
// shorter, plain and compressed (the copy is then app.log.1.gz), and
// when logrotate copies and truncates the log once more while logtally
// is stopped: that copy is read whole.
func TestCopytruncateShorterWhileStopped(t *testing.T) {
	need(t, "strace")
	for _, compress := range []string{"nocompress", "compress"} {
		for _, before := range []string{"100", "20", "100/twice"} { // 1,300 and 260 bytes
			before, twice := strings.CutSuffix(before, "/twice")
			for _, stop := range []string{"sigterm/inotify", "kill/poll"} {
				stop, watch, _ := strings.Cut(stop, "/")
				name := fmt.Sprintf("%s/%s/%s/%s", compress, before, stop, watch)
				if twice {
					name += "/twice"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					r := newRig(t, "")
					log := r.path("app.log")
					writeFile(t, r.rules, counterRules(log, "all", ".*", "seqs", "seq \\d{8}"))
					rotate := logrotate(t, r, fmt.Sprintf("%s {\n  rotate 5\n  %s\n  copytruncate\n}\n", log, compress))
					writeFile(t, log, "")
					seq := 0
					write := func(n int) {
						var b strings.Builder
						for i := 0; i < n; i++ {
							fmt.Fprintf(&b, "seq %08d\n", seq)
							seq++
						}
						appendString(t, log, b.String())
					}
					var pollEvery time.Duration
					if watch == "poll" {
						pollEvery = 100 * time.Millisecond
					}
					d := r.start(watch, pollEvery)
					d.waitLog(`event=open `, 1)
					n, _ := strconv.Atoi(before)
					write(n)
					waitCaughtUp(t, r.state, log)
					release := holdLogrotate(t, r, r.path("logrotate.conf"))
					write(30) // after the copy: read from the log
					waitCaughtUp(t, r.state, log)
					if stop == "kill" {
						d.kill()
					} else {
						d.stop()
					}
					if out := release(); fileSize(t, log) != 0 {
						t.Fatalf("logrotate did not truncate the log\n%s", out)
					}
					write(50)
					if twice {
						rotate()
						write(10)
					}

					d = r.start(watch, pollEvery)
					waitCaughtUp(t, r.state, log)
					d.stop()
					got := readStatus(t, r.state).total("all")
					t.Logf("%d lines written, %v counted", seq, got)
					if got != float64(seq) {
						t.Errorf("committed total %v, want the %d lines written", got, seq)
					}
					if n := d.countLog(reLine(`level=WARN msg=stream|event=lost`)); n != 0 {
						t.Errorf("%d stream WARN or lost lines logged, want none", n)
					}
				})
			}
		}
	}
}

// TestCopytruncateLostWhileStopped: while logtally is stopped, lines are
// written and the real logrotate truncates the log keeping no copy
// (rotate 0): those lines are in no file. logtally counts every other
// line once and reports the loss with one WARN naming the log and the
// offset after which lines were not read.
func TestCopytruncateLostWhileStopped(t *testing.T) {
	for _, stop := range []string{"sigterm/inotify", "kill/poll"} {
		stop, watch, _ := strings.Cut(stop, "/")
		t.Run(stop+"/"+watch, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "")
			log := r.path("app.log")
			writeFile(t, r.rules, counterRules(log, "all", ".*"))
			rotate := logrotate(t, r, fmt.Sprintf("%s {\n  rotate 0\n  copytruncate\n}\n", log))
			writeFile(t, log, "")
			var pollEvery time.Duration
			if watch == "poll" {
				pollEvery = 100 * time.Millisecond
			}
			d := r.start(watch, pollEvery)
			d.waitLog(`event=open `, 1)
			appendString(t, log, numbered("read", 0, 100))
			waitCaughtUp(t, r.state, log)
			offset := fileSize(t, log)
			if stop == "kill" {
				d.kill()
			} else {
				d.stop()
			}
			appendString(t, log, numbered("lost", 0, 20))
			rotate()
			if fileSize(t, log) != 0 {
				t.Fatalf("logrotate did not truncate the log")
			}
			appendString(t, log, numbered("new", 0, 50))

			d = r.start(watch, pollEvery)
			waitCaughtUp(t, r.state, log)
			d.stop()
			got := readStatus(t, r.state).total("all")
			t.Logf("170 lines written, 20 of them in no file; %v counted", got)
			if got != 150 {
				t.Errorf("committed total %v, want the 150 lines in a file", got)
			}
			warn := reLine(fmt.Sprintf(`level=WARN .*event=lost .*%s.* after offset %d`, regexp.QuoteMeta(log), offset))
			if n := d.countLog(warn); n != 1 {
				t.Errorf("%d WARN lines reporting lines lost after offset %d, want 1", n, offset)
			}
		})
	}
}
