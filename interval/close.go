package interval

import (
	"encoding/json"
	"slices"
	"sort"
	"time"

	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/output"
)

// Closing is the input of one close: what every stream handed over when
// the interval starting at Start closed (early, at a shutdown, when
// Partial).
type Closing struct {
	Start   time.Time
	Partial bool
	// Late marks the close of streams that were not ready when their
	// interval closed (a slow matcher, a command still running): their
	// samples are complete but the interval's decision was made without
	// them.
	Late  bool
	width time.Duration
	// acc[interval start][handle] is the accumulator of that measurement
	// for that interval.
	acc map[int64]map[string]*Accumulator
	// obs[interval start][handle] is how the measurement's stream was
	// observed in an interval it was read in.
	obs     map[int64]map[string]observed
	pending map[string]bool // measurements whose stream is late: closed later
}

// observed is how a stream was observed in one interval.
type observed struct {
	Observed
	lines uint64 // the stream's lines read in the interval
}

// NewClosing returns an empty closing of the interval starting at start.
func (e *Engine) NewClosing(start time.Time, partial bool) *Closing {
	return &Closing{Start: start, Partial: partial, width: e.width,
		acc: map[int64]map[string]*Accumulator{}, obs: map[int64]map[string]observed{}, pending: map[string]bool{}}
}

// NewLateClosing returns an empty late closing (see Closing.Late) of
// intervals up to the one starting at start.
func (e *Engine) NewLateClosing(start time.Time) *Closing {
	c := e.NewClosing(start, false)
	c.Late = true
	return c
}

// Observed says how a stream was observed in one interval it was read in.
type Observed struct {
	// Short: the stream began during the interval, with nothing to catch
	// up (its first interval is observed only in part).
	Short bool
	// Down: the stream could not be read (see Sample.Unavailable).
	Down bool
}

func (c *Closing) bucket(t int64) map[string]*Accumulator {
	b := c.acc[t]
	if b == nil {
		b = map[string]*Accumulator{}
		c.acc[t] = b
	}
	return b
}

func (c *Closing) merge(t int64, h string, a *Accumulator) {
	b := c.bucket(t)
	if have, ok := b[h]; ok {
		have.Merge(a)
		return
	}
	b[h] = a
}

// Add adds what a stream of group g hands over: its buckets, by interval
// start, and how it was observed in the intervals it was read in (by
// start). Every measurement of g has a sample of each interval the stream
// was read in (a counter without a line is a real zero, unless the stream
// was down); other intervals (a backlog dated by the lines' own
// timestamps) have samples of the measurements that were folded into
// them.
func (c *Closing) Add(g *Group, buckets map[int64]*Bucket, read map[int64]Observed) {
	for t, o := range read {
		b := buckets[t]
		obs := c.obs[t]
		if obs == nil {
			obs = map[string]observed{}
			c.obs[t] = obs
		}
		for i, m := range g.Measurements {
			a := NewAccumulator(m)
			var lines uint64
			if b != nil {
				lines = b.Lines
				if b.Acc[i] != nil {
					a = b.Acc[i]
				}
			}
			c.merge(t, m.Handle, a)
			ob := obs[m.Handle]
			ob.lines += lines
			ob.Short = ob.Short || o.Short
			ob.Down = ob.Down || o.Down
			obs[m.Handle] = ob
		}
	}
	for t, b := range buckets {
		if _, ok := read[t]; ok {
			continue
		}
		for i, m := range g.Measurements {
			if b.Acc[i] != nil {
				c.merge(t, m.Handle, b.Acc[i])
			}
		}
	}
}

// Sampled adds the sample of an observable for the closing interval. An
// observable that could not be read is not added: its interval is a gap.
func (c *Closing) Sampled(handle string, a *Accumulator) {
	c.merge(c.Start.Unix(), handle, a)
}

// SampledAt adds a sample of a measurement for the interval starting at t.
func (c *Closing) SampledAt(t time.Time, handle string, a *Accumulator) {
	c.merge(t.Unix(), handle, a)
}

// Fill gives every measurement of g a sample in each interval from from to
// (not including) to that has none: zero lines, a real zero. The daemon
// fills a downtime so when it followed the stream without a break (the
// file's position resumed, or its rotated predecessor drained).
func (c *Closing) Fill(g *Group, from, to time.Time) {
	for t := from; t.Before(to); t = t.Add(c.width) {
		for _, m := range g.Measurements {
			if _, ok := c.bucket(t.Unix())[m.Handle]; !ok {
				c.bucket(t.Unix())[m.Handle] = NewAccumulator(m)
			}
		}
	}
}

// Pending marks the measurements of a late stream (group g), whose
// samples of the closing interval come with a later, late closing: the
// baseline is not told of a gap meanwhile.
func (c *Closing) Pending(g *Group) {
	for _, m := range g.Measurements {
		c.PendingSample(m.Handle)
	}
}

// PendingSample marks one measurement whose sample of the closing
// interval comes with a later, late closing (an observable still being
// read): the baseline is not told of a gap meanwhile, and the decision
// keeps the classes of its latest sample (see Close).
func (c *Closing) PendingSample(handle string) {
	c.pending[handle] = true
}

// Intervals returns how many intervals the closing has samples of.
func (c *Closing) Intervals() int { return len(c.acc) }

// Outcome is what the actions engine needs of the closing interval: the
// measurement classes and the variables of commands and reports.
type Outcome struct {
	Classes []string
	Vars    map[string]float64 // value_h, av_h, dev_h, z_h
	Keys    map[string]string  // top_h: text from a log line, validated by key_type
}

// Result is a computed close: everything the daemon writes, in one
// transaction, for one interval.
type Result struct {
	Start, End time.Time
	Partial    bool
	// Samples are every sample of the close, in time order then by handle.
	Samples []*Sample
	// Points are the line-protocol points of the samples with a value:
	// each (measurement, interval end) once, when the interval is complete.
	Points []output.Point
	// Outcome is the closing interval's classes and variables; nil when it is
	// partial (no decision is made on part of an interval).
	Outcome *Outcome
	// Writes store the samples, totals, baselines, partial intervals and
	// the committed end.
	Writes Writes
	// Problems are values that could not be encoded (and were not written).
	Problems []error
}

// Close closes an interval: every sample of the closing, in time order,
// scored and learned by its measurement's baseline (except partial and
// short ones), added to its total, written as a point, with its variables
// for the closing interval. Weekly measurements without a sample of a
// complete closing interval are told of the gap. The partial intervals of
// the last run (Start) are folded in first. A measurement the rules lost
// since the last close (Apply) has what it counted before then closed as
// a partial sample, as a shutdown closes the interval under way: added to
// its total, without a point, a score or classes.
func (e *Engine) Close(c *Closing) *Result {
	r := &Result{Start: c.Start, End: c.Start.Add(e.width), Partial: c.Partial}
	if !c.Late {
		e.foldSeeds(c)
	}
	if !c.Partial && !c.Late {
		r.Outcome = &Outcome{Vars: map[string]float64{}, Keys: map[string]string{}}
	}
	times := make([]int64, 0, len(c.acc))
	for t := range c.acc {
		times = append(times, t)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	for _, ts := range times {
		for _, h := range sortedKeys(c.acc[ts]) {
			if st := e.meas[h]; st != nil {
				e.closeOne(r, c, st, time.Unix(ts, 0), false)
			} else if st := e.gone[h]; st != nil {
				e.closeOne(r, c, st, time.Unix(ts, 0), true)
			}
		}
	}
	if r.Outcome != nil {
		// The samples of late streams are part of the next decision. When
		// their measurement has a fresher one, only their alarms (the
		// classes that persist) join it: a late alarm is decided once,
		// never lost, and the variables and the direction are the fresher
		// sample's.
		for _, h := range sortedKeys(e.late) {
			s := e.late[h]
			if c.acc[c.Start.Unix()][h] == nil {
				s.addTo(r.Outcome)
				continue
			}
			for _, cl := range s.Classes {
				if history.Persists(cl) && !slices.Contains(r.Outcome.Classes, cl) {
					r.Outcome.Classes = append(r.Outcome.Classes, cl)
				}
			}
		}
		// A measurement whose sample is still to come (its stream is
		// late) keeps the classes and variables of its latest sample in
		// the decision: not knowing yet is not a change, and a class that
		// fell for want of a sample would rise again with the next one,
		// firing its edge-triggered reports twice. Only a recent sample
		// stands: of the interval before, or of the one before that,
		// whose stream may itself still be late.
		for _, h := range sortedKeys(c.pending) {
			st := e.meas[h]
			if st == nil || st.Last == nil || st.Last.Partial || c.acc[c.Start.Unix()][h] != nil || e.late[h] != nil ||
				st.Last.Start.Before(c.Start.Add(-2*e.width)) || !st.Last.Start.Before(c.Start) {
				continue
			}
			st.Last.addTo(r.Outcome)
		}
		clear(e.late)
	}
	if !c.Partial && !c.Late {
		for _, h := range e.Handles() {
			if st := e.meas[h]; st.Base != nil && c.acc[c.Start.Unix()][h] == nil && !c.pending[h] {
				st.Base.Gap(c.Start)
			}
		}
	}
	e.writes(r, c)
	return r
}

// closeOne closes the interval starting at t of one measurement of a
// closing into r: its sample, total, point, recent value, and its part of
// the decision; of a measurement the rules lost (gone), its partial
// sample and total only.
func (e *Engine) closeOne(r *Result, c *Closing, st *State, t time.Time, gone bool) {
	h := st.Rule.Handle
	current := t.Equal(c.Start)
	acc, ob := c.acc[t.Unix()][h], c.obs[t.Unix()][h]
	s := e.sample(st, t, acc, Flags{Partial: gone || current && c.Partial, CatchUp: !current || c.Late,
		Short: ob.Short, Unavailable: ob.Down}, ob.lines)
	st.Cum.Add(acc.Counts)
	st.Lines += s.Lines
	e.count(st, s)
	if s.Value != nil && !s.Partial {
		r.Points = append(r.Points, e.Point(s))
		r.Points = append(r.Points, e.KeyPoints(s)...)
	}
	if s.Scored() {
		r.Writes = append(r.Writes, recent(e.width, h, st.Base.SlotOf(t), t, *s.Value, s.AlarmScore()))
	}
	// The last sample is the last complete one: a partial interval (at a
	// shutdown) has no expectation or classes, and is kept as an open
	// interval (PrefixOpen) until the next start completes it.
	if !s.Partial && (st.Last == nil || !s.Start.Before(st.Last.Start)) {
		st.Last = s
	}
	if s.KeyTable != nil && !s.Partial && (st.LastKeyed == nil || !s.Start.Before(st.LastKeyed.Start)) {
		st.LastKeyed = s
	}
	switch {
	case gone:
	case current && r.Outcome != nil:
		s.addTo(r.Outcome)
	case c.Late:
		e.late[h] = s
	}
	r.Samples = append(r.Samples, s)
}

// addTo adds the sample's classes and variables to a decision's.
func (s *Sample) addTo(o *Outcome) {
	o.Classes = append(o.Classes, s.Classes...)
	s.AddVars(o.Vars, o.Keys)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// foldSeeds folds the partial intervals of the last run into the closing,
// first, so that first and last keep their order; then forgets them.
func (e *Engine) foldSeeds(c *Closing) {
	if len(e.seeds) == 0 {
		return
	}
	later := c.acc
	c.acc = map[int64]map[string]*Accumulator{}
	for h, o := range e.seeds {
		st := e.meas[h]
		if st == nil {
			st = e.gone[h] // completed by its partial sample
		}
		if st == nil {
			continue
		}
		a := NewAccumulator(st.Rule)
		a.Restore(o.Snapshot)
		c.merge(o.Start.Unix(), h, a)
	}
	for t, b := range later {
		for h, a := range b {
			c.merge(t, h, a)
		}
	}
}

// count adds a sample's value to its measurement's total: a partial
// interval's value is remembered, so that its completion adds only the
// rest.
func (e *Engine) count(st *State, s *Sample) {
	if s.Value == nil {
		return
	}
	ts := s.Start.Unix()
	st.Total.Total += *s.Value - st.counted[ts]
	if s.Partial {
		st.counted[ts] = *s.Value
	} else {
		delete(st.counted, ts)
		st.Total.Samples++
	}
	if st.Total.Since.IsZero() {
		st.Total.Since = s.Start
	}
}

// writes appends the state writes of a close: baselines (what changed),
// totals and last samples of every measurement, partial intervals (stored
// at a shutdown, deleted otherwise, and deleted for measurements the rules
// lost), and the committed end.
func (e *Engine) writes(r *Result, c *Closing) {
	ws := &r.Writes
	for _, h := range e.Handles() {
		st := e.meas[h]
		if st.Base != nil {
			for _, k := range st.stale {
				ws.del(k)
			}
			st.stale = nil
			ws.baseline(e.width, h, st.Base, false)
		}
		if a := st.Adaptive; a != nil && a.changed {
			r.problem(ws.json(ThresholdKey(e.width, h), a))
			a.changed = false
		}
		r.problem(ws.json(PrefixTotal+h, st.Total))
		if st.Last != nil {
			r.problem(ws.json(PrefixSample+h, st.Last))
		}
		switch a := c.acc[c.Start.Unix()][h]; {
		case c.Late:
			// Partial intervals are a matter of starts and shutdowns.
		case c.Partial && a != nil:
			r.problem(ws.json(PrefixOpen+h, Open{Start: c.Start, Snapshot: a.Snapshot(), Counted: st.counted[c.Start.Unix()]}))
		default:
			ws.del(PrefixOpen + h)
		}
	}
	if c.Late {
		return
	}
	for _, h := range sortedKeys(e.gone) {
		for _, b := range c.acc {
			if b[h] != nil {
				r.problem(ws.json(PrefixTotal+h, e.gone[h].Total))
				break
			}
		}
	}
	clear(e.gone)
	for h := range e.seeds {
		if e.meas[h] == nil {
			ws.del(PrefixOpen + h)
		}
	}
	e.seeds = map[string]Open{}
	end := r.End
	if c.Partial {
		end = c.Start
	}
	ws.set(KeyCommittedEnd, formatTime(end))
}

func (r *Result) problem(err error) {
	if err != nil {
		r.Problems = append(r.Problems, err)
	}
}

func decodeJSON(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// getJSON decodes the value of key into v, leaving v as it is when the key
// is absent.
func getJSON(tx Tx, key string, v any) error {
	_, err := getJSONOK(tx, key, v)
	return err
}

func getJSONOK(tx Tx, key string, v any) (bool, error) {
	s, ok, err := tx.Get(key)
	if err != nil || !ok {
		return ok, err
	}
	if err := decodeJSON(s, v); err != nil {
		return true, err
	}
	return true, nil
}
