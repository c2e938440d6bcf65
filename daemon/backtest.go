package daemon

import (
	"fmt"
	"sort"
	"time"

	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/rules"
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
}

// BacktestLogs replays logs through fresh baselines — what a new install
// would have seen — without touching any state: each line is attributed to
// the interval of its own timestamp, each interval is scored before it is
// learned, and each row says which classes were set and which rose.
func BacktestLogs(set *rules.Set, o BacktestOptions) ([]Replay, error) {
	interval := o.Interval
	if interval <= 0 {
		interval = set.Settings.Interval
	}
	timelines, _, err := readTimelines(set, interval, o.Logs, o.All, o.Progress)
	if err != nil {
		return nil, fmt.Errorf("backtest: %w", err)
	}
	cfg := history.Config{Interval: interval, Location: set.Settings.Location, HalfLife: set.Settings.HalfLife}
	var out []Replay
	for _, tl := range timelines {
		intervals := tl.Intervals()
		for i, m := range tl.Group.Measurements {
			var series []history.Sample
			var keyed []map[string]uint64
			for _, t := range intervals {
				acc := tl.At(t, i)
				if v, ok := acc.Value(); ok {
					series = append(series, history.Sample{T: t, V: v})
					keyed = append(keyed, acc.Keys())
				}
			}
			rows := history.BacktestPersist(m.Handle, series, cfg, m.Persist)
			if m.Key != "" {
				addEntropy(m.Handle, rows, keyed)
			}
			out = append(out, Replay{Handle: m.Handle, Rows: rows})
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
