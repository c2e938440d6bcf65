package interval

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/logtally/logtally/history"
)

// State keys of what the engine computes. A baseline, its recent values
// and what `learn` taught it are kept per interval width: counts scale with
// the width, so a baseline learned at one width never serves another.
//
//	meta/committed_end               end of the last complete interval (RFC 3339)
//	meta/interval                    the interval the daemon last ran at
//	sample/<h>                       the last Sample of measurement h
//	total/<h>                        Total: the sum of h's committed values
//	open/<h>                         Open: a partial interval after a shutdown
//	base/<width>/<h>/meta            h's baseline at width (history.Encode) ...
//	base/<width>/<h>/p/<n>           ... and its slot pages
//	recent/<width>/<h>/p/<n>         the last week of h's values at width
//	learned/<width>/<h>              the end of the last interval `learn` taught
//	threshold/<width>/<h>            Adaptive: h's anomaly threshold under an alarm budget
//
// <width> is a Go duration ("5m0s"). State files written before widths were
// part of the keys (base/<h>/meta, recent/<h>/p/<n>, learned/<h>) are
// migrated by Migrate to the width of meta/interval.
const (
	KeyCommittedEnd = "meta/committed_end"
	KeyInterval     = "meta/interval"
	PrefixSample    = "sample/"
	PrefixTotal     = "total/"
	PrefixOpen      = "open/"
	PrefixBase      = "base/"
	PrefixRecent    = "recent/"
	PrefixLearned   = "learned/"
	PrefixThreshold = "threshold/"
)

// Tx is the part of a state transaction (state.Tx) through which the
// engine reads what it stored and the daemon applies what it computed.
type Tx interface {
	Get(key string) (string, bool, error)
	Set(key, value string) error
	Delete(key string) error
	Ascend(prefix string, fn func(key, value string) bool) error
}

// Write is one change of the state file, computed by the engine and
// applied, with the others of its interval, in one transaction.
type Write struct {
	Key    string
	Value  string
	Delete bool
	// Patch, when Size > 0, replaces the bytes of Value at offset At of
	// the key's current value, which is first made Size zero bytes unless
	// it already has that size.
	At, Size int
}

// Writes are the changes of one interval, in order.
type Writes []Write

// Apply applies the writes to tx.
func (ws Writes) Apply(tx Tx) error {
	for _, w := range ws {
		var err error
		switch {
		case w.Delete:
			err = tx.Delete(w.Key)
		case w.Size > 0:
			err = patch(tx, w)
		default:
			err = tx.Set(w.Key, w.Value)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", w.Key, err)
		}
	}
	return nil
}

func patch(tx Tx, w Write) error {
	cur, _, err := tx.Get(w.Key)
	if err != nil {
		return err
	}
	b := []byte(cur)
	if len(b) != w.Size {
		b = make([]byte, w.Size)
	}
	copy(b[w.At:], w.Value)
	return tx.Set(w.Key, string(b))
}

func (ws *Writes) set(key, value string) { *ws = append(*ws, Write{Key: key, Value: value}) }

func (ws *Writes) del(key string) { *ws = append(*ws, Write{Key: key, Delete: true}) }

func (ws *Writes) json(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	ws.set(key, string(b))
	return nil
}

func baseDir(width time.Duration, handle string) string {
	return PrefixBase + width.String() + "/" + handle + "/"
}

func recentPageKey(width time.Duration, handle string, n int) string {
	return fmt.Sprintf("%s%s/%s/p/%05d", PrefixRecent, width, handle, n)
}

// LearnedKey is the key of the end of the last interval `learn` taught the
// baseline of handle at width.
func LearnedKey(width time.Duration, handle string) string {
	return PrefixLearned + width.String() + "/" + handle
}

// ThresholdKey is the key of the adaptive anomaly threshold (Adaptive) of
// handle at width.
func ThresholdKey(width time.Duration, handle string) string {
	return PrefixThreshold + width.String() + "/" + handle
}

// storedBaseline is a baseline as read from the state file, with the
// stored keys to delete: all of them when it cannot be used, so that its
// slots never come back under another configuration, and the pages beyond
// its own when it was stored in smaller pages (history writes it again
// whole in its own).
type storedBaseline struct {
	base *history.Baseline
	keys []string
	err  error // why the stored one was not usable
}

// loadBaseline reads the baseline of handle at width, or returns a new one
// (with the stored keys to delete, and why, when one was stored but is not
// usable: learned with another time zone or kind, or damaged).
func loadBaseline(tx Tx, width time.Duration, handle string, cfg history.Config) (storedBaseline, error) {
	dir := baseDir(width, handle)
	meta, ok, err := tx.Get(dir + "meta")
	if err != nil {
		return storedBaseline{}, err
	}
	var keys []string
	pages := map[int]string{}
	pageOf := map[string]int{}
	err = tx.Ascend(dir, func(k, v string) bool {
		keys = append(keys, k)
		if n, err := strconv.Atoi(strings.TrimPrefix(k, dir+"p/")); err == nil && strings.HasPrefix(k, dir+"p/") {
			pages[n] = v // the state's own string: the baseline shares it
			pageOf[k] = n
		}
		return true
	})
	if err != nil {
		return storedBaseline{}, err
	}
	if !ok {
		// Pages without meta are left over: never read them.
		return storedBaseline{base: history.New(cfg), keys: keys}, nil
	}
	b, derr := history.Decode(cfg, []byte(meta), pages)
	if derr != nil {
		return storedBaseline{base: history.New(cfg), keys: keys, err: derr}, nil
	}
	var beyond []string
	for _, k := range keys {
		if n, ok := pageOf[k]; ok && n >= b.Pages() {
			beyond = append(beyond, k)
		}
	}
	return storedBaseline{base: b, keys: beyond}, nil
}

// encodeBaseline appends the writes that store what changed of b (all of
// it with all).
func (ws *Writes) baseline(width time.Duration, handle string, b *history.Baseline, all bool) {
	meta, pages := b.Encode(!all)
	if len(meta) == 0 && len(pages) == 0 {
		return
	}
	dir := baseDir(width, handle)
	ws.set(dir+"meta", string(meta))
	ns := make([]int, 0, len(pages))
	for n := range pages {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	for _, n := range ns {
		ws.set(fmt.Sprintf("%sp/%05d", dir, n), pages[n])
	}
}

// LoadBaseline reads the baseline of handle at width for `learn` and
// `graph`: a new one when none is stored. stale lists the keys of a stored
// baseline that is not usable (delete them before saving the new one); why
// says why.
func LoadBaseline(tx Tx, width time.Duration, handle string, cfg history.Config) (b *history.Baseline, stale []string, why error, err error) {
	sb, err := loadBaseline(tx, width, handle, cfg)
	return sb.base, sb.keys, sb.err, err
}

// SaveBaseline returns the writes that store the whole of b, the baseline
// of handle at width, after deleting stale keys.
func SaveBaseline(width time.Duration, handle string, b *history.Baseline, stale []string) Writes {
	var ws Writes
	for _, k := range stale {
		ws.del(k)
	}
	ws.baseline(width, handle, b, true)
	return ws
}

// Baselines returns the handles that have a baseline stored at width.
func Baselines(tx Tx, width time.Duration) ([]string, error) {
	prefix := PrefixBase + width.String() + "/"
	var out []string
	err := tx.Ascend(prefix, func(k, _ string) bool {
		if h, ok := strings.CutSuffix(strings.TrimPrefix(k, prefix), "/meta"); ok && !strings.Contains(h, "/") {
			out = append(out, h)
		}
		return true
	})
	return out, err
}

// recentPage is how many slots of the recent-values ring one key holds:
// small, because every interval rewrites one page per measurement.
const recentPage = 16

// recentEntry is the size of one entry of the ring: the interval's start
// (Unix seconds, uint32), its value (float64) and its alarm score
// (float32). Pages of 12-byte entries, without the score, were written
// before; they are read, and replaced whole at their next write.
const (
	recentEntry    = 16
	recentEntryOld = 12
)

// recent returns the write that stores v, and its alarm score, as the
// value of t's slot in the recent-values ring of a weekly measurement: the
// last week of samples, drawn over the learned week in graphs and read by
// the survey of the state file.
func recent(width time.Duration, handle string, slot int, t time.Time, v, score float64) Write {
	b := make([]byte, recentEntry)
	binary.LittleEndian.PutUint32(b, uint32(t.Unix()))
	binary.LittleEndian.PutUint64(b[4:], math.Float64bits(v))
	binary.LittleEndian.PutUint32(b[12:], math.Float32bits(float32(score)))
	return Write{Key: recentPageKey(width, handle, slot/recentPage), Value: string(b), At: (slot % recentPage) * recentEntry,
		Size: recentPage * recentEntry}
}

// RecentSpacing returns the spacing of the values of a recent-values ring
// at width: the ring keeps one value per time-of-week slot of the
// baseline, the interval but at least five minutes (of a shorter interval,
// the last sample of each slot).
func RecentSpacing(width time.Duration) time.Duration {
	return history.New(history.Config{Interval: width, Location: time.UTC}).SlotWidth()
}

// RecentSamples returns the recent-values ring of a measurement at width:
// at most one value per slot, those not older than a week before now, in
// time order.
func RecentSamples(tx Tx, width time.Duration, handle string, now time.Time) ([]history.Sample, error) {
	scored, err := RecentScored(tx, width, handle, now)
	out := make([]history.Sample, len(scored))
	for i, s := range scored {
		out[i] = s.Sample
	}
	return out, err
}

// ScoredSample is a value of the recent-values ring with its alarm score
// (NaN when the ring was written without scores).
type ScoredSample struct {
	history.Sample
	Score float64
}

// RecentScored is RecentSamples with the alarm scores.
func RecentScored(tx Tx, width time.Duration, handle string, now time.Time) ([]ScoredSample, error) {
	var out []ScoredSample
	prefix := PrefixRecent + width.String() + "/" + handle + "/p/"
	err := tx.Ascend(prefix, func(_, v string) bool {
		b := []byte(v)
		size := recentEntry
		if len(b) == recentPage*recentEntryOld {
			size = recentEntryOld
		}
		for off := 0; off+size <= len(b); off += size {
			sec := binary.LittleEndian.Uint32(b[off:])
			if sec == 0 {
				continue
			}
			t := time.Unix(int64(sec), 0)
			if now.Sub(t) > 7*24*time.Hour || t.After(now) {
				continue
			}
			s := ScoredSample{Sample: history.Sample{T: t, V: math.Float64frombits(binary.LittleEndian.Uint64(b[off+4:]))}, Score: math.NaN()}
			if size == recentEntry {
				s.Score = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[off+12:])))
			}
			out = append(out, s)
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].T.Before(out[j].T) })
	return out, err
}

// GetTime reads a time stored as RFC 3339 (zero when absent).
func GetTime(tx Tx, key string) (time.Time, error) {
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

// formatTime formats a time as GetTime reads it.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Migrate moves what a state file written before interval widths were part
// of the keys holds (base/<h>/…, recent/<h>/…, learned/<h>) under the width
// they were learned at: meta/interval, which the daemon and `learn` always
// kept equal to the width of the baselines they wrote. Without a usable
// meta/interval they cannot be placed and are deleted. It returns what it
// did, for the log.
func Migrate(tx Tx) (moved, dropped int, err error) {
	iv, _, err := tx.Get(KeyInterval)
	if err != nil {
		return 0, 0, err
	}
	width, perr := time.ParseDuration(iv)
	type kv struct{ k, v string }
	var old []kv
	for _, prefix := range []string{PrefixBase, PrefixRecent, PrefixLearned} {
		if err := tx.Ascend(prefix, func(k, v string) bool {
			first, _, _ := strings.Cut(strings.TrimPrefix(k, prefix), "/")
			if _, err := time.ParseDuration(first); err != nil {
				old = append(old, kv{k, v}) // a handle, never a duration: an old key
			}
			return true
		}); err != nil {
			return 0, 0, err
		}
	}
	for _, o := range old {
		if err := tx.Delete(o.k); err != nil {
			return moved, dropped, err
		}
		if perr != nil || width <= 0 {
			dropped++
			continue
		}
		var nk string
		for _, prefix := range []string{PrefixBase, PrefixRecent, PrefixLearned} {
			if rest, ok := strings.CutPrefix(o.k, prefix); ok {
				nk = prefix + width.String() + "/" + rest
				break
			}
		}
		if err := tx.Set(nk, o.v); err != nil {
			return moved, dropped, err
		}
		moved++
	}
	return moved, dropped, nil
}
