package actions

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/state"
)

// measurementH is the rules of h, with the persistence and policy of its
// classes to fill in.
var measurementH = ruleOf("h", "persist: %s", "policy: %s")

// TestEdgeTriggerAndIfElapsed drives one command and one report through
// rises, holds, falls, ifelapsed and restarts.
func TestEdgeTriggerAndIfElapsed(t *testing.T) {
	out := filepath.Join(t.TempDir(), "reports.log")
	runs := filepath.Join(t.TempDir(), "runs")
	set := loadRules(t, fmt.Sprintf(measurementH, "0", "preserve")+fmt.Sprintf(`
commands:
  - handle: c
    if: h_high_anomaly
    command: [/bin/sh, -c, 'echo run >> "$1"', sh, %s]
    ifelapsed: 30m
reports:
  - handle: r
    if: h_high_anomaly
    message: "anomaly in h"
    to: %s
    ifelapsed: 30m
`, runs, out))
	h := newHarness(t, set, Options{})
	const A = "h_high_anomaly"
	steps := []struct {
		name       string
		restart    bool
		classes    []string
		fired      bool
		suppressed bool
	}{
		{name: "rises at 12:05", classes: []string{A}, fired: true},
		{name: "stays true", classes: []string{A}},
		{name: "falls", classes: nil},
		{name: "rises within ifelapsed", classes: []string{A}, suppressed: true},
		{name: "falls again"},
		{name: "restart while false", restart: true},
		{name: "still false"},
		{name: "rises after ifelapsed (12:35)", classes: []string{A}, fired: true},
		{name: "restart while true", restart: true},
		{name: "true after restart: no re-fire", classes: []string{A}},
		{name: "falls after restart"},
		{name: "rises within ifelapsed after restart", classes: []string{A}, suppressed: true},
	}
	fired := 0
	for _, s := range steps {
		if s.restart {
			h.restart()
			continue
		}
		d := h.next(s.classes...)
		var want, wantSup []string
		if s.fired {
			want = []string{"c", "r"}
			fired++
		}
		if s.suppressed {
			wantSup = []string{"c", "r"}
		}
		if got := firedHandles(d.Fired); !slices.Equal(got, want) {
			t.Errorf("%s: fired %v, want %v", s.name, got, want)
		}
		if got := firedHandles(d.Suppressed); !slices.Equal(got, wantSup) {
			t.Errorf("%s: suppressed %v, want %v", s.name, got, wantSup)
		}
		for _, f := range d.Suppressed {
			if f.Reason != ReasonIfElapsed {
				t.Errorf("%s: reason %q", s.name, f.Reason)
			}
		}
	}
	h.wait()
	b, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "run\n"); n != fired {
		t.Errorf("the command ran %d times, want %d", n, fired)
	}
	b, err = os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []string{"2025-03-10T12:05:00Z r: anomaly in h", "2025-03-10T12:35:00Z r: anomaly in h"}
	if !slices.Equal(lines, want) {
		t.Errorf("report file:\n%q\nwant\n%q", lines, want)
	}
}

// TestAtMostOnce: a decision committed but never executed (a crash between
// the commit and the run) does not fire again after a restart, and a
// decision whose commit failed fires again at the next interval.
func TestAtMostOnce(t *testing.T) {
	set := loadRules(t, fmt.Sprintf(measurementH, "0", "preserve")+`
commands:
  - handle: c
    if: h_high
    command: [/bin/true]
`)
	h := newHarness(t, set, Options{})

	// The commit fails (a full disk): nothing of the decision is stored.
	h.end = h.end.Add(h.step)
	err := h.st.Update(func(tx *state.Tx) error {
		d, err := h.e.Decide(tx, Interval{End: h.end, Classes: []string{"h_high"}})
		if err != nil {
			return err
		}
		if len(d.Fired) != 1 {
			t.Errorf("first decision fired %v", firedHandles(d.Fired))
		}
		return errors.New("no space left on device")
	})
	if err == nil {
		t.Fatal("update did not fail")
	}
	if d := h.decide("h_high"); len(d.Fired) != 1 {
		t.Fatalf("after a failed commit the rise fired %v, want c", firedHandles(d.Fired))
	}
	// Committed, not executed, crash: the restart must not run it.
	h.restart()
	if d := h.decide("h_high"); len(d.Fired) != 0 {
		t.Fatalf("after restart fired %v", firedHandles(d.Fired))
	}
	if st := h.e.Stats(); st.Runs != 0 {
		t.Errorf("runs = %d", st.Runs)
	}
}

// TestPersistence checks preserve and reset for measurement and user
// classes, expiry, the Persisted flag, and that persistent classes
// survive a restart.
func TestPersistence(t *testing.T) {
	const A = "h_high_anomaly"
	type want struct {
		active    []string
		persisted []string
		until     map[string]time.Duration // since t0
	}
	cases := []struct {
		name    string
		persist string
		policy  string
		steps   [][]string // measurement classes, one interval each (12:05, 12:10, ...)
		want    []want
	}{
		{
			name: "preserve", persist: "10m", policy: "preserve",
			steps: [][]string{{"h_high", "h_high_dev1", "h_high_dev2", A}, {"h_high", "h_high_dev1", "h_high_dev2", A}, {"h_normal"}, {"h_normal"}},
			want: []want{
				{active: []string{"h_high", "h_high_dev1", "h_high_dev2", A, "u"}, until: map[string]time.Duration{A: 15 * time.Minute, "h_high_dev2": 15 * time.Minute, "u": 20 * time.Minute}},
				{active: []string{"h_high", "h_high_dev1", "h_high_dev2", A, "u"}, until: map[string]time.Duration{A: 15 * time.Minute, "u": 20 * time.Minute}},
				// 12:15: the expiry of preserve was 12:15; u (15m) lasts until 12:20.
				{active: []string{"h_normal", "u"}, persisted: []string{"u"}},
				{active: []string{"h_normal"}},
			},
		},
		{
			name: "reset", persist: "10m", policy: "reset",
			steps: [][]string{{"h_high", A}, {"h_high", A}, {"h_normal"}, {"h_normal"}, {"h_normal"}},
			want: []want{
				{active: []string{"h_high", A, "u"}, until: map[string]time.Duration{A: 15 * time.Minute, "u": 20 * time.Minute}},
				{active: []string{"h_high", A, "u"}, until: map[string]time.Duration{A: 20 * time.Minute, "u": 25 * time.Minute}},
				// 12:15: A persists; u's expression is true through A, so u is reset.
				{active: []string{"h_normal", A, "u"}, persisted: []string{A}, until: map[string]time.Duration{A: 20 * time.Minute, "u": 30 * time.Minute}},
				// 12:20: A expired; u persists from 12:15.
				{active: []string{"h_normal", "u"}, persisted: []string{"u"}, until: map[string]time.Duration{"u": 30 * time.Minute}},
				{active: []string{"h_normal", "u"}, persisted: []string{"u"}},
			},
		},
		{
			name: "no persistence", persist: "0", policy: "preserve",
			steps: [][]string{{"h_high", A}, {"h_normal"}},
			want: []want{
				{active: []string{"h_high", A, "u"}},
				{active: []string{"h_normal", "u"}, persisted: []string{"u"}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := loadRules(t, fmt.Sprintf(measurementH, tc.persist, tc.policy)+fmt.Sprintf(`
classes:
  u:
    expression: h_high|%s
    persist: 15m
    policy: %s
`, A, tc.policy))
			h := newHarness(t, set, Options{})
			for i, cl := range tc.steps {
				if i == 2 {
					h.restart()
					if got := activeNames(h.e.Active()); !slices.Equal(got, slices.Sorted(slices.Values(tc.want[1].active))) {
						t.Errorf("Active after restart = %v, want %v", got, tc.want[1].active)
					}
				}
				d := h.next(cl...)
				w := tc.want[i]
				if got := activeNames(d.Active); !slices.Equal(got, slices.Sorted(slices.Values(w.active))) {
					t.Errorf("step %d: active %v, want %v", i, got, w.active)
				}
				var pers []string
				for _, a := range d.Active {
					if a.Persisted {
						pers = append(pers, a.Name)
					}
					if u, ok := w.until[a.Name]; ok && !a.Until.Equal(t0.Add(u)) {
						t.Errorf("step %d: %s until %s, want %s", i, a.Name, a.Until.Format("15:04"), t0.Add(u).Format("15:04"))
					}
					if a.Name == "h_high" || a.Name == "h_normal" || a.Name == "h_high_dev1" {
						if !a.Until.IsZero() {
							t.Errorf("step %d: %s persists until %s; only _dev2, _anomaly and user classes persist", i, a.Name, a.Until)
						}
					}
				}
				if !slices.Equal(pers, w.persisted) {
					t.Errorf("step %d: persisted %v, want %v", i, pers, w.persisted)
				}
			}
			// Every expired class is gone from the state file.
			err := h.st.View(func(tx *state.Tx) error {
				return tx.Ascend(prefixClass, func(k, v string) bool {
					var r record
					if err := json.Unmarshal([]byte(v), &r); err != nil || !r.Until.After(h.end) {
						t.Errorf("expired class %s still stored: %s", k, v)
					}
					return true
				})
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestUserClasses checks the fixpoint, any and nothing, and that a cycle
// through negation terminates and is reported.
func TestUserClasses(t *testing.T) {
	cases := []struct {
		name    string
		classes string
		input   []string
		want    []string
		warn    bool
	}{
		{name: "forward reference", classes: "a: b.h_high\n  b: h_low|h_high\n", input: []string{"h_high"}, want: []string{"a", "b", "h_high"}},
		{name: "and not", classes: "a: h_high&!h_learning\n", input: []string{"h_high", "h_learning"}, want: []string{"h_high", "h_learning"}},
		{name: "parentheses", classes: "a: (h_high|h_low).!(h_learning)\n", input: []string{"h_low"}, want: []string{"a", "h_low"}},
		{name: "positive cycle set", classes: "r: s|h_high\n  s: r\n", input: []string{"h_high"}, want: []string{"h_high", "r", "s"}},
		{name: "positive cycle unset", classes: "r: s|h_high\n  s: r\n", input: []string{"h_low"}, want: []string{"h_low"}},
		{name: "chain of four", classes: "a: b\n  b: c\n  c: d\n  d: h_high\n", input: []string{"h_high"}, want: []string{"a", "b", "c", "d", "h_high"}},
		{name: "any and nothing", classes: "x: any\n  y: nothing|any\n  z: nothing\n", input: nil, want: []string{"x", "y"}},
		{name: "input cannot set a user class", classes: "a: h_high\n", input: []string{"a"}, want: nil},
		{name: "negative cycle", classes: "p: '!q'\n  q: p\n", input: nil, warn: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf(measurementH, "0", "preserve") + "classes:\n  " + strings.ReplaceAll(tc.classes, ": ", ":\n      persist: 0\n      expression: ")
			h := newHarness(t, loadRules(t, src), Options{})
			d := h.next(tc.input...)
			got := activeNames(d.Active)
			if tc.warn {
				if !strings.Contains(h.log.String(), "do not settle") {
					t.Errorf("no warning about classes that do not settle; log:\n%s", h.log)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("active %v, want %v", got, tc.want)
			}
			if strings.Contains(h.log.String(), "do not settle") {
				t.Errorf("unexpected warning: %s", h.log)
			}
		})
	}
}

// TestChanges checks the class change list, including across a restart.
func TestChanges(t *testing.T) {
	h := newHarness(t, loadRules(t, fmt.Sprintf(measurementH, "0", "preserve")), Options{})
	steps := []struct {
		restart bool
		classes []string
		want    []ClassChange
	}{
		{classes: []string{"h_high", "h_learning"}, want: []ClassChange{{"h_high", true}, {"h_learning", true}}},
		{classes: []string{"h_high", "h_learning"}},
		{classes: []string{"h_low"}, want: []ClassChange{{"h_high", false}, {"h_learning", false}, {"h_low", true}}},
		{restart: true},
		{classes: []string{"h_low"}},
		{classes: nil, want: []ClassChange{{"h_low", false}}},
		{classes: nil},
	}
	for i, s := range steps {
		if s.restart {
			h.restart()
			continue
		}
		d := h.next(s.classes...)
		if !slices.Equal(d.Changes, s.want) {
			t.Errorf("step %d: changes %v, want %v", i, d.Changes, s.want)
		}
	}
}

// TestStalePruned: guards and locks of handles no longer in the rules are
// deleted, those of current handles kept.
func TestStalePruned(t *testing.T) {
	h := newHarness(t, loadRules(t, fmt.Sprintf(measurementH, "0", "preserve")+`
commands:
  - {handle: keep, if: h_high, command: [/bin/true]}
  - {handle: gone, if: h_high, command: [/bin/true]}
`), Options{})
	h.next("h_high")
	h.wait()
	h.set = loadRules(t, fmt.Sprintf(measurementH, "0", "preserve")+`
commands:
  - {handle: keep, if: h_high, command: [/bin/true]}
`)
	h.restart()
	h.next("h_high")
	err := h.st.View(func(tx *state.Tx) error {
		for key, want := range map[string]bool{"guard/keep": true, "lock/keep": true, "guard/gone": false, "lock/gone": false} {
			if _, ok, _ := tx.Get(key); ok != want {
				t.Errorf("%s stored = %v, want %v", key, ok, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestThresholdsAndHardClasses: comparisons on the interval's variables
// drive user classes and guards (a scalar measurement has no other class),
// the time classes of the interval's start in the baseline's zone and the
// host classes guard like any class, and neither kind shows among the
// interval's classes.
func TestThresholdsAndHardClasses(t *testing.T) {
	set := loadRules(t, ruleOf("queue", "history_type: scalar")+`classes:
  queue_long: {expression: value_queue > 50, persist: 0}
reports:
  - handle: long
    if: queue_long
    message: "queue $(value_queue)"
  - handle: afternoon
    if: value_queue >= 10.Hr14.Q1
    message: "at two"
  - handle: host
    if: mx1.!GMT_Hr13
    message: "host"
settings:
  timezone: Europe/Paris
  host: mx1.example.net
`)
	h := newHarness(t, set, Options{})
	h.step = 5 * time.Minute
	// t0 is 12:00 UTC, 13:00 in Paris: the intervals end at 13:05, 13:10…
	// Paris; the one of 14:00–14:05 Paris ends at 12:05 UTC + 1h.
	h.vars = map[string]float64{"value_queue": 60}
	d := h.decide()
	if got := firedHandles(d.Fired); !slices.Equal(got, []string{"long", "host"}) {
		t.Errorf("fired %v, want long (value 60 > 50) and host", got)
	}
	for _, a := range d.Active {
		if a.Name == "mx1" || strings.HasPrefix(a.Name, "Hr") || strings.HasPrefix(a.Name, "Min") {
			t.Errorf("hard class %s among the interval's classes", a.Name)
		}
	}
	if got := activeNames(d.Active); !slices.Equal(got, []string{"queue_long"}) {
		t.Errorf("active %v, want [queue_long]", got)
	}
	h.vars = map[string]float64{"value_queue": 50}
	if d := h.decide(); len(d.Fired) != 0 || len(d.Active) != 0 {
		t.Errorf("value 50: fired %v, active %v", firedHandles(d.Fired), activeNames(d.Active))
	}
	h.vars = nil // no value: the comparison is false
	if d := h.decide(); len(d.Fired) != 0 {
		t.Errorf("no value: fired %v", firedHandles(d.Fired))
	}
	// Walk to the interval that starts at 14:00 Paris (12:00 UTC + 1h).
	h.vars = map[string]float64{"value_queue": 20}
	var at []string
	for h.end.Before(t0.Add(2 * time.Hour)) {
		d := h.decide()
		for _, f := range d.Fired {
			if f.Handle == "afternoon" {
				at = append(at, h.end.Add(-h.step).UTC().Format("15:04"))
			}
		}
	}
	if !slices.Equal(at, []string{"13:00"}) {
		t.Errorf("afternoon (Hr14.Q1 in Paris) fired for the intervals starting at %v UTC, want [13:00]", at)
	}
}
