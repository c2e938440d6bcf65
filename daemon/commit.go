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

// closeInterval closes the interval that started at d.curStart and ends at
// end (early, at now, when partial): it takes every stream's buckets and
// positions and the observables' readings (observed), has the interval
// engine compute the samples, takes the file watches' scans, and commits
// the result in one transaction.
func (d *Daemon) closeInterval(end time.Time, partial bool, observed map[string]*interval.Accumulator) {
	d.mu.Lock()
	defer d.mu.Unlock()
	start := d.curStart
	next := start.Add(d.interval)
	if now := d.clock.Now(); !partial && now.Sub(next) >= d.interval {
		// The machine slept or the clock jumped: the intervals in between
		// are gaps, not zeros.
		next = now.Truncate(d.interval)
	}
	c := d.eng.NewClosing(start, partial)
	positions := map[string]follow.Position{}
	closed := map[string]follow.Position{} // keys to delete if still of that file
	srcs := make([]string, 0, len(d.streams))
	for src := range d.streams {
		srcs = append(srcs, src)
	}
	sort.Strings(srcs)
	for _, src := range srcs {
		s := d.streams[src]
		t := s.take(next, next)
		if t.skipped {
			s.repeat(c, t.group)
		} else {
			c.Add(t.group, t.buckets, t.observedFrom.After(start))
			s.remember(t.group, t.buckets[start.Unix()])
		}
		// Fill the downtime with zero samples where the stream was
		// followed without a break.
		if !d.catchFrom.IsZero() && s.kind == interval.KindFile && !t.lost && t.lowerBound.Before(start) {
			c.Fill(t.group, t.lowerBound)
		}
		for p, pos := range t.positions {
			positions[posKey(src, p)] = pos
		}
		for p, id := range t.closed {
			closed[posKey(src, p)] = id
		}
	}
	for _, h := range slices.Sorted(maps.Keys(observed)) {
		c.Sampled(h, observed[h])
	}
	res := d.eng.Close(c)
	for _, p := range res.Problems {
		d.log.Warn("sample not stored", "err", p)
	}
	var watched *watchClose
	if !partial {
		watched = d.watches.close(res)
	}
	write := d.writer(res, positions, closed)
	if watched != nil {
		write = watched.wrap(write)
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
		if res.Outcome == nil {
			return nil
		}
		// Classes, guards and locks are decided in the interval's own
		// transaction, and only for it: a failed commit is decided again
		// by the next interval, and a committed decision never re-fires.
		var err error
		in := actions.Interval{Start: res.Start, End: res.End, Classes: res.Outcome.Classes, Vars: res.Outcome.Vars, Keys: res.Outcome.Keys}
		if decision, err = d.actions.Decide(tx, in); err != nil {
			return err
		}
		return d.pushClassChanges(tx, decision, res.End)
	})
	d.curStart = next
	if err != nil {
		d.stats.CommitFailures++
		d.pending = append(d.pending, write)
		d.log.Error("commit failed: kept, retried with the next interval", "interval_start", start, "err", err)
		return
	}
	d.stats.Commits++
	d.pending = nil
	d.catchFrom = time.Time{}
	d.watches.committed()
	for _, s := range d.senders {
		s.Notify()
	}
	if decision != nil {
		d.actions.Execute(d.actCtx, decision)
	}
	d.log.Info("committed", "interval_start", start, "partial", partial, "intervals", c.Intervals(), "positions", len(positions))
}

// writer returns the function that writes a computed close into the commit
// transaction: the stream positions that produced it, the engine's writes,
// and its points into every destination's spool. It only writes, so that a
// failed commit can be retried with the next one.
func (d *Daemon) writer(res *interval.Result, positions, closed map[string]follow.Position) func(*state.Tx) error {
	lps := newEncodings(d.precs)
	for _, p := range res.Points {
		if err := lps.add(p); err != nil {
			d.log.Warn("point not encodable", "handle", p.Measurement, "err", err)
		}
	}
	spool, precs, log := d.spool, d.precs, d.log
	return func(tx *state.Tx) error {
		for k, p := range positions {
			if err := tx.SetJSON(k, p); err != nil {
				return err
			}
		}
		for k, id := range closed {
			if _, still := positions[k]; still {
				continue
			}
			var p follow.Position
			if ok, err := tx.GetJSON(k, &p); err == nil && ok && (p.Dev != id.Dev || p.Ino != id.Ino) {
				continue // another file's position has taken the name
			}
			if err := tx.Delete(k); err != nil {
				return err
			}
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
