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

// TestYoungLevelIsTheMeanSoFar: at an interval shorter than a slot, the
// level a young baseline expects is the mean of what it has seen, not its
// first sample. The whole series' mean started at the first sample and
// moved at a mature baseline's pace (a one-day half-life), and a slot's
// samples weigh a fraction of a visit, so the forecast leans on it: at a
// 1-second interval (the demo's) it was the first sample for the rest of
// the day, a first full interval of 13 failed passwords held av at 12.8
// over samples averaging 10, and the ordinary 6s and 7s of the stream were
// _low_dev1 and _low_dev2. (At five minutes and more, the slots' own
// samples outweigh it within hours.)
func TestYoungLevelIsTheMeanSoFar(t *testing.T) {
	for _, c := range []struct {
		interval time.Duration
		first    float64
	}{{time.Second, 13}, {time.Second, 3}, {time.Minute, 13}, {time.Minute, 4}} {
		b := New(Config{Interval: c.interval, Location: time.UTC})
		t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		b.Observe(t0, c.first)
		values := []float64{15, 11, 6, 14, 6, 13, 10, 8, 9, 10, 11, 12, 11, 10, 7, 7, 8, 7, 7, 11, 10, 15, 15, 9}
		lows := 0
		sum := c.first
		for i, v := range values {
			sc := b.Observe(t0.Add(time.Duration(i+1)*c.interval), v)
			if sc.Level < 0 {
				lows++
			}
			sum += v
		}
		mean := sum / float64(len(values)+1)
		sc := b.Score(t0.Add(time.Duration(len(values)+1)*c.interval), mean)
		if sc.Av < mean-1 || sc.Av > mean+1 || lows > 0 {
			t.Errorf("interval %v, first sample %v: av %.2f after %d samples of mean %.2f, and %d of them low; want av within 1 of the mean, none low",
				c.interval, c.first, sc.Av, len(values)+1, mean, lows)
		}
	}
}
