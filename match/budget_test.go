package match

import (
	"testing"
	"time"
)

// steppingClock returns a clock that moves on by step at each reading.
func steppingClock(step time.Duration) func() time.Time {
	t := time.Unix(1e9, 0)
	return func() time.Time {
		now := t
		t = t.Add(step)
		return now
	}
}

// TestLineBudget checks that the regexp2 matches of a line share one time
// limit: once a line has spent it, the rules still to run on regexp2 are
// not run and report a timeout, the rules on other engines run as usual,
// and the next line has the whole limit again — by Match and by
// MatchBlock. The clock is stepped, so no match needs to be slow.
func TestLineBudget(t *testing.T) {
	const limit = 100 * time.Millisecond
	specs := []Spec{
		{Select: `(?=a)a+c`},              // regexp2
		{Select: `.*c`},                   // literal
		{Select: `(?=a)a+c`, Key: `(a)c`}, // regexp2
		{Select: `a.*`, Extract: `(?<=a)(c)`},
	}
	set, err := Compile(specs, Options{Timeout: limit})
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Engine(0); got != "regexp2" {
		t.Fatalf("rule 0 runs on %s, want regexp2", got)
	}
	line := []byte("aac")
	all := []Hit{{Rule: 0, Selected: true}, {Rule: 1, Selected: true}, {Rule: 2, Selected: true, Key: []byte("a")},
		{Rule: 3, Selected: true, Value: []byte("c")}}
	tests := []struct {
		name string
		step time.Duration // how far the clock moves at each reading
		want []Hit
		out  bool // the line spent its limit
	}{
		{"within the limit", limit / 10, all, false},
		// The first regexp2 match starts the line's clock and runs; the
		// clock then reads the limit, so rule 2's select and rule 3's
		// extraction are not run: they are timeouts (an extraction
		// timeout is an extraction miss). Rule 1 is a literal and runs.
		{"limit spent after the first", limit, []Hit{{Rule: 0, Selected: true}, {Rule: 1, Selected: true},
			{Rule: 2, Timeout: true}, {Rule: 3, Selected: true, Timeout: true, ExtractMiss: true}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/Match", func(t *testing.T) {
			m := set.NewMatcher()
			m.clock.now = steppingClock(tt.step)
			for i := range 3 { // every line has its own limit
				got := m.Match(line)
				if s, w := fmtHits(got), fmtHits(tt.want); s != w {
					t.Fatalf("line %d: got %s, want %s", i, s, w)
				}
				if m.TimedOut() != tt.out {
					t.Fatalf("line %d: TimedOut() = %v, want %v", i, m.TimedOut(), tt.out)
				}
			}
		})
		t.Run(tt.name+"/MatchBlock", func(t *testing.T) {
			m := set.NewMatcher()
			m.clock.now = steppingClock(tt.step)
			n := 0
			m.MatchBlock([]byte("aac\naac\naac\n"), func(_ int, _ []byte, hits []Hit) {
				n++
				if s, w := fmtHits(hits), fmtHits(tt.want); s != w {
					t.Fatalf("line %d: got %s, want %s", n, s, w)
				}
				if m.TimedOut() != tt.out {
					t.Fatalf("line %d: TimedOut() = %v, want %v", n, m.TimedOut(), tt.out)
				}
			})
			if n != 3 {
				t.Fatalf("%d lines reported, want 3", n)
			}
		})
	}
}

// TestLineBudgetReference checks that a line the reference takes over
// after a fast engine failed keeps the budget it had: the limit is the
// line's, not each attempt's.
func TestLineBudgetReference(t *testing.T) {
	const limit = 100 * time.Millisecond
	set, err := Compile([]Spec{{Select: `(?=a)a+c`}}, Options{Timeout: limit})
	if err != nil {
		t.Fatal(err)
	}
	m := set.NewMatcher()
	m.clock.now = steppingClock(limit)
	// The line's first regexp2 match spends the limit; the reference then
	// finds nothing left.
	if got := m.Match([]byte("aac")); fmtHits(got) != fmtHits([]Hit{{Rule: 0, Selected: true}}) {
		t.Fatalf("Match: %s", fmtHits(got))
	}
	if got := m.matchReference([]byte("aac")); fmtHits(got) != fmtHits([]Hit{{Rule: 0, Timeout: true}}) {
		t.Fatalf("matchReference after the limit was spent: %s, want a timeout", fmtHits(got))
	}
}
