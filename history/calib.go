package history

import "math"

// nEdges is the number of |z| levels whose exceedance rates are recorded.
const nEdges = 42

// edge returns the k-th recorded |z| level: 1.5·1.25^k.
func edge(k int) float64 { return 1.5 * math.Pow(1.25, float64(k)) }

// gaussTail is the two-sided tail probability of a standard normal.
func gaussTail(z float64) float64 { return math.Erfc(z / math.Sqrt2) }

// recordExceedance adds one sample's raw |z| to the exceedance record. An
// episode (a run of samples with |z| above the lowest edge) counts once,
// at its peak, so a long attack weighs like one excursion.
func (b *Baseline) recordExceedance(az float64, decay float64) {
	for k := range b.g.Exceed {
		b.g.Exceed[k] *= decay
	}
	b.g.Total = b.g.Total*decay + 1
	if az < edge(0) {
		b.g.RunMax = 0
		return
	}
	for k := 0; k < nEdges; k++ {
		e := edge(k)
		if e > az {
			break
		}
		if e > b.g.RunMax {
			b.g.Exceed[k]++
		}
	}
	if az > b.g.RunMax {
		b.g.RunMax = az
	}
}

// rate returns the estimated per-sample rate of episodes reaching edge k,
// shrunk toward the Gaussian tail with prior pseudo-samples.
func (b *Baseline) rate(k int, prior float64) float64 {
	return (b.g.Exceed[k] + prior*gaussTail(edge(k))) / (b.g.Total + prior)
}

// quantile returns the raw |z| level whose estimated rate is p.
func (b *Baseline) quantile(p, prior float64) float64 {
	if b.rate(0, prior) < p {
		// Thinner than the lowest edge: fall back to the Gaussian level.
		return gaussQuantile(p)
	}
	for k := nEdges - 1; k >= 0; k-- {
		rk := b.rate(k, prior)
		if rk < p {
			continue
		}
		if k == nEdges-1 {
			return edge(k)
		}
		rn := b.rate(k+1, prior)
		// Log-linear interpolation between edge k (rate ≥ p) and k+1.
		if rn <= 0 {
			return edge(k)
		}
		f := math.Log(rk/p) / math.Log(rk/rn)
		return edge(k) * math.Pow(1.25, f)
	}
	return edge(0)
}

// gaussQuantile returns z with gaussTail(z) = p.
func gaussQuantile(p float64) float64 {
	if p >= 1 {
		return 0
	}
	return math.Sqrt2 * math.Erfinv(1-p)
}

// calibrate recomputes the spread factor from the exceedance record.
func (b *Baseline) calibrate() {
	step := float64(b.secs)
	prior := b.p.calibPrior / step
	q2 := b.quantile(step/b.p.dev2Every, prior) / 2
	q3 := b.quantile(step/b.p.anomEvery, prior) / 3
	b.g.Spread = math.Max(1, math.Max(q2, q3))
}
