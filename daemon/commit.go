package daemon

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"time"

	lineprotocol "github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logtally/logtally/actions"
	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/output"
	"github.com/logtally/logtally/state"
)

func decodeJSON(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// closing is the data of one interval close, gathered from every stream.
type closing struct {
	start, end time.Time
	partial    bool
	// buckets[interval start][handle] is the accumulator of that
	// measurement for that interval.
	buckets   map[int64]map[string]*interval.Accumulator
	lines     map[string]uint64 // stream lines of the closing interval, by handle
	short     map[string]bool   // measurements whose stream began during the interval
	positions map[string]follow.Position
	closed    []string
}

// closeInterval closes the interval that started at d.curStart and ends at
// end (early, at now, when partial): it takes every stream's accumulators
// and positions, scores and learns, and commits everything in one
// transaction.
func (d *Daemon) closeInterval(end time.Time, partial bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	start := d.curStart
	next := start.Add(d.interval)
	if now := d.clock.Now(); !partial && now.Sub(next) >= d.interval {
		// The machine slept or the clock jumped: the intervals in between
		// are gaps, not zeros.
		next = now.Truncate(d.interval)
	}
	c := &closing{
		start: start, end: start.Add(d.interval), partial: partial,
		buckets:   map[int64]map[string]*interval.Accumulator{},
		lines:     map[string]uint64{},
		short:     map[string]bool{},
		positions: map[string]follow.Position{},
	}
	bucket := func(t int64) map[string]*interval.Accumulator {
		b := c.buckets[t]
		if b == nil {
			b = map[string]*interval.Accumulator{}
			c.buckets[t] = b
		}
		return b
	}
	// Seeds (a partial interval from the last shutdown) go first, so that
	// first and last keep their order.
	for h, o := range d.seeds {
		ms := d.meas[h]
		if ms == nil {
			continue
		}
		acc := interval.NewAccumulator(ms.m)
		acc.Restore(o.Snapshot)
		bucket(o.Start.Unix())[h] = acc
	}
	srcs := make([]string, 0, len(d.streams))
	for src := range d.streams {
		srcs = append(srcs, src)
	}
	sort.Strings(srcs)
	for _, src := range srcs {
		s := d.streams[src]
		t := s.take(next, next)
		cur := t.buckets[start.Unix()]
		for i, m := range t.group.Measurements {
			acc := interval.NewAccumulator(m)
			if cur != nil && cur.Acc[i] != nil {
				acc = cur.Acc[i]
			}
			merge(bucket(start.Unix()), m.Handle, acc)
			if cur != nil {
				c.lines[m.Handle] = cur.Lines
			}
			if t.observedFrom.After(start) {
				c.short[m.Handle] = true
			}
		}
		for ts, b := range t.buckets {
			if ts == start.Unix() {
				continue
			}
			for i, m := range t.group.Measurements {
				if b.Acc[i] != nil {
					merge(bucket(ts), m.Handle, b.Acc[i])
				}
			}
		}
		// Fill the downtime with zero samples where the stream was
		// followed without a break.
		if !d.catchFrom.IsZero() && s.kind == interval.KindFile && !t.lost && t.lowerBound.Before(start) {
			for ts := t.lowerBound; ts.Before(start); ts = ts.Add(d.interval) {
				for _, m := range t.group.Measurements {
					if _, ok := bucket(ts.Unix())[m.Handle]; !ok {
						bucket(ts.Unix())[m.Handle] = interval.NewAccumulator(m)
					}
				}
			}
		}
		for p, pos := range t.positions {
			c.positions[posKey(src, p)] = pos
		}
		for _, p := range t.closed {
			c.closed = append(c.closed, posKey(src, p))
		}
	}
	write, live := d.prepare(c)
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
		if live == nil {
			return nil
		}
		// Classes, guards and locks are decided in the interval's own
		// transaction, and only for it: a failed commit is decided again
		// by the next interval, and a committed decision never re-fires.
		var err error
		if decision, err = d.actions.Decide(tx, *live); err != nil {
			return err
		}
		return d.pushClassChanges(tx, decision, live.End)
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
	d.seeds = map[string]OpenInterval{}
	d.catchFrom = time.Time{}
	for _, s := range d.senders {
		s.Notify()
	}
	if decision != nil {
		d.actions.Execute(d.actCtx, decision)
	}
	d.log.Info("committed", "interval_start", start, "partial", partial, "intervals", len(c.buckets), "positions", len(c.positions))
}

func merge(b map[string]*interval.Accumulator, h string, acc *interval.Accumulator) {
	if have, ok := b[h]; ok {
		have.Merge(acc)
		return
	}
	b[h] = acc
}

// prepare scores and learns the samples of a closing (in time order) and
// returns the function that writes them, with everything else of the
// interval, into the commit transaction. All the computing is done here,
// once: the returned function only writes, so that it can be retried.
func (d *Daemon) prepare(c *closing) (func(*state.Tx) error, *actions.Interval) {
	times := make([]int64, 0, len(c.buckets))
	for t := range c.buckets {
		times = append(times, t)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })

	lps := newEncodings(d.precs)
	var live *actions.Interval
	if !c.partial {
		live = &actions.Interval{Start: c.start, End: c.end, Vars: map[string]float64{}, Keys: map[string]string{}}
	}
	type recent struct {
		handle string
		slot   int
		t      time.Time
		v      float64
	}
	var recents []recent
	host := d.set.Settings.Host
	for _, ts := range times {
		t := time.Unix(ts, 0)
		current := ts == c.start.Unix()
		handles := make([]string, 0, len(c.buckets[ts]))
		for h := range c.buckets[ts] {
			handles = append(handles, h)
		}
		sort.Strings(handles)
		for _, h := range handles {
			ms := d.meas[h]
			if ms == nil {
				continue
			}
			acc := c.buckets[ts][h]
			s := &Sample{Handle: h, Start: t, End: t.Add(d.interval), Counts: acc.Counts,
				Partial: current && c.partial, CatchUp: !current, Short: current && c.short[h]}
			if current {
				s.Lines = c.lines[h]
			}
			ms.cum.Add(acc.Counts)
			ms.lines += s.Lines
			v, ok := acc.Value()
			if ok {
				s.Value = &v
			}
			if top, n := acc.TopKey(); n > 0 {
				s.TopKey, s.TopCount, s.Keys = top, n, len(acc.Keys())
			}
			var extra []output.Field
			if ms.base != nil && !s.Partial && !s.Short {
				if ok {
					sc := ms.base.Observe(t, v)
					s.Av, s.Dev, s.Z = finite(sc.Av), finite(sc.Dev), finite(sc.Z)
					s.Classes = history.Classes(h, sc)
					extra = append(extra, fields(sc)...)
					recents = append(recents, recent{h, ms.base.SlotOf(t), t, v})
				} else {
					ms.base.Gap(t)
				}
				if ms.m.Key != "" && len(acc.Keys()) > 0 {
					e, class := history.Entropy(h, acc.Keys())
					s.Entropy = &e
					if class != "" {
						s.Classes = append(s.Classes, class)
					}
				}
			}
			if ok {
				already := ms.counted[ts]
				ms.total.Total += v - already
				if s.Partial {
					ms.counted[ts] = v
				} else {
					delete(ms.counted, ts)
					ms.total.Samples++
				}
				if ms.total.Since.IsZero() {
					ms.total.Since = t
				}
				p := output.SamplePoint(h, host, d.set.Settings.TagsFor(ms.m), s.End, v, extra...)
				if err := lps.add(p); err != nil {
					d.log.Warn("point not encodable", "handle", h, "err", err)
				}
			}
			if ms.last == nil || !s.Start.Before(ms.last.Start) {
				ms.last = s
			}
			if current && live != nil {
				live.Classes = append(live.Classes, s.Classes...)
				for name, p := range map[string]*float64{"value_": s.Value, "av_": s.Av, "dev_": s.Dev, "z_": s.Z} {
					if p != nil {
						live.Vars[name+h] = *p
					}
				}
				if s.TopKey != "" {
					live.Keys["top_"+h] = s.TopKey
				}
			}
		}
	}
	// Weekly measurements that got no sample this interval had a gap.
	if !c.partial {
		for _, h := range sortedHandles(d.meas) {
			ms := d.meas[h]
			if _, ok := c.buckets[c.start.Unix()][h]; !ok && ms.base != nil {
				ms.base.Gap(c.start)
			}
		}
	}
	type baseWrite struct {
		handle string
		meta   []byte
		pages  map[int][]byte
	}
	var bases []baseWrite
	totals := map[string]Total{}
	opens := map[string]*OpenInterval{}
	for _, h := range sortedHandles(d.meas) {
		ms := d.meas[h]
		if ms.base != nil {
			meta, pages := ms.base.Encode(true)
			if len(pages) > 0 || len(meta) > 0 {
				bases = append(bases, baseWrite{h, meta, pages})
			}
		}
		totals[h] = ms.total
	}
	if c.partial {
		for h, acc := range c.buckets[c.start.Unix()] {
			ms := d.meas[h]
			if ms == nil {
				continue
			}
			opens[h] = &OpenInterval{Start: c.start, Snapshot: acc.Snapshot(), Counted: ms.counted[c.start.Unix()]}
		}
	}
	committedEnd := c.end
	if c.partial {
		committedEnd = c.start
	}
	lastByHandle := map[string]*Sample{}
	for _, h := range sortedHandles(d.meas) {
		if d.meas[h].last != nil {
			lastByHandle[h] = d.meas[h].last
		}
	}
	// Partial intervals stored for measurements the rules no longer have
	// are dropped: if one came back it must not resume a stale interval.
	var staleOpens []string
	for h := range d.seeds {
		if _, ok := totals[h]; !ok {
			staleOpens = append(staleOpens, h)
		}
	}
	spool, precs := d.spool, d.precs
	positions, closed := c.positions, c.closed
	log := d.log
	return func(tx *state.Tx) error {
		for k, p := range positions {
			if err := tx.SetJSON(k, p); err != nil {
				return err
			}
		}
		for _, k := range closed {
			if _, still := positions[k]; !still {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
		}
		for h, s := range lastByHandle {
			if err := tx.SetJSON(prefixSample+h, s); err != nil {
				return err
			}
		}
		for h, t := range totals {
			if err := tx.SetJSON(prefixTotal+h, t); err != nil {
				return err
			}
		}
		for _, h := range staleOpens {
			if err := tx.Delete(prefixOpen + h); err != nil {
				return err
			}
		}
		for h := range totals {
			if o := opens[h]; o != nil {
				if err := tx.SetJSON(prefixOpen+h, o); err != nil {
					return err
				}
			} else if err := tx.Delete(prefixOpen + h); err != nil {
				return err
			}
		}
		for _, b := range bases {
			if err := tx.Set(baseMetaKey(b.handle), string(b.meta)); err != nil {
				return err
			}
			for n, p := range b.pages {
				if err := tx.Set(basePageKey(b.handle, n), string(p)); err != nil {
					return err
				}
			}
		}
		for _, r := range recents {
			if err := recordRecent(tx, r.handle, r.slot, r.t, r.v); err != nil {
				return err
			}
		}
		if err := tx.Set(keyCommittedEnd, committedEnd.UTC().Format(time.RFC3339Nano)); err != nil {
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
	}, live
}

// pushClassChanges spools one line-protocol point per class that became set
// or unset.
func (d *Daemon) pushClassChanges(tx *state.Tx, dec *actions.Decision, t time.Time) error {
	if len(dec.Changes) == 0 {
		return nil
	}
	lps := newEncodings(d.precs)
	for _, c := range dec.Changes {
		if err := lps.add(output.ClassPoint(c.Name, d.set.Settings.Host, c.Set, t)); err != nil {
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

// fields returns the baseline fields of a point.
func fields(sc history.Score) []output.Field {
	var f []output.Field
	for _, kv := range []struct {
		k string
		v float64
	}{{"av", sc.Av}, {"dev", sc.Dev}, {"z", sc.Z}} {
		if !math.IsNaN(kv.v) && !math.IsInf(kv.v, 0) {
			f = append(f, output.Field{Key: kv.k, Value: kv.v})
		}
	}
	return f
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// formatFloat formats a number for logs and variables.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
