package history

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/rules"
)

// flat returns weeks of 5-minute samples drawn by draw, from monday.
func flat(weeks int, draw func() float64) []Sample {
	out := make([]Sample, weeks*2016)
	for i := range out {
		out[i] = Sample{T: monday.Add(time.Duration(i) * 5 * time.Minute), V: draw()}
	}
	return out
}

// observeAll feeds series to b and returns the scores.
func observeAll(b *Baseline, series []Sample) []Score {
	out := make([]Score, len(series))
	for i, s := range series {
		out[i] = b.Observe(s.T, s.V)
	}
	return out
}

// TestDirectionFollowsValue: the direction class and the sign of z are the
// sample's own against its expectation. Just after a storm, whose run
// evidence is still high, a value below the average is not a high
// anomaly (it used to be: 2 against av 10.6 got z 7.24 and _high_anomaly);
// likewise a value above the average after an outage is not low.
func TestDirectionFollowsValue(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			b := New(utcConfig())
			series := flat(3, func() float64 { return poisson(rng, 10) })
			observeAll(b, series)
			at := series[len(series)-1].T.Add(5 * time.Minute)
			check := func(what string, v float64, wantSign int) {
				t.Helper()
				sc := b.Observe(at, v)
				at = at.Add(5 * time.Minute)
				cls := strings.Join(Classes("h", sc), " ")
				bad := (wantSign < 0 && (sc.Z >= 0 || sc.Level > 0 || strings.Contains(cls, "_high"))) ||
					(wantSign > 0 && (sc.Z <= 0 || sc.Level < 0 || strings.Contains(cls, "_low")))
				if bad || math.Signbit(v-sc.Av) != math.Signbit(sc.Z) {
					t.Errorf("%s: value %g, av %.2f: z %.2f, level %d, classes %s", what, v, sc.Av, sc.Z, sc.Level, cls)
				}
			}
			// A storm of an hour at ten times the level, then a quiet value.
			for i := 0; i < 12; i++ {
				b.Observe(at, poisson(rng, 100))
				at = at.Add(5 * time.Minute)
			}
			check("after a storm", 2, -1)
			check("after a storm, again", 5, -1)
			// An outage of an hour, then a busy value.
			for i := 0; i < 24; i++ {
				b.Observe(at, poisson(rng, 10))
				at = at.Add(5 * time.Minute)
			}
			for i := 0; i < 12; i++ {
				b.Observe(at, 0)
				at = at.Add(5 * time.Minute)
			}
			check("after an outage", 25, +1)
		})
	}
}

// TestDevIsTheDeviation: Dev is the standard deviation of a sample around
// Av on the measurement's own scale (about 3.2 for Poisson counts of mean
// 10, not the 6.3 to 7 it was), Z is (Value − Av)/Dev, and the classes are
// arithmetic on it: a level k is given only k deviations out, in the
// direction of the value. The learned week draws the same spread.
func TestDevIsTheDeviation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		draw   func(*rand.Rand) float64
		sd     float64 // true standard deviation
		lo, hi float64 // accepted mean Dev
	}{
		{"poisson 10", func(r *rand.Rand) float64 { return poisson(r, 10) }, math.Sqrt(10), 2.9, 3.6},
		{"poisson 100", func(r *rand.Rand) float64 { return poisson(r, 100) }, 10, 9.2, 11.2},
		{"gaussian 100±2", func(r *rand.Rand) float64 { return 100 + 2*r.NormFloat64() }, 2, 1.8, 2.3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			b := New(utcConfig())
			series := flat(4, func() float64 { return tc.draw(rng) })
			scores := observeAll(b, series)
			var sum float64
			out2, n := 0, 0
			for i, sc := range scores[2*2016:] {
				v := series[2*2016+i].V
				sum += sc.Dev
				n++
				if math.Abs(v-sc.Av) > 2*sc.Dev {
					out2++
				}
			}
			mean := sum / float64(n)
			if mean < tc.lo || mean > tc.hi {
				t.Errorf("mean Dev %.2f, true standard deviation %.2f: want %.1f..%.1f", mean, tc.sd, tc.lo, tc.hi)
			}
			if share := float64(out2) / float64(n); share < 0.02 || share > 0.09 {
				t.Errorf("%.1f%% of the samples are beyond Av ± 2 Dev, want about 5%%", 100*share)
			}
			// Arithmetic on every value of a sweep.
			at := series[len(series)-1].T.Add(5 * time.Minute)
			base := b.Score(at, 0)
			for k := -8.0; k <= 30; k += 0.25 {
				v := math.Max(0, base.Av+k*mean)
				sc := b.Score(at, v)
				if want := (v - sc.Av) / sc.Dev; math.Abs(sc.Z-want) > 1e-9*math.Max(1, math.Abs(want)) {
					t.Fatalf("value %g: z %.4f, (value − av)/dev = %.4f", v, sc.Z, want)
				}
				if lvl := abs(sc.Level); float64(lvl) > math.Abs(sc.Z) || (lvl > 0 && (sc.Level > 0) != (sc.Z > 0)) {
					t.Fatalf("value %g, av %.3f ± %.3f (z %.2f): level %d", v, sc.Av, sc.Dev, sc.Z, sc.Level)
				}
			}
			// The week's band is the spread the classes use.
			wk := b.Week()[b.SlotOf(at)]
			if d := b.Score(at, base.Av).Dev; math.Abs(wk.Dev-d) > 0.1*d {
				t.Errorf("week's dev %.3f, score's %.3f", wk.Dev, d)
			}
		})
	}
}

// TestMicroanomaly: a microanomaly is cfenvd's: at least 2 deviations out
// but closer to Av than the noise threshold (5 for counts by default, none
// for real values, configurable), and then no _dev class at all. It used
// to be set at the dev1 level and together with _low_dev2.
func TestMicroanomaly(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	sparse := flat(3, func() float64 { return poisson(rng, 0.2) })
	busy := flat(3, func() float64 { return poisson(rng, 10) })
	real := flat(3, func() float64 { return 100 + 2*rng.NormFloat64() })
	for _, tc := range []struct {
		name    string
		series  []Sample
		noise   float64
		v       float64
		micro   bool
		classes string // exactly the classes without _learning
	}{
		{"3 on a mostly-zero count", sparse, 0, 3, true, "h_high h_high_microanomaly"},
		{"30 on a mostly-zero count", sparse, 0, 30, false, "h_high h_high_dev1 h_high_dev2 h_high_anomaly"},
		{"3 on a mostly-zero count, no threshold", sparse, -1, 3, false, ""},
		{"14 on counts of 10", busy, 0, 14, false, "h_normal"},
		{"19 on counts of 10, threshold 10", busy, 10, 19, true, "h_high h_high_microanomaly"},
		{"2 on counts of 10, threshold 10", busy, 10, 2, true, "h_low h_low_microanomaly"},
		{"107 on 100 ± 2, no threshold for real values", real, 0, 107, false, ""},
		{"107 on 100 ± 2, threshold 10", real, 10, 107, true, "h_high h_high_microanomaly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := utcConfig()
			cfg.Noise = tc.noise
			b := New(cfg)
			observeAll(b, tc.series)
			sc := b.Score(tc.series[len(tc.series)-1].T.Add(5*time.Minute), tc.v)
			var cls []string
			for _, c := range Classes("h", sc) {
				if c != "h_learning" {
					cls = append(cls, c)
				}
			}
			got := strings.Join(cls, " ")
			if sc.Micro != tc.micro || (tc.classes != "" && got != tc.classes) {
				t.Errorf("value %g, av %.2f ± %.2f, z %.2f: micro %v, classes %q; want micro %v, classes %q",
					tc.v, sc.Av, sc.Dev, sc.Z, sc.Micro, got, tc.micro, tc.classes)
			}
			if sc.Micro && (sc.Level != 0 || math.Abs(sc.Z) < 2 || math.Abs(tc.v-sc.Av) >= b.noise()) {
				t.Errorf("microanomaly with level %d, z %.2f, |value − av| %.2f", sc.Level, sc.Z, math.Abs(tc.v-sc.Av))
			}
		})
	}
	// Over whole over-dispersed series, a microanomaly never comes with a
	// _dev class and always is 2 deviations out.
	for seed := uint64(1); seed <= 2; seed++ {
		s := newSynth(seed, 3, 1)
		micros := 0
		for _, r := range Backtest("h", s.series(monday, 3), utcConfig(), rules.DefaultPersist) {
			if !r.Score.Micro {
				continue
			}
			micros++
			if r.Score.Level != 0 || math.Abs(r.Score.Z) < 2 || strings.Contains(strings.Join(r.Classes, " "), "_dev") {
				t.Fatalf("%s: micro with level %d, z %.2f, classes %v", r.T, r.Score.Level, r.Score.Z, r.Classes)
			}
		}
		if micros == 0 {
			t.Errorf("seed %d: no microanomaly in three weeks of bursty counts of 3", seed)
		}
	}
}

// TestFirstSamples: a fresh baseline sets _learning from its first sample,
// and judges its first samples against the spread of the few it has seen
// (a Student-t reading): nothing at the first two, a 60-probe burst on a
// series of about 1 is at least _dev2 from the seventh sample on and an
// anomaly from the ninth (it used to stay _normal for 12 samples), and
// ordinary values raise no alarm.
func TestFirstSamples(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		for k := 1; k < 12; k++ {
			iv := []time.Duration{time.Minute, 5 * time.Minute}[k%2]
			b := New(Config{Interval: iv, Location: time.UTC})
			at := monday.Add(9 * time.Hour)
			for i := 0; i < k; i++ {
				sc := b.Observe(at, poisson(rng, 1))
				if !sc.Learning || abs(sc.Level) >= 2 {
					t.Fatalf("seed %d, sample %d of an ordinary series: level %d, learning %v", seed, i+1, sc.Level, sc.Learning)
				}
				at = at.Add(iv)
			}
			sc := b.Score(at, 60)
			cls := Classes("h", sc)
			switch {
			case !has(cls, "h_learning"):
				t.Errorf("seed %d: burst after %d samples: classes %v lack h_learning", seed, k, cls)
			case k <= 2 && sc.Level != 0:
				t.Errorf("seed %d: burst after %d samples: level %d, want none yet", seed, k, sc.Level)
			case k >= 7 && !has(cls, "h_high_dev2"), k >= 9 && !has(cls, "h_high_anomaly"):
				t.Errorf("seed %d: burst after %d samples (av %.2f ± %.2f, z %.1f): classes %v", seed, k, sc.Av, sc.Dev, sc.Z, cls)
			}
		}
	}
}

// TestTToGauss: Student-t quantiles map to the Gaussian ones of the same
// probability.
func TestTToGauss(t *testing.T) {
	for _, tc := range []struct{ t, nu, z float64 }{
		{12.706, 1, 1.95996},
		{4.3027, 2, 1.95996},
		{2.5706, 5, 1.95996},
		{3.1693, 10, 2.57583},
		{4.0321, 5, 2.57583},
		{-2.2281, 10, -1.95996},
		{1.9623, 1000, 1.95996},
	} {
		if got := tToGauss(tc.t, tc.nu); math.Abs(got-tc.z) > 2e-3 {
			t.Errorf("t %g with %g degrees of freedom: %.4f, want %.4f", tc.t, tc.nu, got, tc.z)
		}
	}
	if tToGauss(5, 0) != 0 || tToGauss(1e300, 3) != 1e300 {
		t.Errorf("edge cases")
	}
}

// TestSlowEvidence: a level held about 2 deviations above the seasonal
// expectation for half a day is strong slow evidence even after the fast
// local level has taken it up, while a stationary series of the same noise gives no slow evidence. Its
// standardisation is the slow statistic's own recent spread, so an
// autocorrelated series is not permanently "slow-anomalous".
func TestSlowEvidence(t *testing.T) {
	for _, tc := range []struct {
		name  string
		phi   float64 // autocorrelation of the noise
		shift float64
		slow  bool
	}{
		{"independent noise, stationary", 0, 0, false},
		{"independent noise, half a day 2 deviations up", 0, 2, true},
		{"autocorrelated noise, stationary", 0.9, 0, false},
		{"autocorrelated noise, half a day 3 deviations up", 0.9, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				rng := rand.New(rand.NewPCG(seed, 77))
				b := New(utcConfig())
				at := monday
				ar, sd := 0.0, math.Sqrt(1-tc.phi*tc.phi)
				noise := func() float64 { ar = tc.phi*ar + sd*rng.NormFloat64(); return ar }
				for i := 0; i < 3*2016; i++ {
					b.Observe(at, 100+noise())
					at = at.Add(5 * time.Minute)
				}
				for i := 0; i < 12*12; i++ {
					b.Observe(at, 100+tc.shift+noise())
					at = at.Add(5 * time.Minute)
				}
				_, p := b.score(at, 100+tc.shift)
				if got := math.Abs(p.zs) >= 3; got != tc.slow {
					t.Errorf("seed %d: slow evidence z %.2f (raw %.2f), fast run z %.2f", seed, p.zs, p.rs, p.zr)
				}
				if tc.slow && p.zs < 0 {
					t.Errorf("seed %d: slow evidence points down (z %.2f) for a level up", seed, p.zs)
				}
			}
		})
	}
}

// TestRefractory: within a day of an alarm, a new alarm of the same kind of
// evidence must be stronger than the last one's peak; a weaker one, however
// far out, is held back to _dev1 (it used to pass at a calibrated z of 4.5),
// and a stronger one is an anomaly again.
func TestRefractory(t *testing.T) {
	r := trainedCounts(3, 10)
	next, quiet := r.next, r.quiet
	quiet(12)
	if sc := next(120); sc.Level != 3 {
		t.Fatalf("first spike 120 on counts of 10: level %d", sc.Level)
	}
	quiet(24)
	if sc := next(70); sc.Level != 1 {
		t.Errorf("weaker spike 70 two hours later: level %d (z %.1f), want held back to 1", sc.Level, sc.Z)
	}
	quiet(24)
	if sc := next(400); sc.Level != 3 {
		t.Errorf("stronger spike 400: level %d (z %.1f), want an anomaly", sc.Level, sc.Z)
	}
	r.at = r.at.Add(25 * time.Hour)
	quiet(12)
	if sc := next(70); sc.Level != 3 {
		t.Errorf("spike 70 a day later: level %d (z %.1f), want an anomaly", sc.Level, sc.Z)
	}
}

// TestForecastWithinRange: the expected value never leaves the range of
// the values learned. A CPU share pegged at 100% by day and low at night
// has a season and a short-term level that both pull upwards as each day
// starts (and, once the nights run 40 points hotter, by much more): the
// expectation stays at most 100, and a pegged day sample is never a low
// deviation from an impossible expectation.
func TestForecastWithinRange(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			b := New(Config{Interval: 5 * time.Minute, Location: time.UTC, Kind: KindReal})
			night := 20.0
			var worst Score
			for i := 0; i < 3*2016; i++ {
				at := monday.Add(time.Duration(i) * 5 * time.Minute)
				if i == 2*2016 {
					night = 60 // the nights of the third week run hotter
				}
				v := night + 2*rng.NormFloat64()
				day := at.Hour() >= 8 && at.Hour() < 20
				if day {
					v = 100 - math.Abs(0.5*rng.NormFloat64())
				}
				sc := b.Observe(at, v)
				if sc.Av > 100 {
					t.Fatalf("%s: av %.1f beyond the greatest value learned (100)", at.Format("Mon 15:04"), sc.Av)
				}
				if i >= 2*2016 && day && sc.Level < worst.Level {
					worst = sc
				}
			}
			if worst.Level <= -2 {
				t.Errorf("a pegged day sample %.1f scored level %d against av %.1f ± %.1f", worst.Value, worst.Level, worst.Av, worst.Dev)
			}
		})
	}
}

// TestAnomalyEpisode: an anomaly that starts less than two hours after the
// last anomalous sample belongs to the same episode and is held back to
// _dev2 unless it is 1.4 times as far out as the episode's farthest
// sample, whatever evidence raises it: a storm whose counts stay high at a
// lower level after a lull raises _anomaly once (the run evidence used to
// raise it again), and so does one that creeps up (1.3 times the peak);
// consecutive anomalous samples stay anomalies; a return half as large
// again, or one after a quiet two hours, is an anomaly again.
func TestAnomalyEpisode(t *testing.T) {
	r := trainedCounts(5, 10)
	next, quiet := r.next, r.quiet
	quiet(12)
	peak := 0.0
	for i, v := range []float64{120, 130} {
		sc := next(v)
		if sc.Level != 3 {
			t.Fatalf("storm sample %d (%g on counts of 10): level %d, want 3", i, v, sc.Level)
		}
		peak = math.Max(peak, sc.Z)
	}
	quiet(6)
	// An hour of about 25 a sample, 4 to 5 deviations out: the run
	// evidence is at the anomaly level, the episode holds it at dev2.
	top := 0
	for i := 0; i < 12; i++ {
		sc := next(22 + poisson(r.rng, 3))
		top = max(top, sc.Level)
	}
	if top != 2 {
		t.Errorf("the storm's tail, 30 minutes after its peak: highest level %d, want 2", top)
	}
	// The first count at least gain times the peak's deviations out.
	return1 := func(gain float64) Score {
		for v := 130.0; ; v++ {
			if sc := r.b.Score(r.at.Add(5*time.Minute), v); sc.Z >= gain*peak {
				return sc
			}
		}
	}
	if sc := return1(1.3); sc.Level != 2 {
		t.Errorf("%g within the episode (z %.1f, 1.3 times its peak %.1f): level %d, want 2", sc.Value, sc.Z, peak, sc.Level)
	}
	if sc := return1(1.5); sc.Level != 3 {
		t.Errorf("%g within the episode (z %.1f, 1.5 times its peak %.1f): level %d, want 3", sc.Value, sc.Z, peak, sc.Level)
	}
	if sc := next(400); sc.Level != 3 {
		t.Errorf("400 within the episode (3 times its peak): level %d (z %.1f), want an anomaly", sc.Level, sc.Z)
	}
	quiet(30)
	for i := 0; i < 12; i++ {
		if sc := next(22 + poisson(r.rng, 3)); sc.Level == 3 {
			break
		} else if i == 11 {
			t.Errorf("an hour of about 25 after a quiet 2.5 hours: level %d, want an anomaly", sc.Level)
		}
	}
}

// TestSpikeThenDip: a spike and the dip right after it are one episode.
// The spike pulls the short-term level up, and the ordinary interval
// after it can be far below the new expectation: that is no second
// anomaly (it used to raise _low_anomaly on the spike's heels).
func TestSpikeThenDip(t *testing.T) {
	r := trainedCounts(5, 30)
	next, quiet := r.next, r.quiet
	quiet(12)
	if sc := next(300); sc.Level != 3 {
		t.Fatalf("spike 300 on counts of 30: level %d, want 3", sc.Level)
	}
	if sc := next(3); sc.Level != -2 || sc.Z > -3 {
		t.Errorf("3 just after the spike: level %d (z %.1f), want held back to -2 at 3 deviations or more", sc.Level, sc.Z)
	}
}

// countRig feeds 5-minute counts to a baseline trained on three weeks of
// Poisson counts of a mean.
type countRig struct {
	b    *Baseline
	rng  *rand.Rand
	at   time.Time // the last interval fed
	mean float64
}

// trainedCounts returns a countRig whose baseline has learned three weeks
// of Poisson counts of mean (drawn with the generator seeded by seed).
func trainedCounts(seed uint64, mean float64) *countRig {
	r := &countRig{b: New(utcConfig()), rng: rand.New(rand.NewPCG(seed, seed+1)), mean: mean}
	series := flat(3, func() float64 { return poisson(r.rng, mean) })
	observeAll(r.b, series)
	r.at = series[len(series)-1].T
	return r
}

// next scores and learns v as the next interval's value.
func (r *countRig) next(v float64) Score {
	r.at = r.at.Add(5 * time.Minute)
	return r.b.Observe(r.at, v)
}

// quiet feeds n ordinary counts.
func (r *countRig) quiet(n int) {
	for range n {
		r.next(poisson(r.rng, r.mean))
	}
}

// TestNeverSeenIsAnomaly: on a series with a heavy tail (spikes of 4 to 8
// deviations twice a day), the calibrated levels sit beyond those spikes,
// so a value of 10 deviations was often only _dev1; but it lies beyond
// every value the series ever had, and is an anomaly. A spike within the
// range learned is judged by the calibration as before.
func TestNeverSeenIsAnomaly(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 77))
			b, at := spikyReal(rng, 4, 0, 144, 144, 4, 4) // twice a day
			for range 12 {
				at = at.Add(5 * time.Minute)
				b.Observe(at, 100+rng.NormFloat64())
			}
			if sc := b.Score(at.Add(5*time.Minute), 106); sc.Level == 3 {
				t.Errorf("106, within the spikes seen: level %d (z %.1f), want no anomaly", sc.Level, sc.Z)
			}
			if sc := b.Score(at.Add(5*time.Minute), 110); sc.Level != 3 {
				t.Errorf("110, beyond every value seen (at most 108): level %d (z %.1f), want an anomaly", sc.Level, sc.Z)
			}
		})
	}
}

// TestNeverSeenAfterFiveDays: the range of values is taken as explored
// after five days of history (the working days of a week, with their
// daily cycles): a spike beyond every value seen is an anomaly from then
// on, while a spike within the range is still judged by the calibration.
func TestNeverSeenAfterFiveDays(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 78))
			cfg := utcConfig()
			cfg.Kind = KindReal
			b := New(cfg)
			// Five and a half days around 100, with a spike of 104 to 108
			// twice a day.
			series := flat(1, func() float64 { return 100 + rng.NormFloat64() })[:5*288+144]
			for i := 0; i+144 <= len(series); i += 144 {
				series[i+rng.IntN(144)].V = 104 + 4*rng.Float64()
			}
			observeAll(b, series)
			at := series[len(series)-1].T.Add(5 * time.Minute)
			if sc := b.Score(at, 106); sc.Level == 3 {
				t.Errorf("106, within the spikes seen: level %d (z %.1f), want no anomaly", sc.Level, sc.Z)
			}
			if sc := b.Score(at, 110); sc.Level != 3 {
				t.Errorf("110 after five and a half days, beyond every value seen (at most 108): level %d (z %.1f), want an anomaly", sc.Level, sc.Z)
			}
		})
	}
}

// nextFrom scores and learns v, whose top key is key with lines lines, as
// the next interval's value.
func (r *countRig) nextFrom(v float64, key string, lines float64) Score {
	r.at = r.at.Add(5 * time.Minute)
	return r.b.ObserveFrom(r.at, v, Source{Key: key, Lines: lines})
}

// TestRefractoryPerSource: the refractory and episode rules remember
// alarms per source. Within a day of a storm from one address, a storm as
// large from another address is an anomaly (news), while the first
// address storming again is held back, and so is a storm without a
// dominant source (no key explains half its excess: judged against every
// alarm); within the two hours of an anomaly episode, a storm from a new
// source is an anomaly too, and one from the episode's source is not.
// The memory survives an Encode and Decode.
func TestRefractoryPerSource(t *testing.T) {
	r := trainedCounts(3, 10)
	quiet := r.quiet
	quiet(12)
	if sc := r.nextFrom(120, "203.0.113.9", 110); sc.Level != 3 {
		t.Fatalf("first storm 120 from 203.0.113.9 on counts of 10: level %d", sc.Level)
	}
	quiet(72) // six hours
	if sc := r.nextFrom(120, "192.0.2.77", 110); sc.Level != 3 {
		t.Errorf("storm 120 from another source six hours later: level %d (z %.1f), want an anomaly", sc.Level, sc.Z)
	}
	quiet(72)
	if sc := r.nextFrom(120, "203.0.113.9", 110); sc.Level != 1 {
		t.Errorf("storm 120 from 203.0.113.9 again 12 hours after its first: level %d (z %.1f), want held back to 1", sc.Level, sc.Z)
	}
	quiet(72)
	if sc := r.nextFrom(120, "198.51.100.1", 20); sc.Level != 1 {
		t.Errorf("storm 120 whose top key has 20 lines: level %d (z %.1f), want held back to 1 (no source)", sc.Level, sc.Z)
	}
	if sc := r.nextFrom(3, "198.51.100.2", 3); sc.Level > 0 {
		t.Errorf("a quiet interval: level %d", sc.Level)
	}
	quiet(12)
	// Within an anomaly episode (less than two hours), by source.
	r.at = r.at.Add(25 * time.Hour)
	quiet(12)
	if sc := r.nextFrom(120, "203.0.113.50", 110); sc.Level != 3 {
		t.Fatalf("storm 120 from 203.0.113.50 a day later: level %d (z %.1f)", sc.Level, sc.Z)
	}
	quiet(6)
	if sc := r.nextFrom(120, "203.0.113.51", 110); sc.Level != 3 {
		t.Errorf("storm 120 from 203.0.113.51 30 minutes into the episode: level %d (z %.1f), want an anomaly", sc.Level, sc.Z)
	}
	meta, pages := r.b.Encode(false)
	c, err := Decode(utcConfig(), meta, pages)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.g.Sources) != 2 || !slices.Equal(c.g.Sources, r.b.g.Sources) {
		t.Fatalf("sources after Decode %+v, want %+v", c.g.Sources, r.b.g.Sources)
	}
	r.b = c
	quiet(6)
	if sc := r.nextFrom(120, "203.0.113.51", 110); sc.Level == 3 {
		t.Errorf("storm 120 from 203.0.113.51 again 30 minutes later: level %d (z %.1f), want held back", sc.Level, sc.Z)
	}
}

// TestSourcesBounded: the alarm memory keeps at most maxSources sources,
// forgetting the oldest alarm first, and forgets every source a day after
// its alarm.
func TestSourcesBounded(t *testing.T) {
	r := trainedCounts(4, 10)
	for i := range maxSources + 4 {
		r.quiet(6)
		if sc := r.nextFrom(150, fmt.Sprintf("192.0.2.%d", i), 140); sc.Level != 3 {
			t.Fatalf("storm from source %d: level %d (z %.1f)", i, sc.Level, sc.Z)
		}
	}
	if n := len(r.b.g.Sources); n != maxSources {
		t.Fatalf("%d sources remembered, want %d", n, maxSources)
	}
	if r.b.source(keyHash("192.0.2.0")) != nil || r.b.source(keyHash(fmt.Sprintf("192.0.2.%d", maxSources+3))) == nil {
		t.Errorf("the oldest source is remembered, or the newest is not")
	}
	r.at = r.at.Add(25 * time.Hour)
	r.quiet(1)
	if n := len(r.b.g.Sources); n != 0 {
		t.Errorf("%d sources remembered a day after their alarms", n)
	}
}
