package follow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// waitLimit bounds every wait for something another goroutine or process
// does. It is a deadline for failure, not a timing expectation.
const waitLimit = 20 * time.Second

// newFakeClock returns a clock that moves only when the test advances it.
func newFakeClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC))
}

// recBatch is a copy of a delivered batch.
type recBatch struct {
	Source  string
	Lines   []string
	Cut     []bool
	End     Position
	Backlog bool
}

// entry is a batch or an event, in delivery order.
type entry struct {
	batch *recBatch
	event *Event
}

// recorder is a Handler that keeps everything it is given.
type recorder struct {
	mu      sync.Mutex
	log     []entry
	changed chan struct{}
	// concurrent detects overlapping calls for one source.
	inCall map[string]bool
	errs   []string
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}, 1), inCall: make(map[string]bool)}
}

func (r *recorder) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) Batch(b *Batch) {
	r.mu.Lock()
	if r.inCall[b.Source] {
		r.errs = append(r.errs, "overlapping Batch calls for "+b.Source)
	}
	r.inCall[b.Source] = true
	r.mu.Unlock()

	rb := &recBatch{Source: b.Source, End: b.End, Backlog: b.Backlog}
	for _, l := range b.Lines {
		rb.Lines = append(rb.Lines, string(l.Data))
		rb.Cut = append(rb.Cut, l.Cut)
	}
	if len(b.Lines) == 0 {
		r.mu.Lock()
		r.errs = append(r.errs, "empty batch from "+b.Source)
		r.mu.Unlock()
	}

	r.mu.Lock()
	r.inCall[b.Source] = false
	r.log = append(r.log, entry{batch: rb})
	r.mu.Unlock()
	r.signal()
}

func (r *recorder) Event(e Event) {
	r.mu.Lock()
	r.log = append(r.log, entry{event: &e})
	r.mu.Unlock()
	r.signal()
}

func (r *recorder) batches() []recBatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recBatch
	for _, e := range r.log {
		if e.batch != nil {
			out = append(out, *e.batch)
		}
	}
	return out
}

// lines returns every delivered line, in order.
func (r *recorder) lines() []string {
	var out []string
	for _, b := range r.batches() {
		out = append(out, b.Lines...)
	}
	return out
}

// linesOf returns the lines delivered for one source.
func (r *recorder) linesOf(source string) []string {
	var out []string
	for _, b := range r.batches() {
		if b.Source == source {
			out = append(out, b.Lines...)
		}
	}
	return out
}

func (r *recorder) events(kind EventKind) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.log {
		if e.event != nil && e.event.Kind == kind {
			out = append(out, *e.event)
		}
	}
	return out
}

func (r *recorder) allEvents() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.log {
		if e.event != nil {
			out = append(out, e.event.String())
		}
	}
	return out
}

// waitFor waits until cond holds, re-checking whenever the recorder is
// given something.
func (r *recorder) waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; lines %q; events %q", what, r.lines(), r.allEvents())
		}
	}
}

func (r *recorder) waitLines(t testing.TB, n int) {
	t.Helper()
	r.waitFor(t, fmt.Sprintf("%d lines", n), func() bool { return len(r.lines()) >= n })
}

func (r *recorder) waitEvent(t testing.TB, kind EventKind, n int) {
	t.Helper()
	r.waitFor(t, fmt.Sprintf("%d %v events", n, kind), func() bool { return len(r.events(kind)) >= n })
}

// check verifies what must hold of every delivery: no overlapping calls
// for a source, no empty batch, and each file batch's End falls just after
// its lines, contiguous with the previous batch of the same file (or, after
// a truncation or at a file's first batch, at an offset the test allows).
// Lines are assumed to end in a bare "\n" and not to be cut.
func (r *recorder) check(t testing.TB, firstStarts ...int64) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		t.Error(e)
	}
	last := make(map[fileID]int64)
	restarted := make(map[string]bool) // new content since the last batch
	for _, e := range r.log {
		if e.event != nil {
			switch e.event.Kind {
			case EventTruncate, EventReset, EventOpen, EventRotate, EventDelete:
				// A new file (inode numbers are reused) or new content.
				restarted[e.event.Source] = true
			}
			continue
		}
		b := e.batch
		if b.End.IsZero() {
			continue
		}
		var n int64
		for _, l := range b.Lines {
			n += int64(len(l)) + 1
		}
		start := b.End.Offset - n
		id := fileID{b.End.Dev, b.End.Ino}
		prev, seen := last[id]
		switch {
		case seen && start == prev:
		case seen && start == 0 && restarted[b.Source]:
		case !seen && (start == 0 || slices.Contains(firstStarts, start)):
		default:
			t.Errorf("batch of %s (%v) starts at %d: previous end %d (seen %v), lines %q",
				b.Source, id, start, prev, seen, b.Lines)
		}
		last[id] = b.End.Offset
		restarted[b.Source] = false
		if b.End.TailLen > MaxTailLen || b.End.HeadLen > MaxHeadLen || int64(b.End.TailLen) > b.End.Offset {
			t.Errorf("batch of %s: bad fingerprint lengths %+v", b.Source, b.End)
		}
	}
}

// harness runs a Files follower over a temporary directory.
type harness struct {
	t     *testing.T
	mode  string
	dir   string
	clk   *testutil.Clock
	rec   *recorder
	files *Files
	stop  func()
}

const (
	testPoll  = time.Second
	testGrace = 10 * time.Second
)

// forEachWatch runs f once per watch method, as subtests.
func forEachWatch(t *testing.T, f func(t *testing.T, mode string)) {
	for _, mode := range []string{"inotify", "poll"} {
		t.Run(mode, func(t *testing.T) { f(t, mode) })
	}
}

// newHarness returns a harness whose follower is not started yet.
func newHarness(t *testing.T, mode string) *harness {
	return &harness{t: t, mode: mode, dir: t.TempDir(), clk: newFakeClock(), rec: newRecorder()}
}

func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

// again returns a harness over the same directory, not started yet: the
// next run of logtally, after h's.
func (h *harness) again() *harness {
	return &harness{t: h.t, mode: h.mode, dir: h.dir, clk: newFakeClock(), rec: newRecorder()}
}

// firstRun follows app.log holding "s1\ns2\n" from the beginning, stops,
// and returns the harness, the file and the positions saved.
func firstRun(t *testing.T, mode string) (*harness, string, map[string]Position) {
	t.Helper()
	h := newHarness(t, mode)
	fn := h.path("app.log")
	writeFile(t, fn, "s1\ns2\n")
	h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
	h.expect("s1", "s2")
	h.stop()
	return h, fn, savedPositions(h.rec)
}

// emptyFirstRun makes fn empty, follows it, stops, and returns the
// position saved when it was opened: at offset 0, describing fn's rotated
// set as it was then.
func (h *harness) emptyFirstRun(fn string) Position {
	h.t.Helper()
	writeFile(h.t, fn, "")
	h.start(FileConfig{Paths: []string{fn}})
	h.expect()
	h.stop()
	opens := h.rec.events(EventOpen)
	if len(opens) != 1 || opens[0].Pos.Rotated == "" {
		h.t.Fatalf("open events %q: want one whose position describes the rotated set", h.rec.allEvents())
	}
	return opens[0].Pos
}

// restartExpect runs logtally again over h's directory, following fn from
// the saved positions, until it has read what there is; the lines must be
// want, in that order, with no loss reported. It returns the new harness.
func (h *harness) restartExpect(fn string, saved map[string]Position, want ...string) *harness {
	h.t.Helper()
	h2 := h.again()
	h2.start(FileConfig{Paths: []string{fn}, Saved: saved})
	h2.sync()
	if got := h2.rec.lines(); !slices.Equal(got, want) {
		h.t.Fatalf("lines %q, want %q once each, oldest first; events %q", got, want, h2.rec.allEvents())
	}
	if st := h2.files.Stats()[fn]; st.Losses != 0 {
		h.t.Errorf("%d losses reported; events %q", st.Losses, h2.rec.allEvents())
	}
	return h2
}

// start runs a follower with cfg (Watch, Clock, PollEvery and RotateGrace
// filled in) until the test ends.
func (h *harness) start(cfg FileConfig) {
	h.t.Helper()
	cfg.Watch, cfg.Clock = h.mode, h.clk
	if cfg.PollEvery == 0 {
		cfg.PollEvery = testPoll
	}
	if cfg.RotateGrace == 0 {
		cfg.RotateGrace = testGrace
	}
	f, err := NewFiles(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.files = f
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, h.rec) }()
	h.stop = func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("Run: %v", err)
		}
		h.stop = func() {}
	}
	h.t.Cleanup(func() { h.stop() })
	// The first check is done once the loop waits for its first tick.
	h.clk.WaitTimer(h.t, waitLimit)
}

// wake makes the follower look after a change: under polling, the next
// tick; under inotify, nothing (the change itself must wake it).
func (h *harness) wake() {
	h.t.Helper()
	if h.mode == "poll" {
		h.clk.WaitTimer(h.t, waitLimit)
		h.clk.Advance(testPoll)
	}
}

// expect wakes the follower, waits for exactly want lines in total, then
// makes it check everything once more and asserts that nothing else came.
func (h *harness) expect(want ...string) {
	h.t.Helper()
	h.wake()
	h.rec.waitLines(h.t, len(want))
	h.sync()
	if got := h.rec.lines(); !slices.Equal(got, want) {
		h.t.Fatalf("lines:\n got %q\nwant %q\nevents %q", got, want, h.rec.allEvents())
	}
}

// sync runs one complete check.
func (h *harness) sync() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := h.files.Sync(ctx); err != nil {
		h.t.Fatal(err)
	}
}

// advance moves the clock by d once the follower waits on it, and waits
// for the check that follows.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clk.WaitTimer(h.t, waitLimit)
	h.clk.Advance(d)
	h.clk.WaitTimer(h.t, waitLimit)
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writer creates path, empty, and returns a descriptor that appends to
// it (O_APPEND), as a daemon's log, closed when the test ends.
func writer(t testing.TB, path string) *os.File {
	t.Helper()
	writeFile(t, path, "")
	w, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// logWriter opens path for writing, creating it if need be, as a daemon
// does its log: with O_APPEND when appendMode, else writing on at its own
// offset (a shell's "> log"), which a truncation does not move. It is
// closed when the test ends.
func logWriter(t testing.TB, path string, appendMode bool) *os.File {
	t.Helper()
	flag := os.O_WRONLY | os.O_CREATE
	if appendMode {
		flag |= os.O_APPEND
	}
	w, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func appendFile(t testing.TB, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// openFDs returns the targets of this process's open descriptors that lie
// under dir.
func openFDs(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if strings.HasPrefix(target, dir+"/") {
			out = append(out, target)
		}
	}
	return out
}

// waitClosed waits until no descriptor of this process refers to path.
func waitClosed(t testing.TB, rec *recorder, path string) {
	t.Helper()
	isOpen := func() bool {
		for _, fd := range openFDs(t, filepath.Dir(path)) {
			if fd == path || fd == path+" (deleted)" {
				return true
			}
		}
		return false
	}
	rec.waitFor(t, path+" closed", func() bool { return !isOpen() })
}

func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

// scannerOf returns a scanner of files that delivers to h, stepped by the
// test itself (scan), never stopping.
func scannerOf(files *Files, h Handler) *scanner {
	return newScanner(files.cfg, &sink{h: h, mu: new(sync.Mutex), stats: &files.stats, log: files.cfg.Logger},
		func() bool { return false })
}

// stepped follows fn from its beginning under polling, stepped by the
// test (scan; the first look already made), and records what it delivers.
func stepped(t *testing.T, fn string) (*scanner, *recorder, *Files) {
	t.Helper()
	files, err := NewFiles(FileConfig{Paths: []string{fn}, Start: "beginning", Watch: "poll", Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s := scannerOf(files, rec)
	t.Cleanup(s.closeAll)
	s.scan(true)
	return s, rec, files
}

// copyTo copies the file fn to dst as it is now: logrotate's copytruncate
// copy, before its truncation (truncateTo0).
func copyTo(t testing.TB, fn, dst string) {
	t.Helper()
	data, err := os.ReadFile(fn)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(data))
}

// truncateTo0 truncates the file fn in place, as copytruncate does.
func truncateTo0(t testing.TB, fn string) {
	t.Helper()
	if err := os.Truncate(fn, 0); err != nil {
		t.Fatal(err)
	}
}
