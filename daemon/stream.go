package daemon

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/measure"
	"github.com/logtally/logtally/rules"
)

// Stream kinds.
const (
	kindFile     = "file"     // followed file(s): path or glob
	kindWhole    = "whole"    // track_growing_file: false: the whole file each interval
	kindPipe     = "pipe"     // long-running command
	kindInterval = "interval" // command run once per interval
)

// streamSource names the stream a measurement reads; measurements with the
// same source share one follower and one match.Set.
func streamSource(m *rules.Measurement) string {
	switch {
	case m.StreamType == rules.StreamPipe:
		return measure.PipeSource(m)
	case !m.TrackGrowing:
		return "whole:" + m.Path
	default:
		return m.Path
	}
}

func streamKind(m *rules.Measurement) string {
	switch {
	case m.StreamType == rules.StreamPipe && m.PipeMode == rules.PipeInterval:
		return kindInterval
	case m.StreamType == rules.StreamPipe:
		return kindPipe
	case !m.TrackGrowing:
		return kindWhole
	default:
		return kindFile
	}
}

// stream is one followed source and the accumulators its lines are folded
// into. Its follower calls Batch and Event; the daemon's loop calls take at
// the end of each interval. mu makes a batch's lines and its end position
// one unit with respect to take: a commit never has one without the other.
type stream struct {
	source   string
	kind     string
	path     string // file path or glob (file and whole kinds)
	interval time.Duration
	clock    follow.Clock
	log      *slog.Logger
	// saveStart saves where reading of a newly opened file starts, unless
	// a position is already saved under its name (file streams).
	saveStart func(p follow.Position)

	// The follower, set once at start.
	files   *follow.Files
	pipe    *follow.Pipe
	cancel  context.CancelFunc
	done    chan struct{}
	running atomic.Bool // an interval command is running

	mu      sync.Mutex
	group   *measure.Group
	matcher *match.Matcher
	dater   *measure.Dater // dates backlog lines for each measurement

	cur        []*measure.Accumulator
	past       map[int64][]*measure.Accumulator // by interval start (Unix seconds)
	lines      uint64                           // lines delivered since the last take
	positions  map[string]follow.Position       // changed since the last take
	closed     map[string]bool                  // positions no longer needed
	curStart   time.Time
	lowerBound time.Time // backlog lines dated before this are clamped to it
	lost       bool      // a backlog was incomplete (lines may be lost)
	// observedFrom is when the stream began to be observed, for a stream
	// that started with nothing to catch up (a new file, a long-running
	// command): its first interval is only partly observed. Zero once an
	// interval has closed, or when the stream resumed where it was.
	observedFrom time.Time
}

// setGroup installs a (new) group, keeping the accumulators of the
// measurements that still exist, by handle. Callers hold s.mu or own s.
func (s *stream) setGroup(g *measure.Group) {
	old := map[string]int{}
	if s.group != nil {
		for i, m := range s.group.Measurements {
			old[m.Handle] = i
		}
	}
	remap := func(accs []*measure.Accumulator) []*measure.Accumulator {
		out := make([]*measure.Accumulator, len(g.Measurements))
		for i, m := range g.Measurements {
			if j, ok := old[m.Handle]; ok && accs != nil {
				out[i] = accs[j]
			} else {
				out[i] = measure.NewAccumulator(m)
			}
		}
		return out
	}
	s.cur = remap(s.cur)
	for t, accs := range s.past {
		s.past[t] = remap(accs)
	}
	s.group = g
	s.matcher = g.Set().NewMatcher()

	s.dater = measure.NewDater(g.Measurements)
}

// Batch folds a batch of lines; see follow.Handler.
func (s *stream) Batch(b *follow.Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var now time.Time
	if b.Backlog {
		now = s.clock.Now()
	}
	for _, l := range b.Lines {
		s.lines++
		hits := s.matcher.Match(l.Data)
		if len(hits) == 0 {
			continue
		}
		if !b.Backlog {
			for i := range hits {
				s.cur[hits[i].Rule].Add(&hits[i])
			}
			continue
		}
		s.dater.Reset()
		for i := range hits {
			h := &hits[i]
			acc := s.attribute(h, l.Data, now)
			acc.Add(h)
		}
	}
	if p := b.End; s.kind == kindFile && !p.IsZero() && p.Path != "" {
		s.positions[p.Path] = p
		delete(s.closed, p.Path)
	}
}

// attribute returns the accumulator a backlog hit belongs to: the interval
// of the line's own timestamp when that falls between the lower bound and
// the current interval, else the current interval.
func (s *stream) attribute(h *match.Hit, line []byte, now time.Time) *measure.Accumulator {
	cur := s.cur[h.Rule]
	if !h.Selected {
		return cur
	}
	at, ok := s.dater.Time(h.Rule, line, now)
	if !ok {
		cur.Undated++
		return cur
	}
	start := at.Truncate(s.interval)
	if start.Before(s.lowerBound) {
		start = s.lowerBound
	}
	if !start.Before(s.curStart) {
		return cur
	}
	accs := s.past[start.Unix()]
	if accs == nil {
		accs = make([]*measure.Accumulator, len(s.group.Measurements))
		for i, m := range s.group.Measurements {
			accs[i] = measure.NewAccumulator(m)
		}
		s.past[start.Unix()] = accs
	}
	acc := accs[h.Rule]
	acc.Backdated++
	return acc
}

// Event keeps the positions in step with what happened to the source,
// then logs it; see follow.Handler.
func (s *stream) Event(e follow.Event) {
	// State first, then the log line: once the log says a file was
	// opened, its start position is in the state file.
	switch e.Kind {
	case follow.EventOpen, follow.EventReset:
		if s.kind == kindFile && s.saveStart != nil && e.Start.Path != "" && !e.Start.IsZero() {
			s.saveStart(e.Start)
		}
	case follow.EventClose, follow.EventDelete:
		if e.Path != "" && s.kind == kindFile {
			s.mu.Lock()
			s.closed[e.Path] = true
			delete(s.positions, e.Path)
			s.mu.Unlock()
		}
	case follow.EventLost:
		s.mu.Lock()
		s.lost = true
		s.mu.Unlock()
	}
	attrs := []any{"stream", s.source, "event", e.Kind.String()}
	// Name the file unless it is the stream's own path: a glob stream's
	// events are about one of its matches.
	if e.Path != "" && e.Path != s.source {
		attrs = append(attrs, "path", e.Path)
	}
	if e.Pid != 0 {
		attrs = append(attrs, "pid", e.Pid)
	}
	if e.Detail != "" {
		attrs = append(attrs, "detail", e.Detail)
	}
	if e.Err != nil {
		attrs = append(attrs, "err", e.Err)
	}
	switch e.Kind {
	case follow.EventOpenError, follow.EventLost, follow.EventStartError, follow.EventKill:
		s.log.Warn("stream", attrs...)
	case follow.EventExit:
		if e.Err != nil {
			s.log.Warn("stream", attrs...)
		} else {
			s.log.Debug("stream", attrs...)
		}
	default:
		s.log.Info("stream", attrs...)
	}
}

// taken is what a stream had accumulated when an interval closed.
type taken struct {
	measurements []*rules.Measurement
	cur          []*measure.Accumulator
	past         map[int64][]*measure.Accumulator
	lines        uint64
	positions    map[string]follow.Position
	closed       []string
	lost         bool
	lowerBound   time.Time // the stream's lower bound before the take
	observedFrom time.Time // see stream.observedFrom
}

// take hands over everything accumulated and starts afresh for the
// interval that begins at next; backlog lines read from now on are not
// dated before lower.
func (s *stream) take(next, lower time.Time) taken {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := taken{
		measurements: s.group.Measurements,
		cur:          s.cur,
		past:         s.past,
		lines:        s.lines,
		positions:    s.positions,
		lost:         s.lost,
		lowerBound:   s.lowerBound,
		observedFrom: s.observedFrom,
	}
	s.observedFrom = time.Time{}
	for p := range s.closed {
		t.closed = append(t.closed, p)
	}
	s.cur = make([]*measure.Accumulator, len(s.group.Measurements))
	for i, m := range s.group.Measurements {
		s.cur[i] = measure.NewAccumulator(m)
	}
	s.past = map[int64][]*measure.Accumulator{}
	s.lines = 0
	s.positions = map[string]follow.Position{}
	s.closed = map[string]bool{}
	s.curStart = next
	s.lowerBound = lower
	s.lost = false
	return t
}
