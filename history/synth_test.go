package history

import (
	"math"
	"math/rand/v2"
	"time"
)

// synth generates count series with a daily and weekly rhythm.
type synth struct {
	rng  *rand.Rand
	base float64 // mean count per interval at the daily average, weekdays
	k    float64 // negative binomial shape; 0 = Poisson
}

func newSynth(seed uint64, base, k float64) *synth {
	return &synth{rng: rand.New(rand.NewPCG(seed, seed*7919+1)), base: base, k: k}
}

// level returns the expected count at t: a daily wave peaking at 14:00 and
// weekends at half the weekday level.
func (s *synth) level(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	l := s.base * (1 + 0.7*math.Sin(2*math.Pi*(h-8)/24))
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		l *= 0.5
	}
	return l
}

// draw returns one count with mean lambda.
func (s *synth) draw(lambda float64) float64 {
	if s.k > 0 {
		lambda *= s.gamma(s.k) / s.k
	}
	return poisson(s.rng, lambda)
}

// gamma draws Gamma(shape, 1) (Marsaglia and Tsang).
func (s *synth) gamma(shape float64) float64 {
	if shape < 1 {
		return s.gamma(shape+1) * math.Pow(s.rng.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := s.rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := s.rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

func poisson(rng *rand.Rand, lambda float64) float64 {
	if lambda <= 0 {
		return 0
	}
	if lambda > 60 {
		return math.Max(0, math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64()))
	}
	l := math.Exp(-lambda)
	k := 0.0
	p := rng.Float64()
	for p > l {
		k++
		p *= rng.Float64()
	}
	return k
}

// series returns weeks of 5-minute samples from start (UTC).
func (s *synth) series(start time.Time, weeks int) []Sample {
	return s.seriesEvery(start, weeks, 5*time.Minute)
}

// seriesEvery returns weeks of samples every step from start (UTC), each
// the count of one step: the level scales with step/5 min.
func (s *synth) seriesEvery(start time.Time, weeks int, step time.Duration) []Sample {
	n := int(time.Duration(weeks) * Week / step)
	scale := float64(step) / float64(5*time.Minute)
	out := make([]Sample, n)
	for i := range out {
		t := start.Add(time.Duration(i) * step)
		out[i] = Sample{T: t, V: s.draw(scale * s.level(t))}
	}
	return out
}

// monday is a Monday 00:00 UTC used as the start of synthetic series.
var monday = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
