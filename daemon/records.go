package daemon

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/state"
)

// prefixPos keys the stream positions; the interval engine's keys are
// interval.Key* and interval.Prefix*.
const prefixPos = "pos/"

func posKey(source, path string) string { return prefixPos + source + "\x00" + path }

func splitPosKey(key string) (source, path string) {
	rest := strings.TrimPrefix(key, prefixPos)
	i := strings.IndexByte(rest, 0)
	if i < 0 {
		return rest, ""
	}
	return rest[:i], rest[i+1:]
}

func decodeJSON(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// savedPositions returns the stored positions of one stream, by path.
func savedPositions(tx *state.Tx, source string) (map[string]follow.Position, error) {
	out := map[string]follow.Position{}
	prefix := prefixPos + source + "\x00"
	var derr error
	err := tx.Ascend(prefix, func(k, v string) bool {
		var p follow.Position
		if err := json.Unmarshal([]byte(v), &p); err != nil {
			derr = fmt.Errorf("decode %q: %w", k, err)
			return false
		}
		out[k[len(prefix):]] = p
		return true
	})
	if err == nil {
		err = derr
	}
	return out, err
}

// respelledPositions returns the positions saved for a file stream under
// another spelling of its path, by their paths cleaned: a state file
// written before the rules' paths were cleaned keeps /d/./x.log's
// positions under that name, and the stream of /d/x.log resumes from them
// rather than seeing its file for the first time.
func respelledPositions(tx *state.Tx, source string) (map[string]follow.Position, error) {
	out := map[string]follow.Position{}
	var derr error
	err := tx.Ascend(prefixPos, func(k, v string) bool {
		src, path := splitPosKey(k)
		if src == source || filepath.Clean(src) != source {
			return true
		}
		var p follow.Position
		if err := json.Unmarshal([]byte(v), &p); err != nil {
			derr = fmt.Errorf("decode %q: %w", k, err)
			return false
		}
		p.Path = filepath.Clean(path)
		out[p.Path] = p
		return true
	})
	if err == nil {
		err = derr
	}
	return out, err
}

// WeekGraph is a measurement's learned week and its last week of samples.
type WeekGraph struct {
	Handle string
	Week   []history.SlotStat
	Recent []history.Sample
}

// ReadWeekGraphs reads the baselines stored in a state file (all, or the
// one named by handle) with their recent samples, at the interval width
// the daemon runs at (meta/interval), or at width when it is positive. loc
// is the baseline's time zone (settings.timezone; nil for the local one).
func ReadWeekGraphs(store *state.Store, handle string, width time.Duration, loc *time.Location, now time.Time) ([]WeekGraph, error) {
	var out []WeekGraph
	err := store.View(func(tx *state.Tx) error {
		if width <= 0 {
			iv, _, err := tx.Get(interval.KeyInterval)
			if err != nil {
				return err
			}
			if width, err = time.ParseDuration(iv); err != nil {
				return fmt.Errorf("state has no usable interval (%q): has the daemon or learn run?", iv)
			}
		}
		handles, err := interval.Baselines(tx, width)
		if err != nil {
			return err
		}
		if handle != "" {
			found := false
			for _, h := range handles {
				found = found || h == handle
			}
			if !found {
				return fmt.Errorf("no baseline for %s at the interval %v in the state file", handle, width)
			}
			handles = []string{handle}
		}
		cfg := history.Config{Interval: width, Location: loc}
		for _, h := range handles {
			b, _, why, err := interval.LoadBaseline(tx, width, h, cfg)
			if err == nil {
				err = why
			}
			if err != nil {
				return fmt.Errorf("baseline %s: %w", h, err)
			}
			recent, err := interval.RecentSamples(tx, width, h, now)
			if err != nil {
				return err
			}
			out = append(out, WeekGraph{Handle: h, Week: b.Week(), Recent: recent})
		}
		return nil
	})
	return out, err
}

// dropUnusable deletes the values of the daemon's keys that do not decode
// (a state file damaged inside a record that buntdb still loads), logging
// each loudly, so that one bad value costs what it held (a position, a
// total) instead of stopping the daemon at every start.
func dropUnusable(tx *state.Tx, log *slog.Logger) error {
	type check struct {
		prefix string
		decode func(string) error
	}
	checks := []check{
		{prefixPos, func(v string) error { var p follow.Position; return decodeJSON(v, &p) }},
		{interval.PrefixTotal, func(v string) error { var t interval.Total; return decodeJSON(v, &t) }},
		{interval.PrefixSample, func(v string) error { var s interval.Sample; return decodeJSON(v, &s) }},
		{interval.PrefixOpen, func(v string) error { var o interval.Open; return decodeJSON(v, &o) }},
		{interval.KeyCommittedEnd, func(v string) error { _, err := time.Parse(time.RFC3339Nano, v); return err }},
	}
	type bad struct {
		key string
		err error
	}
	var drop []bad
	for _, c := range checks {
		if err := tx.Ascend(c.prefix, func(k, v string) bool {
			if err := c.decode(v); err != nil {
				drop = append(drop, bad{k, err})
			}
			return true
		}); err != nil {
			return err
		}
	}
	for _, b := range drop {
		log.Error("STATE VALUE UNUSABLE: dropped; what it held (a position, a total, a sample) starts over",
			"key", b.key, "err", b.err)
		if err := tx.Delete(b.key); err != nil {
			return err
		}
	}
	return nil
}
