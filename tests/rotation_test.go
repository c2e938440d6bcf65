package tests

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// rot is the state of one rotation case: the followed name, the lines the
// daemon must count, and the running daemon.
type rot struct {
	*rig
	d    *daemonProc
	log  string         // the followed name (or a file matching the glob)
	want map[string]int // expected committed total by handle
}

// add appends s to path and counts its lines as owed to "all".
func (r *rot) add(path, s string) {
	r.t.Helper()
	appendString(r.t, path, s)
	r.want["all"] += strings.Count(s, "\n")
}

// pause stops the daemon's process (SIGSTOP) while f runs, so that f's
// changes are complete before logtally looks at the file again: the
// "refilled before logtally looks" situation of a busy writer and a slow
// or descheduled reader, made deterministic.
func (r *rot) pause(f func()) {
	r.t.Helper()
	r.d.signal(syscall.SIGSTOP)
	defer r.d.signal(syscall.SIGCONT)
	testutil.WaitForWhy(r.t, waitTimeout, "logtally to be stopped", func() (bool, string) {
		st := procState(r.d.pid())
		return st == "T", "state " + st
	})
	f()
}

// procState returns the state letter of a process (R, S, T, ...).
func procState(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", itoa(pid), "stat"))
	if err != nil {
		return "?"
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return "?"
	}
	return s[i+2 : i+3]
}

// copyFile copies src to dst, as logrotate's copytruncate does before it
// truncates.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// fileSize returns the size of a file.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// linesOfSize returns newline-terminated lines "<tag> <i>" of exactly size
// bytes in all (the last one padded).
func linesOfSize(tag string, size int64) string {
	var b strings.Builder
	for i := 0; ; i++ {
		l := tag + " " + strconv.Itoa(i) + "\n"
		left := size - int64(b.Len())
		if left < int64(2*len(l)) {
			b.WriteString(tag + " " + strings.Repeat("z", int(left)-len(tag)-2) + "\n")
			return b.String()
		}
		b.WriteString(l)
	}
}

func truncate(t *testing.T, path string) {
	t.Helper()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// rotCase is one row of the rotation matrix.
type rotCase struct {
	name string
	// glob, when set, is the followed pattern (relative to the directory)
	// instead of app.log.
	glob string
	// rules, when set, replaces the default rule file (one counter "all"
	// of every line); %PATH% stands for the followed name.
	rules string
	// setup prepares the directory before the daemon starts.
	setup func(r *rot)
	// ready is the log line to wait for before act (default: the followed
	// file was opened).
	ready string
	// act writes and manipulates the files, adding to r.want.
	act func(r *rot)
	// events must each appear in the log: they show the case exercised
	// the path it claims to.
	events []string
}

// TestRotationMatrix follows one log through every way a log is rotated,
// written or replaced, under inotify and under polling, and checks that
// every line written is committed exactly once.
//
// Under "inotify" the periodic re-check is set to a minute, so that changes
// are found by inotify events and by the sync that closes each 1 s
// interval; under "poll" the files are checked every 100 ms. Every case
// ends with SIGTERM, which reads everything readable and commits it, so
// totals are checked right after the last write unless a live event must
// be observed first (then the test waits for it in the log).
func TestRotationMatrix(t *testing.T) {
	cases := []rotCase{
		{
			name: "append",
			act: func(r *rot) {
				r.add(r.log, numbered("first", 0, 100))
				waitTotal(r.t, r.state, "all", r.want["all"]) // counted live
				for i := 0; i < 50; i++ {
					r.add(r.log, numbered("line", i, 1))
				}
			},
		},
		{
			// A line written in two pieces is one line, counted once,
			// whole: "whole" matches only the complete text.
			name: "partial write",
			rules: "measurements:\n" +
				"  - {handle: all, path: %PATH%, select_line_matching: '.*', history_type: scalar}\n" +
				"  - {handle: whole, path: %PATH%, select_line_matching: 'BEGIN partial END', history_type: scalar}\n" +
				"  - {handle: piece, path: %PATH%, select_line_matching: '(BEGIN partial| END)', history_type: scalar}\n",
			act: func(r *rot) {
				r.add(r.log, numbered("line", 0, 10)+"BEGIN partial")
				r.want["all"]++ // the line being written
				// The daemon has read past the partial line's start and
				// committed the complete lines before it.
				waitTotal(r.t, r.state, "all", 10)
				r.add(r.log, " END\n"+numbered("line", 10, 10))
				r.want["all"]--
				r.want["whole"] = 1
				r.want["piece"] = 0
			},
		},
		{
			// logrotate's default (create): the log is renamed, a new
			// one created; the writer keeps appending to the renamed file
			// until it reopens its log. Lines not yet read when the rename
			// happens are read from the renamed file.
			name: "rename and create",
			act: func(r *rot) {
				r.add(r.log, numbered("before", 0, 100)) // not waited for: still unread at the rename
				rename(r.t, r.log, r.log+".1")
				r.add(r.log+".1", numbered("late", 0, 20)) // the writer has not reopened yet
				r.add(r.log, numbered("new", 0, 30))
				r.d.waitLog(`event=rotate .*draining the old one \(now \S*app\.log\.1\)`, 1)
				r.add(r.log+".1", numbered("later", 0, 5)) // after the rotation was seen
				r.add(r.log, numbered("new", 30, 10))
			},
			events: []string{`event=rotate`},
		},
		{
			// copytruncate where the new content is smaller than what was
			// read: seen by size, whether logtally looks before or after
			// the refill.
			name: "copytruncate smaller",
			act: func(r *rot) {
				r.add(r.log, numbered("old", 0, 100))
				waitTotal(r.t, r.state, "all", r.want["all"]) // what is unread at a truncate is lost by copytruncate itself
				copyFile(r.t, r.log, r.log+".1")
				truncate(r.t, r.log)
				r.add(r.log, numbered("new", 0, 10))
				r.d.waitLog(`event=truncate`, 1)
				r.add(r.log, numbered("new", 10, 10))
			},
			events: []string{`event=truncate .*size \d+ is below the read offset`},
		},
		{
			// copytruncate refilled to exactly the size that was read
			// before logtally looks (the daemon is stopped with SIGSTOP
			// meanwhile): the size says nothing, the head fingerprint
			// does.
			name: "copytruncate same size",
			act: func(r *rot) {
				r.add(r.log, numbered("old", 0, 100))
				waitTotal(r.t, r.state, "all", r.want["all"])
				r.pause(func() {
					size := fileSize(r.t, r.log)
					copyFile(r.t, r.log, r.log+".1")
					truncate(r.t, r.log)
					r.add(r.log, linesOfSize("new", size))
					if got := fileSize(r.t, r.log); got != size {
						r.t.Fatalf("refilled to %d bytes, want %d", got, size)
					}
				})
				r.d.waitLog(`event=truncate`, 1)
			},
			events: []string{`event=truncate .*the first \d+ bytes changed`},
		},
		{
			// copytruncate refilled past the size that was read before
			// logtally looks (SIGSTOP meanwhile): read from the start.
			name: "copytruncate larger",
			act: func(r *rot) {
				r.add(r.log, numbered("old", 0, 100))
				waitTotal(r.t, r.state, "all", r.want["all"])
				r.pause(func() {
					copyFile(r.t, r.log, r.log+".1")
					truncate(r.t, r.log)
					r.add(r.log, numbered("new", 0, 250))
				})
				r.d.waitLog(`event=truncate`, 1)
				r.add(r.log, numbered("new", 250, 10))
			},
			events: []string{`event=truncate .*the first \d+ bytes changed`},
		},
		{
			// copytruncate refilled, before logtally looks (SIGSTOP
			// meanwhile), to the same size with the same first 1024 bytes
			// and the same 64 bytes before the read offset: only the lines
			// between differ, which the fingerprints sampled across the
			// file see.
			name: "copytruncate refilled with the same head and tail",
			act: func(r *rot) {
				r.add(r.log, numbered("old", 0, 300))
				waitTotal(r.t, r.state, "all", r.want["all"])
				r.pause(func() {
					old := readString(r.t, r.log)
					copyFile(r.t, r.log, r.log+".1")
					truncate(r.t, r.log)
					refill := sameHeadAndTail(old, "new")
					if len(refill) != len(old) || refill[:1024] != old[:1024] || refill[len(refill)-64:] != old[len(old)-64:] || refill == old {
						r.t.Fatalf("the refill does not keep the head and tail of a different content")
					}
					r.add(r.log, refill)
				})
				r.d.waitLog(`event=truncate`, 1)
				r.add(r.log, numbered("new", 1000, 10))
			},
			events: []string{`event=truncate .*sampled`},
		},
		{
			// The log is deleted; lines not yet read are read from the
			// open file before it is closed.
			name: "delete",
			act: func(r *rot) {
				r.add(r.log, numbered("line", 0, 100))
				if err := os.Remove(r.log); err != nil {
					r.t.Fatal(err)
				}
				r.d.waitLog(`event=(delete|rotate)`, 1)
			},
			events: []string{`event=delete .*unlinked; read to its end and closed`},
		},
		{
			name: "delete and recreate",
			act: func(r *rot) {
				r.add(r.log, numbered("old", 0, 100))
				if err := os.Remove(r.log); err != nil {
					r.t.Fatal(err)
				}
				r.add(r.log, numbered("new", 0, 40))
				r.d.waitLog(`event=open .*(appeared|replaced since startup); reading from the start`, 1)
				r.add(r.log, numbered("new", 40, 10))
			},
			events: []string{`event=(delete|rotate)`},
		},
		{
			// app.log is a symlink swapped atomically from a.log to b.log;
			// a.log keeps being written for a while and is drained.
			name: "symlink swap",
			setup: func(r *rot) {
				writeFile(r.t, r.path("a.log"), "")
				if err := os.Symlink("a.log", r.log); err != nil {
					r.t.Fatal(err)
				}
			},
			act: func(r *rot) {
				r.add(r.path("a.log"), numbered("a", 0, 100))
				writeFile(r.t, r.path("b.log"), "")
				if err := os.Symlink("b.log", r.path("tmp.link")); err != nil {
					r.t.Fatal(err)
				}
				rename(r.t, r.path("tmp.link"), r.log)
				r.add(r.path("b.log"), numbered("b", 0, 50))
				r.d.waitLog(`event=rotate .*draining the old one \(now \S*a\.log\)`, 1)
				r.add(r.path("a.log"), numbered("a", 100, 10))
			},
			events: []string{`event=rotate`},
		},
		{
			// The log does not exist when logtally starts; when it
			// appears, it is read from its start.
			name:  "late-appearing file",
			setup: func(r *rot) {},
			ready: `msg=committed`, // logtally has looked at least once
			act: func(r *rot) {
				r.add(r.log, numbered("line", 0, 60))
				r.d.waitLog(`event=open .*reading from the start`, 1)
				r.add(r.log, numbered("line", 60, 10))
			},
		},
		{
			// A glob: a file matching it that appears later is read from
			// its start, alongside the first.
			name: "glob",
			glob: "*.log",
			act: func(r *rot) {
				r.add(r.log, numbered("a", 0, 30))
				b := r.path("b.log")
				r.add(b, numbered("b", 0, 40))
				r.d.waitLog(`event=open .*b\.log.*reading from the start`, 1)
				r.add(b, numbered("b", 40, 10))
				r.add(r.log, numbered("a", 30, 10))
				r.add(r.path("ignored.txt"), "not matching the glob\n")
				r.want["all"]--
			},
			events: []string{`event=open .*app\.log`},
		},
		{
			// A 1 MiB line with max_line_length 1 KiB, written in pieces:
			// one line, cut (its head is seen, its tail never becomes a
			// line of its own), and the lines around it are intact.
			name: "long line",
			rules: "settings:\n  max_line_length: 1KiB\nmeasurements:\n" +
				"  - {handle: all, path: %PATH%, select_line_matching: '.*', history_type: scalar}\n" +
				"  - {handle: head, path: %PATH%, select_line_matching: 'LONG x+', history_type: scalar}\n" +
				"  - {handle: tail, path: %PATH%, select_line_matching: '.*TAIL', history_type: scalar}\n" +
				"  - {handle: short, path: %PATH%, select_line_matching: 'short \\d+', history_type: scalar}\n",
			act: func(r *rot) {
				r.add(r.log, numbered("short", 0, 5))
				r.add(r.log, "LONG ")
				chunk := strings.Repeat("x", 64<<10)
				for i := 0; i < 16; i++ {
					r.add(r.log, chunk)
				}
				r.add(r.log, " TAIL\n")
				r.add(r.log, numbered("short", 5, 5))
				r.want["head"], r.want["tail"], r.want["short"] = 1, 0, 10
			},
		},
		{
			// A FIFO: lines from successive writers are all counted.
			name: "fifo",
			setup: func(r *rot) {
				if err := syscall.Mkfifo(r.log, 0o600); err != nil {
					r.t.Fatal(err)
				}
			},
			ready: `event=open .*fifo opened`,
			act: func(r *rot) {
				for w := 0; w < 3; w++ {
					r.add(r.log, numbered("writer"+itoa(w), 0, 200))
				}
			},
		},
	}
	for _, watch := range []string{"inotify", "poll"} {
		t.Run(watch, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
					runRotCase(t, watch, c)
				})
			}
		})
	}
}

func runRotCase(t *testing.T, watch string, c rotCase) {
	r := &rot{rig: newRig(t, ""), want: map[string]int{"all": 0}}
	r.log = r.path("app.log")
	pattern := r.log
	if c.glob != "" {
		pattern = r.path(c.glob)
	}
	rules := c.rules
	if rules == "" {
		rules = "measurements:\n  - {handle: all, path: %PATH%, select_line_matching: '.*', history_type: scalar}\n"
	}
	writeFile(t, r.rules, strings.ReplaceAll(rules, "%PATH%", "'"+pattern+"'"))
	if c.setup != nil {
		c.setup(r)
	} else {
		writeFile(t, r.log, "written before logtally started: not counted (start: end)\n")
	}
	pollEvery := time.Minute
	if watch == "poll" {
		pollEvery = 100 * time.Millisecond
	}
	r.d = r.start(watch, pollEvery)
	ready := c.ready
	if ready == "" {
		ready = `event=open `
	}
	r.d.waitLog(ready, 1)
	c.act(r)
	r.d.stop()
	st := readStatus(t, r.state)
	for h, want := range r.want {
		if got := st.total(h); got != float64(want) {
			t.Errorf("%s: committed total %v, want %d", h, got, want)
		}
	}
	for _, e := range c.events {
		if !regexp.MustCompile(e).MatchString(r.d.log()) {
			t.Errorf("log has no line matching %q", e)
		}
	}
	if strings.Contains(r.d.log(), "event=lost") {
		t.Errorf("logtally reported lost lines")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// readString returns a file's content.
func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameHeadAndTail returns content of old's size whose whole lines cover
// the same first 1024 bytes and the same last 64 bytes as old, and whose
// lines between are other lines (tagged tag) of the same total size.
func sameHeadAndTail(old, tag string) string {
	head := strings.Index(old[1024:], "\n") + 1024 + 1
	tail := strings.LastIndex(old[:len(old)-64], "\n") + 1
	return old[:head] + linesOfSize(tag, int64(tail-head)) + old[tail:]
}
