package interval

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/output"
	"github.com/logtally/logtally/rules"
)

// Engine closes the intervals of a rule set's measurements. It keeps each
// measurement's running state (its baseline, total and last sample) and
// turns the accumulators of an interval into samples: values, scores
// (each sample scored against the baseline as it was, then learned),
// classes, entropy, line-protocol points, the variables of commands and
// reports, and the state writes that commit them. It does no I/O: Start
// and Apply read through a Tx, Close returns what to write. It is not safe
// for concurrent use.
type Engine struct {
	width time.Duration
	set   *rules.Set
	meas  map[string]*State
	// seeds are the partial intervals of the last run, folded into the
	// first close.
	seeds map[string]Open
	// late are the samples of late closes not yet part of a decision, by
	// handle.
	late map[string]*Sample
	// gone are the measurements the rules lost at the last Apply, by
	// handle, until the next close: what they counted before it is that
	// close's partial sample of theirs (see Close).
	gone map[string]*State
}

// State is one measurement's running state.
type State struct {
	Rule  *rules.Measurement
	Base  *history.Baseline // weekly measurements only
	Total Total
	Last  *Sample
	// LastKeyed is the last sample since the process started with a key
	// table (Last has none when its interval had no keyed line).
	LastKeyed *Sample
	Cum       Counts // counts since the process started, for metrics
	Lines     uint64 // lines of its stream since the process started

	// Adaptive is the anomaly threshold of a measurement with an
	// alarm_budget; nil without.
	Adaptive *Adaptive

	counted map[int64]float64 // value already in Total for a partial interval, by start
	stale   []string          // keys of an unusable stored baseline, deleted at the next commit
}

// New returns an engine for intervals of the given width, without
// measurements until Apply.
func New(width time.Duration) *Engine {
	return &Engine{width: width, meas: map[string]*State{}, seeds: map[string]Open{}, late: map[string]*Sample{}, gone: map[string]*State{}}
}

// Width returns the interval.
func (e *Engine) Width() time.Duration { return e.width }

// State returns the state of the measurement with the handle, or nil.
func (e *Engine) State(handle string) *State { return e.meas[handle] }

// Handles returns the handles of the measurements, sorted.
func (e *Engine) Handles() []string {
	out := make([]string, 0, len(e.meas))
	for h := range e.meas {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// BaselineConfig is the configuration of measurement m's weekly baseline at
// width.
func BaselineConfig(set *rules.Set, m *rules.Measurement, width time.Duration) history.Config {
	return history.Config{Interval: width, Location: set.Settings.Location, HalfLife: set.Settings.HalfLife, Noise: m.Noise}
}

// Resume is what the state file says about the last run, for the daemon's
// catch-up.
type Resume struct {
	// CommittedEnd is the end of the last complete interval, zero when
	// there is none at this width (the downtime is then a gap).
	CommittedEnd time.Time
	// Was is the width the daemon last ran at, zero when it never ran.
	Was time.Duration
	// Earliest is the start of the earliest partial interval kept to be
	// continued, zero when none.
	Earliest time.Time
	// Migrated and Dropped count the keys of an older state file moved
	// under their width, or dropped (see Migrate).
	Migrated, Dropped int
}

// Start reads what the state file says about the last run before a daemon
// starts: it migrates an older state file (Migrate), keeps the partial
// intervals of the last run if it ran at this width (they are folded into
// the first close), and records the width in meta/interval. Call it before
// the first Apply.
func (e *Engine) Start(tx Tx) (Resume, error) {
	var r Resume
	var err error
	if r.Migrated, r.Dropped, err = Migrate(tx); err != nil {
		return r, err
	}
	prev, _, err := tx.Get(KeyInterval)
	if err != nil {
		return r, err
	}
	if prev != "" {
		r.Was, _ = time.ParseDuration(prev)
	}
	same := r.Was == e.width
	if same {
		if r.CommittedEnd, err = GetTime(tx, KeyCommittedEnd); err != nil {
			return r, err
		}
	}
	err = tx.Ascend(PrefixOpen, func(k, v string) bool {
		var o Open
		if decodeJSON(v, &o) == nil && same {
			e.seeds[k[len(PrefixOpen):]] = o
			if r.Earliest.IsZero() || o.Start.Before(r.Earliest) {
				r.Earliest = o.Start
			}
		}
		return true
	})
	if err != nil {
		return r, err
	}
	return r, tx.Set(KeyInterval, e.width.String())
}

// Warning is a stored baseline that could not be used.
type Warning struct {
	Handle string
	Err    error
}

// Apply installs a rule set: the state of a measurement that stays (same
// handle, weekly or not as before) is kept; the others are read from tx
// (their total, last sample, and baseline at this width, new when none is
// stored), or start empty when tx is nil (a backtest: fresh baselines).
// It returns, as warnings, the stored baselines that could not be used:
// they start afresh, and their keys are deleted at the next commit.
func (e *Engine) Apply(set *rules.Set, tx Tx) (warnings []Warning, err error) {
	meas := map[string]*State{}
	for _, m := range set.Measurements {
		weekly := m.HistoryType == rules.HistoryWeekly
		old, ok := e.meas[m.Handle]
		if !ok {
			old, ok = e.gone[m.Handle] // removed since the last close: back as it was
		}
		if ok && (old.Base != nil) == weekly {
			old.Rule = m
			if old.Base != nil {
				old.Base.SetNoise(m.Noise)
			}
			if m.Budget == nil || !weekly {
				if old.Adaptive != nil {
					// The budget is gone: so is its threshold, at the next commit.
					old.stale = append(old.stale, ThresholdKey(e.width, m.Handle))
				}
				old.Adaptive = nil
			} else if old.Adaptive == nil {
				old.Adaptive = &Adaptive{}
			}
			meas[m.Handle] = old
			continue
		}
		st := &State{Rule: m, counted: map[int64]float64{}}
		if o, ok := e.seeds[m.Handle]; ok {
			st.counted[o.Start.Unix()] = o.Counted
		}
		cfg := BaselineConfig(set, m, e.width)
		if weekly && m.Budget != nil {
			st.Adaptive = &Adaptive{}
		}
		if tx == nil {
			if weekly {
				st.Base = history.New(cfg)
			}
			meas[m.Handle] = st
			continue
		}
		if err := getJSON(tx, PrefixTotal+m.Handle, &st.Total); err != nil {
			return nil, err
		}
		var last Sample
		if ok, err := getJSONOK(tx, PrefixSample+m.Handle, &last); err != nil {
			return nil, err
		} else if ok {
			st.Last = &last
		}
		if weekly {
			sb, err := loadBaseline(tx, e.width, m.Handle, cfg)
			if err != nil {
				return nil, err
			}
			st.Base, st.stale = sb.base, sb.keys
			if st.Adaptive == nil {
				// A budget removed while the daemon was down: its
				// threshold goes at the next commit, so that status does
				// not show it.
				if _, ok, err := tx.Get(ThresholdKey(e.width, m.Handle)); err != nil {
					return nil, err
				} else if ok {
					st.stale = append(st.stale, ThresholdKey(e.width, m.Handle))
				}
			} else {
				if err := getJSON(tx, ThresholdKey(e.width, m.Handle), st.Adaptive); err != nil {
					// A damaged record starts afresh, as a damaged baseline does.
					*st.Adaptive = Adaptive{}
				}
			}
			if sb.err != nil {
				warnings = append(warnings, Warning{Handle: m.Handle, Err: sb.err})
			}
		}
		meas[m.Handle] = st
	}
	for h, st := range e.meas {
		if meas[h] == nil {
			e.gone[h] = st
		}
	}
	for h := range meas {
		delete(e.gone, h)
	}
	e.set, e.meas = set, meas
	return warnings, nil
}

// SaveBaseline returns the writes that store the whole baseline of
// measurement h (after deleting what was stored of an unusable one), as
// `learn` saves what it taught, with the adaptive threshold of an alarm
// budget.
func (e *Engine) SaveBaseline(h string) Writes {
	st := e.meas[h]
	if st == nil || st.Base == nil {
		return nil
	}
	ws := SaveBaseline(e.width, h, st.Base, st.stale)
	st.stale = nil
	if a := st.Adaptive; a != nil {
		_ = ws.json(ThresholdKey(e.width, h), a) // finite numbers (Adaptive.observe) always encode
		a.changed = false
	}
	return ws
}

// Flags say how an interval of a measurement was observed.
type Flags struct {
	Partial     bool // closed early by a shutdown: neither scored nor learned
	CatchUp     bool // not the interval that is closing (a backlog, a late stream)
	Short       bool // its stream began during the interval: neither scored nor learned
	Unavailable bool // its stream could not be read throughout: see Sample.Unavailable
}

// UnavailableClass is the class of an interval in which measurement h's
// stream could not be read.
func UnavailableClass(h string) string { return h + "_unavailable" }

// Sample closes one complete interval of measurement h, starting at start,
// from its accumulator: the value, counts and keys; for a weekly
// measurement the sample is scored against the baseline, then learned (or
// the baseline is told of a gap when there is no value), with its classes
// and entropy. `learn` and `backtest` close every interval through it, as
// the daemon does. It returns nil for an unknown handle.
func (e *Engine) Sample(h string, start time.Time, acc *Accumulator) *Sample {
	st := e.meas[h]
	if st == nil {
		return nil
	}
	return e.sample(st, start, acc, Flags{}, 0)
}

// Value closes one interval of measurement h with the value v, as Sample
// does (a replayed series has values, not lines).
func (e *Engine) Value(h string, start time.Time, v float64) *Sample {
	st := e.meas[h]
	if st == nil {
		return nil
	}
	s := &Sample{Handle: h, Start: start, End: start.Add(e.width), Value: &v}
	e.score(st, s, nil)
	return s
}

func (e *Engine) sample(st *State, start time.Time, acc *Accumulator, f Flags, lines uint64) *Sample {
	s := Describe(st.Rule, acc)
	s.Start, s.End = start, start.Add(e.width)
	s.Partial, s.CatchUp, s.Short, s.Unavailable, s.Lines = f.Partial, f.CatchUp, f.Short, f.Unavailable, lines
	if f.Unavailable {
		// Lines read before the stream failed are counted; without any,
		// the interval has no value (a gap, not a zero). Either way it is
		// not the interval's whole story: nothing is learned.
		s.Classes = []string{UnavailableClass(s.Handle)}
		if lines == 0 {
			s.Value, s.Text = nil, ""
		}
		if st.Base != nil && !s.Partial {
			st.Base.Gap(start)
		}
		return s
	}
	if !s.Partial && !s.Short {
		e.score(st, s, acc)
	}
	return s
}

// Describe returns what an accumulator of measurement m says, without a
// baseline: its value, counts and top key; a string's text; a set's
// members and, with expect:, the unexpected and missing ones and their
// classes. The engine scores it; `test` prints it.
func Describe(m *rules.Measurement, acc *Accumulator) *Sample {
	s := &Sample{Handle: m.Handle, Counts: acc.Counts}
	if v, ok := acc.Value(); ok {
		s.Value = &v
	}
	if top, n := acc.TopKey(); n > 0 && !m.IsSet() {
		s.TopKey, s.TopCount = top, n
	}
	s.Keys = len(acc.Keys())
	if m.TopKeys > 0 && s.Keys > 0 && !m.IsSet() {
		s.KeyTable = NewKeyTable(acc.Keys(), m.TopKeys)
	}
	if t, ok := acc.Text(); ok {
		s.Text = t
	}
	if m.IsSet() {
		s.compareSet(m, acc.Keys())
	}
	return s
}

// compareSet fills the members of a set measurement and, with expect:, the
// unexpected and missing ones and their classes, h_unexpected and
// h_missing.
func (s *Sample) compareSet(m *rules.Measurement, keys map[string]uint64) {
	s.Set = make([]string, 0, len(keys))
	for k := range keys {
		s.Set = append(s.Set, k)
	}
	SortNatural(s.Set)
	if m.Expect == nil {
		return
	}
	s.Expected = m.Expect
	for _, k := range s.Set {
		if !slices.Contains(m.Expect, k) {
			s.Unexpected = append(s.Unexpected, k)
		}
	}
	for _, k := range m.Expect {
		if _, ok := keys[k]; !ok && !slices.Contains(s.Missing, k) {
			s.Missing = append(s.Missing, k)
		}
	}
	if len(s.Unexpected) > 0 {
		s.Classes = append(s.Classes, m.Handle+"_unexpected")
	}
	if len(s.Missing) > 0 {
		s.Classes = append(s.Classes, m.Handle+"_missing")
	}
}

// score scores a complete sample against its measurement's baseline and
// learns it, or records a gap; and adds the entropy of its keys (of any
// measurement with a key, weekly or not).
func (e *Engine) score(st *State, s *Sample, acc *Accumulator) {
	h := st.Rule.Handle
	switch {
	case st.Base == nil:
	case s.Value == nil:
		st.Base.Gap(s.Start)
	default:
		sc := st.Base.ObserveFrom(s.Start, *s.Value, source(st.Rule, s))
		s.Score = &sc
		s.Av, s.Dev, s.Z = finite(sc.Av), finite(sc.Dev), finite(sc.Z)
		// The classes follow the measurement's anomaly threshold; the
		// score stays the baseline's verdict.
		lv := sc
		applyThreshold(&lv, e.threshold(st, s))
		s.Classes = history.Classes(h, lv)
	}
	if acc != nil && st.Rule.Keyed() && len(acc.Keys()) > 0 {
		ent, class := history.Entropy(h, acc.Keys())
		s.Entropy = &ent
		if class != "" {
			s.Classes = append(s.Classes, class)
		}
	}
}

// source returns where a sample's lines came from, for the baseline's
// alarm memory per source: the top key of a counter with a key (whose
// value is its lines, so that the key's lines say how much of it the key
// explains); no source otherwise.
func source(m *rules.Measurement, s *Sample) history.Source {
	if m.Key == "" || m.DataType != rules.Counter || m.Observe != nil || s.TopKey == "" {
		return history.Source{}
	}
	return history.Source{Key: s.TopKey, Lines: float64(s.TopCount)}
}

// threshold returns the anomaly threshold of a scored sample of st: the
// adaptive one of an alarm budget (which takes the sample's score in),
// else anomaly_threshold, else the default.
func (e *Engine) threshold(st *State, s *Sample) float64 {
	if st.Adaptive != nil {
		var loc *time.Location
		if e.set != nil {
			loc = e.set.Settings.Location
		}
		return st.Adaptive.observe(st.Rule, e.width, loc, s.Start, SignedScore(s))
	}
	return floor(st.Rule)
}

// Point returns the line-protocol point of a sample with a value: its
// value and, when it was scored, av, dev and z, stamped at its end; extra
// fields follow.
func (e *Engine) Point(s *Sample, extra ...output.Field) output.Point {
	var fields []output.Field
	if sc := s.Score; sc != nil {
		for _, kv := range []struct {
			k string
			v float64
		}{{"av", sc.Av}, {"dev", sc.Dev}, {"z", sc.Z}} {
			if !math.IsNaN(kv.v) && !math.IsInf(kv.v, 0) {
				fields = append(fields, output.Field{Key: kv.k, Value: kv.v})
			}
		}
	}
	var tags map[string]string
	host := ""
	if e.set != nil {
		host = e.set.Settings.Host
		if st := e.meas[s.Handle]; st != nil {
			tags = e.set.Settings.TagsFor(st.Rule)
		}
	}
	return output.SamplePoint(s.Handle, host, tags, s.End, *s.Value, append(fields, extra...)...)
}
