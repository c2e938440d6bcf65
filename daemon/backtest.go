package daemon

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/logtally/logtally/actions"
	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// BacktestOptions configure BacktestLogs.
type BacktestOptions struct {
	Interval time.Duration // 0: settings.interval
	Logs     []string      // as LearnOptions.Logs
	All      bool
	Progress func(done, total int64)
}

// Replay is one measurement's replayed history: a row per interval the logs
// cover, scored before learning as the daemon would have.
type Replay struct {
	Handle string
	Rows   []history.Row
	// TopKeys holds, for rules with a key, each row's most frequent key.
	TopKeys []string
}

// BacktestLogs replays logs through fresh baselines — what a new install
// would have seen — without touching any state: each line is attributed to
// the interval of its own timestamp, each interval is scored before it is
// learned, and each row says which classes were set and which rose.
func BacktestLogs(set *rules.Set, o BacktestOptions) ([]Replay, error) {
	width := o.Interval
	if width <= 0 {
		width = set.Settings.Interval
	}
	timelines, _, err := readTimelines(set, width, o.Logs, o.All, o.Progress)
	if err != nil {
		return nil, fmt.Errorf("backtest: %w", err)
	}
	var out []Replay
	for _, tl := range timelines {
		intervals := tl.Intervals()
		for i, m := range tl.Group.Measurements {
			var series []history.Sample
			var keyed []map[string]uint64
			var tops []string
			for _, t := range intervals {
				acc := tl.At(t, i)
				if v, ok := acc.Value(); ok {
					series = append(series, history.Sample{T: t, V: v})
					keyed = append(keyed, acc.Keys())
					top, _ := acc.TopKey()
					tops = append(tops, top)
				}
			}
			rows := history.BacktestPersist(m.Handle, series, baselineConfig(set, m, width), m.Persist)
			r := Replay{Handle: m.Handle, Rows: rows}
			if m.Key != "" {
				addEntropy(m.Handle, rows, keyed)
				r.TopKeys = tops
			}
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Handle < out[j].Handle })
	return out, nil
}

// addEntropy adds the entropy class of each row's keys, and its rises.
func addEntropy(handle string, rows []history.Row, keys []map[string]uint64) {
	prev := ""
	for i := range rows {
		class := ""
		if i < len(keys) && len(keys[i]) > 0 {
			_, class = history.Entropy(handle, keys[i])
		}
		if class != "" {
			rows[i].Classes = append(rows[i].Classes, class)
			if class != prev {
				rows[i].Rises = append(rows[i].Rises, class)
			}
		}
		prev = class
	}
}

// WouldFire is a command or report that a replay would have fired, or
// suppressed.
type WouldFire struct {
	actions.Firing
	Suppressed bool
}

// SimulateActions replays the classes of a backtest through the rules'
// user classes, commands and reports, exactly as the daemon decides them
// (persistence, edge triggers, ifelapsed), and returns what would have
// fired. Nothing runs: the decisions are made against a throwaway state
// file.
func SimulateActions(set *rules.Set, replays []Replay, width time.Duration) ([]WouldFire, error) {
	if len(set.Commands) == 0 && len(set.Reports) == 0 {
		return nil, nil
	}
	if width <= 0 {
		width = set.Settings.Interval
	}
	dir, err := os.MkdirTemp("", "logtally-backtest-")
	if err != nil {
		return nil, fmt.Errorf("simulate actions: %w", err)
	}
	defer os.RemoveAll(dir)
	store, err := state.Open(filepath.Join(dir, "state.db"), state.Options{NoSync: true})
	if err != nil {
		return nil, fmt.Errorf("simulate actions: %w", err)
	}
	defer store.Close()
	engine, err := actions.New(set, actions.Options{DryRun: true})
	if err != nil {
		return nil, fmt.Errorf("simulate actions: %w", err)
	}
	byTime := map[int64]*actions.Interval{}
	var times []int64
	for _, r := range replays {
		for i, row := range r.Rows {
			ts := row.T.Unix()
			in := byTime[ts]
			if in == nil {
				in = &actions.Interval{Start: row.T, End: row.T.Add(width), Vars: map[string]float64{}, Keys: map[string]string{}}
				byTime[ts] = in
				times = append(times, ts)
			}
			in.Classes = append(in.Classes, row.Classes...)
			sc := row.Score
			in.Vars["value_"+r.Handle] = sc.Value
			for name, v := range map[string]float64{"av_": sc.Av, "dev_": sc.Dev, "z_": sc.Z} {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					in.Vars[name+r.Handle] = v
				}
			}
			if i < len(r.TopKeys) && r.TopKeys[i] != "" {
				in.Keys["top_"+r.Handle] = r.TopKeys[i]
			}
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	var out []WouldFire
	for _, ts := range times {
		in := byTime[ts]
		var dec *actions.Decision
		if err := store.Update(func(tx *state.Tx) error {
			var err error
			dec, err = engine.Decide(tx, *in)
			return err
		}); err != nil {
			return nil, fmt.Errorf("simulate actions: %w", err)
		}
		for _, f := range dec.Fired {
			out = append(out, WouldFire{Firing: f})
		}
		for _, f := range dec.Suppressed {
			out = append(out, WouldFire{Firing: f, Suppressed: true})
		}
	}
	return out, nil
}
