package daemon

import (
	"context"
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
type observer struct {
	sampler observe.Sampler
	last    map[string]sampled // by handle; the daemon's loop only

	mu sync.Mutex // guards the counters, which the status page reads
	// counts by handle since the daemon started, for its stream metrics.
	readings, failures map[string]uint64
}

// sampled is the last reading of an observable.
type sampled struct {
	at   time.Time
	snap interval.Snapshot
}

func newObserver() *observer {
	return &observer{last: map[string]sampled{}, readings: map[string]uint64{}, failures: map[string]uint64{}}
}

// due reports whether a snapshot measurement must be sampled for the
// interval ending at end: always, unless its ifelapsed has not passed
// since its last sample (a restart samples at once).
func due(m *rules.Measurement, last time.Time, end time.Time) bool {
	return m.IfElapsed <= 0 || last.IsZero() || end.Sub(last) >= m.IfElapsed
}

// sample reads the observables of ms for the interval ending at end. An
// observable whose ifelapsed has not passed repeats its last reading
// (weekly and scalar) or has none (log), as cf-monitord uses its cached
// value; one that cannot be read within its expireafter has none (a gap),
// which is logged.
func (d *Daemon) sampleObservables(ms []*rules.Measurement, end time.Time) map[string]*interval.Accumulator {
	o := d.observe
	out := map[string]*interval.Accumulator{}
	var specs []observe.Spec
	var now []*rules.Measurement
	limit := DefaultSampleLimit
	for _, m := range ms {
		last := o.last[m.Handle]
		if !due(m, last.at, end) {
			if m.HistoryType != rules.HistoryLog && !last.at.IsZero() {
				a := interval.NewAccumulator(m)
				a.Restore(last.snap)
				out[m.Handle] = a
			}
			continue
		}
		specs = append(specs, *m.Observe)
		now = append(now, m)
		if m.ExpireAfter > 0 && m.ExpireAfter < limit {
			limit = m.ExpireAfter
		}
	}
	if len(specs) == 0 {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for i, r := range o.sampler.SampleContext(ctx, specs) {
		m := now[i]
		o.mu.Lock()
		if r.Err != nil {
			o.failures[m.Handle]++
		} else {
			o.readings[m.Handle]++
		}
		o.mu.Unlock()
		if r.Err != nil {
			d.log.Warn("observable not read: no value this interval", "handle", m.Handle, "observable", specs[i].String(), "err", r.Err)
			continue
		}
		a := interval.Sampled(m, r.Value, r.Keys)
		o.last[m.Handle] = sampled{at: end, snap: a.Snapshot()}
		out[m.Handle] = a
	}
	return out
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
