package interval_test

import (
	"testing"
	"time"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// TestLineAt: a line whose source dates it (a journal entry's message,
// which has no timestamp in its text) is folded into the interval of that
// time, in a replay and in a backlog; without it, it is undated.
func TestLineAt(t *testing.T) {
	ms := []*rules.Measurement{{Handle: "probe", Select: `Invalid user .*`, DataType: rules.Counter, KeyType: rules.KeyAny, Policy: rules.PolicyLast}}
	g, err := interval.NewGroup("journal:", ms, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("Invalid user bob from 192.0.2.7 port 4242")
	at := time.Date(2026, 3, 2, 10, 7, 30, 0, time.UTC)
	width := 5 * time.Minute

	f := g.NewFold(width)
	f.LineAt(line, false, interval.Dating{ByTimestamp: true}, at)
	f.Line(line, false, interval.Dating{ByTimestamp: true, Ref: at})
	if v, _ := f.At(at.Truncate(width), 0).Value(); v != 1 || f.Undated != 1 || !f.First.Equal(at) {
		t.Errorf("replay: %v in the interval of %v, %d undated, first %v; want 1, 1, %v", v, at, f.Undated, f.First, at)
	}

	// A backlog: dated by its own time, within [Lower, Arrival].
	arrival := at.Add(time.Hour).Truncate(width)
	f = g.NewFold(width)
	f.LineAt(line, false, interval.Dating{Arrival: arrival, ByTimestamp: true, Lower: at.Add(-time.Hour)}, at)
	a := f.At(at.Truncate(width), 0)
	if v, _ := a.Value(); v != 1 || a.Backdated != 1 {
		t.Errorf("backlog: %v backdated %d in the interval of %v, want 1 and 1", v, a.Backdated, at)
	}
}
