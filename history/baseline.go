package history

import (
	"math"
	"time"
)

// Week is the length of the baseline's cycle.
const Week = 7 * 24 * time.Hour

// Defaults of Config.
const (
	DefaultInterval = 5 * time.Minute
	DefaultHalfLife = 4 * Week
)

// Kind says how values are modelled.
type Kind uint8

// Kinds of measurement.
const (
	// KindAuto models values as counts while every value seen is a
	// non-negative integer, and as real values from the first value that is
	// not (the learned statistics are converted once).
	KindAuto Kind = iota
	// KindCount models non-negative event counts: scores are computed on the
	// variance-stabilising scale 2·sqrt(x+3/8), with a Poisson noise floor.
	KindCount
	// KindReal models real values (CPU %, latency, temperature) on their own
	// scale, with a noise floor relative to the series' magnitude.
	KindReal
)

// Config configures a Baseline. The zero value is the default configuration.
type Config struct {
	// Interval is the sampling interval and the width of a time-of-week
	// slot. Zero means DefaultInterval; it is clamped to [1s, 24h].
	Interval time.Duration
	// Location is the time zone whose wall clock places a sample in the
	// week; nil means time.Local.
	Location *time.Location
	// HalfLife is the age at which an observation's weight in its slot has
	// halved. Zero means DefaultHalfLife; it is at least one week.
	HalfLife time.Duration
	// Kind selects the noise model; the zero value is KindAuto.
	Kind Kind
}

func (c Config) normalised() Config {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Interval < time.Second {
		c.Interval = time.Second
	}
	if c.Interval > 24*time.Hour {
		c.Interval = 24 * time.Hour
	}
	c.Interval = c.Interval.Truncate(time.Second)
	if c.Location == nil {
		c.Location = time.Local
	}
	if c.HalfLife <= 0 {
		c.HalfLife = DefaultHalfLife
	}
	if c.HalfLife < Week {
		c.HalfLife = Week
	}
	if c.Kind > KindReal {
		c.Kind = KindAuto
	}
	return c
}

// Score is the verdict on one sample.
type Score struct {
	Value float64 // the sample
	Av    float64 // expected value for this interval
	Dev   float64 // expected spread: the sample is 1 Dev above Av at z = 1
	Z     float64 // standardised deviation (on the model's scale, see the package doc)
	// Level is sign × (1 for |Z| ≥ 1, 2 for |Z| ≥ 2, 3 for |Z| ≥ 3), 0 when
	// normal or while the measurement is too young to judge.
	Level int
	// Micro is set when the sample is out by 3 learned deviations but within
	// the noise floor: statistically out, too small to matter.
	Micro bool
	// Learning is set while the baseline for this slot rests mostly on
	// borrowed strength (see the package doc for when it ends).
	Learning bool
}

// gaussZ2Cap is E[min(Z², 16)] for a standard normal Z.
const gaussZ2Cap = 0.99889

// Number of local-level candidates (index 0 is "no correction").
const nLocal = 4

// params are the model's constants; see the package doc.
type params struct {
	kernelTau    float64         // seconds: neighbour-slot kernel scale
	kernelSpan   float64         // seconds: neighbours considered on each side
	globalHalf   float64         // seconds: half-life of the whole-series estimate
	localHalf    [nLocal]float64 // seconds: half-lives of the local-level candidates (0 = none)
	selectHalf   float64         // seconds: half-life of the candidates' error record
	clipMean     float64         // residuals beyond this many deviations are clipped when learning
	clipVar      float64         // squared errors beyond this many deviations are capped
	qPrior       float64         // pseudo-count of the whole-series error variance in a slot's
	realFloor    float64         // real values: spread floor as a fraction of the typical magnitude
	countFloor   float64         // counts: variance floor on the sqrt scale (Poisson: 1)
	minSamples   float64         // no level before this many samples
	learnOwn     float64         // own-slot weight that ends learning
	minAgeLearn  float64         // seconds of history before learning can end
	calibHalf    float64         // seconds: half-life of the exceedance record
	calibPrior   float64         // seconds of Gaussian pseudo-history in the exceedance record
	dev2Every    float64         // seconds: |z| ≥ 2 is calibrated to be this rare
	anomEvery    float64         // seconds: |z| ≥ 3 is calibrated to be this rare
	minRecord    float64         // samples before exceedances are recorded
	capEdge      float64         // an episode counts up to this multiple of the anomaly threshold
	switchMargin float64         // a local-level candidate takes over below this share of the current one's error
}

func defaultParams() params {
	return params{
		kernelTau:    600,
		kernelSpan:   1800,
		globalHalf:   86400,
		localHalf:    [nLocal]float64{0, 2 * 3600, 12 * 3600, 3 * 86400},
		selectHalf:   2 * 86400,
		clipMean:     3,
		clipVar:      4,
		qPrior:       1,
		realFloor:    0.01,
		countFloor:   1,
		minSamples:   12,
		learnOwn:     2,
		minAgeLearn:  86400,
		calibHalf:    14 * 86400,
		calibPrior:   288,
		dev2Every:    576,
		anomEvery:    4032,
		minRecord:    24,
		capEdge:      1.3,
		switchMargin: 0.9,
	}
}

// slot is the learned state of one time-of-week slot, on the model's scale.
type slot struct {
	N float32 // effective number of observations (decays per weekly visit)
	M float32 // forgetting mean
	Q float32 // forgetting mean squared prediction error
}

// global is the whole-series state.
type global struct {
	Count    bool    // values are modelled as counts (sqrt scale)
	Samples  float64 // samples learned
	First    int64   // unix seconds of the first learned interval
	Last     int64   // unix seconds of the last learned or skipped interval
	M, V     float64 // whole-series forgetting mean and variance
	Q        float64 // whole-series forgetting mean squared prediction error
	Scale    float64 // forgetting mean of |y|
	Local    [nLocal]float64
	LocalErr [nLocal]float64
	Exceed   [nEdges]float64 // forgetting count of episodes whose peak |z| reached each edge
	Total    float64         // forgetting count of samples
	RunMax   float64         // peak raw |z| of the current episode (0 outside one)
	Q2, Q3   float64         // raw |z| levels calibrated to |z| = 2 and 3
	Z2       float64         // forgetting mean of min(z², 16) of the raw z: bulk calibration
	Sel      float64         // the local-level candidate in use
}

// Baseline is one measurement's time-of-week model. It is not safe for
// concurrent use.
type Baseline struct {
	cfg    Config
	p      params
	nslots int
	secs   int64 // interval in seconds
	slots  []slot
	dirty  []bool // per page
	metaOK bool   // meta unchanged since the last Encode
	g      global

	kernel []float64 // weights of neighbours -K..K
	rho    float32   // per-visit decay of a slot's weight
}

// New returns an empty baseline.
func New(cfg Config) *Baseline {
	cfg = cfg.normalised()
	b := &Baseline{cfg: cfg, p: defaultParams()}
	b.secs = int64(cfg.Interval / time.Second)
	weekSecs := int64(Week / time.Second)
	b.nslots = int((weekSecs + b.secs - 1) / b.secs)
	b.slots = make([]slot, b.nslots)
	b.dirty = make([]bool, (b.nslots+pageSlots-1)/pageSlots)
	K := int(b.p.kernelSpan / float64(b.secs))
	if K > 6 {
		K = 6
	}
	b.kernel = make([]float64, 2*K+1)
	for j := -K; j <= K; j++ {
		b.kernel[j+K] = math.Exp(-math.Abs(float64(j)*float64(b.secs)) / b.p.kernelTau)
	}
	b.rho = float32(math.Exp2(-float64(Week) / float64(cfg.HalfLife)))
	b.g.Count = cfg.Kind != KindReal
	return b
}

// Config returns the normalised configuration of the baseline.
func (b *Baseline) Config() Config { return b.cfg }

// Slots returns the number of time-of-week slots.
func (b *Baseline) Slots() int { return b.nslots }

// secOfWeek returns the seconds since Monday 00:00 of t's wall clock in
// the configured zone. A repeated local hour maps twice to the same slots; a
// skipped one is never visited.
func (b *Baseline) secOfWeek(t time.Time) int64 {
	lt := t.In(b.cfg.Location)
	wd := (int64(lt.Weekday()) + 6) % 7 // Monday = 0
	h, m, s := lt.Clock()
	return wd*86400 + int64(h)*3600 + int64(m)*60 + int64(s)
}

// SlotOf returns the time-of-week slot of t (0 = Monday 00:00 local).
func (b *Baseline) SlotOf(t time.Time) int {
	return b.slotAt(b.secOfWeek(t))
}

func (b *Baseline) slotAt(sec int64) int {
	const weekSecs = int64(Week / time.Second)
	sec %= weekSecs
	if sec < 0 {
		sec += weekSecs
	}
	return int(sec / b.secs)
}

// transform maps a value to the model's scale.
func (b *Baseline) transform(v float64) float64 {
	if b.g.Count {
		if v < 0 {
			v = 0
		}
		return 2 * math.Sqrt(v+0.375)
	}
	return v
}

// inverse maps the model's scale back to values.
func (b *Baseline) inverse(y float64) float64 {
	if b.g.Count {
		if y <= 0 {
			return 0
		}
		x := y*y/4 - 0.375
		if x < 0 {
			return 0
		}
		return x
	}
	return y
}

// pred is the forecast for one interval.
type pred struct {
	seasonal float64 // pooled slot mean
	mu       float64 // forecast on the model's scale
	varStat  float64 // learned predictive variance
	varTot   float64 // with the noise floor
	own      float64 // own-slot weight (kernel-normalised)
	local    int     // the local-level candidate in use
	q2, q3   float64 // raw |z| levels that map to |z| = 2 and 3
}

// forecast pools the slot at sec with its neighbours, the same time on the
// other days and the whole series.
func (b *Baseline) forecast(sec int64) pred {
	var W, Mn, Qn [7]float64
	K := (len(b.kernel) - 1) / 2
	var wAll, qAll float64
	for d := 0; d < 7; d++ {
		base := b.slotAt(sec + int64(d)*86400)
		var w, sm, sq float64
		for j := -K; j <= K; j++ {
			i := base + j
			if i < 0 {
				i += b.nslots
			} else if i >= b.nslots {
				i -= b.nslots
			}
			s := &b.slots[i]
			if s.N <= 0 {
				continue
			}
			k := b.kernel[j+K] * float64(s.N)
			w += k
			sm += k * float64(s.M)
			sq += k * float64(s.Q)
		}
		if w > 0 {
			Mn[d] = sm / w
			Qn[d] = sq / w
		}
		W[d] = w
		wAll += w
		qAll += sq
	}
	var p pred
	// Error variance: pooled over the week's same time of day, shrunk to the
	// whole series.
	q := (qAll + b.p.qPrior*b.g.Q) / (wAll + b.p.qPrior)
	if q <= 0 {
		q = b.g.Q
	}
	qv := math.Max(q, 1e-12)
	// Between-day variance of the level at this time of day.
	var tau2 float64
	if W[0] > 0 {
		var sw, st float64
		for d := 1; d < 7; d++ {
			if W[d] <= 0 {
				continue
			}
			diff := Mn[d] - Mn[0]
			st += W[d] * (diff*diff - qv*(1/W[d]+1/W[0]))
			sw += W[d]
		}
		if sw > 0 {
			tau2 = math.Max(0, st/sw)
		}
	}
	// Precision-weighted combination (best linear unbiased predictor).
	prec := W[0] / qv
	num := prec * Mn[0]
	for d := 1; d < 7; d++ {
		if W[d] <= 0 {
			continue
		}
		pd := 1 / (tau2 + qv/W[d])
		prec += pd
		num += pd * Mn[d]
	}
	pg := 1 / (b.g.V + qv)
	prec += pg
	num += pg * b.g.M
	p.seasonal = num / prec
	varM := 1 / prec
	// Local level: the candidate in use, switched for one whose recent
	// errors are clearly smaller.
	best := int(b.g.Sel)
	if best < 0 || best >= nLocal {
		best = 0
	}
	for j := 0; j < nLocal; j++ {
		if b.g.LocalErr[j] < b.p.switchMargin*b.g.LocalErr[best] {
			best = j
		}
	}
	p.local = best
	p.mu = p.seasonal + b.g.Local[best]
	p.varStat = q + varM
	floor := b.floor()
	p.varTot = math.Max(p.varStat, floor)
	if b.g.Z2 > 1 {
		// The learned spread has been too small: widen it.
		p.varTot *= b.g.Z2
		p.varStat *= b.g.Z2
	}
	p.q2, p.q3 = b.levels()
	own := 0.0
	ks := 0.0
	for _, k := range b.kernel {
		ks += k
	}
	own = W[0] / ks
	p.own = own
	return p
}

// floor returns the noise-floor variance added to the learned one.
func (b *Baseline) floor() float64 {
	if b.g.Count {
		return b.p.countFloor
	}
	f := b.p.realFloor * b.g.Scale
	return f*f + 1e-18
}

// Score returns the verdict on value v for the interval starting at t,
// against the baseline as it is; it does not learn.
func (b *Baseline) Score(t time.Time, v float64) Score {
	sc, _ := b.score(t, v)
	return sc
}

func (b *Baseline) score(t time.Time, v float64) (Score, pred) {
	sec := b.secOfWeek(t)
	sc := Score{Value: v}
	if b.g.Samples == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		sc.Learning = true
		sc.Av = v
		if b.g.Samples > 0 {
			sc.Av = b.inverse(b.g.M)
		}
		return sc, pred{}
	}
	p := b.forecast(sec)
	y := b.transform(v)
	sd := math.Sqrt(p.varTot)
	sc.Z = zmap((y-p.mu)/sd, p.q2, p.q3)
	dev := sd * p.q2 / 2
	sc.Av = b.inverse(p.mu)
	sc.Dev = b.inverse(p.mu+dev) - sc.Av
	if !b.g.Count {
		sc.Dev = dev
	}
	zStat := zmap((y-p.mu)/math.Sqrt(math.Max(p.varStat, 1e-18)), p.q2, p.q3)
	young := b.g.Samples < b.p.minSamples
	age := float64(t.Unix() - b.g.First)
	sc.Learning = young || age < b.p.minAgeLearn || p.own < b.p.learnOwn
	if !young {
		a := math.Abs(sc.Z)
		switch {
		case a >= 3:
			sc.Level = 3
		case a >= 2:
			sc.Level = 2
		case a >= 1:
			sc.Level = 1
		}
		if sc.Z < 0 {
			sc.Level = -sc.Level
		}
		sc.Micro = math.Abs(zStat) >= 3 && a < 3
	}
	return sc, p
}

// Observe scores v against the baseline as it was, then learns it.
func (b *Baseline) Observe(t time.Time, v float64) Score {
	sc, p := b.score(t, v)
	b.learn(t, v, p, b.g.Samples == 0)
	return sc
}

// Learn adds v, the value of the interval starting at t, to the baseline.
// NaN and infinite values are ignored.
func (b *Baseline) Learn(t time.Time, v float64) {
	_, p := b.score(t, v)
	b.learn(t, v, p, b.g.Samples == 0)
}

// Gap records that the interval starting at t has no sample. Nothing is
// learned for its slot; the local level fades toward the slot baseline as
// if the interval had passed.
func (b *Baseline) Gap(t time.Time) {
	u := t.Unix()
	if b.g.Samples == 0 || u <= b.g.Last {
		return
	}
	b.fade(float64(u - b.g.Last))
	b.g.Last = u
	b.metaOK = false
}

// fade decays the local-level candidates over dt seconds without data.
func (b *Baseline) fade(dt float64) {
	for j := 1; j < nLocal; j++ {
		if h := b.p.localHalf[j]; h > 0 {
			b.g.Local[j] *= math.Exp2(-dt / h)
		}
	}
}

func alpha(step, half float64) float64 {
	return 1 - math.Exp2(-step/half)
}

func (b *Baseline) learn(t time.Time, v float64, p pred, first bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if b.g.Count && b.cfg.Kind == KindAuto && (v < 0 || v != math.Trunc(v)) {
		b.toReal()
		_, p = b.score(t, v)
	}
	y := b.transform(v)
	u := t.Unix()
	step := float64(b.secs)
	b.metaOK = false
	idx := b.slotAt(b.secOfWeek(t))
	if first {
		b.g.First = u
		b.g.Last = u
		b.g.M = y
		b.g.V = 0
		b.g.Q = 0
		b.g.Scale = math.Abs(y)
		b.g.Samples = 1
		s := &b.slots[idx]
		s.N = 1
		s.M = float32(y)
		s.Q = 0
		b.dirty[idx/pageSlots] = true
		return
	}
	if u > b.g.Last+b.secs {
		// Implicit gap: intervals without Gap calls.
		b.fade(float64(u - b.g.Last - b.secs))
	}
	if u > b.g.Last {
		b.g.Last = u
	}
	rawSD := math.Sqrt(p.varTot)
	e := y - p.mu
	lim := zunmap(b.p.clipMean, p.q2, p.q3) * rawSD
	ec := math.Max(-lim, math.Min(lim, e))
	yc := p.mu + ec
	cv := zunmap(b.p.clipVar, p.q2, p.q3) * rawSD
	capv := cv * cv
	e2 := math.Min(e*e, capv)
	if b.g.Samples >= b.p.minRecord {
		zr := e / rawSD * math.Sqrt(math.Max(1, b.g.Z2))
		b.g.Z2 += alpha(step, b.p.calibHalf) * (math.Min(zr*zr, 16)/gaussZ2Cap - b.g.Z2)
		b.recordExceedance(math.Abs(e)/rawSD, math.Exp2(-step/b.p.calibHalf))
		b.calibrate()
	}

	// Slot.
	s := &b.slots[idx]
	n := b.rho*s.N + 1
	if s.N <= 0 {
		s.M = float32(yc)
		s.Q = float32(e2)
	} else {
		s.M += float32((yc - float64(s.M)) / float64(n))
		s.Q += float32((e2 - float64(s.Q)) / float64(n))
	}
	s.N = n
	b.dirty[idx/pageSlots] = true

	// Whole series.
	ag := alpha(step, b.p.globalHalf)
	d := yc - b.g.M
	b.g.M += ag * d
	b.g.V = (1 - ag) * (b.g.V + ag*d*d)
	b.g.Q += ag * (e2 - b.g.Q)
	b.g.Scale += ag * (math.Abs(y) - b.g.Scale)
	b.g.Samples++

	// Local levels and their error record, both clipped at the dev2 level
	// so that an excursion neither drags a level nor elects a candidate.
	as := alpha(step, b.p.selectHalf)
	r := y - p.seasonal
	lim2 := p.q2 * rawSD
	b.g.Sel = float64(p.local)
	for j := 0; j < nLocal; j++ {
		ej := r - b.g.Local[j]
		b.g.LocalErr[j] += as * (math.Min(ej*ej, lim2*lim2) - b.g.LocalErr[j])
		if h := b.p.localHalf[j]; h > 0 {
			b.g.Local[j] += alpha(step, h) * math.Max(-lim2, math.Min(lim2, ej))
		}
	}
}

// toReal converts a count-scale baseline to the real scale (delta method),
// when KindAuto meets its first value that is not a count.
func (b *Baseline) toReal() {
	conv := func(m, q float64) (float64, float64) {
		x := b.inverse(m)
		g := m / 2
		return x, q * g * g
	}
	for i := range b.slots {
		s := &b.slots[i]
		if s.N <= 0 {
			continue
		}
		m, q := conv(float64(s.M), float64(s.Q))
		s.M, s.Q = float32(m), float32(q)
		b.dirty[i/pageSlots] = true
	}
	g := b.g.M / 2
	b.g.M, b.g.Q = conv(b.g.M, b.g.Q)
	b.g.V *= g * g
	b.g.Scale = math.Abs(b.g.M)
	b.g.Local = [nLocal]float64{}
	b.g.LocalErr = [nLocal]float64{}
	b.g.Sel = 0
	b.g.Exceed = [nEdges]float64{}
	b.g.Total = 0
	b.g.RunMax = 0
	b.g.Q2, b.g.Q3 = 0, 0
	b.g.Count = false
	b.metaOK = false
}
