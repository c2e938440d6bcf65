package match

import (
	"slices"
	"strings"
	"testing"
	"time"
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

// TestRuleTimesTimeout: a line on which a rule times out is charged what
// it cost, once, not scaled to the rule's other lines as a timed sample
// is: between the line's limit (regexp2 never stops a match early) and
// the time of the whole pass, which holds it; the rule's other lines add
// their own small estimate. With one other line it used to be twice the
// limit, by line and by block.
func TestRuleTimesTimeout(t *testing.T) {
	const limit = 30 * time.Millisecond
	set, err := Compile([]Spec{{Select: `(?=(a+)+b)a.*`}}, Options{Timeout: limit})
	if err != nil {
		t.Fatal(err)
	}
	hostile := strings.Repeat("a", 5000) + "c"
	for _, tc := range []struct {
		name  string
		lines []string
	}{
		{"hostile first", []string{hostile, "ab"}},
		{"hostile after 16", append(slices.Repeat([]string{"ab"}, 16), hostile, "ab")},
		{"two hostile", []string{hostile, "ab", hostile}},
	} {
		for _, block := range []bool{false, true} {
			m := set.NewMatcher()
			m.TimeRules()
			timeouts := 0
			start := time.Now()
			if block {
				m.MatchBlock([]byte(strings.Join(tc.lines, "\n")), func(_ int, _ []byte, hs []Hit) {
					for _, h := range hs {
						if h.Timeout {
							timeouts++
						}
					}
				})
			} else {
				for _, l := range tc.lines {
					for _, h := range m.Match([]byte(l)) {
						if h.Timeout {
							timeouts++
						}
					}
				}
			}
			pass := time.Since(start)
			want := strings.Count(strings.Join(tc.lines, "\n"), hostile)
			if timeouts != want {
				t.Fatalf("%s, block %v: %d timeouts, want %d", tc.name, block, timeouts, want)
			}
			// The timed-out lines are measured: at least their limits,
			// within the pass; the others, estimated from the samples of
			// "ab", cost far less than a limit.
			lost, got := m.times.lost[0], m.RuleTimes()[0]
			if lost < time.Duration(want)*limit || lost > pass {
				t.Errorf("%s, block %v: timed-out lines charged %v, want at least %d × %v and at most the pass's %v", tc.name, block, lost, want, limit, pass)
			}
			if got-lost < 0 || got-lost >= limit {
				t.Errorf("%s, block %v: rule time %v, of which %v for the lines that did not time out, want less than a limit (%v)", tc.name, block, got, got-lost, limit)
			}
		}
	}
}

// TestRuleTimesChargeWholeRule: a rule that runs regexp2 more than once
// on a line (its select, then its key) and times out on a later match is
// charged all it spent on the line, from its first match: with a clock
// that moves by the limit at each reading, the select runs, the key
// finds the limit spent, and the rule is charged exactly the limit.
// It used to be charged only the match that ran out, here nothing; with
// a real clock, a timed-out line came out a few microseconds under its
// limit whenever the select had taken them.
func TestRuleTimesChargeWholeRule(t *testing.T) {
	const limit = 100 * time.Millisecond
	set, err := Compile([]Spec{{Select: `(?=a)a+c`, Key: `(?<=a)(a)c`}}, Options{Timeout: limit})
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range []bool{false, true} {
		m := set.NewMatcher()
		m.TimeRules()
		m.clock.now = steppingClock(limit)
		var hits []Hit
		if block {
			m.MatchBlock([]byte("aac\n"), func(_ int, _ []byte, hs []Hit) { hits = append(hits, hs...) })
		} else {
			hits = m.Match([]byte("aac"))
		}
		if len(hits) != 1 || !hits[0].Timeout {
			t.Fatalf("block %v: %s, want rule 0 timed out", block, fmtHits(hits))
		}
		if got := m.times.lost[0]; got != limit {
			t.Errorf("block %v: the timed-out rule was charged %v, want its line's limit %v", block, got, limit)
		}
	}
}
