package daemon

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/observe"
	"github.com/logtally/logtally/rules"
)

// DefaultSampleLimit bounds one reading of the host observables, and one
// read of a file read whole, unless expireafter says otherwise: a reading
// still not done is a gap, and delays nothing longer.
const DefaultSampleLimit = 10 * time.Second

// observer samples the observables of the rules (observe:) once per
// interval, each source once for all that need it (package observe), and
// keeps for each what ifelapsed needs: when it was last sampled and what.
// The readings are taken at the end of the interval off the commit's
// path: the commit waits, within the cut budget, for the readings that
// can make it, those of observables whose last reading took less than the
// budget; a reading that comes later (before its expireafter) is committed
// late, on its own, as a late stream's intervals are (commitLate).
type observer struct {
	sampler *observe.Sampler

	mu   sync.Mutex         // guards everything below: the loop and the late readings
	last map[string]sampled // by handle
	late []lateReading      // readings that came after their interval's commit
	// slow are the observables whose last reading took longer than the
	// cut budget, or whose source was still busy: the commit of the next
	// interval does not wait for them.
	slow map[string]bool
	// counts by handle since the daemon started, for its stream metrics.
	readings, failures map[string]uint64
}

// sampled is the last reading of an observable.
type sampled struct {
	at   time.Time
	snap interval.Snapshot
}

// lateReading is what was read of an interval's observables after that
// interval was committed.
type lateReading struct {
	start time.Time
	accs  map[string]*interval.Accumulator
}

// newObserver returns an observer that reads with sampler (the running
// system when nil).
func newObserver(sampler *observe.Sampler) *observer {
	if sampler == nil {
		sampler = &observe.Sampler{}
	}
	return &observer{sampler: sampler, last: map[string]sampled{}, slow: map[string]bool{},
		readings: map[string]uint64{}, failures: map[string]uint64{}}
}

// due reports whether a snapshot measurement must be sampled for the
// interval ending at end: always, unless its ifelapsed has not passed
// since its last sample (a restart samples at once).
func due(m *rules.Measurement, last time.Time, end time.Time) bool {
	return m.IfElapsed <= 0 || last.IsZero() || end.Sub(last) >= m.IfElapsed
}

// observing is one interval's reading of the observables, under way.
type observing struct {
	d          *Daemon
	start, end time.Time
	ms         []*rules.Measurement // the observables read, in the order of the specs
	specs      []observe.Spec
	parts      <-chan observe.Part
	cancel     context.CancelFunc
	// began is when the readings began and budget the cut budget (real
	// time: readings slower than it are slow).
	began  time.Time
	budget time.Duration
	// ready are the readings so far, and the repeated ones; missing the
	// handles not read yet; awaited those of them that the commit waits
	// for (not slow).
	ready   map[string]*interval.Accumulator
	missing map[string]bool
	awaited map[string]bool
	// busy are the handles whose source was still being read for an
	// earlier interval: no reading of this one will come.
	busy []string
}

// startObserving starts reading the observables of ms for the interval
// from start to end; the commit will wait for those that are not slow,
// within budget. An observable whose ifelapsed has not passed repeats its
// last reading
// (weekly and scalar) or has none (log), as cf-monitord uses its cached
// value; one that cannot be read within its expireafter
// (DefaultSampleLimit when it has none) has none (a gap), which is
// logged.
func (d *Daemon) startObserving(ms []*rules.Measurement, budget time.Duration, start, end time.Time) *observing {
	o := d.observe
	ob := &observing{d: d, start: start, end: end, budget: budget, ready: map[string]*interval.Accumulator{},
		missing: map[string]bool{}, awaited: map[string]bool{}}
	var limits []time.Duration
	o.mu.Lock()
	for _, m := range ms {
		last := o.last[m.Handle]
		if !due(m, last.at, end) {
			if m.HistoryType != rules.HistoryLog && !last.at.IsZero() {
				a := interval.NewAccumulator(m)
				a.Restore(last.snap)
				ob.ready[m.Handle] = a
			}
			continue
		}
		ob.specs = append(ob.specs, *m.Observe)
		ob.ms = append(ob.ms, m)
		ob.missing[m.Handle] = true
		if !o.slow[m.Handle] {
			ob.awaited[m.Handle] = true
		}
		limit := DefaultSampleLimit
		if m.ExpireAfter > 0 {
			limit = m.ExpireAfter
		}
		limits = append(limits, limit)
	}
	o.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	ob.cancel = cancel
	ob.began = time.Now() // real time: how long a reading takes
	ob.parts = o.sampler.Start(ctx, ob.specs, limits)
	return ob
}

// take records one source's part: each reading joins ready, each failure
// is counted and logged, and each observable of the part is slow or not
// as its reading took. It returns the readings of the part.
func (ob *observing) take(p observe.Part) map[string]*interval.Accumulator {
	o, log := ob.d.observe, ob.d.log
	got := map[string]*interval.Accumulator{}
	took := time.Since(ob.began)
	o.mu.Lock()
	defer o.mu.Unlock()
	for j, i := range p.Index {
		m, r := ob.ms[i], p.Results[j]
		delete(ob.missing, m.Handle)
		delete(ob.awaited, m.Handle)
		o.slow[m.Handle] = took > ob.budget || errors.Is(r.Err, observe.ErrBusy)
		if r.Err != nil {
			o.failures[m.Handle]++
			if errors.Is(r.Err, observe.ErrBusy) {
				ob.busy = append(ob.busy, m.Handle)
			}
			log.Warn("observable not read: no value this interval", "handle", m.Handle, "observable", ob.specs[i].String(),
				"interval_start", ob.start, "err", r.Err)
			continue
		}
		o.readings[m.Handle]++
		a := interval.Sampled(m, r.Value, r.Keys)
		o.last[m.Handle] = sampled{at: ob.end, snap: a.Snapshot()}
		got[m.Handle] = a
	}
	return got
}

// until collects the readings of the interval: those that have come, and
// those that are not slow (awaited), until they come or until deadline
// (real time: a budget for real work), whichever is first. It
// returns them, and the handles whose reading is still under way or whose
// source was busy with an earlier interval's: their samples come late,
// on their own, if at all. What is still being read is collected on a
// goroutine of its own and handed to commitLate.
func (ob *observing) until(deadline time.Time) (ready map[string]*interval.Accumulator, pending []string) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		var p observe.Part
		var ok bool
		select {
		case p, ok = <-ob.parts:
		default:
			// Nothing more has come: wait only for what can come
			// within the budget.
			if len(ob.awaited) == 0 {
				return ob.finish()
			}
			select {
			case p, ok = <-ob.parts:
			case <-timer.C:
				return ob.finish()
			}
		}
		if !ok {
			return ob.finish()
		}
		maps.Copy(ob.ready, ob.take(p))
	}
}

// finish ends the wait of until: it returns the readings so far and the
// handles still pending, and collects the rest, if any, on its own.
func (ob *observing) finish() (ready map[string]*interval.Accumulator, pending []string) {
	pending = append(slices.Sorted(maps.Keys(ob.missing)), ob.busy...)
	if len(ob.missing) == 0 {
		ob.cancel()
		return ob.ready, pending
	}
	go ob.rest()
	return ob.ready, pending
}

// rest collects the parts of a reading that missed its interval's commit
// and hands each to commitLate as it comes.
func (ob *observing) rest() {
	defer ob.cancel()
	for p := range ob.parts {
		got := ob.take(p)
		if len(got) == 0 {
			continue
		}
		o := ob.d.observe
		o.mu.Lock()
		o.late = append(o.late, lateReading{start: ob.start, accs: got})
		o.mu.Unlock()
		ob.d.signalLate()
	}
}

// takeLate returns the late readings and forgets them.
func (o *observer) takeLate() []lateReading {
	o.mu.Lock()
	defer o.mu.Unlock()
	late := o.late
	o.late = nil
	return late
}

// observables returns the observe: measurements of the rules.
func observables(set *rules.Set) []*rules.Measurement {
	var out []*rules.Measurement
	for _, m := range set.Measurements {
		if m.StreamType == rules.StreamObserve {
			out = append(out, m)
		}
	}
	return out
}

// counts returns the readings and failures of an observable.
func (o *observer) counts(handle string) (readings, failures uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.readings[handle], o.failures[handle]
}
