package actions

import (
	"slices"
	"testing"
	"time"

	"github.com/logtally/logtally/state"
)

// TestPerKey: a per: key command fires once per source of its guard's
// measurement: for each new top source while the guard is true, again for
// a new source within ifelapsed of another's firing, never twice for one
// source within its ifelapsed (across restarts), with $(key) in its argv
// and LOGTALLY_KEY in its environment; a source that fails the key type
// is refused; the locks of sources do not outlive ifelapsed.
func TestPerKey(t *testing.T) {
	set := probeRules(t, "0", `classes:
  storm: {expression: probe_high_anomaly, persist: 0}
commands:
  - handle: block
    if: storm
    per: key
    command: [/usr/sbin/nft, add, element, inet, filter, blocked, "{ $(key) }"]
    ifelapsed: 12h
reports:
  - handle: tell
    if: storm
    per: key
    message: "storm from $(key)"
`)
	if got := set.Commands[0].PerKey; !slices.Equal(got, []string{"probe"}) {
		t.Fatalf("PerKey = %v, want [probe] through the user class", got)
	}
	h := newHarness(t, set, Options{DryRun: true})
	const A = "probe_high_anomaly"
	step := func(name, top string, classes []string, wantFired, wantSup []string) {
		t.Helper()
		h.keys = map[string]string{}
		if top != "" {
			h.keys["top_probe"] = top
		}
		d := h.decide(classes...)
		var fired, sup []string
		for _, f := range d.Fired {
			fired = append(fired, f.Handle+"/"+f.Key)
			if f.Kind == KindCommand && !slices.Equal(f.Argv, []string{"/usr/sbin/nft", "add", "element", "inet", "filter", "blocked", "{ " + f.Key + " }"}) {
				t.Errorf("%s: argv %q", name, f.Argv)
			}
			if f.Kind == KindCommand && !slices.Contains(f.Env, "LOGTALLY_KEY="+f.Key) {
				t.Errorf("%s: no LOGTALLY_KEY=%s in %q", name, f.Key, f.Env)
			}
			if f.Kind == KindReport && f.Message != "storm from "+f.Key {
				t.Errorf("%s: message %q", name, f.Message)
			}
		}
		for _, f := range d.Suppressed {
			sup = append(sup, f.Handle+"/"+f.Key+"/"+f.Reason)
		}
		if !slices.Equal(fired, wantFired) || !slices.Equal(sup, wantSup) {
			t.Errorf("%s: fired %v suppressed %v, want %v and %v", name, fired, sup, wantFired, wantSup)
		}
	}
	step("first storm", "203.0.113.9", []string{A}, []string{"block/203.0.113.9", "tell/203.0.113.9"}, nil)
	step("same source, still true", "203.0.113.9", []string{A}, nil, nil)
	step("a second source while true", "192.0.2.77", []string{A}, []string{"block/192.0.2.77", "tell/192.0.2.77"}, nil)
	step("the first again, same stretch", "203.0.113.9", []string{A}, nil, nil)
	step("falls", "", nil, nil, nil)
	step("second storm from a new source within ifelapsed", "198.51.100.4", []string{A},
		[]string{"block/198.51.100.4", "tell/198.51.100.4"}, nil)
	step("falls", "", nil, nil, nil)
	h.restart()
	step("the first source again within ifelapsed, after a restart", "203.0.113.9", []string{A},
		[]string{"tell/203.0.113.9"}, []string{"block/203.0.113.9/ifelapsed"})
	step("falls", "", nil, nil, nil)
	// A source that is not an address reaches no command: its argv
	// would carry it; the report shows it, escaped.
	h.keys = map[string]string{"top_probe": "10.0.0.1;reboot"}
	d := h.next(A)
	if got := firedHandles(d.Fired); !slices.Equal(got, []string{"block", "tell"}) {
		t.Errorf("fired %v", got)
	}
	h.wait()
	if r, ok := lastRecord(h.e, "block", OutcomeRefused); !ok || r.Key != "10.0.0.1;reboot" {
		t.Errorf("a command for a key that fails key_type ip was not refused: %+v", h.e.Recent())
	}

	// Twelve hours later the locks of the sources are gone.
	h.end = h.end.Add(12 * time.Hour)
	h.keys = nil
	h.decide()
	var locks []string
	if err := h.st.View(func(tx *state.Tx) error {
		return tx.Ascend(prefixKeyLock, func(k, _ string) bool { locks = append(locks, k); return true })
	}); err != nil {
		t.Fatal(err)
	}
	if len(locks) != 0 {
		t.Errorf("per-key locks left after ifelapsed: %v", locks)
	}
}

// TestPerKeyHeldGuard: while the guard holds only because its class
// persists after a storm, the ordinary sources that top the quiet intervals
// after it fire nothing; a storm in the same held stretch from a new source
// still fires for that source, and the storm's source is not fired again.
func TestPerKeyHeldGuard(t *testing.T) {
	set := probeRules(t, "30m", `commands:
  - handle: block
    if: probe_high_anomaly
    per: key
    command: [/usr/sbin/nft, add, element, inet, filter, blocked, "{ $(key) }"]
    ifelapsed: 12h
`)
	h := newHarness(t, set, Options{DryRun: true})
	const A = "probe_high_anomaly"
	cases := []struct {
		name, top string
		classes   []string
		want      []string
	}{
		{"storm", "203.0.113.9", []string{A}, []string{"203.0.113.9"}},
		{"quiet, held", "198.51.100.167", nil, nil},
		{"quiet, held, another source", "198.51.100.125", nil, nil},
		{"second storm within the hold", "192.0.2.77", []string{A}, []string{"192.0.2.77"}},
		{"quiet again, held", "198.51.100.214", nil, nil},
		{"the first storm's source, held", "203.0.113.9", nil, nil},
	}
	for _, c := range cases {
		h.keys = map[string]string{"top_probe": c.top}
		d := h.decide(c.classes...)
		var fired []string
		for _, f := range d.Fired {
			fired = append(fired, f.Key)
		}
		if !slices.Equal(fired, c.want) {
			t.Errorf("%s: fired for %v, want %v", c.name, fired, c.want)
		}
		held := false
		for _, ac := range d.Active {
			held = held || ac.Name == A
		}
		if !held {
			t.Errorf("%s: %s is not set; the case does not test a held guard", c.name, A)
		}
	}
}
