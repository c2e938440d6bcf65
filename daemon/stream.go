package daemon

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/interval"
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
	}
	s.observedFrom = time.Time{}
	t.closed = s.closed
	s.positions = map[string]follow.Position{}
	s.closed = map[string]follow.Position{}
	s.curStart = next
	s.lowerBound = lower
	s.lost = false
	return t
}
