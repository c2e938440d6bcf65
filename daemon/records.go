package daemon

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// Sample is one committed sample of one measurement.
type Sample struct {
	Handle string    `json:"handle"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	// Value is nil when the interval gave no value (an int or real
	// measurement without a selected line): a gap, not a zero.
	Value *float64 `json:"value"`
	Av    *float64 `json:"av,omitempty"`
	Dev   *float64 `json:"dev,omitempty"`
	Z     *float64 `json:"z,omitempty"`
	// Classes are the measurement's classes this interval.
	Classes []string `json:"classes,omitempty"`
	Lines   uint64   `json:"lines"` // lines its stream delivered in the interval
	interval.Counts
	TopKey   string   `json:"top_key,omitempty"`
	TopCount uint64   `json:"top_count,omitempty"`
	Keys     int      `json:"keys,omitempty"`
	Entropy  *float64 `json:"entropy,omitempty"`
	// Partial marks an interval closed early by a shutdown; it is completed
	// by the next run.
	Partial bool `json:"partial,omitempty"`
	// CatchUp marks an interval of a downtime, filled from the backlog.
	CatchUp bool `json:"catch_up,omitempty"`
	// Short marks an interval its stream observed only in part (it began
	// during the interval, with nothing to catch up): committed and counted
	// in the total, but neither scored nor learned, so that a partial count
	// never looks like a drop.
	Short bool `json:"short,omitempty"`
}

// Total is the sum of every value committed for a measurement since the
// state file began.
type Total struct {
	Total   float64   `json:"total"`
	Samples uint64    `json:"samples"`
	Since   time.Time `json:"since"`
}

// OpenInterval is a partial interval committed at shutdown.
type OpenInterval struct {
	Start    time.Time         `json:"start"`
	Snapshot interval.Snapshot `json:"snapshot"`
	// Counted is the value already added to the total for this interval.
	Counted float64 `json:"counted"`
}

// State keys.
const (
	keyCommittedEnd = "meta/committed_end"
	keyInterval     = "meta/interval"
	prefixPos       = "pos/"
	prefixSample    = "sample/"
	prefixTotal     = "total/"
	prefixOpen      = "open/"
	prefixBase      = "base/"
	prefixRecent    = "recent/"
)

func posKey(source, path string) string { return prefixPos + source + "\x00" + path }

func splitPosKey(key string) (source, path string) {
	rest := strings.TrimPrefix(key, prefixPos)
	i := strings.IndexByte(rest, 0)
	if i < 0 {
		return rest, ""
	}
	return rest[:i], rest[i+1:]
}

func baseMetaKey(handle string) string { return prefixBase + handle + "/meta" }
func basePageKey(handle string, n int) string {
	return fmt.Sprintf("%s%s/p/%05d", prefixBase, handle, n)
}
func recentPageKey(handle string, n int) string {
	return fmt.Sprintf("%s%s/p/%05d", prefixRecent, handle, n)
}

// baselineConfig is the configuration of measurement m's weekly baseline.
func baselineConfig(set *rules.Set, m *rules.Measurement, interval time.Duration) history.Config {
	return history.Config{Interval: interval, Location: set.Settings.Location, HalfLife: set.Settings.HalfLife, Noise: m.Noise}
}

// loadBaseline reads a measurement's baseline, or returns nil when there is
// none or it was learned with another configuration.
func loadBaseline(tx *state.Tx, handle string, cfg history.Config) (*history.Baseline, error) {
	meta, ok, err := tx.Get(baseMetaKey(handle))
	if err != nil || !ok {
		return nil, err
	}
	pages := map[int][]byte{}
	prefix := prefixBase + handle + "/p/"
	err = tx.Ascend(prefix, func(k, v string) bool {
		n, err := strconv.Atoi(k[len(prefix):])
		if err == nil {
			pages[n] = []byte(v)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return history.Decode(cfg, []byte(meta), pages)
}

// deleteBaseline removes a measurement's stored baseline.
func deleteBaseline(tx *state.Tx, handle string) error {
	var keys []string
	if err := tx.Ascend(prefixBase+handle+"/", func(k, _ string) bool {
		keys = append(keys, k)
		return true
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// saveBaseline writes what changed of a baseline.
func saveBaseline(tx *state.Tx, handle string, b *history.Baseline, all bool) error {
	meta, pages := b.Encode(!all)
	if err := tx.Set(baseMetaKey(handle), string(meta)); err != nil {
		return err
	}
	for n, p := range pages {
		if err := tx.Set(basePageKey(handle, n), string(p)); err != nil {
			return err
		}
	}
	return nil
}

// recentPage is how many slots of the recent-values ring one key holds:
// small, because every interval rewrites one page per measurement.
const recentPage = 16

// recordRecent stores v as the value of t's slot in the recent-values ring
// of a weekly measurement: the last week of samples, drawn over the learned
// week in graphs.
func recordRecent(tx *state.Tx, handle string, slot int, t time.Time, v float64) error {
	key := recentPageKey(handle, slot/recentPage)
	page, _, err := tx.Get(key)
	if err != nil {
		return err
	}
	b := []byte(page)
	if len(b) != recentPage*12 {
		b = make([]byte, recentPage*12)
	}
	off := (slot % recentPage) * 12
	binary.LittleEndian.PutUint32(b[off:], uint32(t.Unix()))
	binary.LittleEndian.PutUint64(b[off+4:], math.Float64bits(v))
	return tx.Set(key, string(b))
}

// RecentSamples returns the recent-values ring of a measurement: at most
// one value per slot, those not older than a week before now, in time
// order.
func RecentSamples(tx *state.Tx, handle string, now time.Time) ([]history.Sample, error) {
	var out []history.Sample
	prefix := prefixRecent + handle + "/p/"
	err := tx.Ascend(prefix, func(_, v string) bool {
		b := []byte(v)
		for off := 0; off+12 <= len(b); off += 12 {
			sec := binary.LittleEndian.Uint32(b[off:])
			if sec == 0 {
				continue
			}
			t := time.Unix(int64(sec), 0)
			if now.Sub(t) > 7*24*time.Hour || t.After(now) {
				continue
			}
			out = append(out, history.Sample{T: t, V: math.Float64frombits(binary.LittleEndian.Uint64(b[off+4:]))})
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].T.Before(out[j].T) })
	return out, err
}

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

func getTime(tx *state.Tx, key string) (time.Time, error) {
	s, ok, err := tx.Get(key)
	if err != nil || !ok {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("read %s: %w", key, err)
	}
	return t, nil
}

// WeekGraph is a measurement's learned week and its last week of samples.
type WeekGraph struct {
	Handle string
	Week   []history.SlotStat
	Recent []history.Sample
}

// ReadWeekGraphs reads the baselines stored in a state file (all, or the
// one named by handle) with their recent samples. loc is the baseline's time
// zone (settings.timezone; nil for the local one).
func ReadWeekGraphs(store *state.Store, handle string, loc *time.Location, now time.Time) ([]WeekGraph, error) {
	var out []WeekGraph
	err := store.View(func(tx *state.Tx) error {
		iv, _, err := tx.Get(keyInterval)
		if err != nil {
			return err
		}
		interval, err := time.ParseDuration(iv)
		if err != nil {
			return fmt.Errorf("state has no usable interval (%q): has the daemon or learn run?", iv)
		}
		var handles []string
		if err := tx.Ascend(prefixBase, func(k, _ string) bool {
			if h, ok := strings.CutSuffix(strings.TrimPrefix(k, prefixBase), "/meta"); ok && (handle == "" || h == handle) {
				handles = append(handles, h)
			}
			return true
		}); err != nil {
			return err
		}
		if handle != "" && len(handles) == 0 {
			return fmt.Errorf("no baseline for %s in the state file", handle)
		}
		cfg := history.Config{Interval: interval, Location: loc}
		for _, h := range handles {
			b, err := loadBaseline(tx, h, cfg)
			if err != nil {
				return fmt.Errorf("baseline %s: %w", h, err)
			}
			if b == nil {
				continue
			}
			recent, err := RecentSamples(tx, h, now)
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
		{prefixTotal, func(v string) error { var t Total; return decodeJSON(v, &t) }},
		{prefixSample, func(v string) error { var s Sample; return decodeJSON(v, &s) }},
		{prefixOpen, func(v string) error { var o OpenInterval; return decodeJSON(v, &o) }},
		{keyCommittedEnd, func(v string) error { _, err := time.Parse(time.RFC3339Nano, v); return err }},
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
