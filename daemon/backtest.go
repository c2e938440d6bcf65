package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/logtally/logtally/actions"
	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// BacktestOptions configure BacktestLogs.
type BacktestOptions struct {
	Interval time.Duration // 0: settings.interval
	Logs     []string      // as LearnOptions.Logs
	All      bool
	// Since and Until bound what journal measurements read (as
	// LearnOptions').
	Since, Until time.Time
	Progress     func(done, total int64)
	Empty        func(source, why string) // as LearnOptions'
}

// Replay is one measurement's replayed history: a row per interval with a
// value, scored before learning as the daemon would have.
type Replay struct {
	Handle string
	// Measurement is the configuration replayed: the rules' measurement,
	// or the default one of a series the rules do not have.
	Measurement *rules.Measurement
	Rows        []interval.Row
}

// BacktestLogs replays logs through fresh baselines — what a new install
// would have seen — without touching any state: each line is attributed to
// the interval of its own timestamp, each interval is closed by the
// interval engine as the daemon closes it (scored before it is learned, a
// gap when it has no value), and each row says which classes were set, with
// the measurement's persistence, and which rose.
func BacktestLogs(set *rules.Set, o BacktestOptions) ([]Replay, error) {
	width := o.Interval
	if width <= 0 {
		width = set.Settings.Interval
	}
	timelines, _, err := readTimelines(set, width, o.Logs, o.All, false, o.Since, o.Until, o.Progress, o.Empty)
	if err != nil {
		return nil, fmt.Errorf("backtest: %w", err)
	}
	eng := interval.New(width)
	if _, err := eng.Apply(set, nil); err != nil {
		return nil, fmt.Errorf("backtest: %w", err)
	}
	var out []Replay
	for _, tl := range timelines {
		intervals := tl.Intervals()
		for i, m := range tl.Group.Measurements {
			r := Replay{Handle: m.Handle, Measurement: m}
			rows := interval.NewRows(m)
			for _, t := range intervals {
				if s := eng.Sample(m.Handle, t, tl.At(t, i)); s.Value != nil {
					r.Rows = append(r.Rows, rows.Add(s))
				}
			}
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Handle < out[j].Handle })
	return out, nil
}

// BacktestSeries replays a series of timestamp,value samples of one
// measurement, named handle, through a fresh baseline at the interval
// width (inferred from the series when 0: history.InferInterval): with
// the rules' measurement of that handle when set has one (its
// persistence, noise, anomaly threshold and alarm budget, in the rules'
// time zone), else with the default configuration and persistence.
func BacktestSeries(handle string, series []history.Sample, width time.Duration, set *rules.Set) Replay {
	if width <= 0 {
		width = history.InferInterval(series)
	}
	m := &rules.Measurement{Handle: handle, HistoryType: rules.HistoryWeekly, DataType: rules.Real,
		Persist: rules.DefaultPersist, PersistPolicy: rules.PersistPreserve}
	one := &rules.Set{}
	if set != nil {
		one.Settings = set.Settings
		if rm := set.Measurement(handle); rm != nil && rm.HistoryType == rules.HistoryWeekly {
			m = rm
		}
	}
	one.Measurements = []*rules.Measurement{m}
	eng := interval.New(width)
	_, _ = eng.Apply(one, nil) // without a Tx nothing is read
	r := Replay{Handle: handle, Measurement: m}
	rows := interval.NewRows(m)
	for _, s := range series {
		r.Rows = append(r.Rows, rows.Add(eng.Value(handle, s.T, s.V)))
	}
	return r
}

// WouldFire is a command or report that a replay would have fired, or
// suppressed.
type WouldFire struct {
	actions.Firing
	Suppressed bool
}

// Simulation is what a backtest's rules would have done: the commands and
// reports that would have fired or been suppressed, and the notices with
// what the notice policy would have done with each, and its tally lines.
type Simulation struct {
	Firings []WouldFire
	Notices []actions.Notice
}

// SimulateActions replays the classes of a backtest through the rules'
// user classes, commands, reports and notice policy, exactly as the daemon
// decides them (persistence, edge triggers, ifelapsed, suppression), and
// returns what would have been done. Nothing runs and nothing is logged:
// the decisions are made against a throwaway state file.
func SimulateActions(set *rules.Set, replays []Replay, width time.Duration) (Simulation, error) {
	var sim Simulation
	if len(set.Commands) == 0 && len(set.Reports) == 0 && len(set.Policy) == 0 && len(set.Classes) == 0 {
		return sim, nil
	}
	if width <= 0 {
		width = set.Settings.Interval
	}
	dir, err := os.MkdirTemp("", "logtally-backtest-")
	if err != nil {
		return sim, fmt.Errorf("simulate actions: %w", err)
	}
	defer os.RemoveAll(dir)
	store, err := state.Open(filepath.Join(dir, "state.db"), state.Options{NoSync: true})
	if err != nil {
		return sim, fmt.Errorf("simulate actions: %w", err)
	}
	defer store.Close()
	engine, err := actions.New(set, actions.Options{DryRun: true})
	if err != nil {
		return sim, fmt.Errorf("simulate actions: %w", err)
	}
	byTime := map[int64]*actions.Interval{}
	var times []int64
	for _, r := range replays {
		for _, row := range r.Rows {
			ts := row.Start.Unix()
			in := byTime[ts]
			if in == nil {
				in = &actions.Interval{Start: row.Start, End: row.Start.Add(width), Vars: map[string]float64{}, Keys: map[string]string{}}
				byTime[ts] = in
				times = append(times, ts)
			}
			// The interval's own classes, as the daemon decides on them:
			// the actions engine holds them for their persistence itself
			// and tells a held class from a fresh one (per: key).
			in.Classes = append(in.Classes, row.Sample.Classes...)
			row.AddVars(in.Vars, in.Keys)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	for _, ts := range times {
		in := byTime[ts]
		var dec *actions.Decision
		if err := store.Update(func(tx *state.Tx) error {
			var err error
			dec, err = engine.Decide(tx, *in)
			return err
		}); err != nil {
			return sim, fmt.Errorf("simulate actions: %w", err)
		}
		for _, f := range dec.Fired {
			sim.Firings = append(sim.Firings, WouldFire{Firing: f})
		}
		for _, f := range dec.Suppressed {
			sim.Firings = append(sim.Firings, WouldFire{Firing: f, Suppressed: true})
		}
		sim.Notices = append(sim.Notices, dec.Notices...)
	}
	return sim, nil
}
