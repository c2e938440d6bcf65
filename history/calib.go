package history

import "math"

// nEdges is the number of |z| levels whose exceedance rates are recorded.
const nEdges = 24

// edgeTab holds the recorded |z| levels, 1.5·1.25^k (1.5 to about 250),
// and their one-sided Gaussian tail probabilities. Read-only.
var edgeTab, gaussTab = func() (e, g [nEdges]float64) {
	for k := range e {
		e[k] = 1.5 * math.Pow(1.25, float64(k))
		g[k] = gaussTail(e[k])
	}
	return e, g
}()

// edge returns the k-th recorded |z| level.
func edge(k int) float64 { return edgeTab[k] }

// gaussTail is the one-sided tail probability of a standard normal.
func gaussTail(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// tail is the exceedance record of one evidence source on one side: how
// often episodes of its raw deviation reached each edge, and the levels
// calibrated from that.
type tail struct {
	Exceed [nEdges]float64 // forgetting count of episodes whose peak reached each edge
	Peak   float64         // peak of the current episode (0 outside one)
	Quiet  float64         // samples since the last one above the lowest edge
	Q2, Q3 float64         // raw levels calibrated to |z| = 2 and 3
}

// record adds one sample's raw deviation az ≥ 0 (0 when the sample is on
// the other side) to the record; the caller has decayed the counts. An
// episode (samples above the lowest edge, ended only by quiet samples in a
// row) counts once, at its peak, so a long attack with lulls weighs like
// one excursion; and at most up to
// capEdge times the current anomaly level, so that an attack cannot teach
// in one go that attacks are normal, while frequent excursions still raise
// the level step by step.
func (t *tail) record(az, capEdge, quiet float64) {
	if az < edge(0) {
		t.Quiet++
		if t.Quiet >= quiet {
			t.Peak = 0
		}
		return
	}
	t.Quiet = 0
	_, q3 := t.levels()
	limit := math.Min(az, capEdge*q3)
	for k := 0; k < nEdges; k++ {
		e := edge(k)
		if e > limit {
			break
		}
		if e > t.Peak {
			t.Exceed[k] = float64(float32(t.Exceed[k] + 1))
		}
	}
	if az > t.Peak {
		t.Peak = az
	}
}

// decay fades the record by one sample. The counts are kept at float32
// precision, as they are encoded, so that a decoded baseline goes on
// exactly as the original.
func (t *tail) decay(f float64) {
	for k := range t.Exceed {
		t.Exceed[k] = float64(float32(t.Exceed[k] * f))
	}
}

// rate returns the estimated per-sample rate of episodes reaching edge k,
// shrunk toward the Gaussian tail with prior pseudo-samples.
func (t *tail) rate(k int, total, prior float64) float64 {
	return (t.Exceed[k] + prior*gaussTab[k]) / (total + prior)
}

// quantile returns the raw level whose estimated episode rate is p.
func (t *tail) quantile(p, total, prior float64) float64 {
	if t.rate(0, total, prior) < p {
		// Thinner than the lowest edge: fall back to the Gaussian level.
		return gaussQuantile(p)
	}
	for k := nEdges - 1; k >= 0; k-- {
		rk := t.rate(k, total, prior)
		if rk < p {
			continue
		}
		if k == nEdges-1 {
			return edge(k)
		}
		rn := t.rate(k+1, total, prior)
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
	if p >= 0.5 {
		return 0
	}
	return math.Sqrt2 * math.Erfinv(1-2*p)
}

// calibrate recomputes the raw levels that map to |z| = 2 and 3, for
// per-sample episode rates p2 and p3. Rates rarer than pb, which a record
// of a few weeks cannot measure (its levels would sit at the largest peak
// seen, whatever the target), are extrapolated from the levels at the
// measured rates pa > pb as an exponential tail through both:
// L(p) = L_b + s·ln(p_b/p), s = max((L_b − L_a)/ln(p_a/p_b), 1/L_b).
func (t *tail) calibrate(p2, p3, pa, pb, total, prior float64) {
	la := t.quantile(pa, total, prior)
	lb := t.quantile(pb, total, prior)
	at := func(p float64) float64 {
		if p >= pb {
			return t.quantile(p, total, prior)
		}
		// The slope is never taken below a Gaussian tail's, 1/L per unit
		// of ln(1/p): discrete counts can put both measured levels on one
		// value.
		slope := math.Max((lb-la)/math.Log(pa/pb), 1/lb)
		return lb + slope*math.Log(pb/p)
	}
	t.Q2 = at(p2)
	t.Q3 = at(p3)
}

// levels returns the calibrated raw levels, never below 2 and 3 and at
// least 5% apart.
func (t *tail) levels() (q2, q3 float64) {
	q2 = math.Max(2, t.Q2)
	q3 = math.Max(math.Max(3, t.Q3), 1.05*q2)
	return q2, q3
}

// z maps a raw deviation to the reported z with the tail's levels.
func (t *tail) z(a float64) float64 {
	q2, q3 := t.levels()
	return zmap(a, q2, q3)
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

// gaussCapped returns E[min(Z², c²)] for a standard normal Z.
func gaussCapped(c float64) float64 {
	phi := math.Exp(-c*c/2) / math.Sqrt(2*math.Pi)
	in := math.Erf(c/math.Sqrt2) - 2*c*phi
	return in + c*c*math.Erfc(c/math.Sqrt2)
}

// tToGauss converts a Student-t statistic with nu degrees of freedom to the
// standard normal deviate of the same one-sided tail probability (nu < 1:
// 0, nothing can be judged yet). The tail is computed in closed form for
// whole nu (the classical finite series in θ = atan(t/√nu)); nu is rounded
// down.
func tToGauss(t, nu float64) float64 {
	n := int(nu)
	if n < 1 || t == 0 {
		return 0
	}
	at := math.Abs(t)
	th := math.Atan(at / math.Sqrt(float64(n)))
	c2 := math.Cos(th) * math.Cos(th)
	// A = P(|T| < at).
	var A float64
	if n%2 == 1 {
		sum, term := 0.0, 1.0
		if n > 1 {
			sum = 1
			for k := 3; k <= n-2; k += 2 {
				term *= c2 * float64(k-1) / float64(k)
				sum += term
			}
		}
		A = 2 / math.Pi * (th + math.Sin(th)*math.Cos(th)*sum)
		if n == 1 {
			A = 2 * th / math.Pi
		}
	} else {
		sum, term := 1.0, 1.0
		for k := 2; k <= n-2; k += 2 {
			term *= c2 * float64(k-1) / float64(k)
			sum += term
		}
		A = math.Sin(th) * sum
	}
	tail := (1 - A) / 2
	if tail <= 0 {
		// Beyond float64 precision: far out either way.
		return t
	}
	return math.Copysign(math.Min(gaussQuantile(tail), at), t)
}
