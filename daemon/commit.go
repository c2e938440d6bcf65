package daemon

import (
	"maps"
	"slices"
	"sort"
	"time"

	lineprotocol "github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logtally/logtally/actions"
	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/output"
	"github.com/logtally/logtally/state"
)

// endInterval ends the interval that started at d.curStart (early, at a
// shutdown, when partial): it cuts every stream (cutAll) while it reads
// the observables, has the interval engine close the intervals of the
// streams that are complete with the observables' readings, takes the file
// watches' scans, and commits the result. Streams that are not complete
// (late), and observables not read within the cut budget, are committed
// on their own when they are (commitLate).
func (d *Daemon) endInterval(partial bool) {
	d.mu.Lock()
	start := d.curStart
	end := start.Add(d.interval)
	next := end
	if now := d.clock.Now(); !partial && now.Sub(next) >= d.interval {
		// The machine slept or the clock jumped: the intervals in between
		// are gaps, not zeros.
		next = now.Truncate(d.interval)
	}
	streams := d.sortedStreams()
	retired := d.retired
	d.retired = nil
	maxLine := d.set.Settings.MaxLineLength
	obs := observables(d.set)
	budget := d.budget
	d.mu.Unlock()
	if partial {
		budget = syncTimeout
	}
	deadline := time.Now().Add(budget) // real time: a budget for real work
	var observing *observing
	if !partial {
		observing = d.startObserving(obs, budget, start, end)
	}
	d.cutAll(streams, start, next, budget, maxLine)
	for _, s := range retired {
		s.cut(start, next, "") // stopped: it has read all it will
	}
	var readings map[string]*interval.Accumulator
	var reading []string
	if observing != nil {
		readings, reading = observing.until(deadline)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.eng.NewClosing(start, partial)
	in := d.gather(c, start)
	d.gatherRetired(c, start, retired, in)
	for _, h := range slices.Sorted(maps.Keys(readings)) {
		c.Sampled(h, readings[h])
	}
	for _, h := range reading {
		c.PendingSample(h)
	}
	res := d.eng.Close(c)
	write := d.writer(res, in)
	var watched *watchClose
	if !partial {
		watched = d.watches.close(res)
	}
	if watched != nil {
		write = watched.wrap(write)
	}
	ok := d.commit(res, write, func(tx *state.Tx) (*actions.Decision, error) {
		if res.Outcome == nil {
			return nil, nil
		}
		// Classes, guards and locks are decided in the interval's own
		// transaction, and only for it: a failed commit is decided again
		// by the next interval, and a committed decision never re-fires.
		in := actions.Interval{Start: res.Start, End: res.End, Classes: res.Outcome.Classes, Vars: res.Outcome.Vars, Keys: res.Outcome.Keys}
		dec, err := d.actions.Decide(tx, in)
		if err != nil {
			return nil, err
		}
		return dec, d.pushClassChanges(tx, dec, res.End)
	})
	d.curStart = next
	if ok {
		d.catchFrom = time.Time{}
		d.watches.committed()
	}
	d.log.Info("committed", "interval_start", start, "partial", partial, "intervals", c.Intervals(),
		"positions", len(in.positions), "late", len(in.late)+len(reading))
}

// commitLate commits, each on its own, the intervals of late streams that
// have become complete (see stream), and the readings of observables that
// came after their interval's commit.
func (d *Daemon) commitLate() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.observe.takeLate() {
		c := d.eng.NewLateClosing(r.start)
		handles := slices.Sorted(maps.Keys(r.accs))
		for _, h := range handles {
			c.SampledAt(r.start, h, r.accs[h])
		}
		res := d.eng.Close(c)
		d.commit(res, d.writer(res, gathered{}), nil)
		d.log.Info("committed late", "observables", handles, "interval_start", r.start)
	}
	for _, s := range d.sortedStreams() {
		upTo, ok := s.complete(d.curStart)
		if !ok {
			continue
		}
		c := d.eng.NewLateClosing(upTo)
		in := d.gather(c, upTo, s)
		if len(in.taken) == 0 {
			continue
		}
		res := d.eng.Close(c)
		d.commit(res, d.writer(res, in), nil)
		d.log.Info("committed late", "stream", s.source, "interval_start", upTo, "intervals", c.Intervals(),
			"positions", len(in.positions))
	}
}

// gathered is what the streams handed over for one commit.
type gathered struct {
	positions map[string]follow.Position
	closed    ended // keys to delete if still of one of those files
	taken     map[*stream]taken
	late      []string // streams not complete
}

// gather takes from each stream (all, or those given) its intervals up to
// the one starting at upTo, if they are complete, into c; a stream that is
// not complete is late: its measurements are pending in c. Callers hold
// d.mu.
func (d *Daemon) gather(c *interval.Closing, upTo time.Time, only ...*stream) gathered {
	in := gathered{positions: map[string]follow.Position{}, closed: ended{}, taken: map[*stream]taken{}}
	streams := only
	if len(streams) == 0 {
		streams = d.sortedStreams()
	}
	for _, s := range streams {
		t, ok := s.take(upTo)
		if !ok {
			c.Pending(s.group)
			in.late = append(in.late, s.source)
			continue
		}
		c.Add(t.group, t.buckets, t.read)
		t.addOrphans(c)
		for _, ts := range slices.Sorted(maps.Keys(t.read)) {
			if !t.read[ts].Down {
				s.remember(t.group, t.buckets[ts])
			}
		}
		for _, at := range t.skipped {
			s.repeat(c, t.group, at)
		}
		// Fill the downtime with zero samples where the stream was
		// followed without a break.
		if !t.catchFrom.IsZero() && (s.kind == interval.KindFile || s.kind == interval.KindJournal) && !t.lost && len(t.starts) > 0 && t.catchFrom.Before(t.starts[0]) {
			c.Fill(t.group, t.catchFrom, t.starts[0])
		}
		for p, pos := range t.positions {
			in.positions[posKey(s.source, p)] = pos
		}
		for p, ids := range t.closed {
			in.closed[posKey(s.source, p)] = ids
		}
		in.taken[s] = t
	}
	return in
}

// gatherRetired takes from each stream a reload retired (see
// Daemon.retire) its intervals up to the one starting at upTo into c and
// in: their lines count for the measurements that still exist, in the
// intervals they were read in, and their positions are committed with
// them, except under a name that a stream of the rules (or a later
// retired one of the same source) has taken since. They are not a part
// of the availability of their intervals: the streams of the rules are.
// Callers hold d.mu.
func (d *Daemon) gatherRetired(c *interval.Closing, upTo time.Time, retired []*stream, in gathered) {
	for _, s := range slices.Backward(retired) {
		t, ok := s.take(upTo)
		if !ok {
			// Only a follower that did not stop in time (stopRetired)
			// can still be folding: what it folds is dropped.
			s.stopping.Store(true)
			d.log.Warn("a stream removed by a reload was still reading at the interval's end: its lines are not counted", "stream", s.source)
			continue
		}
		read := map[int64]interval.Observed{}
		for ts, o := range t.read {
			read[ts] = interval.Observed{Short: o.Short}
		}
		c.Add(t.group, t.buckets, read)
		t.addOrphans(c)
		for p, pos := range t.positions {
			k := posKey(s.source, p)
			if _, taken := in.positions[k]; !taken && in.closed[k] == nil {
				in.positions[k] = pos
			}
		}
		for p, ids := range t.closed {
			k := posKey(s.source, p)
			if _, taken := in.positions[k]; !taken && in.closed[k] == nil {
				in.closed[k] = ids
			}
		}
	}
}

// addOrphans adds to c what measurements the stream's group lost counted
// (see orphan).
func (t taken) addOrphans(c *interval.Closing) {
	for _, o := range t.orphans {
		c.SampledAt(time.Unix(o.at, 0), o.handle, o.acc)
	}
}

// commit writes a computed close (write, from writer) in one transaction,
// with decide's decision (when decide is not nil), then executes the
// decision. A commit that fails is kept and retried with the next one.
// Callers hold d.mu.
func (d *Daemon) commit(res *interval.Result, write func(*state.Tx) error, decide func(*state.Tx) (*actions.Decision, error)) bool {
	for _, p := range res.Problems {
		d.log.Warn("sample not stored", "err", p)
	}
	var decision *actions.Decision
	err := d.store.Update(func(tx *state.Tx) error {
		for _, w := range d.pending {
			if err := w(tx); err != nil {
				return err
			}
		}
		if err := write(tx); err != nil {
			return err
		}
		if decide == nil {
			return nil
		}
		var err error
		decision, err = decide(tx)
		return err
	})
	if err != nil {
		d.stats.CommitFailures++
		d.pending = append(d.pending, write)
		d.log.Error("commit failed: kept, retried with the next interval", "interval_start", res.Start, "err", err)
		return false
	}
	d.stats.Commits++
	d.pending = nil
	d.surveyCommitted(res)
	for _, s := range d.senders {
		s.Notify()
	}
	if decision != nil {
		d.actions.Execute(d.actCtx, decision)
	}
	return true
}

// writer returns the function that writes a computed close into the commit
// transaction: the stream positions that produced it, the availability of
// its streams, the engine's writes, and its points into every
// destination's spool. It only writes, so that a failed commit can be
// retried with the next one. Callers hold d.mu.
func (d *Daemon) writer(res *interval.Result, in gathered) func(*state.Tx) error {
	lps := newEncodings(d.precs)
	for _, p := range res.Points {
		if err := lps.add(p); err != nil {
			d.log.Warn("point not encodable", "handle", p.Measurement, "err", err)
		}
	}
	downs := d.availability(in)
	spool, precs, log := d.spool, d.precs, d.log
	positions, closed := in.positions, in.closed
	return func(tx *state.Tx) error {
		if err := writePositions(tx, positions, closed); err != nil {
			return err
		}
		if err := downs.Apply(tx); err != nil {
			return err
		}
		if err := res.Writes.Apply(tx); err != nil {
			return err
		}
		for name, size := range spool {
			lp := lps[precs[name]]
			if len(lp) == 0 {
				continue
			}
			dropped, err := output.Push(tx, name, lp, size)
			if err != nil {
				return err
			}
			if dropped > 0 {
				log.Warn("output spool full: oldest points dropped", "output", name, "dropped", dropped)
			}
		}
		return nil
	}
}

// writePositions saves the positions of a commit and deletes those no
// longer needed (closed), unless another file's position has taken the
// name.
func writePositions(tx *state.Tx, positions map[string]follow.Position, closed ended) error {
	for k, p := range positions {
		if err := tx.SetJSON(k, p); err != nil {
			return err
		}
	}
	for k := range closed {
		if _, still := positions[k]; still {
			continue
		}
		var p follow.Position
		if ok, err := tx.GetJSON(k, &p); err == nil && ok && !closed.has(k, p) {
			continue // another file's position has taken the name
		}
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// pushClassChanges spools one line-protocol point per class that became set
// or unset.
func (d *Daemon) pushClassChanges(tx *state.Tx, dec *actions.Decision, t time.Time) error {
	if len(dec.Changes) == 0 {
		return nil
	}
	lps := newEncodings(d.precs)
	for _, c := range dec.Changes {
		if err := lps.add(output.ClassPoint(c.Name, d.set.Settings.Host, d.set.Settings.Tags, c.Set, t)); err != nil {
			d.log.Warn("class point not encodable", "class", c.Name, "err", err)
		}
	}
	for name, size := range d.spool {
		if _, err := output.Push(tx, name, lps[d.precs[name]], size); err != nil {
			return err
		}
	}
	return nil
}

// sortedStreams returns the streams by source. Callers hold d.mu.
func (d *Daemon) sortedStreams() []*stream {
	srcs := make([]string, 0, len(d.streams))
	for src := range d.streams {
		srcs = append(srcs, src)
	}
	sort.Strings(srcs)
	out := make([]*stream, len(srcs))
	for i, src := range srcs {
		out[i] = d.streams[src]
	}
	return out
}

// encodings is the line protocol of an interval's points at each
// timestamp precision the destinations use: each destination's spool gets
// its lines at its own precision, which is what its requests declare.
type encodings map[lineprotocol.Precision][]byte

func newEncodings(precs map[string]lineprotocol.Precision) encodings {
	e := encodings{}
	for _, p := range precs {
		e[p] = nil
	}
	return e
}

// add appends a point at every precision, or at none when it cannot be
// encoded.
func (e encodings) add(p output.Point) error {
	enc := make(map[lineprotocol.Precision][]byte, len(e))
	for prec, buf := range e {
		b, err := output.AppendPoint(buf, p, prec)
		if err != nil {
			return err
		}
		enc[prec] = b
	}
	for prec, b := range enc {
		e[prec] = b
	}
	return nil
}
