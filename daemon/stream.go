package daemon

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/rules"
)

// stream is one followed source and the accumulators its lines are folded
// into. Its follower calls Batch and Event; the daemon's loop calls take at
// the end of each interval. mu makes a batch's lines and its end position
// one unit with respect to take: a commit never has one without the other.
type stream struct {
	source   string
	kind     interval.Kind
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

	mu    sync.Mutex
	group *interval.Group
	// fold holds the intervals of the lines delivered since the last take:
	// the current one, and earlier ones that backlog lines were dated to.
	fold       *interval.Fold
	positions  map[string]follow.Position // changed since the last take
	closed     map[string]follow.Position // positions no longer needed, if still of that file
	curStart   time.Time
	lowerBound time.Time // backlog lines dated before this are clamped to it
	lost       bool      // a backlog was incomplete (lines may be lost)
	// observedFrom is when the stream began to be observed, for a stream
	// that started with nothing to catch up (a new file, a long-running
	// command): its first interval is only partly observed. Zero once an
	// interval has closed, or when the stream resumed where it was.
	observedFrom time.Time

	// A snapshot stream (an interval command, a file read whole) with
	// ifelapsed is not sampled every interval: sampledAt is the start of
	// the interval it was last sampled in (the daemon's loop only);
	// skipped says the current interval was not; cache holds each
	// measurement's last sampled interval, which a skipped one repeats.
	sampledAt time.Time
	skipped   bool
	cache     map[string]interval.Snapshot
}

// due reports whether the snapshot stream must be sampled in the interval
// starting at start: when any of its measurements' ifelapsed has passed.
func (s *stream) due(start time.Time) bool {
	for _, m := range s.group.Measurements {
		if due(m, s.sampledAt, start) {
			return true
		}
	}
	return false
}

// expireAfter is how long one sampling of the stream may take.
func (s *stream) expireAfter() time.Duration {
	limit := DefaultSampleLimit
	for _, m := range s.group.Measurements {
		if m.ExpireAfter > 0 && m.ExpireAfter < limit {
			limit = m.ExpireAfter
		}
	}
	return limit
}

// setGroup installs a (new) group, keeping the accumulators of the
// measurements that still exist, by handle. Callers hold s.mu or own s.
func (s *stream) setGroup(g *interval.Group) {
	if s.fold == nil {
		s.fold = g.NewFold(s.interval)
	} else {
		s.fold = s.fold.Regroup(g)
	}
	s.group = g
}

// Batch folds a batch of lines; see follow.Handler.
func (s *stream) Batch(b *follow.Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := interval.Live(s.curStart)
	if b.Backlog {
		d = interval.Dating{Arrival: s.curStart, ByTimestamp: true, Lower: s.lowerBound, Ref: s.clock.Now()}
	}
	for _, l := range b.Lines {
		s.fold.Line(l.Data, l.Cut, d)
	}
	if p := b.End; s.kind == interval.KindFile && !p.IsZero() && p.Path != "" {
		s.positions[p.Path] = p
		delete(s.closed, p.Path)
	}
}

// drop marks the position saved under path as no longer needed if it is
// still of the file id names (another file may have taken the name since).
// Callers hold s.mu.
func (s *stream) drop(path string, id follow.Position) {
	if path == "" {
		return
	}
	if p, ok := s.positions[path]; ok {
		if p.Dev != id.Dev || p.Ino != id.Ino {
			return // the name is another file's now
		}
		delete(s.positions, path)
	}
	s.closed[path] = id
}

// Event keeps the positions in step with what happened to the source,
// then logs it; see follow.Handler.
func (s *stream) Event(e follow.Event) {
	// State first, then the log line: once the log says a file was
	// opened, its start position is in the state file.
	if s.kind == interval.KindFile {
		switch e.Kind {
		case follow.EventOpen, follow.EventReset:
			if s.saveStart != nil && e.Pos.Path != "" {
				s.saveStart(e.Pos)
			}
		}
		s.mu.Lock()
		switch e.Kind {
		case follow.EventClose, follow.EventDelete:
			s.drop(e.Path, e.Pos)
		case follow.EventMove:
			s.drop(e.Path, e.Pos)
			fallthrough
		default:
			if e.Pos.Path != "" {
				s.positions[e.Pos.Path] = e.Pos
				delete(s.closed, e.Pos.Path)
			}
		}
		s.mu.Unlock()
	}
	if e.Kind == follow.EventLost {
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
	group        *interval.Group
	buckets      map[int64]*interval.Bucket // by interval start (Unix seconds)
	positions    map[string]follow.Position
	closed       map[string]follow.Position
	lost         bool
	lowerBound   time.Time // the stream's lower bound before the take
	observedFrom time.Time // see stream.observedFrom
	skipped      bool      // see stream.skipped
}

// take hands over everything accumulated and starts afresh for the
// interval that begins at next; backlog lines read from now on are not
// dated before lower.
func (s *stream) take(next, lower time.Time) taken {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := taken{
		group:        s.group,
		buckets:      s.fold.Take(),
		positions:    s.positions,
		lost:         s.lost,
		lowerBound:   s.lowerBound,
		observedFrom: s.observedFrom,
		skipped:      s.skipped,
	}
	s.observedFrom = time.Time{}
	s.skipped = false
	t.closed = s.closed
	s.positions = map[string]follow.Position{}
	s.closed = map[string]follow.Position{}
	s.curStart = next
	s.lowerBound = lower
	s.lost = false
	return t
}

// remember keeps, for a snapshot stream with ifelapsed, what each of its
// measurements had in the interval just sampled (b, nil when no line came).
func (s *stream) remember(g *interval.Group, b *interval.Bucket) {
	if s.kind != interval.KindInterval && s.kind != interval.KindWhole {
		return
	}
	for i, m := range g.Measurements {
		if m.IfElapsed <= 0 {
			continue
		}
		if s.cache == nil {
			s.cache = map[string]interval.Snapshot{}
		}
		a := interval.NewAccumulator(m)
		if b != nil && b.Acc[i] != nil {
			a = b.Acc[i]
		}
		s.cache[m.Handle] = a.Snapshot()
	}
}

// repeat gives each measurement of a snapshot stream that was not sampled
// this interval (ifelapsed) its last sampled interval again; a log
// measurement has none.
func (s *stream) repeat(c *interval.Closing, g *interval.Group) {
	for _, m := range g.Measurements {
		snap, ok := s.cache[m.Handle]
		if !ok || m.HistoryType == rules.HistoryLog {
			continue
		}
		a := interval.NewAccumulator(m)
		a.Restore(snap)
		c.Sampled(m.Handle, a)
	}
}
