package tests

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// steadyWriter appends numbered lines to a log at a steady rate, one
// write(2) per line with O_APPEND, as a daemon writes its log. It can be
// told to reopen its log (what a daemon does after logrotate's postrotate
// HUP).
type steadyWriter struct {
	t      *testing.T
	path   string
	every  time.Duration
	perTik int
	// line formats line n; the default is "seq <n>".
	line func(n int) string
	// limit, when positive, is how many lines to write before stopping.
	limit int
	// noAppend opens the log without O_APPEND, as a shell's "> log" does:
	// after a truncation the writer goes on at its old offset.
	noAppend bool

	mu      sync.Mutex
	n       int // lines written
	stopped bool
	reopen  chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	err     error
}

func newSteadyWriter(t *testing.T, path string, every time.Duration, perTick int) *steadyWriter {
	return &steadyWriter{t: t, path: path, every: every, perTik: perTick,
		reopen: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
}

func (w *steadyWriter) start() {
	go w.run()
	w.t.Cleanup(func() { w.finish() })
}

func (w *steadyWriter) open() (*os.File, error) {
	if w.noAppend {
		f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE, 0o644)
		if err == nil {
			_, err = f.Seek(0, io.SeekEnd)
		}
		return f, err
	}
	return os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

func (w *steadyWriter) run() {
	defer close(w.done)
	f, err := w.open()
	if err != nil {
		w.err = err
		return
	}
	defer func() { f.Close() }()
	tick := time.NewTicker(w.every)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case ack := <-w.reopen:
			f.Close()
			if f, err = w.open(); err != nil {
				w.err = err
				close(ack)
				return
			}
			close(ack)
		case <-tick.C:
			for i := 0; i < w.perTik; i++ {
				w.mu.Lock()
				n := w.n
				w.mu.Unlock()
				if w.limit > 0 && n >= w.limit {
					return
				}
				s := "seq " + strconv.Itoa(n)
				if w.line != nil {
					s = w.line(n)
				}
				if _, err := f.WriteString(s + "\n"); err != nil {
					w.err = err
					return
				}
				w.mu.Lock()
				w.n++
				w.mu.Unlock()
			}
		}
	}
}

// finished reports whether the writer has stopped (its limit reached).
func (w *steadyWriter) finished() <-chan struct{} { return w.done }

// written returns how many lines have been written so far.
func (w *steadyWriter) written() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// reopenLog makes the writer close and reopen its log, and waits for it.
func (w *steadyWriter) reopenLog() {
	ack := make(chan struct{})
	select {
	case w.reopen <- ack:
		<-ack
	case <-w.done:
	}
}

// finish stops the writer and returns how many lines it wrote.
func (w *steadyWriter) finish() int {
	w.mu.Lock()
	if !w.stopped {
		w.stopped = true
		close(w.stop)
	}
	w.mu.Unlock()
	<-w.done
	if w.err != nil {
		w.t.Fatalf("writer: %v", w.err)
	}
	return w.written()
}

// seqsIn returns the sequence numbers of the "seq N" lines of a file.
func seqsIn(t *testing.T, path string, into map[int]int) {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// A writer without O_APPEND leaves a hole of NUL bytes after a
		// truncation: they are not part of the line that follows.
		s, ok := strings.CutPrefix(strings.TrimLeft(sc.Text(), "\x00"), "seq ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		into[n]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestLogrotate rotates a log with the real logrotate while a writer
// appends to it at a steady rate, several times, in create and in
// copytruncate mode.
//
// create: the writer keeps appending to the renamed file until it reopens
// its log (after logrotate returns, as after a postrotate HUP): every line
// is counted exactly once.
//
// copytruncate: the writer keeps its descriptor. Lines it writes between
// logrotate's copy and its truncate are in neither file (sequence numbers
// in no file); every line in a file is counted — the part logtally had not
// read when the truncate came is read from the copy — and none twice. A
// writer without O_APPEND leaves a hole as long as the old content, which
// proves the bytes of the window: what logtally reports lost is exactly
// what it did not count. An O_APPEND writer leaves no trace: logtally
// reports nothing it cannot prove.
func TestLogrotate(t *testing.T) {
	lr := need(t, "logrotate")
	const lineLen = len("seq 00000000\n")
	for _, run := range []string{"create", "copytruncate", "copytruncate_no_append",
		"copytruncate/poll", "copytruncate_no_append/poll"} {
		mode, watch, _ := strings.Cut(run, "/")
		if watch == "" {
			watch = "inotify"
		}
		t.Run(run, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "")
			log := r.path("app.log")
			writeFile(t, r.rules, counterRules(log, "all", ".*", "seqs", "seq \\d{8}"))
			writeFile(t, log, "")
			conf := r.path("logrotate.conf")
			directive := "create 0644"
			rotations := 6 // with rotate 5, the last one deletes the first copy
			copytruncate := strings.HasPrefix(mode, "copytruncate")
			if copytruncate {
				directive = "copytruncate"
				rotations = 5 // every copy kept, to find which lines are on disk
			}
			writeFile(t, conf, fmt.Sprintf("%s {\n  rotate 5\n  missingok\n  notifempty\n  nocompress\n  %s\n}\n", log, directive))
			lrState := r.path("logrotate.state")

			var pollEvery time.Duration
			if watch == "poll" {
				// Slow enough that lines written between logrotate's copy
				// and its truncate are often not read before the truncate.
				pollEvery = 250 * time.Millisecond
			}
			d := r.start(watch, pollEvery, "--listen", "127.0.0.1:0")
			addr := d.webAddr()
			d.waitLog(`event=open `, 1)
			w := newSteadyWriter(t, log, 2*time.Millisecond, 1)
			w.line = func(n int) string { return fmt.Sprintf("seq %08d", n) }
			w.noAppend = mode == "copytruncate_no_append"
			w.start()

			tick := time.NewTicker(700 * time.Millisecond)
			defer tick.Stop()
			mark := 0
			for i := 0; i < rotations; i++ {
				<-tick.C
				// notifempty: logrotate leaves an empty log alone. On a
				// loaded machine the writer may not have written to the
				// new (or truncated) log yet: wait until it has, so that
				// every run of logrotate rotates. The log itself tells
				// (the writer counts a line only after its write returns,
				// which may be after logrotate truncated the log it went
				// to).
				testutil.WaitFor(t, time.Minute, "a line written since the last rotation", func() bool {
					return w.written() > mark && fileSize(t, log) > 0
				})
				before := w.written()
				began := time.Now()
				out, err := exec.Command(lr, "-v", "-f", "-s", lrState, conf).CombinedOutput()
				if err != nil {
					t.Fatalf("logrotate: %v\n%s", err, out)
				}
				if !regexp.MustCompile(`(?m)^rotating log `).Match(out) {
					t.Fatalf("logrotate did not rotate:\n%s", out)
				}
				took := time.Since(began)
				if mode == "create" {
					w.reopenLog()
				}
				mark = w.written()
				t.Logf("rotation %d: logrotate took %v; %d lines written meanwhile", i+1, took.Round(time.Millisecond), mark-before)
			}
			<-tick.C
			written := w.finish()
			waitCaughtUp(t, r.state, log)
			lostBytes, _ := metricValue(scrape(t, addr), "logtally_stream_lost_bytes_total", "source", log)
			d.stop()

			for i := 1; i <= 5; i++ {
				if _, err := os.Stat(fmt.Sprintf("%s.%d", log, i)); err != nil {
					t.Errorf("logrotate did not leave %s.%d: %v", log, i, err)
				}
			}
			// Each rotation left a file holding lines written since the
			// one before (notifempty, and the wait above): logtally reads
			// every one of those contents, so it sees every rotation —
			// when it comes, or, when more came between two looks, by
			// the files it reads whole.
			if got := rotationsSeen(d, directive); got < rotations {
				t.Errorf("%d rotations seen by logtally, want %d", got, rotations)
			}
			st := readStatus(t, r.state)
			total := int(st.total("all"))
			if st.total("seqs") != float64(total) {
				t.Errorf("seqs total %v differs from all %d: a line was split or mangled", st.total("seqs"), total)
			}
			if !copytruncate {
				if total != written {
					t.Errorf("committed %d lines, want %d written", total, written)
				}
				t.Logf("create: %d lines written, %d committed", written, total)
				return
			}
			onDisk := map[int]int{}
			seqsIn(t, log, onDisk)
			for i := 1; i <= 5; i++ {
				seqsIn(t, fmt.Sprintf("%s.%d", log, i), onDisk)
			}
			for n, c := range onDisk {
				if c != 1 || n >= written {
					t.Errorf("line seq %d is %d times on disk", n, c)
				}
			}
			// logrotate leaves every copy next to the log: the follower
			// finds each one, holding the unread part or nothing unread.
			if n := d.countLog(reLine(`event=lost .*no copy of the old content`)); n > 0 {
				t.Errorf("%d truncations found no copy of the old content, where logrotate made one", n)
			}
			inNeither := written - len(onDisk)
			short := written - total
			t.Logf("%s: %d lines written, %d in no file (written between copy and truncate); %d committed, %d not counted; %v bytes reported lost (%d lines)",
				run, written, inNeither, total, short, lostBytes, int(lostBytes)/lineLen)
			switch {
			case total > written:
				t.Errorf("committed %d lines, more than the %d written", total, written)
			case short > inNeither:
				t.Errorf("%d lines not counted, more than the %d in no file: a line in a file was lost", short, inNeither)
			case w.noAppend && lostBytes != float64(short*lineLen):
				t.Errorf("%v bytes reported lost, want the %d bytes of the %d lines not counted", lostBytes, short*lineLen, short)
			case !w.noAppend && lostBytes > float64(short*lineLen):
				t.Errorf("%v bytes reported lost, more than the %d bytes not counted", lostBytes, short*lineLen)
			}
		})
	}
}

// rotationsSeen counts the rotations a logrotate directive made that
// logtally saw: by the truncation or the rename, or, when two rotations
// came between two looks (a slow logrotate, or polling on a loaded
// machine), by the file rotated (or copied) in and away in between, read
// whole. A truncation seen before a complete line of the content was read
// is seen by the copies it reads whole: it is not counted again.
func rotationsSeen(d *daemonProc, mode string) int {
	seen := regexp.MustCompile(`event=rotate |event=open .*(rotated in and away|copied away by a copytruncate) between two checks`)
	if mode == "copytruncate" {
		seen = regexp.MustCompile(`event=truncate |event=open .*(rotated in and away|copied away by a copytruncate) between two checks`)
	}
	return d.countLog(seen) - d.countLog(regexp.MustCompile(`event=truncate .*before a complete line of it was read`))
}

// TestCopytruncateCaughtUp: the real logrotate copies the log
// (copytruncate), and before it truncates it the writer, with O_APPEND,
// writes more lines, which logtally reads at once: logrotate is held
// between its copy and its truncate by strace, which stops it as its
// fsync of the copy returns. The copy is then shorter than the offset
// logtally had reached, and it holds nothing logtally had not read:
// nothing is lost, and no loss is reported (no WARN, no lost bytes);
// every line is counted once. Twice: logrotate runs again, with lines
// before and after, before logtally looks again (SIGSTOP): the copy made
// in between is read whole, after the short copy is found to hold
// nothing unread.
func TestCopytruncateCaughtUp(t *testing.T) {
	need(t, "logrotate")
	need(t, "strace")
	for _, run := range []string{"inotify", "poll", "twice/inotify", "twice/poll"} {
		watch, twice := strings.CutPrefix(run, "twice/")
		t.Run(run, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "")
			log := r.path("app.log")
			writeFile(t, r.rules, counterRules(log, "all", ".*", "seqs", "seq \\d{8}"))
			conf := r.path("logrotate.conf")
			writeFile(t, conf, fmt.Sprintf("%s {\n  rotate 5\n  nocompress\n  copytruncate\n}\n", log))
			w, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			seq := 0
			write := func(n int) {
				for i := 0; i < n; i++ {
					if _, err := fmt.Fprintf(w, "seq %08d\n", seq); err != nil {
						t.Fatal(err)
					}
					seq++
				}
			}
			pollEvery := time.Minute
			if watch == "poll" {
				pollEvery = 100 * time.Millisecond
			}
			d := r.start(watch, pollEvery, "--listen", "127.0.0.1:0")
			addr := d.webAddr()
			d.waitLog(`event=open `, 1)
			write(100)
			waitCaughtUp(t, r.state, log)
			rr := &rot{rig: r, d: d}

			release := holdLogrotate(t, r, conf)
			copied := fileSize(t, log+".1")
			if size := fileSize(t, log); copied == 0 || size != copied {
				t.Fatalf("logrotate stopped with the log %d bytes long and its copy %d: not between its copy and its truncate",
					size, copied)
			}
			window := 30
			write(window) // after the copy, before the truncate: read by logtally
			waitCaughtUp(t, r.state, log)
			read := fileSize(t, log)
			truncations := 1
			if twice {
				// logtally looks again after the second copytruncate only.
				rr.pause(func() {
					if out := release(); fileSize(t, log) != 0 {
						t.Fatalf("logrotate did not truncate the log\n%s", out)
					}
					write(40) // read from the second copy
					if out, err := exec.Command(need(t, "logrotate"), "-f", "-s", r.path("logrotate.state"), conf).CombinedOutput(); err != nil {
						t.Fatalf("logrotate: %v\n%s", err, out)
					}
				})
			} else if out := release(); fileSize(t, log) != 0 {
				t.Fatalf("logrotate did not truncate the log\n%s", out)
			}
			write(50)
			waitCaughtUp(t, r.state, log)
			lost, _ := metricValue(scrape(t, addr), "logtally_stream_lost_bytes_total", "source", log)
			d.stop()

			got := readStatus(t, r.state).total("all")
			t.Logf("%d lines written; the copy is %d bytes, logtally had read %d before the truncate; %v counted, %v bytes reported lost",
				seq, copied, read, got, lost)
			if got != float64(seq) {
				t.Errorf("committed total %v, want the %d lines written", got, seq)
			}
			if st := readStatus(t, r.state).total("seqs"); st != got {
				t.Errorf("%v whole seq lines of %v: a line was mangled", st, got)
			}
			if n := d.countLog(reLine(`event=truncate `)); n != truncations {
				t.Errorf("%d truncations logged, want %d", n, truncations)
			}
			if n, want := d.countLog(reLine(`event=open .*rotated in and away between two checks`)), map[bool]int{true: 1}[twice]; n != want {
				t.Errorf("%d copies read whole, want %d", n, want)
			}
			if lost != 0 {
				t.Errorf("%v bytes reported lost, want none", lost)
			}
			if n := d.countLog(reLine(`level=WARN msg=stream|event=lost`)); n != 0 {
				t.Errorf("%d stream WARN or lost lines logged, want none", n)
			}
		})
	}
}

// TestCopytruncateLookedAtMidway: logtally looks at a log right after a
// copytruncate it had not seen and while the real logrotate, run again,
// is between its next copy and its truncate (held there by strace;
// logtally stopped by SIGSTOP until then). The newest copy then holds
// what the log itself starts with: it is no copy of content truncated
// away, and its lines are read once, from the log; when the truncation
// comes, nothing is unread. The lines not read before the first
// copytruncate are read from its copy. Every line is counted once, with
// no WARN.
func TestCopytruncateLookedAtMidway(t *testing.T) {
	need(t, "logrotate")
	need(t, "strace")
	for _, watch := range []string{"inotify", "poll"} {
		t.Run(watch, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "")
			log := r.path("app.log")
			writeFile(t, r.rules, counterRules(log, "all", ".*"))
			conf := r.path("logrotate.conf")
			writeFile(t, conf, fmt.Sprintf("%s {\n  rotate 5\n  nocompress\n  copytruncate\n}\n", log))
			lr := need(t, "logrotate")
			written := 0
			write := func(tag string, n int) {
				appendString(t, log, numbered(tag, 0, n))
				written += n
			}
			writeFile(t, log, "")
			pollEvery := time.Minute
			if watch == "poll" {
				pollEvery = 100 * time.Millisecond
			}
			rr := &rot{rig: r}
			rr.d = r.start(watch, pollEvery)
			rr.d.waitLog(`event=open `, 1)
			write("read", 100)
			waitCaughtUp(t, r.state, log)
			var release func() string
			rr.pause(func() {
				write("unread", 50) // read from the first copy
				if out, err := exec.Command(lr, "-f", "-s", r.path("logrotate.state"), conf).CombinedOutput(); err != nil {
					t.Fatalf("logrotate: %v\n%s", err, out)
				}
				write("next", 40) // copied by the next run, held before its truncate
				release = holdLogrotate(t, r, conf)
			})
			waitCaughtUp(t, r.state, log)
			if out := release(); fileSize(t, log) != 0 {
				t.Fatalf("logrotate did not truncate the log\n%s", out)
			}
			write("last", 30)
			waitCaughtUp(t, r.state, log)
			rr.d.stop()
			got := readStatus(t, r.state).total("all")
			t.Logf("%d lines written, %v counted", written, got)
			if got != float64(written) {
				t.Errorf("committed total %v, want the %d lines written", got, written)
			}
			if n := rr.d.countLog(reLine(`event=truncate `)); n != 2 {
				t.Errorf("%d truncations logged, want 2", n)
			}
			if n := rr.d.countLog(reLine(`level=WARN msg=stream|event=lost`)); n != 0 {
				t.Errorf("%d stream WARN or lost lines logged, want none", n)
			}
		})
	}
}

// holdLogrotate runs the real logrotate, forced, on conf, under strace,
// which stops it (SIGSTOP) as the first fsync it makes returns: with
// copytruncate, the fsync of the copy, after the copy and before the
// truncate. It returns once logrotate is stopped there; release lets it
// go on, waits for it to finish and returns strace's output.
func holdLogrotate(t *testing.T, r *rig, conf string) (release func() string) {
	t.Helper()
	lr := need(t, "logrotate")
	strace := need(t, "strace")
	var out testutil.Buffer
	cmd := exec.Command(strace, "-f", "-qq", "-e", "trace=fsync", "-e", "inject=fsync:signal=SIGSTOP:when=1",
		lr, "-f", "-s", r.path("logrotate.state"), conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var pid int
	t.Cleanup(func() {
		if pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL) // still held, if the test failed
		}
		cmd.Process.Kill()
		<-done
	})
	testutil.WaitFor(t, waitTimeout, "logrotate stopped after its copy", func() bool {
		// strace says so once the stop took (its tracee also stops,
		// briefly, as it starts).
		if !strings.Contains(out.String(), "--- stopped by SIGSTOP ---") {
			return false
		}
		pid = stoppedChild(cmd.Process.Pid)
		return pid > 0
	})
	return func() string {
		t.Helper()
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			pid = 0
			if err != nil {
				t.Fatalf("logrotate under strace: %v\n%s", err, out.String())
			}
		case <-time.After(waitTimeout):
			t.Fatalf("logrotate did not finish\n%s", out.String())
		}
		return out.String()
	}
}

// stoppedChild returns the pid of a stopped child of the process parent
// (a tracee of strace stopped by a signal is in the state 't'), or 0.
func stoppedChild(parent int) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st := procState(pid); (st == "t" || st == "T") && procParent(pid) == parent {
			return pid
		}
	}
	return 0
}

// procParent returns the parent pid of a process, or 0.
func procParent(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // comm may hold spaces
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}
