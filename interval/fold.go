package interval

import (
	"bytes"
	"time"

	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/repeats"
	"github.com/logtally/logtally/rules"
)

// Dating says which interval the lines given to Fold.Line belong to.
//
//   - Arrival, without ByTimestamp: every line belongs to the interval that
//     starts at Arrival, the one in which it was read (the daemon's live
//     lines; a zero Arrival is the one interval of a one-shot `test`).
//   - ByTimestamp with Arrival: lines that were written while logtally was
//     down (a backlog). Each selected line belongs to the interval of its
//     own timestamp, clamped to [Lower, Arrival]; a line without a usable
//     timestamp belongs to Arrival. The accumulators count which way each
//     line went (Counts.Backdated, Counts.Undated).
//   - ByTimestamp without Arrival: a replay of logs (`learn`, `backtest`).
//     Each selected line belongs to the interval of its own timestamp,
//     unbounded; one without a usable timestamp is counted in Fold.Undated
//     and nowhere else. The range of dated lines (Fold.First to Fold.Last)
//     is the time the logs cover.
//
// Timestamps without a year are anchored at Ref (see package timestamp).
type Dating struct {
	Arrival     time.Time
	ByTimestamp bool
	Lower       time.Time
	Ref         time.Time
}

// Live returns the dating of lines read live in the interval starting at
// start.
func Live(start time.Time) Dating { return Dating{Arrival: start} }

// Bucket is one interval of one stream: an accumulator per measurement of
// the group, nil until the measurement's first hit, and the lines that
// arrived in the interval.
type Bucket struct {
	Acc   []*Accumulator
	Lines uint64 // lines read in the interval (arrival dating)
	Cut   uint64 // of which cut to the length limit
}

// Fold folds the lines of one stream into intervals. It is the one place
// where a line's hits become part of an interval's values: the daemon folds
// every batch it reads, `test` folds a whole stream into one interval,
// `learn` and `backtest` fold logs by the lines' own timestamps. It reads
// nothing itself. It is not safe for concurrent use.
type Fold struct {
	Group *Group
	Width time.Duration // the interval
	// Buckets holds the intervals that received a line, by start (Unix
	// seconds).
	Buckets map[int64]*Bucket
	Lines   uint64    // lines folded
	Cut     uint64    // lines cut to the length limit
	Undated uint64    // replay: selected lines without a usable timestamp, not counted
	First   time.Time // replay: the earliest dated line
	Last    time.Time // replay: the latest dated line
	// Repeats counts the lines in which syslog says a message was
	// repeated and that a measurement expanded (see LineAt).
	Repeats uint64
	// OnSelected, when set, sees every line that at least one
	// measurement selected, as Line and Block fold it (`test` counts and
	// dates them). The line is valid only during the call.
	OnSelected func(line []byte)

	matcher *match.Matcher
	dater   *Dater
	// free holds, by measurement, emptied accumulators for reuse (Flush).
	free [][]*Accumulator
	// The bucket of the last arrival, which most lines share.
	curAt  int64
	cur    *Bucket
	onHits func(int, []byte, []match.Hit) // folds a block's hits into cur

	// What syslog's repeat lines need (repeat.go): the hits of the last
	// line folded, owned, when a measurement expands BSD syslogd's "last
	// message repeated N times" (keepPrev); in a block, where its last
	// line starts (lastOff); buffers for a line unwrapped and for the
	// hits a repeat line returns.
	keepPrev bool
	prev     ownedHits
	lastOff  int
	unwrap   []byte
	out      ownedHits
}

// NewFold returns an empty Fold of the group's lines into intervals of the
// given width (any width for a one-shot fold, whose lines all arrive at the
// zero time).
func (g *Group) NewFold(width time.Duration) *Fold {
	f := &Fold{Group: g, Width: width, Buckets: map[int64]*Bucket{}, matcher: g.set.NewMatcher(), dater: NewDater(g.Measurements),
		keepPrev: g.expands[repeats.Header]}
	f.onHits = func(off int, line []byte, hits []match.Hit) {
		f.add(f.cur, hits, 1)
		f.selected(line, hits)
		if f.keepPrev && off == f.lastOff {
			f.prev.own(hits)
		}
	}
	return f
}

// Bucket returns the bucket of the interval starting at t, made when
// missing.
func (f *Fold) Bucket(t time.Time) *Bucket {
	u := t.Unix()
	if f.cur != nil && f.curAt == u {
		return f.cur
	}
	b := f.Buckets[u]
	if b == nil {
		b = &Bucket{Acc: make([]*Accumulator, len(f.Group.Measurements))}
		f.Buckets[u] = b
	}
	f.curAt, f.cur = u, b
	return b
}

// acc returns the accumulator of measurement i in b, made (or reused)
// when missing.
func (f *Fold) acc(b *Bucket, i int) *Accumulator {
	a := b.Acc[i]
	if a == nil {
		if i < len(f.free) && len(f.free[i]) > 0 {
			last := len(f.free[i]) - 1
			a, f.free[i] = f.free[i][last], f.free[i][:last]
		} else {
			a = NewAccumulator(f.Group.Measurements[i])
		}
		b.Acc[i] = a
	}
	return a
}

// LastLine holds, between two batches of one source, what a BSD "last
// message repeated N times" at the start of the second needs of the line
// that ended the first: its hits, owned (a daemon folds each batch of a
// stream apart, and the batches of a glob's files interleave). The zero
// value holds none.
type LastLine struct {
	group *Group
	hits  ownedHits
}

// Resume makes the next line f folds follow the line l holds, which l
// gives up; none when l is nil, empty, or of another group (a reload).
func (f *Fold) Resume(l *LastLine) {
	if l == nil || l.group != f.Group {
		f.prev.reset()
		return
	}
	f.prev, l.hits = l.hits, f.prev
	l.hits.reset()
}

// Suspend stores in l the last line f folded, for the next batch of the
// same source (Resume).
func (f *Fold) Suspend(l *LastLine) {
	l.group = f.Group
	l.hits, f.prev = f.prev, l.hits
	f.prev.reset()
}

// Flush merges what f folded into into, a fold of the same stream (of
// another group after a reload: by handle), and empties f for the next
// lines. Its accumulators are kept for reuse, with what they learned of
// raw keys: a fold that takes one batch of lines after another allocates
// little, and checks a repeated key once.
func (f *Fold) Flush(into *Fold) {
	if f.free == nil {
		f.free = make([][]*Accumulator, len(f.Group.Measurements))
	}
	for t, b := range f.Buckets {
		into.Bucket(time.Unix(t, 0)).merge(into.Group, b, f.Group, false)
		for j, a := range b.Acc {
			if a != nil {
				a.reset()
				f.free[j] = append(f.free[j], a)
			}
		}
	}
	clear(f.Buckets)
	f.cur = nil
}

// add folds hits, each standing for n lines, into b.
func (f *Fold) add(b *Bucket, hits []match.Hit, n uint64) {
	for i := range hits {
		if f.skip(hits[i].Rule, b.Lines) {
			continue
		}
		f.acc(b, hits[i].Rule).AddN(&hits[i], n)
	}
}

// selected calls OnSelected when a hit of line is a selection.
func (f *Fold) selected(line []byte, hits []match.Hit) {
	if f.OnSelected == nil {
		return
	}
	for i := range hits {
		if hits[i].Selected {
			f.OnSelected(line)
			return
		}
	}
}

// skip reports whether measurement i selects by line number and line n of
// the bucket (0: not numbered, a replay) is not its line. A snapshot stream
// — an interval command's output, a file read whole — is one bucket per
// interval, so the bucket's line count numbers its lines.
func (f *Fold) skip(i int, n uint64) bool {
	sel := f.Group.lineSel
	return sel != nil && sel[i] != 0 && (sel[i] < 0 || uint64(sel[i]) != n)
}

// Line matches one line and folds its hits into the interval d gives it.
// The hits are returned for observers; they are valid until the next call.
func (f *Fold) Line(line []byte, cut bool, d Dating) []match.Hit {
	return f.LineAt(line, cut, d, time.Time{})
}

// LineAt is Line for a line whose source says when it was written (a
// journal entry): at, when not zero, dates it instead of the timestamp in
// its text.
//
// A whole line in which syslog says that a message was repeated N times
// (package repeats) counts, for the measurements that expand such lines
// (syslog_repeats), as N lines: rsyslog's "message repeated N times: [
// MSG]" is matched with the wrapper removed and its hits folded N times;
// BSD syslogd's "last message repeated N times" folds the hits of the
// line before it N more times. The other measurements match it as it is.
func (f *Fold) LineAt(line []byte, cut bool, d Dating, at time.Time) []match.Hit {
	f.Lines++
	if cut {
		f.Cut++
	}
	var arrived *Bucket
	if !d.replay() {
		arrived = f.Bucket(d.Arrival)
		arrived.Lines++
		if cut {
			arrived.Cut++
		}
	}
	if !cut && f.Group.expanding() {
		if r, form := f.Group.parseRepeat(line); r.Kind != repeats.None {
			return f.repeat(line, r, form, d, at, arrived)
		}
	}
	hits := f.matcher.Match(line)
	f.selected(line, hits)
	f.fold(line, hits, 1, d, at, arrived)
	if f.keepPrev {
		f.prev.own(hits)
	}
	return hits
}

// replay reports whether d dates the lines of a replay (learn, backtest).
func (d Dating) replay() bool { return d.ByTimestamp && d.Arrival.IsZero() }

// fold folds the hits of a line, each standing for n lines, into the
// intervals d gives them; arrived is the bucket of the arrival (nil in a
// replay).
func (f *Fold) fold(line []byte, hits []match.Hit, n uint64, d Dating, at time.Time, arrived *Bucket) {
	if !d.ByTimestamp {
		f.add(arrived, hits, n)
		return
	}
	replay := d.replay()
	f.dater.Reset()
	if replay {
		// The covered range comes from every line, selected or not.
		if t, ok := f.lineTime(0, line, d, at); ok {
			if f.First.IsZero() || t.Before(f.First) {
				f.First = t
			}
			if t.After(f.Last) {
				f.Last = t
			}
		}
	}
	for i := range hits {
		h := &hits[i]
		if f.skip(h.Rule, 0) {
			continue // a snapshot's line number is not a log's
		}
		if !h.Selected {
			if arrived != nil {
				f.acc(arrived, h.Rule).AddN(h, n)
			}
			continue
		}
		t, ok := f.lineTime(h.Rule, line, d, at)
		switch {
		case !ok && replay:
			f.Undated += n
		case !ok:
			a := f.acc(arrived, h.Rule)
			a.Undated += n
			a.AddN(h, n)
		case replay:
			f.acc(f.Bucket(t.Truncate(f.Width)), h.Rule).AddN(h, n)
		default:
			start := t.Truncate(f.Width)
			if start.Before(d.Lower) {
				start = d.Lower
			}
			if !start.Before(d.Arrival) {
				f.acc(arrived, h.Rule).AddN(h, n)
				continue
			}
			a := f.acc(f.Bucket(start), h.Rule)
			a.Backdated += n
			a.AddN(h, n)
		}
	}
}

// lineTime dates line for measurement i: by at when the source gave it,
// else by the timestamp in its text.
func (f *Fold) lineTime(i int, line []byte, d Dating, at time.Time) (time.Time, bool) {
	if !at.IsZero() {
		return at, true
	}
	return f.dater.Time(i, line, d.Ref)
}

// Block matches a block of n complete lines (as lines.Reader.NextBlock
// returns them) and folds their hits into the interval starting at
// arrival. It is Line for every line of the block, faster.
func (f *Fold) Block(data []byte, n int, arrival time.Time) {
	if f.Group.lineSel != nil { // lines must be numbered: one by one
		d := Live(arrival)
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				i = len(data)
			}
			line := data[:i]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			f.Line(line, false, d)
			data = data[min(i+1, len(data)):]
		}
		return
	}
	f.Lines += uint64(n)
	b := f.Bucket(arrival)
	b.Lines += uint64(n)
	if !f.Group.expanding() {
		f.matcher.MatchBlock(data, f.onHits)
		return
	}
	for len(data) > 0 {
		start, end, r, form := f.Group.nextRepeat(data)
		if start < 0 {
			f.matchBlock(data)
			return
		}
		f.matchBlock(data[:start])
		f.repeat(trimCR(data[start:end]), r, form, Live(arrival), time.Time{}, b)
		f.cur = b
		data = data[min(end+1, len(data)):]
	}
}

// matchBlock matches a block of complete lines without repeat lines into
// the current bucket, keeping the hits of its last line when a BSD repeat
// may follow.
func (f *Fold) matchBlock(data []byte) {
	if len(data) == 0 {
		return
	}
	if f.keepPrev {
		f.prev.reset()
		f.lastOff = bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
	}
	f.matcher.MatchBlock(data, f.onHits)
}

// TimeRules makes the fold estimate the time each measurement's own
// patterns take on the lines it folds (match.Matcher.TimeRules).
func (f *Fold) TimeRules() { f.matcher.TimeRules() }

// RuleTimes returns the time each measurement's own patterns took on the
// lines folded since TimeRules (match.Matcher.RuleTimes), nil without it.
func (f *Fold) RuleTimes() []time.Duration { return f.matcher.RuleTimes() }

// At returns the accumulator of measurement i for the interval starting at
// t: an empty one when nothing was folded into it.
func (f *Fold) At(t time.Time, i int) *Accumulator {
	if b := f.Buckets[t.Unix()]; b != nil && b.Acc[i] != nil {
		return b.Acc[i]
	}
	return NewAccumulator(f.Group.Measurements[i])
}

// Intervals returns the start of every interval from the one holding First
// to the one holding Last, in order; none when no line was dated. In a
// replay, an interval inside that range without a selected line is a real
// zero; one outside it is unknown.
func (f *Fold) Intervals() []time.Time {
	if f.First.IsZero() {
		return nil
	}
	var out []time.Time
	for t := f.First.Truncate(f.Width); !t.After(f.Last); t = t.Add(f.Width) {
		out = append(out, t)
	}
	return out
}

// Take hands over the buckets and starts afresh; the matcher and the
// totals stay.
func (f *Fold) Take() map[int64]*Bucket {
	b := f.Buckets
	f.Buckets = map[int64]*Bucket{}
	f.cur = nil
	return b
}

// Merge folds into b the accumulators of o, which covers later lines of
// the same interval and may come from another group of the same stream
// (a reload): accumulators are matched by measurement handle, and those of
// measurements b's group does not have are dropped.
func (b *Bucket) Merge(g *Group, o *Bucket, og *Group) { b.merge(g, o, og, true) }

// merge is Merge; with own, b may take o's accumulators as they are,
// otherwise it copies them (o's are reused).
func (b *Bucket) merge(g *Group, o *Bucket, og *Group, own bool) {
	b.Lines += o.Lines
	b.Cut += o.Cut
	for j, a := range o.Acc {
		if a == nil {
			continue
		}
		i := j
		if og != g {
			if i = indexOf(g.Measurements, og.Measurements[j].Handle); i < 0 {
				continue
			}
		}
		switch {
		case b.Acc[i] != nil:
			b.Acc[i].Merge(a)
		case own:
			b.Acc[i] = a
		default:
			b.Acc[i] = NewAccumulator(g.Measurements[i])
			b.Acc[i].Merge(a)
		}
	}
}

func indexOf(ms []*rules.Measurement, handle string) int {
	for i, m := range ms {
		if m.Handle == handle {
			return i
		}
	}
	return -1
}

// Regroup returns a Fold of g, a new group of the same stream (a reload),
// holding f's buckets: the accumulators of measurements g still has, by
// handle.
func (f *Fold) Regroup(g *Group) *Fold {
	n := g.NewFold(f.Width)
	for t, b := range f.Buckets {
		n.Bucket(time.Unix(t, 0)).Merge(g, b, f.Group)
	}
	n.cur = nil
	return n
}

// Drop forgets the interval starting at t.
func (f *Fold) Drop(t time.Time) {
	delete(f.Buckets, t.Unix())
	f.cur = nil
}
