package output

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/logtally/logtally/internal/testutil"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

func openStore(t *testing.T, path string) *state.Store {
	t.Helper()
	s, err := state.Open(path, state.Options{NoSync: true})
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// push commits lines to the spool of sink in one transaction.
func push(t *testing.T, st *state.Store, sink, lines string, size int) int {
	t.Helper()
	var dropped int
	if err := st.Update(func(tx *state.Tx) error {
		var err error
		dropped, err = Push(tx, sink, []byte(lines), size)
		return err
	}); err != nil {
		t.Fatalf("push: %v", err)
	}
	return dropped
}

func spooled(t *testing.T, st *state.Store, sink string) []string {
	t.Helper()
	var recs []string
	if err := st.View(func(tx *state.Tx) error {
		var err error
		recs, _, err = tx.SpoolPeek(sink, 1<<20)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

// clock is an injected Sender.After: waits shorter than an hour pass at
// once and are recorded; longer ones (the idle flush interval the tests
// set) never pass, so an idle Sender waits for Notify.
type clock struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (c *clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	if d < time.Hour {
		c.mu.Lock()
		c.waits = append(c.waits, d)
		c.mu.Unlock()
		ch <- time.Now()
	}
	return ch
}

func (c *clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// scripted is a Sink that fails its first sends with the errors given and
// records what it delivered.
type scripted struct {
	mu    sync.Mutex
	fails []error
	got   bytes.Buffer
	sends int
}

func (s *scripted) Name() string { return "scripted" }
func (s *scripted) Close() error { return nil }
func (s *scripted) Send(_ context.Context, lines []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends++
	if len(s.fails) > 0 {
		err := s.fails[0]
		s.fails = s.fails[1:]
		return err
	}
	s.got.Write(lines)
	return nil
}

func (s *scripted) delivered() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got.String()
}

// run starts s.Run and returns a function that cancels it and waits for
// it to return.
func run(t *testing.T, s *Sender) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil after cancel", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func lines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "m,host=a value=%d %d\n", i, 1700000000+i)
	}
	return b.String()
}

func TestPushSpoolFullDropsOldest(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	tests := []struct {
		lines   string
		dropped int
		spool   string
	}{
		{"a\nb\n\nc", 0, "a b c"}, // empty lines skipped, last newline optional
		{"d\ne\n", 0, "a b c d e"},
		{"f\ng\nh\n", 3, "d e f g h"},
		{"", 0, "d e f g h"},
		{"i\nj\nk\nl\nm\nn\n", 6, "j k l m n"},
	}
	for _, tc := range tests {
		if got := push(t, st, "dest", tc.lines, 5); got != tc.dropped {
			t.Errorf("push %q dropped %d, want %d", tc.lines, got, tc.dropped)
		}
		if got := strings.Join(spooled(t, st, "dest"), " "); got != tc.spool {
			t.Errorf("after push %q spool = %q, want %q", tc.lines, got, tc.spool)
		}
	}
	sd := NewSender(st, NewWriterSink("dest", &bytes.Buffer{}), rules.Output{}, nil)
	if got := sd.Stats(); got.DroppedFull != 9 || got.Depth != 5 {
		t.Errorf("Stats = %+v, want DroppedFull 9 Depth 5", got)
	}
}

func TestSenderDeliversInOrderAndRetries(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	down := errors.New("connection refused")
	sink := &scripted{fails: []error{down, down, down, down, down, down, down, down}}
	c := &clock{}
	s := NewSender(st, sink, rules.Output{BatchSize: 7, FlushInterval: 24 * time.Hour}, nil)
	s.Backoff = Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	s.After = c.After
	push(t, st, sink.Name(), lines(0, 20), 1000)
	stop := run(t, s)
	for i := 20; i < 50; i += 10 {
		push(t, st, sink.Name(), lines(i, i+10), 1000)
		s.Notify()
	}
	want := lines(0, 50)
	testutil.WaitFor(t, 10*time.Second, "every line delivered", func() bool { return len(sink.delivered()) >= len(want) })
	stop()
	if got := sink.delivered(); got != want {
		t.Fatalf("delivered:\n%s\nwant:\n%s", got, want)
	}
	if n := len(spooled(t, st, sink.Name())); n != 0 {
		t.Errorf("%d records left in the spool", n)
	}
	stats := s.Stats()
	if stats.Sent != 50 || stats.Failures != 8 || stats.Invalid != 0 || stats.Depth != 0 ||
		!strings.Contains(stats.LastError, "connection refused") || stats.LastSent.IsZero() {
		t.Errorf("Stats = %+v, want Sent 50 Failures 8", stats)
	}
	// The waits after the 8 failures: exponential from 100ms, capped at
	// 1s, each with up to half taken off.
	waits := c.Waits()
	if len(waits) != 8 {
		t.Fatalf("waits = %v, want 8", waits)
	}
	for i, w := range waits {
		full := min(100*time.Millisecond<<i, time.Second)
		if w < full/2 || w > full {
			t.Errorf("wait %d = %v, want in [%v, %v]", i+1, w, full/2, full)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Minute}
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{1, 0.999999, time.Second - time.Microsecond},
		{2, 0, time.Second},
		{3, 0.5, 3 * time.Second},
		{7, 0, 30 * time.Second},
		{7, 1, time.Minute},
		{1000, 0, 30 * time.Second},
	}
	for _, tc := range tests {
		got := b.Delay(tc.attempt, tc.r)
		if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("Delay(%d, %v) = %v, want %v", tc.attempt, tc.r, got, tc.want)
		}
	}
	if got := (Backoff{}).Delay(1, 1); got != DefaultBackoff.Min {
		t.Errorf("zero Backoff Delay(1, 1) = %v, want the default %v", got, DefaultBackoff.Min)
	}
}

// influxLike is an InfluxDB 1.x-like write endpoint: it parses every line
// with the line-protocol decoder, keeps the good ones and answers 400 with
// a partial-write message if any line was bad (a field "bad"), as InfluxDB
// does for a field type conflict.
type influxLike struct {
	mu      sync.Mutex
	points  map[string]int // line -> times written
	batches int
	status  []int // statuses to answer first, whatever the body
}

func (f *influxLike) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	_, _ = body.ReadFrom(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches++
	if len(f.status) > 0 {
		code := f.status[0]
		f.status = f.status[1:]
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "5")
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":"status %d"}`, code)
		return
	}
	bad := 0
	for line := range bytes.Lines(body.Bytes()) {
		d := lineprotocol.NewDecoderWithBytes(line)
		d.Next()
		isBad := false
		for {
			k, _, err := d.NextField()
			if err != nil || k == nil {
				isBad = isBad || err != nil
				break
			}
			isBad = isBad || string(k) == "bad"
		}
		if isBad {
			bad++
			continue
		}
		f.points[string(line)]++
	}
	if bad > 0 {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"partial write: field type conflict dropped=%d"}`, bad)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestSenderDropsOnlyTheBadLines(t *testing.T) {
	srv := &influxLike{points: map[string]int{}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	sink, err := NewSink(rules.Output{URL: hs.URL, Database: "db"})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	s := NewSender(st, sink, rules.Output{BatchSize: 64}, nil)

	var all strings.Builder
	badLines := map[int]bool{3: true, 40: true, 41: true, 99: true}
	for i := range 100 {
		if badLines[i] {
			fmt.Fprintf(&all, "m bad=%d %d\n", i, i)
		} else {
			fmt.Fprintf(&all, "m value=%d %d\n", i, i)
		}
	}
	push(t, st, sink.Name(), all.String(), 1000)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	for i := range 100 {
		line := fmt.Sprintf("m value=%d %d\n", i, i)
		if n := srv.points[line]; !badLines[i] && n == 0 {
			t.Errorf("good line %q never written", line)
		}
	}
	if len(srv.points) != 96 {
		t.Errorf("server has %d distinct points, want 96", len(srv.points))
	}
	stats := s.Stats()
	if stats.Invalid != 4 || stats.Depth != 0 || stats.Sent != 96 {
		t.Errorf("Stats = %+v, want Invalid 4, Sent 96, Depth 0", stats)
	}
	// Bisection: far fewer requests than one per line.
	if srv.batches > 40 {
		t.Errorf("%d requests for 100 lines with 4 bad ones", srv.batches)
	}
}

// TestSenderKeepsDataThroughConfigErrors checks that 404 (database not
// found), 401 and 429 and 500 keep the data in the spool and retry, and
// that Retry-After lengthens the wait.
func TestSenderKeepsDataThroughConfigErrors(t *testing.T) {
	srv := &influxLike{points: map[string]int{}, status: []int{404, 401, 500, 429}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	sink, err := NewSink(rules.Output{URL: hs.URL, Database: "db"})
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	c := &clock{}
	s := NewSender(st, sink, rules.Output{FlushInterval: 24 * time.Hour}, nil)
	s.Backoff = Backoff{Min: time.Millisecond, Max: 10 * time.Second}
	s.After = c.After
	push(t, st, sink.Name(), lines(0, 10), 100)
	stop := run(t, s)
	testutil.WaitFor(t, 10*time.Second, "the spool to drain", func() bool { return s.Stats().Depth == 0 })
	stop()
	if len(srv.points) != 10 || s.Stats().Invalid != 0 || s.Stats().Failures != 4 {
		t.Fatalf("server has %d points, stats %+v; want 10 points, no invalid, 4 failures", len(srv.points), s.Stats())
	}
	if w := c.Waits(); len(w) != 4 || w[3] != 5*time.Second {
		t.Errorf("waits = %v, want 4 with the last one 5s (Retry-After)", w)
	}
}

// blocking is a Sink whose Send blocks until its context ends.
type blocking struct{ entered chan struct{} }

func (b *blocking) Name() string { return "blocking" }
func (b *blocking) Close() error { return nil }
func (b *blocking) Send(ctx context.Context, _ []byte) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestRunStopsOnCancel(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
		s := NewSender(st, &scripted{}, rules.Output{FlushInterval: time.Hour}, nil)
		stop := run(t, s)
		stop()
	})
	t.Run("during a hung send", func(t *testing.T) {
		st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
		sink := &blocking{entered: make(chan struct{}, 1)}
		s := NewSender(st, sink, rules.Output{}, nil)
		push(t, st, sink.Name(), lines(0, 3), 100)
		stop := run(t, s)
		select {
		case <-sink.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("Send never called")
		}
		stop()
		if n := len(spooled(t, st, sink.Name())); n != 3 {
			t.Errorf("%d records in the spool after a cancelled send, want 3", n)
		}
		if f := s.Stats().Failures; f != 0 {
			t.Errorf("a cancelled send counted as %d failures", f)
		}
	})
	t.Run("during backoff", func(t *testing.T) {
		st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
		sink := &scripted{fails: []error{errors.New("down")}}
		s := NewSender(st, sink, rules.Output{}, nil)
		s.Backoff = Backoff{Min: time.Hour, Max: time.Hour}
		push(t, st, sink.Name(), lines(0, 3), 100)
		stop := run(t, s)
		testutil.WaitFor(t, 10*time.Second, "a failure", func() bool { return s.Stats().Failures == 1 })
		stop()
	})
}

// TestResendAfterRestart closes the state file with records not yet
// acknowledged, reopens it, and checks a new Sender delivers them.
func TestResendAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	down := &scripted{fails: []error{errors.New("down")}}
	push(t, st, down.Name(), lines(0, 5), 100)
	if err := NewSender(st, down, rules.Output{}, nil).Flush(context.Background()); err == nil {
		t.Fatal("Flush to a failing sink returned nil")
	}
	st.Close()

	st = openStore(t, path)
	up := &scripted{}
	c := &clock{}
	s := NewSender(st, up, rules.Output{FlushInterval: 24 * time.Hour}, nil)
	s.After = c.After
	run(t, s)
	testutil.WaitFor(t, 10*time.Second, "resend", func() bool { return up.delivered() == lines(0, 5) })
}

// TestNotifyWakes checks that an idle Sender sends as soon as it is
// notified, long before its flush interval.
func TestNotifyWakes(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	sink := &scripted{}
	s := NewSender(st, sink, rules.Output{FlushInterval: 24 * time.Hour}, nil)
	run(t, s)
	for i := range 3 {
		push(t, st, sink.Name(), lines(i, i+1), 100)
		s.Notify()
		testutil.WaitFor(t, 10*time.Second, "the notified line", func() bool { return sink.delivered() == lines(0, i+1) })
	}
}

func BenchmarkPushAndDrain(b *testing.B) {
	st, err := state.Open(filepath.Join(b.TempDir(), "state.db"), state.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	sink := NewWriterSink("bench", &discard{})
	s := NewSender(st, sink, rules.Output{}, nil)
	batch := []byte(lines(0, 500))
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		if err := st.Update(func(tx *state.Tx) error {
			_, err := Push(tx, sink.Name(), batch, 0)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		if err := s.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// hookedSink runs before ahead of each delivery of a scripted sink.
type hookedSink struct {
	*scripted
	before func(send int)
}

func (h *hookedSink) Send(ctx context.Context, lines []byte) error {
	h.mu.Lock()
	n := h.sends
	h.mu.Unlock()
	h.before(n)
	return h.scripted.Send(ctx, lines)
}

// TestSenderNeverResendsWhatItDelivered: when the acknowledgement of
// delivered records cannot be written (the state file cannot grow: a real
// file-size limit on this process), the sender retries the acknowledgement
// and never delivers those records again, so a stream destination (stdout,
// a file, UDP) gets every record once.
func TestSenderNeverResendsWhatItDelivered(t *testing.T) {
	// Writing past the limit fails with EFBIG instead of killing the
	// process, as the daemon's own runtime arranges.
	signal.Ignore(syscall.SIGXFSZ)
	defer signal.Reset(syscall.SIGXFSZ)
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
		t.Fatal(err)
	}
	setLimit := func(cur uint64) {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: cur, Max: orig.Max}); err != nil {
			t.Fatalf("setrlimit: %v", err)
		}
	}
	defer setLimit(orig.Cur)

	path := filepath.Join(t.TempDir(), "state.db")
	st := openStore(t, path)
	sink := &hookedSink{scripted: &scripted{}}
	sink.before = func(send int) {
		if send == 0 {
			// The state file is full from the first delivery on.
			fi, err := os.Stat(path)
			if err != nil {
				t.Error(err)
				return
			}
			setLimit(uint64(fi.Size()))
		}
	}
	s := NewSender(st, sink, rules.Output{BatchSize: 100, FlushInterval: 24 * time.Hour}, nil)
	s.Backoff = Backoff{Min: time.Millisecond, Max: 10 * time.Millisecond}
	s.After = (&clock{}).After
	push(t, st, sink.Name(), lines(0, 10), 1000)
	stop := run(t, s)
	defer stop()
	testutil.WaitFor(t, 10*time.Second, "acknowledgements to fail three times", func() bool {
		return s.Stats().Failures >= 3
	})
	setLimit(orig.Cur)
	testutil.WaitFor(t, 10*time.Second, "the spool to empty", func() bool {
		return len(spooled(t, st, sink.Name())) == 0
	})
	stop()
	if got, want := sink.delivered(), lines(0, 10); got != want {
		t.Errorf("delivered:\n%s\nwant every line once:\n%s", got, want)
	}
	if sink.sends != 1 {
		t.Errorf("%d deliveries, want 1", sink.sends)
	}
	if !strings.Contains(s.Stats().LastError, "ack spool") {
		t.Errorf("last error %q, want the failed acknowledgement", s.Stats().LastError)
	}
}
