package interval_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// scoredSeries returns n consecutive intervals of width from t0 with the
// scores given at the indices of peaks and small ones elsewhere.
func scoredSeries(t0 time.Time, width time.Duration, n int, peaks map[int]float64) []interval.Scored {
	out := make([]interval.Scored, n)
	for i := range out {
		out[i] = interval.Scored{Start: t0.Add(time.Duration(i) * width), Score: 0.5}
		if s, ok := peaks[i]; ok {
			out[i].Score = s
		}
	}
	return out
}

// TestLearnThreshold: the learned threshold raises the target number of
// rises when one can, the most that do not pass it otherwise, never goes
// below the floor, and a burst of consecutive samples is one rise.
func TestLearnThreshold(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	const width = 5 * time.Minute
	m := &rules.Measurement{Handle: "h", Persist: 10 * time.Minute, PersistPolicy: rules.PersistPreserve}
	// Episodes peaking at 9, 7 (three intervals: one rise), -6 (a low
	// one), 5 and 4.
	peaks := map[int]float64{10: 9, 40: 6, 41: 7, 42: 6.5, 80: -6, 120: 5, 160: 4}
	pts := scoredSeries(t0, width, 200, peaks)
	tests := []struct {
		k      int
		floor  float64
		rises  int
		lo, hi float64 // the threshold is in (lo, hi]
		exact  bool
	}{
		{k: 0, floor: 1, rises: 0, lo: 9, hi: 10, exact: true},
		{k: 1, floor: 1, rises: 1, lo: 7, hi: 9, exact: true},
		{k: 2, floor: 1, rises: 2, lo: 6, hi: 7, exact: true},
		{k: 3, floor: 1, rises: 3, lo: 5, hi: 6, exact: true},
		{k: 5, floor: 1, rises: 5, lo: 1, hi: 4, exact: true},
		{k: 9, floor: 1, rises: 5, lo: 1, hi: 4, exact: false},
		{k: 9, floor: 4.5, rises: 4, lo: 4.5, hi: 5, exact: false},
	}
	for _, tt := range tests {
		l := interval.LearnThreshold(m, width, pts, tt.k, tt.floor)
		if l.Rises != tt.rises || l.Exact != tt.exact || !(l.Threshold > tt.lo && l.Threshold <= tt.hi) {
			t.Errorf("k=%d floor %v: %+v, want %d rises (exact %v) at a threshold in (%v, %v]", tt.k, tt.floor, l, tt.rises, tt.exact, tt.lo, tt.hi)
		}
		if got := interval.AlarmRises(m, width, pts, l.Threshold); got != l.Rises {
			t.Errorf("k=%d: the threshold %v raises %d, not the %d learned", tt.k, l.Threshold, got, l.Rises)
		}
	}
	if got := interval.AlarmRises(m, width, pts, 3); got != 5 {
		t.Errorf("the default threshold raises %d, want 5", got)
	}
}

// TestLearnThresholdReproduces: on random series, with persistence that
// merges close episodes, the learned threshold always raises what it
// says, which is the target whenever some threshold gives it.
func TestLearnThresholdReproduces(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	const width = 5 * time.Minute
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		m := &rules.Measurement{Handle: "h", Persist: time.Duration(rng.IntN(4)) * width, PersistPolicy: rules.PersistPreserve}
		if trial%2 == 1 {
			m.PersistPolicy = rules.PersistReset
		}
		pts := make([]interval.Scored, 300)
		for i := range pts {
			s := math.Abs(rng.NormFloat64()) * 1.5
			if rng.IntN(2) == 0 {
				s = -s
			}
			pts[i] = interval.Scored{Start: t0.Add(time.Duration(i) * width), Score: s}
		}
		k := rng.IntN(12)
		l := interval.LearnThreshold(m, width, pts, k, 1)
		if got := interval.AlarmRises(m, width, pts, l.Threshold); got != l.Rises || l.Rises > k || l.Threshold < 1 {
			t.Fatalf("trial %d, k=%d: %+v, but the threshold raises %d", trial, k, l, got)
		}
		if !l.Exact {
			// No threshold (of those that change anything) gives k.
			for _, p := range pts {
				if a := math.Abs(p.Score); a >= 1 && interval.AlarmRises(m, width, pts, a) == k {
					if l.Threshold > a {
						t.Fatalf("trial %d: %v gives exactly %d, above the learned %+v", trial, a, k, l)
					}
				}
			}
		}
	}
}

// TestAlarmBudget: a measurement whose every day has a crowd of samples
// at a sensitive anomaly_threshold, under a budget of 1/day: after its
// first day, about one rise a day, the threshold never below
// anomaly_threshold, a tenfold burst still an anomaly; the adaptive
// threshold is written with the interval that changed it and read back
// by a new engine.
func TestAlarmBudget(t *testing.T) {
	set := ruleSet(t, budgetRules)
	const width = 15 * time.Minute
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(5, 6))
	days := 12
	burst := t0.Add(9*24*time.Hour + 15*time.Hour)
	e := interval.New(width)
	if _, err := e.Apply(set, nil); err != nil {
		t.Fatal(err)
	}
	m := set.Measurements[0]
	rows := interval.NewRows(m)
	perDay := make([]int, days)
	burstAnomaly := false
	for i := 0; i < days*96; i++ {
		start := t0.Add(time.Duration(i) * width)
		v := 100 + rng.NormFloat64()*10
		if rng.IntN(20) == 0 {
			v *= 1.3 + rng.Float64()*0.4
		}
		if start.Equal(burst) {
			v = 1000
		}
		s := e.Value("chatty", start, v)
		if th := interval.Threshold(e.State("chatty")); th < 1.5 {
			t.Fatalf("threshold %v below anomaly_threshold", th)
		}
		for _, c := range rows.Add(s).Rises {
			if c == "chatty_high_anomaly" || c == "chatty_low_anomaly" {
				perDay[i/96]++
			}
		}
		if start.Equal(burst) {
			for _, c := range s.Classes {
				burstAnomaly = burstAnomaly || c == "chatty_high_anomaly"
			}
		}
	}
	if !burstAnomaly {
		t.Error("the tenfold burst is not an anomaly under the budget")
	}
	later := 0
	for _, n := range perDay[2:] {
		later += n
	}
	t.Logf("anomaly rises per day: %v", perDay)
	if perDay[0] < 4 {
		t.Errorf("the first day (before any adaptation) has %d rises: the series is not chatty", perDay[0])
	}
	if avg := float64(later) / float64(days-2); avg < 0.3 || avg > 2 {
		t.Errorf("%.2f rises a day after two days, want about 1 (%v)", avg, perDay)
	}

	// The adaptive threshold goes with the interval's writes.
	store := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	apply(t, store, e, set)
	r := e.Close(e.NewClosing(t0.Add(time.Duration(days*96)*width), false))
	key := interval.ThresholdKey(width, "chatty")
	found := false
	for _, w := range r.Writes {
		found = found || w.Key == key
	}
	if !found {
		t.Fatalf("no write of %s in the close", key)
	}
	commit(t, store, func(tx *state.Tx) error { return r.Writes.Apply(tx) })
	want := interval.Threshold(e.State("chatty"))
	e2 := interval.New(width)
	apply(t, store, e2, set)
	if got := interval.Threshold(e2.State("chatty")); got != want || want <= 1.5 {
		t.Errorf("read back threshold %v, want %v (above 1.5)", got, want)
	}

	// A budget removed (while down, or by a reload) takes its threshold
	// out of the state file at the next commit.
	without := ruleSet(t, strings.Replace(budgetRules, "    alarm_budget: 1/day\n    alarm_budget_periods: 3\n", "", 1))
	for i, eng := range []*interval.Engine{interval.New(width), e2} {
		if i == 1 {
			commit(t, store, func(tx *state.Tx) error { return tx.Set(key, "{}") })
		}
		apply(t, store, eng, without)
		r := eng.Close(eng.NewClosing(t0.Add(time.Duration(days*96+1+i)*width), false))
		commit(t, store, func(tx *state.Tx) error { return r.Writes.Apply(tx) })
		if err := store.View(func(tx *state.Tx) error {
			if _, ok, err := tx.Get(key); err != nil || ok {
				t.Errorf("engine %d: %s still stored (%v) after the budget went", i, key, err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

const budgetRules = `settings: {timezone: UTC}
measurements:
  - handle: chatty
    path: /var/log/x.log
    select_line_matching: '.*x.*'
    data_type: real
    extraction_regex: '(\d+)'
    anomaly_threshold: 1.5
    alarm_budget: 1/day
    alarm_budget_periods: 3
`
