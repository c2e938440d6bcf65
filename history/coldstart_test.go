package history

import (
	"testing"
	"time"
)

// TestColdStartLearnsTheLevel: a baseline whose first sample is
// unrepresentative (a quiet first interval) must still learn the level of
// the samples that follow, instead of clipping them against the first one
// and calling every later sample an anomaly. At the default interval each
// sample visits a new slot and the neighbouring slots carry the level. (At
// intervals of a minute or less the whole-series level, which forgets with
// a one-day half-life, stays nearer the first samples for longer: after 40
// one-minute samples it is about two thirds of the way. The daemon never
// learns the partial first interval after a start, which is where such a
// sample usually comes from.)
func TestColdStartLearnsTheLevel(t *testing.T) {
	for _, interval := range []time.Duration{5 * time.Minute} {
		b := New(Config{Interval: interval, Location: time.UTC})
		t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		b.Observe(t0, 1)
		var last Score
		for i := 1; i <= 40; i++ {
			v := float64(18 + i%5) // 18..22
			last = b.Observe(t0.Add(time.Duration(i)*interval), v)
		}
		if last.Av < 15 || last.Av > 25 {
			t.Errorf("interval %v: after 40 samples of ~20, av = %.2f; the first sample (1) must not pin the level", interval, last.Av)
		}
		if last.Level >= 2 {
			t.Errorf("interval %v: an ordinary sample of ~20 is at level %d (z %.2f)", interval, last.Level, last.Z)
		}
	}
}
