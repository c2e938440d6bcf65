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
	// An episode counts at most up to capEdge times the current anomaly
	// threshold: an attack cannot teach in one go that attacks are normal,
	// while frequent excursions still raise the threshold step by step.
	_, q3 := b.levels()
	limit := math.Min(az, b.p.capEdge*q3)
	for k := 0; k < nEdges; k++ {
		e := edge(k)
		if e > limit {
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

// calibrate recomputes the raw |z| levels that map to |z| = 2 and 3.
func (b *Baseline) calibrate() {
	prior := b.p.calibPrior
	b.g.Q2 = b.quantile(1/b.p.dev2Every, prior)
	b.g.Q3 = b.quantile(1/b.p.anomEvery, prior)
}

// levels returns the calibrated raw levels, never below 2 and 3 and at
// least 5% apart.
func (b *Baseline) levels() (q2, q3 float64) {
	q2 = math.Max(2, b.g.Q2)
	q3 = math.Max(math.Max(3, b.g.Q3), 1.05*q2)
	return q2, q3
}

// zmap maps a raw standardised deviation to the reported z: linear with
// slope 2/q2 up to q2 (|z| = 2), linear from q2 to q3 (|z| = 3), then
// proportional (3·a/q3). It is odd, continuous and increasing.
func zmap(a, q2, q3 float64) float64 {
	s := 1.0
	if a < 0 {
		s, a = -1, -a
	}
	var z float64
	switch {
	case a <= q2:
		z = 2 * a / q2
	case a <= q3:
		z = 2 + (a-q2)/(q3-q2)
	default:
		z = 3 * a / q3
	}
	return s * z
}

// zunmap is the inverse of zmap for z ≥ 0.
func zunmap(z, q2, q3 float64) float64 {
	switch {
	case z <= 2:
		return z * q2 / 2
	case z <= 3:
		return q2 + (z-2)*(q3-q2)
	default:
		return z * q3 / 3
	}
}
