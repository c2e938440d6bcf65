package rules

import (
	"slices"
	"testing"
)

// TestClassIndex checks that the index finds the setter of every class of
// every setter, the first one when two set it, and nothing else, however
// their handles share words and underscores.
func TestClassIndex(t *testing.T) {
	ms := []*Measurement{
		{Handle: "ssh", HistoryType: HistoryWeekly, Key: "user"},
		{Handle: "ssh_high", HistoryType: HistoryWeekly},
		{Handle: "_x_", HistoryType: HistoryWeekly, Key: "user"},
		{Handle: "a-b", HistoryType: HistoryScalar},
		{Handle: "ssh", HistoryType: HistoryScalar}, // a duplicate: the first sets the class
		{Handle: ""},
	}
	ws := []*Watch{{Handle: "etc"}, {Handle: "ssh_high_dev1"}}
	var setters []setter
	for _, m := range ms {
		setters = append(setters, setter{m.Handle, m.Classes})
	}
	for _, w := range ws {
		setters = append(setters, setter{w.Handle, w.Classes})
	}
	x := newClassIndex(setters)
	want := map[string]int{}
	for i, st := range setters {
		for _, c := range st.classes() {
			if _, ok := want[c]; !ok {
				want[c] = i
			}
		}
	}
	if len(want) < 40 {
		t.Fatalf("only %d classes: the measurements are not what the test means", len(want))
	}
	for c, i := range want {
		if got, ok := x.owner(c); !ok || got != i {
			t.Errorf("owner(%q) = %d, %v; want %d (%s)", c, got, ok, i, setters[i].handle)
		}
	}
	for _, c := range []string{"", "ssh", "ssh_", "_", "ssh_high_dev3", "entropy_ssh", "x_high", "_x__high_x", "a", "b_unavailable", "etc_changed_", "any"} {
		if i, ok := x.owner(c); ok {
			t.Errorf("owner(%q) = %d (%s), want none", c, i, setters[i].handle)
		}
	}
	names := x.names()
	for c := range want {
		if !slices.Contains(names, c) {
			t.Errorf("names() lacks %q", c)
		}
	}
}
