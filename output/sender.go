package output

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtally/logtally/internal/text"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// Defaults for an output's settings left at zero.
const (
	// DefaultBatchSize is the number of lines per request.
	DefaultBatchSize = 5000
	// DefaultSpoolSize is the number of lines a spool keeps while its
	// destination is down: a week of 50 measurements at 5-minute
	// intervals, about 20 MB. The state file is held in memory, so the
	// bound is one of memory as well as disk.
	DefaultSpoolSize = 100_000
	// DefaultFlushInterval is how often an idle Sender looks at its spool
	// without being notified.
	DefaultFlushInterval = 10 * time.Second
)

// Push appends lines (newline-terminated line protocol, as AppendPoint
// writes it) to the spool of the destination named sink, one record per
// line, in the caller's transaction: the daemon calls it in the commit of
// the interval the lines describe. A spool holds at most spoolSize lines
// (DefaultSpoolSize when not positive); beyond that the oldest are dropped,
// and Push returns how many.
func Push(tx *state.Tx, sink string, lines []byte, spoolSize int) (dropped int, err error) {
	if spoolSize <= 0 {
		spoolSize = DefaultSpoolSize
	}
	records := make([]string, 0, bytes.Count(lines, []byte("\n"))+1)
	for line := range bytes.Lines(lines) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) > 0 {
			records = append(records, string(line))
		}
	}
	if len(records) == 0 {
		return 0, nil
	}
	dropped, err = tx.SpoolPush(sink, records, spoolSize)
	if err != nil {
		return dropped, fmt.Errorf("spool push %s: %w", sink, err)
	}
	return dropped, nil
}

// Backoff is a retry policy: the wait before retry n (from 1) is Min·2ⁿ⁻¹,
// at most Max, of which a random half is taken off ("equal jitter") so that
// a fleet of hosts does not return in step after an outage.
type Backoff struct {
	Min time.Duration
	Max time.Duration
}

// DefaultBackoff retries after 1 s, 2 s, 4 s, … up to a minute, so an
// outage of an hour costs about sixty attempts and the spool starts to
// drain within a minute of the destination's return.
var DefaultBackoff = Backoff{Min: time.Second, Max: time.Minute}

// Delay is the wait before retry attempt (1 for the first retry); r is a
// random number in [0, 1).
func (b Backoff) Delay(attempt int, r float64) time.Duration {
	b = b.withDefaults()
	d := b.Min
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + time.Duration(r*float64(d/2))
}

// withDefaults fills zero fields from DefaultBackoff.
func (b Backoff) withDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = DefaultBackoff.Min
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	b.Max = max(b.Max, b.Min)
	return b
}

// SenderStats are a Sender's counters since it was made, and its spool's.
type SenderStats struct {
	Sent          uint64    // lines the destination accepted
	Batches       uint64    // successful sends
	Failures      uint64    // failed send attempts (each one retried)
	Invalid       uint64    // lines the destination rejected as malformed, dropped
	Depth         uint64    // lines waiting in the spool
	DroppedFull   uint64    // lines ever dropped because the spool was full
	LastError     string    // the last failure, "" if none yet
	LastErrorTime time.Time // when it happened
	LastSent      time.Time // the last successful send
}

// Sender drains one destination's spool in order: it peeks a batch, sends
// it and acknowledges it, retrying failures with backoff. Run does the
// work; nothing starts before it is called.
type Sender struct {
	// Backoff is the retry policy; set before Run. Zero fields take
	// DefaultBackoff's values.
	Backoff Backoff
	// After is the clock the Sender waits on: it returns a channel that
	// receives once d has passed. Nil means real time; tests set it to skip
	// backoff periods. Set before Run.
	After func(d time.Duration) <-chan time.Time

	store *state.Store
	sink  Sink
	name  string
	batch int
	flush time.Duration
	log   *slog.Logger
	wake  chan struct{}

	drainMu sync.Mutex // one drain at a time: Run and Flush
	// deliveredTo is the spool index below which records reached the sink
	// but could not be acknowledged in the state file (a full disk): this
	// process never sends them again, it retries the acknowledgement. Only
	// a crash before the acknowledgement lands can resend them. Guarded by
	// drainMu.
	deliveredTo uint64

	sent, batches, failures, invalid atomic.Uint64

	mu      sync.Mutex
	lastErr error
	errTime time.Time
	sentAt  time.Time
}

// NewSender returns a Sender for sink, whose spool lives in store; o gives
// the batch size and flush interval. log may be nil.
func NewSender(store *state.Store, sink Sink, o rules.Output, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Sender{
		store: store,
		sink:  sink,
		name:  sink.Name(),
		batch: o.BatchSize,
		flush: o.FlushInterval,
		log:   log.With("output", sink.Name()),
		wake:  make(chan struct{}, 1),
	}
	if s.batch <= 0 {
		s.batch = DefaultBatchSize
	}
	if s.flush <= 0 {
		s.flush = DefaultFlushInterval
	}
	return s
}

// Notify wakes the Sender to look at its spool now; the daemon calls it
// after each commit. It never blocks.
func (s *Sender) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run drains the spool until ctx is cancelled, then returns nil. It sends
// at once what a previous run left, then whenever Notify is called or the
// flush interval passes. A failed send is retried after a backoff; the
// records stay in the spool meanwhile, and a Notify does not cut the
// backoff short. Run never gives up: errors are logged and counted.
// The caller closes the sink after Run returns.
func (s *Sender) Run(ctx context.Context) error {
	attempt := 0
	for {
		err := s.drain(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait <-chan time.Time
		if err != nil {
			attempt++
			d := s.Backoff.Delay(attempt, rand.Float64())
			var he *HTTPError
			if errors.As(err, &he) && he.RetryAfter > d {
				d = min(he.RetryAfter, s.Backoff.withDefaults().Max)
			}
			s.log.Warn("output failed; records kept in the spool", "attempt", attempt,
				"retry_in", d, "spool_depth", s.depth(), "err", err)
			wait = s.after(d)
		} else {
			if attempt > 0 {
				s.log.Info("output recovered", "failed_attempts", attempt)
			}
			attempt = 0
			wait = s.after(s.flush)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wait:
		case <-s.wake:
			if err != nil {
				select { // keep backing off
				case <-ctx.Done():
					return nil
				case <-wait:
				}
			}
		}
	}
}

// Flush sends everything in the spool now and returns the first error; it
// does not retry. It is for a last attempt at shutdown, under a deadline,
// and for one-shot commands.
func (s *Sender) Flush(ctx context.Context) error {
	return s.drain(ctx)
}

func (s *Sender) after(d time.Duration) <-chan time.Time {
	if s.After != nil {
		return s.After(d)
	}
	return time.After(d)
}

// drain sends batches until the spool is empty or a send fails.
func (s *Sender) drain(ctx context.Context) error {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	for ctx.Err() == nil {
		var recs []string
		var next uint64
		if err := s.store.View(func(tx *state.Tx) error {
			var err error
			recs, next, err = tx.SpoolPeek(s.name, s.batch)
			return err
		}); err != nil {
			return s.failed(fmt.Errorf("read spool %s: %w", s.name, err))
		}
		if len(recs) == 0 {
			return nil
		}
		// Records are numbered consecutively from the head, so the first
		// one peeked is next-len(recs).
		first := next - uint64(len(recs))
		if s.deliveredTo > first {
			// Delivered before, its acknowledgement failed: acknowledge
			// again rather than deliver twice.
			if err := s.ack(min(s.deliveredTo, next)); err != nil {
				return err
			}
			continue
		}
		done, sendErr := s.send(ctx, recs)
		if done > 0 {
			s.deliveredTo = first + uint64(done)
			if err := s.ack(s.deliveredTo); err != nil {
				return err
			}
		}
		if sendErr != nil {
			if ctx.Err() != nil {
				return sendErr
			}
			return s.failed(sendErr)
		}
	}
	return ctx.Err()
}

// ack removes the records before index to from the spool.
func (s *Sender) ack(to uint64) error {
	if err := s.store.Update(func(tx *state.Tx) error { return tx.SpoolAck(s.name, to) }); err != nil {
		return s.failed(fmt.Errorf("ack spool %s: %w", s.name, err))
	}
	return nil
}

// send delivers recs in order and returns how many leading records are
// done with: sent, or dropped because the destination rejected them. A
// rejected batch is split in halves until the bad lines are isolated.
func (s *Sender) send(ctx context.Context, recs []string) (int, error) {
	var buf bytes.Buffer
	for _, r := range recs {
		buf.WriteString(r)
		buf.WriteByte('\n')
	}
	err := s.sink.Send(ctx, buf.Bytes())
	switch {
	case err == nil:
		s.sent.Add(uint64(len(recs)))
		s.batches.Add(1)
		s.mu.Lock()
		s.sentAt = time.Now()
		s.mu.Unlock()
		return len(recs), nil
	case !errors.Is(err, ErrRejected) || ctx.Err() != nil:
		return 0, err
	case len(recs) == 1:
		s.invalid.Add(1)
		s.log.Error("output rejected a line; dropped", "line", text.Prefix(recs[0], 512), "err", err)
		return 1, nil
	}
	mid := len(recs) / 2
	n, err := s.send(ctx, recs[:mid])
	if err != nil {
		return n, err
	}
	m, err := s.send(ctx, recs[mid:])
	return n + m, err
}

func (s *Sender) failed(err error) error {
	s.failures.Add(1)
	s.mu.Lock()
	s.lastErr, s.errTime = err, time.Now()
	s.mu.Unlock()
	return err
}

func (s *Sender) depth() uint64 {
	m, _ := s.meta()
	return m.Len()
}

func (s *Sender) meta() (state.SpoolMeta, error) {
	var m state.SpoolMeta
	err := s.store.View(func(tx *state.Tx) error {
		var err error
		m, err = tx.SpoolMeta(s.name)
		return err
	})
	return m, err
}

// Stats returns the Sender's counters and its spool's depth.
func (s *Sender) Stats() SenderStats {
	m, _ := s.meta()
	st := SenderStats{
		Sent:        s.sent.Load(),
		Batches:     s.batches.Load(),
		Failures:    s.failures.Load(),
		Invalid:     s.invalid.Load(),
		Depth:       m.Len(),
		DroppedFull: m.Dropped,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastErr != nil {
		st.LastError = strings.ToValidUTF8(s.lastErr.Error(), "\uFFFD")
		st.LastErrorTime = s.errTime
	}
	st.LastSent = s.sentAt
	return st
}

// Name is the name of the Sender's destination and spool.
func (s *Sender) Name() string { return s.name }
