package tests

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
	for sc.Scan() {
		s, ok := strings.CutPrefix(sc.Text(), "seq ")
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
// logrotate's copy and its truncate are in neither file, and lines logtally
// had not read when the truncate came are only in the copy, which logtally
// does not follow: copytruncate's own window. The test measures the lines
// missing from disk (sequence numbers in no file) and logtally's shortfall,
// reports both, and requires the shortfall to stay within the lines written
// while logrotate ran (plus those of the 250 ms before it started, for a
// reader that has not yet been scheduled), and no line to be counted twice.
func TestLogrotate(t *testing.T) {
	lr := need(t, "logrotate")
	for _, mode := range []string{"create", "copytruncate"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "")
			log := r.path("app.log")
			writeFile(t, r.rules, counterRules(log, "all", ".*", "seqs", "seq \\d+"))
			writeFile(t, log, "")
			conf := r.path("logrotate.conf")
			directive := "create 0644"
			rotations := 6 // with rotate 5, the last one deletes the first copy
			if mode == "copytruncate" {
				directive = "copytruncate"
				rotations = 5 // every copy kept, to find which lines are on disk
			}
			writeFile(t, conf, fmt.Sprintf("%s {\n  rotate 5\n  missingok\n  notifempty\n  nocompress\n  %s\n}\n", log, directive))
			lrState := r.path("logrotate.state")

			d := r.start("inotify", 0)
			d.waitLog(`event=open `, 1)
			w := newSteadyWriter(t, log, 2*time.Millisecond, 1)
			w.start()

			var during int // lines written while logrotate ran
			tick := time.NewTicker(700 * time.Millisecond)
			defer tick.Stop()
			for i := 0; i < rotations; i++ {
				<-tick.C
				before := w.written()
				began := time.Now()
				out, err := exec.Command(lr, "-f", "-s", lrState, conf).CombinedOutput()
				if err != nil {
					t.Fatalf("logrotate: %v\n%s", err, out)
				}
				took := time.Since(began)
				if mode == "create" {
					w.reopenLog()
				}
				during += w.written() - before
				t.Logf("rotation %d: logrotate took %v; %d lines written meanwhile", i+1, took.Round(time.Millisecond), w.written()-before)
			}
			<-tick.C
			written := w.finish()
			d.stop()

			for i := 1; i <= 5; i++ {
				if _, err := os.Stat(fmt.Sprintf("%s.%d", log, i)); err != nil {
					t.Errorf("logrotate did not leave %s.%d: %v", log, i, err)
				}
			}
			if got := d.countLog(reEvent(mode)); got < rotations {
				t.Errorf("%d rotations seen by logtally, want %d", got, rotations)
			}
			st := readStatus(t, r.state)
			total := int(st.total("all"))
			if st.total("seqs") != float64(total) {
				t.Errorf("seqs total %v differs from all %d: a line was split or mangled", st.total("seqs"), total)
			}
			if mode == "create" {
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
			missing := written - len(onDisk)
			short := written - total
			// A reader may not have been scheduled yet when logrotate
			// starts: allow the lines of 250 ms before each run too.
			atRisk := during + rotations*int(250*time.Millisecond/w.every)
			t.Logf("copytruncate: %d lines written, %d committed: %d not counted; %d lost from disk between copy and truncate; %d written while logrotate ran",
				written, total, short, missing, during)
			if total > written {
				t.Errorf("committed %d lines, more than the %d written", total, written)
			}
			if short > atRisk {
				t.Errorf("%d lines not counted, more than the %d of copytruncate's windows (%d written while logrotate ran, plus 250 ms before each run)",
					short, atRisk, during)
			}
		})
	}
}

// reEvent returns the log pattern of the event a logrotate mode causes.
func reEvent(mode string) *regexp.Regexp {
	if mode == "copytruncate" {
		return regexp.MustCompile(`event=truncate `)
	}
	return regexp.MustCompile(`event=rotate `)
}
