package daemon

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/rules"
)

// stream is one followed source and the intervals its lines are folded
// into.
//
// # Lines are stamped with the interval they arrive in
//
// A batch delivered by the follower belongs to the interval the stream is
// in when the batch is handed over (arrival), or, for an interval command
// and a whole-file read, to the interval the run was started for. Its lines
// are matched and folded outside the stream's lock, into a fold of their
// own, which is then merged, with the batch's end position, under the lock
// in one step: matching, however slow, never holds up another stream or
// the commit, and a commit never has a batch's lines without its position
// or the other way round.
//
// At the end of an interval the daemon cuts every stream (cut): from then
// on its batches belong to the next interval. An interval of a stream is
// complete once it is cut and no batch stamped with it is still being
// folded; only then is it taken (take) and committed. A stream that is
// slow (a matcher at its time limit, a command still running) is late with
// its own intervals: they are taken and committed on their own when they
// are complete, and the other streams' are committed on time. Each
// interval is taken exactly once, with the positions of its batches.
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
	// ready tells the daemon that a late interval may be complete.
	ready func()

	// The follower, set once at start.
	files   *follow.Files
	pipe    *follow.Pipe
	journal *follow.Journal
	cancel  context.CancelFunc
	done    chan struct{}
	running atomic.Bool // an interval command or whole-file read is running
	// run is closed when the interval command's latest run has ended
	// (guarded by mu; nil before the first).
	run     chan struct{}
	syncing atomic.Bool // a sync at an interval's end is under way
	// stopping makes batches in progress stop folding, and drop what they
	// folded: the daemon is shutting down, or the stream was removed.
	stopping atomic.Bool

	mu    sync.Mutex
	group *interval.Group
	fold  *interval.Fold // the intervals folded and not yet taken
	spare *interval.Fold // an empty fold of group for the next batch
	// lastLines holds, by source (a file of the stream), the line that
	// ended its last batch, which the first line of its next batch may
	// repeat (BSD syslogd's "last message repeated N times"); at most
	// maxLastLines sources.
	lastLines map[string]*interval.LastLine
	arrival   time.Time // the interval lines read now belong to
	lower     time.Time // backlog lines dated before it count at it
	parts     map[int64]*part
	// orphans are what measurements the stream's group lost (at a reload)
	// counted in intervals not taken yet.
	orphans []orphan
	// observedFrom is when the stream began to be observed, for a stream
	// that started with nothing to catch up (a new file, a long-running
	// command): its first interval is only partly observed. Zero once an
	// interval has been cut, or when the stream resumed where it was.
	observedFrom time.Time
	// catchFrom is the first interval of the downtime the stream's backlog
	// covers, for a file followed without a break (its position resumed):
	// the downtime's intervals are real zeros where nothing was written.
	// Zero once taken.
	catchFrom time.Time

	// A snapshot stream (an interval command, a file read whole) with
	// ifelapsed is not sampled every interval: sampledAt is the start of
	// the interval it was last sampled in (the daemon's loop only); cache
	// holds each measurement's last sampled interval, which an interval
	// it was not sampled in repeats (guarded by the daemon's mu).
	sampledAt time.Time
	cache     map[string]interval.Snapshot

	// Availability, as last committed (guarded by the daemon's mu).
	down              bool
	downSince         time.Time
	downWhy           string
	warned            bool   // the outage was logged by this process
	unavailable       uint64 // intervals committed as unavailable
	unavailableBefore uint64 // unavailable when the outage began

	// quiet mirrors warned for the goroutines that do not hold the
	// daemon's mu (the follower's events, the interval commands): while
	// an outage is logged, the failures that prolong it (a command that
	// exits again, cannot start again, is killed again) are logged at
	// DEBUG, so that an outage is one WARN, not one per interval.
	quiet atomic.Bool
}

// part is what a stream knows of one interval it read lines in (by
// arrival), apart from the lines' values: the batches still being folded,
// the positions the folded ones reached, and how the stream fared.
type part struct {
	inflight  int
	cut       bool // the interval has ended for this stream: no new batch joins it
	positions map[string]follow.Position
	closed    ended  // positions no longer needed, if still of one of those files
	lost      bool   // a backlog was incomplete (lines may be lost)
	short     bool   // the stream began during the interval
	down      string // why the stream could not be read, "" when it could
	skipped   bool   // a snapshot stream not sampled (ifelapsed): its last sample stands
}

// ended lists, per name, the files (device, inode) whose position saved
// under that name is no longer needed: closed, deleted, or moved to
// another name. A name can see several files end in one interval
// (copytruncate with compress: app.log.1 moved to app.log.2.gz, then
// another copy taken as app.log.1 and read to its end), and the state
// file may still hold the position of any of them, saved by an earlier
// commit or at once when it was opened: each is deleted unless another
// file's position has taken the name.
type ended map[string][]follow.Position

// add records that the file id under path has ended.
func (e ended) add(path string, id follow.Position) {
	if !e.has(path, id) {
		e[path] = append(e[path], follow.Position{Path: path, Dev: id.Dev, Ino: id.Ino})
	}
}

// remove forgets that the file id under path ended (it is read again).
func (e ended) remove(path string, id follow.Position) {
	ids := slices.DeleteFunc(e[path], func(x follow.Position) bool { return sameFile(x, id) })
	if len(ids) == 0 {
		delete(e, path)
		return
	}
	e[path] = ids
}

// has reports whether the file id under path has ended.
func (e ended) has(path string, id follow.Position) bool {
	return slices.ContainsFunc(e[path], func(x follow.Position) bool { return sameFile(x, id) })
}

// sameFile reports whether two positions are of the same file.
func sameFile(a, b follow.Position) bool { return a.Dev == b.Dev && a.Ino == b.Ino }

// part returns the part of the interval starting at t. Callers hold s.mu.
func (s *stream) part(t time.Time) *part {
	p := s.parts[t.Unix()]
	if p == nil {
		p = &part{positions: map[string]follow.Position{}, closed: ended{}}
		s.parts[t.Unix()] = p
	}
	return p
}

// due reports whether the snapshot stream must be sampled in the interval
// starting at start: when any of its measurements' ifelapsed has passed.
func (s *stream) due(start time.Time) bool {
	s.mu.Lock()
	g := s.group
	s.mu.Unlock()
	for _, m := range g.Measurements {
		if due(m, s.sampledAt, start) {
			return true
		}
	}
	return false
}

// skip marks the interval starting at at as not sampled (ifelapsed): the
// stream's last sample stands for it.
func (s *stream) skip(at time.Time) {
	s.mu.Lock()
	s.part(at).skipped = true
	s.mu.Unlock()
}

// expireAfter is how long one sampling of the stream may take.
func (s *stream) expireAfter() time.Duration {
	s.mu.Lock()
	g := s.group
	s.mu.Unlock()
	limit := DefaultSampleLimit
	for _, m := range g.Measurements {
		if m.ExpireAfter > 0 && m.ExpireAfter < limit {
			limit = m.ExpireAfter
		}
	}
	return limit
}

// remember keeps, for a snapshot stream with ifelapsed, what each of its
// measurements had in an interval it was sampled in (b, nil when no line
// came).
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
// in the interval starting at at (ifelapsed) its last sampled interval
// again; a log measurement has none.
func (s *stream) repeat(c *interval.Closing, g *interval.Group, at time.Time) {
	for _, m := range g.Measurements {
		snap, ok := s.cache[m.Handle]
		if !ok || m.HistoryType == rules.HistoryLog {
			continue
		}
		a := interval.NewAccumulator(m)
		a.Restore(snap)
		c.SampledAt(at, m.Handle, a)
	}
}

// setGroup installs a (new) group, keeping what was folded of the
// measurements that still exist, by handle, and as orphans what the
// others counted. Callers hold s.mu or own s.
func (s *stream) setGroup(g *interval.Group) {
	if s.fold == nil {
		s.fold = g.NewFold(s.interval)
	} else {
		s.adopt(s.fold, g)
		s.fold = s.fold.Regroup(g)
	}
	s.group, s.spare = g, nil
}

// orphan is what a measurement that a stream's group lost at a reload
// (removed from the rules, or moved to another stream) counted in one
// interval before it: it is taken with that interval and closed with it,
// merged by handle (a measurement removed has it as a partial sample; see
// interval.Engine.Close).
type orphan struct {
	at     int64 // the interval's start, Unix seconds
	handle string
	acc    *interval.Accumulator
}

// adopt moves the accumulators of the measurements of f that g has not
// out of f, into the stream's orphans. Callers hold s.mu or own s.
func (s *stream) adopt(f *interval.Fold, g *interval.Group) {
	if f.Group == g {
		return
	}
	kept := make(map[string]bool, len(g.Measurements))
	for _, m := range g.Measurements {
		kept[m.Handle] = true
	}
	for _, ts := range slices.Sorted(maps.Keys(f.Buckets)) {
		b := f.Buckets[ts]
		for i, m := range f.Group.Measurements {
			if b.Acc[i] != nil && !kept[m.Handle] {
				s.orphans = append(s.orphans, orphan{at: ts, handle: m.Handle, acc: b.Acc[i]})
				b.Acc[i] = nil
			}
		}
	}
}

// Batch folds a batch the follower read, into the interval it arrives in;
// see follow.Handler.
func (s *stream) Batch(b *follow.Batch) { s.batch(b, time.Time{}) }

// stamped delivers a run's batches to its stream, all in the interval the
// run is for.
type stamped struct {
	s  *stream
	at time.Time
}

func (h stamped) Batch(b *follow.Batch) { h.s.batch(b, h.at) }
func (h stamped) Event(e follow.Event)  { h.s.Event(e) }

// batch folds a batch into the interval starting at at, or, when at is
// zero, into the interval it arrives in.
func (s *stream) batch(b *follow.Batch, at time.Time) {
	s.mu.Lock()
	if at.IsZero() {
		at = s.arrival
	}
	p := s.part(at)
	p.inflight++
	f := s.spare
	s.spare = nil
	if f == nil {
		f = s.group.NewFold(s.interval)
	}
	last := s.lastLine(b.Source)
	f.Resume(last)
	d := interval.Live(at)
	if b.Backlog {
		d = interval.Dating{Arrival: at, ByTimestamp: true, Lower: s.lower, Ref: s.clock.Now()}
	}
	s.mu.Unlock()

	complete := true
	for _, l := range b.Lines {
		if s.stopping.Load() {
			complete = false
			break
		}
		f.LineAt(l.Data, l.Cut, d, l.Time) // a journal entry is dated by its own time
	}

	s.mu.Lock()
	if complete {
		f.Suspend(last)
		s.adopt(f, s.group) // the rules changed while it was folded
		f.Flush(s.fold)
		if pos := b.End; s.kind == interval.KindFile && !pos.IsZero() && pos.Path != "" {
			p.set(pos)
		}
		if pos := b.End; s.kind == interval.KindJournal && pos.Cursor != "" {
			pos.Path = journalPos
			p.set(pos)
		}
		if f.Group == s.group {
			s.spare = f // an abandoned batch's fold is dropped with what it holds
		}
	}
	p.inflight--
	late := p.cut && p.inflight == 0
	s.mu.Unlock()
	if late && s.ready != nil {
		s.ready()
	}
}

// maxLastLines bounds the sources whose last line a stream keeps: a glob
// of more files than that forgets them all and starts again, so that a
// repeat at the start of a batch then counts nothing rather than a line of
// another file.
const maxLastLines = 64

// lastLine returns the last line of source, made when missing. Callers
// hold s.mu.
func (s *stream) lastLine(source string) *interval.LastLine {
	l := s.lastLines[source]
	if l == nil {
		if s.lastLines == nil || len(s.lastLines) >= maxLastLines {
			s.lastLines = map[string]*interval.LastLine{}
		}
		l = &interval.LastLine{}
		s.lastLines[source] = l
	}
	return l
}

// begin registers a run (an interval command, a whole-file read) of the
// interval starting at at, whose batches are folded later: the interval
// is not complete before end.
func (s *stream) begin(at time.Time) {
	s.mu.Lock()
	s.part(at).inflight++
	s.mu.Unlock()
}

// end ends a run begun with begin; down says why the stream could not be
// read in it ("" when it could).
func (s *stream) end(at time.Time, down string) {
	s.mu.Lock()
	p := s.part(at)
	p.inflight--
	if down != "" && p.down == "" {
		p.down = down
	}
	late := p.cut && p.inflight == 0
	s.mu.Unlock()
	if late && s.ready != nil {
		s.ready()
	}
}

// journalPos is the name a journal stream's cursor is saved under.
const journalPos = "cursor"

// drop marks the position saved under path as no longer needed if it is
// still of the file id names (another file may have taken the name since).
func (p *part) drop(path string, id follow.Position) {
	if path == "" {
		return
	}
	if pos, ok := p.positions[path]; ok && sameFile(pos, id) {
		delete(p.positions, path)
	}
	// Recorded even when another file's position has taken the name:
	// the state file may still hold this one's, which that position
	// replaces if it is committed, and which must go if it is dropped.
	p.closed.add(path, id)
}

// set records the position of a file.
func (p *part) set(pos follow.Position) {
	p.positions[pos.Path] = pos
	p.closed.remove(pos.Path, pos)
}

// Event keeps the positions and the availability in step with what
// happened to the source, then logs it; see follow.Handler. An event
// belongs to the interval the stream is in, as a batch does: the follower
// delivers batches and events one at a time, in the order things happened.
func (s *stream) Event(e follow.Event) {
	if s.kind == interval.KindJournal && e.Kind == follow.EventOpen && e.Pos.Cursor != "" && s.saveStart != nil {
		// The journal's last entry when a new stream starts: a crash
		// before the first commit resumes after it.
		pos := e.Pos
		pos.Path = journalPos
		s.saveStart(pos)
	}
	// State first, then the log line: once the log says a file was
	// opened, its start position is in the state file.
	if s.kind == interval.KindFile {
		switch e.Kind {
		case follow.EventOpen, follow.EventReset:
			if s.saveStart != nil && e.Pos.Path != "" && startsAfresh(e) {
				s.saveStart(e.Pos)
			}
		}
		s.mu.Lock()
		p := s.part(s.arrival)
		switch e.Kind {
		case follow.EventClose, follow.EventDelete:
			p.drop(e.Path, e.Pos)
		case follow.EventMove:
			p.drop(e.Path, e.Pos)
			fallthrough
		default:
			if e.Pos.Path != "" {
				p.set(e.Pos)
			}
		}
		s.mu.Unlock()
	}
	switch e.Kind {
	case follow.EventLost:
		s.mu.Lock()
		s.part(s.arrival).lost = true
		s.mu.Unlock()
	case follow.EventExit, follow.EventStartError, follow.EventKill:
		// A stream command that ends, cannot start or is killed has not
		// been read throughout the interval: lines may be missing.
		if s.kind == interval.KindPipe {
			s.mu.Lock()
			if p := s.part(s.arrival); p.down == "" {
				p.down = e.Kind.String() + ": " + eventText(e)
			}
			s.mu.Unlock()
		}
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
	if e.Detail != "" && (e.Err == nil || e.Detail != e.Err.Error()) {
		attrs = append(attrs, "detail", e.Detail)
	}
	if e.Err != nil {
		attrs = append(attrs, "err", e.Err)
	}
	switch e.Kind {
	case follow.EventOpenError, follow.EventLost:
		s.log.Warn("stream", attrs...)
	case follow.EventStartError, follow.EventKill, follow.EventExit:
		switch {
		case e.Err == nil && e.Kind == follow.EventExit || s.quiet.Load():
			s.log.Debug("stream", attrs...) // a clean exit, or a failure of an outage already logged
		case s.kind == interval.KindPipe || s.kind == interval.KindInterval:
			// The interval it falls in is unavailable: its outage is the
			// one warning, with this as its reason, at the interval's end.
			s.log.Info("stream", attrs...)
		default:
			s.log.Warn("stream", attrs...)
		}
	case follow.EventStop:
		// A stop the daemon asked for (shutdown, a stream removed).
		s.log.Debug("stream", attrs...)
	default:
		s.log.Info("stream", attrs...)
	}
}

// startsAfresh reports whether an EventOpen or EventReset starts reading
// where no line read before it is pending: a followed name's own file
// (seen for the first time, appeared, replaced), or a file read from its
// start. Only such a position may be saved at once, outside a commit. A
// copy opened at the offset its original was read to (copytruncate) is
// not one: that offset holds the lines read from the original in this
// interval, whose counts are committed later, and saved before them it
// would make a restart after a crash skip those lines for good.
func startsAfresh(e follow.Event) bool {
	return e.Pos.Offset == 0 || e.Path == "" || e.Path == e.Source
}

// eventText is an event's detail and error, for a reason: each once (a
// command's exit status is often both).
func eventText(e follow.Event) string {
	switch {
	case e.Err != nil && e.Detail != "" && e.Detail != e.Err.Error():
		return e.Detail + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Detail
}

// cut ends the interval starting at at for the stream: its batches belong
// to next from now on, and backlog lines are not dated before it. down
// says why the stream could not be read at the interval's end ("" when it
// could). A stream already cut at at is left as it is.
func (s *stream) cut(at, next time.Time, down string) {
	s.mu.Lock()
	if s.arrival.After(at) {
		s.mu.Unlock()
		return
	}
	p := s.part(at)
	p.cut = true
	p.short = s.observedFrom.After(at)
	if down != "" && p.down == "" {
		p.down = down
	}
	s.observedFrom = time.Time{}
	s.arrival, s.lower = next, next
	late := p.inflight == 0
	s.mu.Unlock()
	if late && s.ready != nil {
		s.ready()
	}
}

// reached applies to saved (positions by path) the positions the stream
// reached and the files it ended in the intervals not taken yet, in their
// order.
func (s *stream) reached(saved map[string]follow.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ts := range slices.Sorted(maps.Keys(s.parts)) {
		p := s.parts[ts]
		for path, ids := range p.closed {
			if pos, ok := saved[path]; ok && slices.ContainsFunc(ids, func(id follow.Position) bool { return sameFile(id, pos) }) {
				delete(saved, path)
			}
		}
		maps.Copy(saved, p.positions)
	}
}

// taken is what a stream hands over for a commit: the intervals up to one
// that is complete.
type taken struct {
	group     *interval.Group
	buckets   map[int64]*interval.Bucket // by interval start (Unix seconds)
	read      map[int64]interval.Observed
	skipped   []time.Time // intervals not sampled (ifelapsed)
	down      []string    // why the stream could not be read, in the order of the intervals; "" when it could
	starts    []time.Time
	positions map[string]follow.Position
	closed    ended // positions to delete, if still of one of those files
	orphans   []orphan
	lost      bool
	catchFrom time.Time // see stream.catchFrom
}

// complete returns the start of the latest interval before before that is
// complete (cut, nothing of it or of earlier intervals still being
// folded), and whether there is one.
func (s *stream) complete(before time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stamps := make([]int64, 0, len(s.parts))
	for t := range s.parts {
		stamps = append(stamps, t)
	}
	sort.Slice(stamps, func(i, j int) bool { return stamps[i] < stamps[j] })
	var upTo int64
	ok := false
	for _, t := range stamps {
		p := s.parts[t]
		if t >= before.Unix() || !p.cut || p.inflight > 0 {
			break
		}
		upTo, ok = t, true
	}
	return time.Unix(upTo, 0), ok
}

// take hands over the intervals up to the one starting at upTo, if they
// are complete (see complete); ok is false, and nothing is taken, when one
// of them is not.
func (s *stream) take(upTo time.Time) (t taken, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var stamps []int64
	for ts, p := range s.parts {
		if ts > upTo.Unix() {
			continue
		}
		if !p.cut || p.inflight > 0 {
			return taken{}, false
		}
		stamps = append(stamps, ts)
	}
	sort.Slice(stamps, func(i, j int) bool { return stamps[i] < stamps[j] })
	t = taken{group: s.group, read: map[int64]interval.Observed{}, positions: map[string]follow.Position{}, catchFrom: s.catchFrom}
	t.buckets = map[int64]*interval.Bucket{}
	for ts, b := range s.fold.Buckets {
		if ts <= upTo.Unix() {
			t.buckets[ts] = b
		}
	}
	for ts := range t.buckets {
		s.fold.Drop(time.Unix(ts, 0))
	}
	var rest []orphan
	for _, o := range s.orphans {
		if o.at <= upTo.Unix() {
			t.orphans = append(t.orphans, o)
		} else {
			rest = append(rest, o)
		}
	}
	s.orphans = rest
	// The parts in order, as one: a later position or drop of a name
	// replaces an earlier one (see part.drop).
	all := &part{positions: t.positions, closed: ended{}}
	for _, ts := range stamps {
		p := s.parts[ts]
		delete(s.parts, ts)
		if p.skipped {
			t.skipped = append(t.skipped, time.Unix(ts, 0))
			continue
		}
		t.read[ts] = interval.Observed{Short: p.short, Down: p.down != ""}
		t.starts = append(t.starts, time.Unix(ts, 0))
		t.down = append(t.down, p.down)
		t.lost = t.lost || p.lost
		for _, pos := range p.positions {
			all.set(pos)
		}
		for path, ids := range p.closed {
			for _, id := range ids {
				all.drop(path, id)
			}
		}
	}
	t.closed = all.closed
	s.catchFrom = time.Time{}
	return t, true
}
