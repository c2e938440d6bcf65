package interval_test

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/output"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// ruleSet loads a rule file written from text.
func ruleSet(t *testing.T, text string) *rules.Set {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, p, text)
	set, err := rules.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func openStore(t *testing.T, path string) *state.Store {
	t.Helper()
	st, err := state.Open(path, state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

const probeRules = `settings: {timezone: UTC}
measurements:
  - handle: probe
    path: /var/log/x.log
    select_line_matching: '.*Invalid user.*'
    key: 'from (\S+)'
`

// fold returns the buckets of n probe lines read live in the interval
// starting at start.
func fold(t *testing.T, set *rules.Set, width time.Duration, start time.Time, n int) (*interval.Group, map[int64]*interval.Bucket) {
	t.Helper()
	g, err := interval.NewGroup("x", set.Measurements, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := g.NewFold(width)
	for i := range n {
		f.Line([]byte(fmt.Sprintf("sshd[1]: Invalid user u%d from 10.0.0.%d", i, i%2)), false, interval.Live(start))
	}
	return g, f.Take()
}

// probeAcc returns the accumulator of n probe lines of an interval.
func probeAcc(t *testing.T, set *rules.Set, n int) *interval.Accumulator {
	t.Helper()
	_, b := fold(t, set, 5*time.Minute, time.Time{}, n)
	if x := b[time.Time{}.Unix()]; x != nil && x.Acc[0] != nil {
		return x.Acc[0]
	}
	return interval.NewAccumulator(set.Measurements[0])
}

// shutdownAfter runs an engine over store that folds n probe lines in the
// interval starting at start, then shuts down: the partial close, as
// committed.
func shutdownAfter(t *testing.T, store *state.Store, set *rules.Set, width time.Duration, start time.Time, n int) *interval.Result {
	t.Helper()
	e := interval.New(width)
	commit(t, store, func(tx *state.Tx) error { _, err := e.Start(tx); return err })
	apply(t, store, e, set)
	c := e.NewClosing(start, true)
	g, b := fold(t, set, width, start, n)
	c.Add(g, b, map[int64]interval.Observed{c.Start.Unix(): {}})
	r := e.Close(c)
	commit(t, store, func(tx *state.Tx) error { return r.Writes.Apply(tx) })
	return r
}

// TestPartialIntervalWrittenOnce: an interval closed early by a shutdown
// is stored, not written as a point; the run that completes it writes one
// point with every line (issue: value 3 at shutdown, then 5 with the same
// timestamp, counted 8 by a consumer that sums).
func TestPartialIntervalWrittenOnce(t *testing.T) {
	set := ruleSet(t, probeRules)
	width := time.Minute
	start := time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC)
	store := openStore(t, filepath.Join(t.TempDir(), "state.db"))

	// First run: three lines, then a shutdown.
	r := shutdownAfter(t, store, set, width, start, 3)
	if len(r.Points) != 0 || r.Outcome != nil {
		t.Fatalf("partial close: %d points, outcome %v; want none", len(r.Points), r.Outcome)
	}

	// Second run, same interval: two more lines, then the interval ends.
	e := interval.New(width)
	var res interval.Resume
	commit(t, store, func(tx *state.Tx) error { var err error; res, err = e.Start(tx); return err })
	if !res.Earliest.Equal(start) {
		t.Fatalf("resume %+v: the partial interval of %v is not kept", res, start)
	}
	apply(t, store, e, set)
	c := e.NewClosing(start, false)
	g, b := fold(t, set, width, start, 2)
	c.Add(g, b, map[int64]interval.Observed{c.Start.Unix(): {}})
	r = e.Close(c)
	var values []output.Point
	var keyed int64
	for _, p := range r.Points {
		switch p.Measurement {
		case "probe":
			values = append(values, p)
		case interval.KeysMeasurement("probe"):
			keyed += p.Fields[0].Value.(int64)
		}
	}
	if len(values) != 1 || values[0].Fields[0].Value != 5.0 || !values[0].Time.Equal(start.Add(width)) {
		t.Fatalf("points %+v, want one of value 5 at %v", r.Points, start.Add(width))
	}
	if keyed != 5 {
		t.Errorf("the key table's points count %d lines, want the 5 of both runs", keyed)
	}
	if got := e.State("probe").Total; got.Total != 5 || got.Samples != 1 {
		t.Fatalf("total %+v, want 5 in one sample", got)
	}
	if r.Outcome == nil || r.Outcome.Vars["value_probe"] != 5 || r.Outcome.Keys["top_probe"] != "10.0.0.0" {
		t.Fatalf("outcome %+v, want value_probe 5 and top_probe 10.0.0.0", r.Outcome)
	}
}

func commit(t *testing.T, store *state.Store, f func(*state.Tx) error) {
	t.Helper()
	if err := store.Update(f); err != nil {
		t.Fatal(err)
	}
}

func apply(t *testing.T, store *state.Store, e *interval.Engine, set *rules.Set) []interval.Warning {
	t.Helper()
	var ws []interval.Warning
	commit(t, store, func(tx *state.Tx) error { var err error; ws, err = e.Apply(set, tx); return err })
	return ws
}

// TestBaselinePerWidth: a baseline learned at one interval width never
// serves another (counts scale with the width): at a new width a new
// baseline is learned and stored beside the old one, which serves again
// when the width comes back; a stored baseline that cannot be used is
// deleted, so that none of its slots ever comes back.
func TestBaselinePerWidth(t *testing.T) {
	set := ruleSet(t, probeRules)
	store := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

	// Two weeks learned at 5 minutes, 30 probes each.
	five := interval.New(5 * time.Minute)
	apply(t, store, five, set)
	acc := func(n int) *interval.Accumulator { return probeAcc(t, set, n) }
	for ts := t0; ts.Before(t0.Add(14 * 24 * time.Hour)); ts = ts.Add(5 * time.Minute) {
		five.Sample("probe", ts, acc(30))
	}
	commit(t, store, func(tx *state.Tx) error { return five.SaveBaseline("probe").Apply(tx) })

	// At 10 seconds, a quiet log: the expectation is learned from the
	// quiet samples, not 30 (the 5-minute level) nor anything scaled.
	ten := interval.New(10 * time.Second)
	commit(t, store, func(tx *state.Tx) error { _, err := ten.Start(tx); return err })
	if ws := apply(t, store, ten, set); len(ws) != 0 {
		t.Fatalf("warnings %v: a missing baseline is no warning", ws)
	}
	now := t0.Add(15 * 24 * time.Hour)
	for i := range 3 {
		c := ten.NewClosing(now.Add(time.Duration(i)*10*time.Second), false)
		g, b := fold(t, set, 10*time.Second, c.Start, 0)
		c.Add(g, b, map[int64]interval.Observed{c.Start.Unix(): {}})
		r := ten.Close(c)
		commit(t, store, func(tx *state.Tx) error { return r.Writes.Apply(tx) })
	}
	// Restarted at 10 seconds: the stored 10-second baseline, whole.
	again := interval.New(10 * time.Second)
	apply(t, store, again, set)
	if s := again.Sample("probe", now.Add(30*time.Second), acc(0)); s.Av == nil || *s.Av > 1 {
		t.Fatalf("after a restart at 10s: av %v, want the quiet level learned at 10s (the 5m one is 30)", ptr(s.Av))
	}
	// Back at 5 minutes: the 5-minute baseline, intact.
	back := interval.New(5 * time.Minute)
	apply(t, store, back, set)
	if s := back.Sample("probe", now, acc(30)); s.Av == nil || *s.Av < 20 || *s.Av > 40 {
		t.Fatalf("back at 5m: av %v, want about 30", ptr(s.Av))
	}
	var widths []string
	commit(t, store, func(tx *state.Tx) error {
		for _, w := range []time.Duration{5 * time.Minute, 10 * time.Second} {
			hs, err := interval.Baselines(tx, w)
			if err != nil {
				return err
			}
			widths = append(widths, fmt.Sprintf("%v:%v", w, hs))
		}
		return nil
	})
	if got := strings.Join(widths, " "); got != "5m0s:[probe] 10s:[probe]" {
		t.Fatalf("stored baselines %s, want one per width", got)
	}

	// A baseline stored at 10s with another time zone is not usable: it
	// starts afresh, and its keys are gone with the next commit.
	other := ruleSet(t, strings.Replace(probeRules, "timezone: UTC", "timezone: Asia/Tokyo", 1))
	tokyo := interval.New(10 * time.Second)
	if ws := apply(t, store, tokyo, other); len(ws) != 1 || ws[0].Handle != "probe" {
		t.Fatalf("warnings %v, want the 10s baseline of probe not usable", ws)
	}
	c := tokyo.NewClosing(now.Add(time.Hour), false)
	g, b := fold(t, other, 10*time.Second, c.Start, 0)
	c.Add(g, b, map[int64]interval.Observed{c.Start.Unix(): {}})
	r := tokyo.Close(c)
	commit(t, store, func(tx *state.Tx) error { return r.Writes.Apply(tx) })
	var pages int
	commit(t, store, func(tx *state.Tx) error {
		return tx.Ascend("base/10s/probe/p/", func(string, string) bool { pages++; return true })
	})
	if pages > 1 {
		t.Fatalf("%d pages of the 10s baseline after starting afresh, want only the one the new baseline wrote", pages)
	}
}

func ptr(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestMigrate: a state file written before widths were part of the keys
// has its baselines, recent values and learn markers moved under the width
// of meta/interval; without one they are dropped.
func TestMigrate(t *testing.T) {
	for _, tc := range []struct {
		name, interval string
		want           []string
	}{
		{"with interval", "5m0s", []string{"base/5m0s/probe/meta", "base/5m0s/probe/p/00001", "recent/5m0s/probe/p/00002", "learned/5m0s/probe"}},
		{"without interval", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := openStore(t, filepath.Join(t.TempDir(), "state.db"))
			commit(t, store, func(tx *state.Tx) error {
				for _, k := range []string{"base/probe/meta", "base/probe/p/00001", "recent/probe/p/00002", "learned/probe", "total/probe"} {
					if err := tx.Set(k, "x"); err != nil {
						return err
					}
				}
				if tc.interval != "" {
					return tx.Set(interval.KeyInterval, tc.interval)
				}
				return nil
			})
			e := interval.New(10 * time.Second)
			var r interval.Resume
			commit(t, store, func(tx *state.Tx) error { var err error; r, err = e.Start(tx); return err })
			var got []string
			commit(t, store, func(tx *state.Tx) error {
				for _, p := range []string{"base/", "recent/", "learned/"} {
					if err := tx.Ascend(p, func(k, _ string) bool { got = append(got, k); return true }); err != nil {
						return err
					}
				}
				return nil
			})
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("keys %v, want %v", got, tc.want)
			}
			if r.Migrated+r.Dropped != 4 {
				t.Fatalf("resume %+v: want 4 keys moved or dropped", r)
			}
		})
	}
}

// TestReplayPersistence: a replay keeps _dev2 and _anomaly classes set for
// the measurement's persistence, as the daemon does, and a class rises
// once per episode.
func TestReplayPersistence(t *testing.T) {
	set := ruleSet(t, probeRules+"    persist: 10m\n")
	m := set.Measurements[0]
	rows := interval.NewRows(m)
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	at := func(i int, classes ...string) *interval.Sample {
		v := 1.0
		return &interval.Sample{Handle: "probe", Start: t0.Add(time.Duration(i) * 5 * time.Minute),
			End: t0.Add(time.Duration(i+1) * 5 * time.Minute), Value: &v, Classes: classes}
	}
	want := []struct{ classes, rises string }{
		{"probe_normal", "probe_normal"},
		{"probe_high probe_high_dev1 probe_high_dev2 probe_high_anomaly", "probe_high probe_high_dev1 probe_high_dev2 probe_high_anomaly"},
		{"probe_normal probe_high_anomaly probe_high_dev2", "probe_normal"},
		{"probe_normal", ""},
		{"probe_normal", ""},
	}
	samples := []*interval.Sample{
		at(0, "probe_normal"),
		at(1, "probe_high", "probe_high_dev1", "probe_high_dev2", "probe_high_anomaly"),
		at(2, "probe_normal"), at(3, "probe_normal"), at(4, "probe_normal"),
	}
	for i, s := range samples {
		r := rows.Add(s)
		if got := strings.Join(r.Classes, " "); got != want[i].classes {
			t.Errorf("row %d: classes %q, want %q", i, got, want[i].classes)
		}
		if got := strings.Join(r.Rises, " "); got != want[i].rises {
			t.Errorf("row %d: rises %q, want %q", i, got, want[i].rises)
		}
	}
	if history.Persists("probe_high_microanomaly") || history.Persists("probe_high_dev1") || !history.Persists("probe_low_dev2") {
		t.Fatal("Persists: only _dev2 and _anomaly persist")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLateAlarmDecided: the sample of a late stream joins the next
// decision; when its measurement has a fresher sample there, the late
// sample's alarm still does (it is decided once, never lost), while the
// direction and the variables are the fresher sample's.
func TestLateAlarmDecided(t *testing.T) {
	set := ruleSet(t, "settings: {timezone: UTC}\nobserve:\n  - loadavg\n")
	m := set.Measurements[0]
	width := time.Minute
	e := interval.New(width)
	if _, err := e.Apply(set, nil); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * width) }
	closeWith := func(c *interval.Closing, start time.Time, v float64) *interval.Result {
		c.SampledAt(start, "loadavg", interval.Sampled(m, v, nil))
		return e.Close(c)
	}
	for i := range 30 {
		closeWith(e.NewClosing(at(i), false), at(i), 1)
	}
	// Interval 30 is late: its close decides without it, with the
	// classes of the latest sample (29) standing meanwhile.
	c := e.NewClosing(at(30), false)
	c.PendingSample("loadavg")
	if r := e.Close(c); !slices.Equal(r.Outcome.Classes, []string{"loadavg_normal", "loadavg_learning"}) || r.Outcome.Vars["value_loadavg"] != 1 {
		t.Fatalf("the decision without the late sample has classes %v, value_loadavg %v; want interval 29's", r.Outcome.Classes, r.Outcome.Vars["value_loadavg"])
	}
	late := closeWith(e.NewLateClosing(at(30)), at(30), 100)
	if late.Outcome != nil || !slices.Contains(late.Samples[0].Classes, "loadavg_high_anomaly") {
		t.Fatalf("late close: outcome %v, sample classes %v; want no decision and an anomaly", late.Outcome, late.Samples[0].Classes)
	}
	// Interval 31 is on time, and normal.
	r := closeWith(e.NewClosing(at(31), false), at(31), 1)
	want := []string{"loadavg_normal", "loadavg_learning", "loadavg_high_dev2", "loadavg_high_anomaly"}
	if !slices.Equal(r.Outcome.Classes, want) || r.Outcome.Vars["value_loadavg"] != 1 {
		t.Fatalf("next decision: classes %v, value_loadavg %v; want %v and 1", r.Outcome.Classes, r.Outcome.Vars["value_loadavg"], want)
	}
	// Without a fresher sample the late one is the decision's, whole.
	c = e.NewClosing(at(32), false)
	c.PendingSample("loadavg")
	e.Close(c)
	late = closeWith(e.NewLateClosing(at(32)), at(32), 50)
	c = e.NewClosing(at(33), false)
	c.PendingSample("loadavg")
	r = e.Close(c)
	if !slices.Equal(r.Outcome.Classes, late.Samples[0].Classes) || r.Outcome.Vars["value_loadavg"] != 50 {
		t.Fatalf("decision after a late sample: classes %v, value_loadavg %v; want the late sample's %v and 50", r.Outcome.Classes, r.Outcome.Vars["value_loadavg"], late.Samples[0].Classes)
	}
	// A sample older than the interval before the one before stands for
	// nothing: what was known then is not what is known now.
	c = e.NewClosing(at(40), false)
	c.PendingSample("loadavg")
	if r = e.Close(c); len(r.Outcome.Classes) != 0 {
		t.Fatalf("the decision after a gap, without the late sample, has classes %v", r.Outcome.Classes)
	}
}

// TestBaselineOldPages: a baseline stored in pages of 16 slots, as before
// pages of 64, serves as it was learned, and the next commit stores it
// whole in pages of 64, the old pages beyond them deleted.
// flatPage returns the compact page data (history's format version 7: a
// mask per field of the slots whose value differs from the slot before,
// then those values) of n slots as a flat page of the versions before
// (12 bytes per slot), and fails the test when data is not such a page.
func flatPage(t *testing.T, data string, n int) string {
	t.Helper()
	if len(data) < 24 {
		t.Fatalf("a page of %d bytes", len(data))
	}
	var masks [3]uint64
	size := 24
	for f := range masks {
		masks[f] = binary.LittleEndian.Uint64([]byte(data[8*f:]))
		size += 4 * bits.OnesCount64(masks[f])
	}
	if len(data) != size || n < 64 && (masks[0]|masks[1]|masks[2])>>n != 0 {
		t.Fatalf("not a compact page of %d slots: %d bytes, masks %x", n, len(data), masks)
	}
	var flat []byte
	var cur [3][]byte
	for f := range cur {
		cur[f] = make([]byte, 4)
	}
	o := 24
	var at [3]int
	for f := range masks {
		at[f] = o
		o += 4 * bits.OnesCount64(masks[f])
	}
	for k := range n {
		for f := range masks {
			if masks[f]&(1<<k) != 0 {
				cur[f] = []byte(data[at[f] : at[f]+4])
				at[f] += 4
			}
			flat = append(flat, cur[f]...)
		}
	}
	return string(flat)
}

func TestBaselineOldPages(t *testing.T) {
	set := ruleSet(t, probeRules)
	store := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	five := interval.New(5 * time.Minute)
	apply(t, store, five, set)
	for ts := t0; ts.Before(t0.Add(14 * 24 * time.Hour)); ts = ts.Add(5 * time.Minute) {
		five.Sample("probe", ts, probeAcc(t, set, 10+ts.Hour()))
	}
	commit(t, store, func(tx *state.Tx) error { return five.SaveBaseline("probe").Apply(tx) })
	cfg := history.Config{Interval: 5 * time.Minute, Location: time.UTC}
	week := func() string {
		var w string
		commit(t, store, func(tx *state.Tx) error {
			b, _, why, err := interval.LoadBaseline(tx, 5*time.Minute, "probe", cfg)
			if why != nil {
				t.Fatal(why)
			}
			w = fmt.Sprint(b.Week())
			return err
		})
		return w
	}
	want := week()

	// Rewrite it as it was stored before: flat pages (format version 6
	// and older: float32 n, m, q per slot) of 16 slots.
	const dir = "base/5m0s/probe/"
	commit(t, store, func(tx *state.Tx) error {
		type kv struct{ k, v string }
		var pages []kv
		if err := tx.Ascend(dir+"p/", func(k, v string) bool { pages = append(pages, kv{k, v}); return true }); err != nil {
			return err
		}
		if len(pages) != 32 {
			t.Fatalf("%d pages of 64 slots stored, want 32", len(pages))
		}
		for _, p := range pages {
			if err := tx.Delete(p.k); err != nil {
				return err
			}
		}
		for _, p := range pages {
			var n int
			fmt.Sscanf(strings.TrimPrefix(p.k, dir+"p/"), "%d", &n)
			flat := flatPage(t, p.v, min(64, 2016-n*64))
			for k := 0; k*16*12 < len(flat); k++ {
				part := flat[k*16*12 : min((k+1)*16*12, len(flat))]
				if err := tx.Set(fmt.Sprintf("%sp/%05d", dir, n*4+k), part); err != nil {
					return err
				}
			}
		}
		meta, _, err := tx.Get(dir + "meta")
		if err != nil {
			return err
		}
		old := []byte(meta)
		old[4] = 6               // format version
		old[15], old[16] = 16, 0 // slots per page
		return tx.Set(dir+"meta", string(old))
	})
	if got := week(); got != want {
		t.Fatal("the baseline read from pages of 16 slots is not the one learned")
	}

	again := interval.New(5 * time.Minute)
	if ws := apply(t, store, again, set); len(ws) != 0 {
		t.Fatalf("warnings %v", ws)
	}
	c := again.NewClosing(t0.Add(14*24*time.Hour), false)
	g, b := fold(t, set, 5*time.Minute, c.Start, 10)
	c.Add(g, b, map[int64]interval.Observed{c.Start.Unix(): {}})
	r := again.Close(c)
	commit(t, store, func(tx *state.Tx) error { return r.Writes.Apply(tx) })
	var pages []string
	commit(t, store, func(tx *state.Tx) error {
		return tx.Ascend(dir+"p/", func(_, v string) bool { pages = append(pages, v); return true })
	})
	if len(pages) != 32 {
		t.Fatalf("after a commit, %d pages, want 32", len(pages))
	}
	for i, p := range pages {
		flatPage(t, p, min(64, 2016-i*64)) // compact, or it fails
	}
	if week() == "" {
		t.Fatal("no week")
	}
}

// TestRemovedMeasurementClosedPartial: a measurement the rules lose (a
// reload) has what it counted before in the next close as a partial
// sample, as a shutdown leaves it: in its total, with the partial
// interval of the last run, without a point or a part in the decision;
// the close after that has nothing of it.
func TestRemovedMeasurementClosedPartial(t *testing.T) {
	set := ruleSet(t, probeRules)
	other := ruleSet(t, `measurements:
  - {handle: other, path: /var/log/y.log, select_line_matching: '.*'}
`)
	width := time.Minute
	start := time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC)
	store := openStore(t, filepath.Join(t.TempDir(), "state.db"))

	shutdownAfter(t, store, set, width, start, 3)

	// The next run folds two more, then a reload removes the measurement.
	e := interval.New(width)
	commit(t, store, func(tx *state.Tx) error { _, err := e.Start(tx); return err })
	apply(t, store, e, set)
	g, b := fold(t, set, width, start, 2)
	apply(t, store, e, other)
	c := e.NewClosing(start, false)
	c.Add(g, b, map[int64]interval.Observed{c.Start.Unix(): {}})
	r := e.Close(c)
	commit(t, store, func(tx *state.Tx) error { return r.Writes.Apply(tx) })
	var probe []*interval.Sample
	for _, s := range r.Samples {
		if s.Handle == "probe" {
			probe = append(probe, s)
		}
	}
	if len(probe) != 1 || !probe[0].Partial || probe[0].Value == nil || *probe[0].Value != 5 {
		t.Fatalf("samples of probe %+v, want one partial of 5", probe)
	}
	for _, p := range r.Points {
		if p.Measurement == "probe" {
			t.Errorf("a point of the removed measurement: %+v", p)
		}
	}
	if _, ok := r.Outcome.Vars["value_probe"]; ok {
		t.Errorf("the removed measurement is part of the decision: %v", r.Outcome.Vars)
	}
	err := store.View(func(tx *state.Tx) error {
		var total interval.Total
		if ok, err := tx.GetJSON(interval.PrefixTotal+"probe", &total); err != nil || !ok || total.Total != 5 {
			t.Errorf("stored total of probe %+v (found %v, %v), want 5", total, ok, err)
		}
		if _, ok, err := tx.Get(interval.PrefixOpen + "probe"); err != nil || ok {
			t.Errorf("the partial interval of probe is still stored (%v)", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	next := start.Add(width)
	c = e.NewClosing(next, false)
	g, b = fold(t, set, width, next, 1)
	c.Add(g, b, map[int64]interval.Observed{next.Unix(): {}})
	for _, s := range e.Close(c).Samples {
		if s.Handle == "probe" {
			t.Fatalf("a second close has a sample of the removed measurement: %+v", s)
		}
	}
}
