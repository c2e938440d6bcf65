package match

import (
	"strings"
	"testing"
)

// TestRuleTimes: a rule that was a candidate of some line took time, by
// line and by block; a rule whose literal no line has took none; without
// TimeRules there are no times.
func TestRuleTimes(t *testing.T) {
	set, err := Compile([]Spec{{Select: `.*foo.*`}, {Select: `.*bar.*`}, {Select: `.*qqq.*`}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := append(strings.Split(strings.Repeat("a foo b\n", 40), "\n"), "bar")
	for _, block := range []bool{false, true} {
		m := set.NewMatcher()
		if m.RuleTimes() != nil {
			t.Fatal("times without TimeRules")
		}
		m.TimeRules()
		if block {
			m.MatchBlock([]byte(strings.Join(lines, "\n")), func(int, []byte, []Hit) {})
		} else {
			for _, l := range lines {
				m.Match([]byte(l))
			}
		}
		times := m.RuleTimes()
		if len(times) != 3 || times[0] <= 0 || times[1] <= 0 || times[2] != 0 {
			t.Errorf("block %v: times %v, want two positive and a zero", block, times)
		}
	}
}
