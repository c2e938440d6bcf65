package history

import (
	"testing"
	"time"
)

// TestColdStartLearnsTheLevel: a baseline whose first samples are
// unrepresentative (a quiet first interval) must still learn the level of
// the samples that follow, instead of clipping them against the first ones
// and calling every later ordinary sample an anomaly. With one-minute
// intervals (five samples per slot visit) clipping kept about 50 of 60
// ordinary samples at _dev2 or beyond; a young baseline now learns its
// first samples unclipped, and only the first few after the jump alarm.
func TestColdStartLearnsTheLevel(t *testing.T) {
	for _, lead := range []int{1, 3} {
		b := New(Config{Interval: time.Minute, Location: time.UTC})
		t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		for i := 0; i < lead; i++ {
			b.Observe(t0.Add(time.Duration(i)*time.Minute), 1)
		}
		alarms := 0
		var last Score
		for i := lead; i < lead+60; i++ {
			last = b.Observe(t0.Add(time.Duration(i)*time.Minute), float64(18+i%5)) // 18..22
			if iabs(last.Level) >= 2 {
				alarms++
			}
		}
		if alarms > 20 {
			t.Errorf("lead %d: %d of 60 ordinary samples at _dev2 or beyond; the quiet start must not keep the series in alarm", lead, alarms)
		}
		if last.Av < 15 || last.Av > 25 {
			t.Errorf("lead %d: after 60 samples of ~20, av = %.2f", lead, last.Av)
		}
	}
}
