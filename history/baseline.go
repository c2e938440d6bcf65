package history

import (
	"math"
	"time"
)

// Week is the length of the baseline's cycle.
const Week = 7 * 24 * time.Hour

// maxSlots is the largest number of time-of-week slots: slots are at least
// five minutes wide, whatever the interval.
const maxSlots = 2016

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
	// Noise is the smallest deviation |value − Av|, in the measurement's
	// own units, that matters: a smaller one raises no _dev1, _dev2 or
	// _anomaly, only _microanomaly when it is at least 2 deviations out
	// (cfenvd's noise threshold). Zero means DefaultNoise for counts and
	// none for real values; a negative value means none.
	Noise float64
}

// DefaultNoise is the noise threshold of count measurements (cfenvd's).
const DefaultNoise = 5

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

// Score is the verdict on one sample. Av, Dev and Z are on the
// measurement's own scale, so that they are arithmetic a reader can check:
// Z = (Value − Av)/Dev, and a level k (dev1, dev2, anomaly) is only ever
// given when |Z| ≥ k.
type Score struct {
	Value float64 // the sample
	// Av, Dev and Z are NaN for the first sample of a baseline: it has
	// nothing to be expected from (Learning is set, Level is 0).
	Av  float64 // expected value for this interval
	Dev float64 // standard deviation of a sample around Av: the spread the classes use
	Z   float64 // standardised deviation (Value − Av)/Dev; its sign is the direction
	// Level is sign × (1 dev1, 2 dev2, 3 anomaly), its sign that of Z, 0
	// when normal, too small to matter (see Micro) or too young to judge.
	// A level k needs |Z| ≥ k and evidence as rare as the level's
	// calibrated rate (see the package doc), so heavy-tailed series need
	// more than k deviations.
	Level int
	// Micro is set when the sample is at least 2 deviations out but its
	// distance from Av is below the noise threshold (Config.Noise):
	// statistically out, too small to matter. Level is then 0.
	Micro bool
	// Learning is set while the baseline for this slot rests mostly on
	// borrowed strength (see the package doc for when it ends).
	Learning bool
}

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
	dev2Every    [nTails]float64 // seconds: |z| ≥ 2 of each evidence source is calibrated to be this rare
	anomEvery    [nTails]float64 // seconds: |z| ≥ 3 of each evidence source is calibrated to be this rare
	minRecord    float64         // samples before exceedances are recorded
	capEdge      float64         // an episode counts up to this multiple of the anomaly threshold
	switchMargin float64         // a local-level candidate takes over below this share of the current one's error
	runHalf      float64         // seconds: half-life of the run statistic (at least runMinSamples intervals)
	runClip      float64         // raw deviations are clipped here before entering the run statistics
	slowHalf     float64         // seconds: half-life of the slow run statistic (at least runMinSamples intervals)
	slowVarHalf  float64         // seconds: half-life of the slow run statistic's own variance
	z2Cap        float64         // |z| cap of the bulk calibration
	refractory   float64         // seconds: after an alarm, a new one needs stronger evidence for this long
	episodeHold  float64         // seconds: an anomaly this soon after the last anomalous sample is the same episode
	episodeGain  float64         // ... unless it is this many times as far out as the episode's farthest sample
	noveltyEdge  float64         // a value this share of the learned range beyond it is new
	noveltyAge   float64         // seconds: ... once the range has had this long to be explored
	refractGain  float64         // a new alarm within the refractory time needs this multiple of the last peak
	episodeGap   float64         // seconds: quiet time that ends an episode of the tail records
	measureA     float64         // seconds: the most frequent exceedance rate used to extrapolate rarer ones
	measureB     float64         // seconds: the rarest rate measured; rarer ones are extrapolated
	measureMin   float64         // episodes: a rarer rate is measured once the record holds this many of them
	rateStep     float64         // seconds: alarm rates per sample are those of this interval at most
}

// Evidence sources, each with its own tail calibration.
const (
	tailPointHigh = iota // one sample above the forecast
	tailPointLow         // one sample below
	tailRunHigh          // a run of samples above
	tailRunLow           // a run of samples below
	tailSlowHigh         // a slow run above the seasonal expectation
	tailSlowLow          // a slow run below it
	nTails
)

// episodeQuietMax is the most quiet samples needed to end an episode of
// the tail records (short intervals end them sooner than episodeGap).
const episodeQuietMax = 6

// runMinSamples is the least half-life of the run statistics, in intervals.
const runMinSamples = 3

// slowLocal is the local-level candidate the slow run statistic is measured
// against (the slowest, three days).
const slowLocal = nLocal - 1

// Sources of the calibrated z, as recorded for the refractory rule.
const (
	srcPoint = 0
	srcRun   = 1
	srcSlow  = 2
)

func defaultParams() params {
	return params{
		kernelTau:    600,
		kernelSpan:   1800,
		globalHalf:   86400,
		localHalf:    [nLocal]float64{0, 2 * 3600, 12 * 3600, 3 * 86400},
		selectHalf:   2 * 86400,
		clipMean:     3,
		clipVar:      3,
		qPrior:       1,
		realFloor:    0.01,
		countFloor:   1,
		minSamples:   12,
		learnOwn:     2,
		minAgeLearn:  86400,
		calibHalf:    28 * 86400,
		calibPrior:   288,
		dev2Every:    [nTails]float64{21 * 86400, 42 * 86400, 21 * 86400, 42 * 86400, 21 * 86400, 42 * 86400},
		anomEvery:    [nTails]float64{28 * 86400, 56 * 86400, 56 * 86400, 112 * 86400, 14 * 86400, 28 * 86400},
		minRecord:    24,
		capEdge:      1.3,
		switchMargin: 0.9,
		runHalf:      1800,
		runClip:      4,
		slowHalf:     12 * 3600,
		slowVarHalf:  3 * 86400,
		z2Cap:        3,
		refractory:   24 * 3600,
		episodeHold:  2 * 3600,
		episodeGain:  1.4,
		noveltyEdge:  0.05,
		noveltyAge:   5 * 86400,
		refractGain:  1.2,
		episodeGap:   1800,
		measureA:     12 * 3600,
		measureB:     2 * 86400,
		measureMin:   6,
		rateStep:     300,
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
	Learned  int64   // unix seconds of the last learned interval
	M, V     float64 // whole-series forgetting mean and variance
	Q        float64 // whole-series forgetting mean squared prediction error
	Scale    float64 // forgetting mean of |y|
	Local    [nLocal]float64
	LocalErr [nLocal]float64
	Tails    [nTails]tail  // exceedance records of the evidence sources
	Total    float64       // forgetting count of samples
	Z2       float64       // forgetting mean of capped z² of the raw z: bulk calibration
	Sel      float64       // the local-level candidate in use
	Run      float64       // run statistic: forgetting mean of clipped raw deviations
	Slow     float64       // slow run statistic: the same against the seasonal expectation
	SlowVar  float64       // forgetting mean of Slow², its own recent spread
	AlarmZ   float64       // peak evidence strength of the last alarm (level 2 or 3) episode
	AlarmSrc float64       // evidence that started it: 0 point, 1 run
	AlarmAt  int64         // unix seconds of the end of the last alarm episode
	PrevZ    float64       // calibrated z of the previous sample
	Min, Max float64       // the least and greatest value learned (model's scale)
	AnomAt   float64       // unix seconds of the last sample with anomaly-level evidence, held back or not
	PrevLvl  float64       // level given to the previous sample (its sign the direction)
	AnomPeak float64       // the largest |Z| of the anomaly episode's samples
	Sources  []sourceAlarm // the same alarm memory per source (see Source)
}

// Baseline is one measurement's time-of-week model. It is not safe for
// concurrent use.
type Baseline struct {
	cfg    Config
	p      params
	nslots int
	secs   int64 // interval in seconds
	width  int64 // slot width in seconds: max(interval, week/maxSlots)
	// pages are the slots, pageSlots to a page, encoded as Encode
	// returns them: the strings the state file holds, shared rather than
	// decoded into a second copy ("" is a page without data). A page
	// being changed is decoded into open until the next Encode.
	pages  []string
	open   [][]slot // per page, nil when not open; nil when none is
	dirty  []bool   // per page
	metaOK bool     // meta unchanged since the last Encode
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
	b.width = max(b.secs, weekSecs/maxSlots)
	b.nslots = int((weekSecs + b.width - 1) / b.width)
	b.pages = make([]string, (b.nslots+pageSlots-1)/pageSlots)
	b.dirty = make([]bool, len(b.pages))
	K := int(b.p.kernelSpan / float64(b.width))
	if K > 6 {
		K = 6
	}
	b.kernel = make([]float64, 2*K+1)
	for j := -K; j <= K; j++ {
		b.kernel[j+K] = math.Exp(-math.Abs(float64(j)*float64(b.width)) / b.p.kernelTau)
	}
	b.rho = float32(math.Exp2(-float64(Week) / float64(cfg.HalfLife)))
	b.g.Count = cfg.Kind != KindReal
	return b
}

// SetNoise changes the noise threshold (Config.Noise) of the baseline.
func (b *Baseline) SetNoise(n float64) { b.cfg.Noise = n }

// Config returns the normalised configuration of the baseline.
func (b *Baseline) Config() Config { return b.cfg }

// SlotWidth returns the width of a time-of-week slot: the interval, but at
// least five minutes (a week has at most 2016 slots).
func (b *Baseline) SlotWidth() time.Duration { return time.Duration(b.width) * time.Second }

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
	return int(sec / b.width)
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

// pred is the forecast for one interval and the evidence of one sample.
type pred struct {
	seasonal float64 // pooled slot mean
	mu       float64 // forecast on the model's scale
	varStat  float64 // learned predictive variance
	varTot   float64 // with the noise floor
	own      float64 // own-slot weight (kernel-normalised)
	local    int     // the local-level candidate in use

	a        float64 // raw deviation of the sample: (y − mu)/sqrt(varTot)
	run      float64 // run statistic including the sample
	r        float64 // run statistic standardised
	slow     float64 // slow run statistic including the sample
	rs       float64 // slow run statistic standardised by its own recent spread
	aEff     float64 // a as a Gaussian deviation (a young baseline's t statistic converted)
	zp       float64 // calibrated z of the point evidence
	zr       float64 // calibrated z of the run evidence
	zs       float64 // calibrated z of the slow run evidence
	z        float64 // calibrated z: the stronger of the two that point the sample's way
	src      float64 // the evidence behind z: srcPoint, srcRun or srcSlow
	strength float64 // its strength for the refractory rule (see strengthOf)
	level    int     // level of z before the refractory rule
	anom     bool    // the sample has anomaly-level evidence (before the episode rule)
	from     Source  // where the sample's lines came from
	key      uint64  // the hash of its source, when the source explains it (see sourceOf)
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
			s := b.slot(i)
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
	// An expected value beyond every value the series has shown is the
	// additive model overshooting (a level and a season both pulling one
	// way): the forecast stays within the range seen.
	p.mu = math.Max(b.g.Min, math.Min(b.g.Max, p.seasonal+b.g.Local[best]))
	p.varStat = q + varM
	floor := b.floor()
	p.varTot = math.Max(p.varStat, floor)
	if b.g.Z2 > 1 {
		// The learned spread has been too small: widen it.
		p.varTot *= b.g.Z2
		p.varStat *= b.g.Z2
	}
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

// runLambda returns the weight of one sample in the run statistic.
func (b *Baseline) runLambda() float64 {
	return alpha(float64(b.secs), math.Max(b.p.runHalf, runMinSamples*float64(b.secs)))
}

// slowLambda returns the weight of one sample in the slow run statistic.
func (b *Baseline) slowLambda() float64 {
	return alpha(float64(b.secs), math.Max(b.p.slowHalf, runMinSamples*float64(b.secs)))
}

// slowVar returns the variance the slow run statistic is standardised
// by: its own recent variance, never less than that of independent
// deviations (the run statistics' correlation over hours is not evidence).
func (b *Baseline) slowVar() float64 {
	lam := b.slowLambda()
	return math.Max(lam/(2-lam), b.g.SlowVar)
}

// evidence computes the raw and calibrated deviations of y against p: a
// point deviation, a run (half-life 30 minutes) against the forecast, and a
// slow run (half-life 12 hours) against the seasonal expectation with only
// the three-day level, standardised by its own recent spread (how unusual
// the recent deviations are against the recent distribution of such
// deviations: drifts and excursions that the faster levels take up). The
// direction is always the sample's own: run evidence raises or holds the
// level of a sample that deviates the same way, and is ignored for one on
// the other side (just after a storm, a low value is not a high anomaly).
// While the baseline is young (fewer than minSamples samples) its spread is
// an estimate from those few samples: the point deviation is read as a
// Student-t statistic with samples − 1 degrees of freedom and converted to
// the Gaussian deviation of the same probability, and runs are not judged.
func (b *Baseline) evidence(y float64, p *pred) {
	sd := math.Sqrt(p.varTot)
	p.a = (y - p.mu) / sd
	lam := b.runLambda()
	c := b.p.runClip
	p.run = (1-lam)*b.g.Run + lam*math.Max(-c, math.Min(c, p.a))
	p.r = p.run / math.Sqrt(lam/(2-lam))
	ls := b.slowLambda()
	as := (y - p.seasonal - b.g.Local[slowLocal]) / sd
	p.slow = (1-ls)*b.g.Slow + ls*math.Max(-c, math.Min(c, as))
	p.rs = p.slow / math.Sqrt(b.slowVar())
	p.aEff = p.a
	young := b.g.Samples < b.p.minSamples
	switch {
	case young:
		// The exceedance records are empty: the levels of the targets
		// under the Gaussian prior.
		p.aEff = tToGauss(p.a, b.g.Samples-1)
		side := tailPointHigh
		if p.aEff < 0 {
			side = tailPointLow
		}
		var prior tail
		b.calibrateTail(&prior, side)
		p.zp = prior.z(p.aEff)
	case p.aEff >= 0:
		p.zp = b.g.Tails[tailPointHigh].z(p.aEff)
	default:
		p.zp = b.g.Tails[tailPointLow].z(p.aEff)
	}
	if p.r >= 0 {
		p.zr = b.g.Tails[tailRunHigh].z(p.r)
	} else {
		p.zr = b.g.Tails[tailRunLow].z(p.r)
	}
	if p.rs >= 0 {
		p.zs = b.g.Tails[tailSlowHigh].z(p.rs)
	} else {
		p.zs = b.g.Tails[tailSlowLow].z(p.rs)
	}
	p.z, p.src = p.zp, srcPoint
	if !young {
		for _, e := range [...]struct {
			raw, z, src float64
		}{{p.r, p.zr, srcRun}, {p.rs, p.zs, srcSlow}} {
			sameWay := (e.raw > 0 && p.a > 0) || (e.raw < 0 && p.a < 0)
			if sameWay && math.Abs(e.z) > math.Abs(p.z) {
				p.z, p.src = math.Copysign(math.Abs(e.z), p.a), e.src
			}
		}
	}
	az := math.Abs(p.z)
	switch {
	case az >= 3:
		p.level = 3
	case az >= 2:
		p.level = 2
	case az >= 1:
		p.level = 1
	}
}

// spread returns Dev, the standard deviation sd of the model's scale
// around mu, on the measurement's own scale. For counts y = 2·sqrt(x+3/8),
// so x(mu ± sd) = x(mu) ± mu·sd/2 + sd²/4: the band of ±1 deviation is
// centred mu·sd/2 either side of x(mu) (shifted up by sd²/4, the skew of
// counts). Dev is that half-width, with mu no lower than that of a zero
// count. For Poisson counts (sd = 1 on the model's scale) it is
// sqrt(mean + 3/8), close to the Poisson standard deviation.
func (b *Baseline) spread(mu, sd float64) float64 {
	if !b.g.Count {
		return sd
	}
	return sd * math.Max(mu, b.transform(0)) / 2
}

// noise returns the noise threshold: deviations below it do not matter.
func (b *Baseline) noise() float64 {
	switch {
	case b.cfg.Noise < 0:
		return 0
	case b.cfg.Noise > 0:
		return b.cfg.Noise
	case b.g.Count:
		return DefaultNoise
	}
	return 0
}

func (b *Baseline) score(t time.Time, v float64) (Score, pred) {
	return b.scoreFrom(t, v, Source{})
}

func (b *Baseline) scoreFrom(t time.Time, v float64, src Source) (Score, pred) {
	sec := b.secOfWeek(t)
	sc := Score{Value: v}
	if b.g.Samples == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		// Nothing to judge the sample by: no expectation yet (the first
		// sample is not its own average), or no value.
		sc.Learning = true
		sc.Av, sc.Dev, sc.Z = math.NaN(), math.NaN(), math.NaN()
		if b.g.Samples > 0 {
			sc.Av, sc.Dev, sc.Z = b.inverse(b.g.M), 0, 0
		}
		return sc, pred{from: src}
	}
	p := b.forecast(sec)
	p.from = src
	y := b.transform(v)
	b.evidence(y, &p)
	sc.Av = b.inverse(p.mu)
	sc.Dev = b.spread(p.mu, math.Sqrt(p.varTot))
	if d := v - sc.Av; d != 0 && sc.Dev > 0 {
		sc.Z = d / sc.Dev
	}
	young := b.g.Samples < b.p.minSamples
	age := float64(t.Unix() - b.g.First)
	sc.Learning = young || age < b.p.minAgeLearn || p.own < b.p.learnOwn
	lvl := p.level
	p.strength = p.strengthOf(sc.Z)
	p.key = sourceOf(src, v, sc.Av)
	mem := b.memoryOf(p.key)
	if lvl >= 2 && p.src == mem.alarmSrc && b.refractory(t, p.strength, mem) {
		lvl = 1
	}
	if !young && age >= b.p.noveltyAge && b.novel(v, sc.Z) {
		lvl = 3
	}
	// A level k needs the sample to be k deviations out, whatever the
	// evidence behind it: the classes are arithmetic on Av and Dev.
	lvl = min(lvl, int(math.Min(math.Abs(sc.Z), 3)))
	if lvl == 3 && math.Abs(v-sc.Av) >= b.noise() {
		p.anom = true
		if b.sameEpisode(t, sc.Z, mem) && math.Abs(sc.Z) < b.p.episodeGain*mem.anomPeak {
			lvl = 2
		}
	}
	if math.Abs(v-sc.Av) < b.noise() {
		// Too small to matter: no level, but a microanomaly when it is
		// statistically out.
		sc.Micro = math.Abs(sc.Z) >= 2 && math.Abs(p.aEff) >= 2
		lvl = 0
	}
	if sc.Z < 0 {
		lvl = -lvl
	}
	sc.Level = lvl
	return sc, p
}

// novel reports whether v, on the side of z, lies beyond the range of
// every value learned by more than noveltyEdge of its width (on the
// model's scale): a value the series has never come near.
func (b *Baseline) novel(v, z float64) bool {
	y := b.transform(v)
	edge := b.p.noveltyEdge * (b.g.Max - b.g.Min)
	return (z > 0 && y > b.g.Max+edge) || (z < 0 && y < b.g.Min-edge)
}

// strengthOf returns the strength of the evidence behind the calibrated z,
// as the refractory rule compares it: the deviations of the sample (|Z|)
// for point evidence, the standardised statistic for a run. Unlike the
// calibrated z, it does not shrink as the records learn from the alarm
// it is compared with.
func (p *pred) strengthOf(z float64) float64 {
	switch p.src {
	case srcRun:
		return math.Abs(p.r)
	case srcSlow:
		return math.Abs(p.rs)
	}
	return math.Abs(z)
}

// refractory reports whether a sample of evidence strength st that would
// start a new alarm episode is held back: within the refractory time after
// the last alarm of the same kind (in mem: of the same source, or of any),
// a new one needs refractGain times that alarm's peak strength.
func (b *Baseline) refractory(t time.Time, st float64, mem alarmMemory) bool {
	if b.p.refractory <= 0 || mem.alarmZ == 0 || math.Abs(b.g.PrevZ) >= 2 {
		return false
	}
	dt := float64(t.Unix() - mem.alarmAt)
	return dt >= 0 && dt < b.p.refractory && st < b.p.refractGain*mem.alarmZ
}

// sameEpisode reports whether an anomaly starting at t, on the side of z,
// belongs to the episode of the last one (in mem: of the same source, or
// of any): the previous sample was not
// given the anomaly level on that side, and a sample with anomaly-level
// evidence came less than episodeHold before. Such an anomaly is held back to dev2 unless it is
// episodeGain times as far out as the episode's farthest sample, so that
// an episode whose samples go in and out of the anomaly level (a storm
// with lulls, a spike and its echo, a shift the levels are taking up)
// raises _anomaly once.
func (b *Baseline) sameEpisode(t time.Time, z float64, mem alarmMemory) bool {
	if mem.anomAt == 0 {
		return false
	}
	if b.g.PrevLvl*math.Copysign(1, z) >= 3 {
		return false // it goes on
	}
	dt := float64(t.Unix()) - mem.anomAt
	return dt > 0 && dt < b.p.episodeHold
}

// Observe scores v against the baseline as it was, then learns it.
func (b *Baseline) Observe(t time.Time, v float64) Score {
	sc, p := b.score(t, v)
	b.learn(t, v, p, sc, b.g.Samples == 0)
	return sc
}

// Learn adds v, the value of the interval starting at t, to the baseline.
// NaN and infinite values are ignored.
func (b *Baseline) Learn(t time.Time, v float64) {
	sc, p := b.score(t, v)
	b.learn(t, v, p, sc, b.g.Samples == 0)
}

// Gap records that the interval starting at t has no sample. Nothing is
// learned for its slot; the local level and the run statistic fade as if
// the interval had passed.
func (b *Baseline) Gap(t time.Time) {
	u := t.Unix()
	if b.g.Samples == 0 || u <= b.g.Last {
		return
	}
	b.fade(float64(u - b.g.Last))
	b.g.Last = u
	b.metaOK = false
}

// fade decays the local-level candidates and the run statistic over dt
// seconds without data.
func (b *Baseline) fade(dt float64) {
	for j := 1; j < nLocal; j++ {
		if h := b.p.localHalf[j]; h > 0 {
			b.g.Local[j] *= math.Exp2(-dt / h)
		}
	}
	b.g.Run *= math.Pow(1-b.runLambda(), dt/float64(b.secs))
	b.g.Slow *= math.Pow(1-b.slowLambda(), dt/float64(b.secs))
	b.g.PrevZ = 0
	b.g.PrevLvl = 0
	for i := range b.g.Tails {
		b.g.Tails[i].Peak = 0
	}
}

func alpha(step, half float64) float64 {
	return 1 - math.Exp2(-step/half)
}

func (b *Baseline) learn(t time.Time, v float64, p pred, sc Score, first bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if b.g.Count && b.cfg.Kind == KindAuto && (v < 0 || v != math.Trunc(v)) {
		b.toReal()
		sc, p = b.scoreFrom(t, v, p.from)
	}
	y := b.transform(v)
	u := t.Unix()
	step := float64(b.secs)
	b.metaOK = false
	idx := b.slotAt(b.secOfWeek(t))
	if first {
		b.g.First = u
		b.g.Last = u
		b.g.Learned = u
		b.g.M = y
		b.g.V = 0
		b.g.Q = 0
		b.g.Scale = math.Abs(y)
		b.g.Samples = 1
		b.g.Min, b.g.Max = y, y
		s := b.change(idx)
		s.N = float32(b.visitWeight())
		s.M = float32(y)
		s.Q = 0
		return
	}
	if u > b.g.Last+b.secs {
		// Implicit gap: intervals without Gap calls.
		b.fade(float64(u - b.g.Last - b.secs))
	}
	// A new visit of the slot: its weight decays once per weekly visit,
	// however many samples the visit holds.
	newVisit := b.slotAt(b.secOfWeek(time.Unix(b.g.Learned, 0))) != idx || u-b.g.Learned >= b.width || u < b.g.Learned
	if u > b.g.Last {
		b.g.Last = u
	}
	b.g.Learned = u
	rawSD := math.Sqrt(p.varTot)
	ph := &b.g.Tails[tailPointHigh]
	q2, q3 := ph.levels()
	if p.a < 0 {
		q2, q3 = b.g.Tails[tailPointLow].levels()
	}
	e := y - p.mu
	lim := zunmap(b.p.clipMean, q2, q3) * rawSD
	cv := b.p.clipVar * rawSD
	if b.g.Samples < b.p.minRecord {
		// A young baseline has no normal to defend yet: its first samples
		// establish the level and spread, unclipped. Clipping them against
		// the first sample's level would keep it there for good.
		lim, cv = math.Inf(1), math.Inf(1)
	}
	ec := math.Max(-lim, math.Min(lim, e))
	yc := p.mu + ec
	// An outlier beyond the cap says nothing about the spread of normal
	// samples: it leaves the squared-error estimates as they are (a
	// lasting change is taken up by the local level first, after which its
	// errors are ordinary again).
	outlier := e*e > cv*cv
	e2 := e * e
	if b.g.Samples >= b.p.minRecord {
		// Bulk calibration, from the samples that are not anomalies.
		if math.Abs(p.zp) < 3 {
			zr := p.a * math.Sqrt(math.Max(1, b.g.Z2))
			c := b.p.z2Cap
			b.g.Z2 += alpha(step, b.p.calibHalf) * (math.Min(zr*zr, c*c)/gaussCapped(c) - b.g.Z2)
		}
		f := math.Exp2(-step / b.p.calibHalf)
		b.g.Total = b.g.Total*f + 1
		for i := range b.g.Tails {
			b.g.Tails[i].decay(f)
		}
		quiet := math.Min(math.Ceil(b.p.episodeGap/step), episodeQuietMax)
		hi, lo := math.Max(p.a, 0), math.Max(-p.a, 0)
		b.g.Tails[tailPointHigh].record(hi, b.p.capEdge, quiet)
		b.g.Tails[tailPointLow].record(lo, b.p.capEdge, quiet)
		hi, lo = math.Max(p.r, 0), math.Max(-p.r, 0)
		b.g.Tails[tailRunHigh].record(hi, b.p.capEdge, quiet)
		b.g.Tails[tailRunLow].record(lo, b.p.capEdge, quiet)
		hi, lo = math.Max(p.rs, 0), math.Max(-p.rs, 0)
		b.g.Tails[tailSlowHigh].record(hi, b.p.capEdge, quiet)
		b.g.Tails[tailSlowLow].record(lo, b.p.capEdge, quiet)
		for i := range b.g.Tails {
			b.calibrateTail(&b.g.Tails[i], i)
		}
	}
	b.g.Run = p.run
	b.g.Slow = p.slow
	b.g.Min, b.g.Max = math.Min(b.g.Min, y), math.Max(b.g.Max, y)
	// The slow run's own variance, each sample's square capped at 9 times
	// the variance so far: an excursion does not declare itself normal.
	sv := b.slowVar()
	b.g.SlowVar += alpha(step, b.p.slowVarHalf) * (math.Min(p.slow*p.slow, 9*sv) - b.g.SlowVar)
	// Alarm episodes, for the refractory rule: their start (calibrated z
	// at 2 or more) and the peak strength of their evidence.
	az := math.Abs(p.z)
	if iabs(sc.Level) >= 2 {
		if math.Abs(b.g.PrevZ) < 2 {
			b.g.AlarmZ = p.strength
			b.g.AlarmSrc = p.src
		} else {
			b.g.AlarmZ = math.Max(b.g.AlarmZ, p.strength)
		}
		b.g.AlarmAt = u
	}
	if p.anom {
		if dt := float64(u) - b.g.AnomAt; b.g.AnomAt == 0 || dt <= 0 || dt >= b.p.episodeHold {
			b.g.AnomPeak = 0 // a new episode
		}
		b.g.AnomAt = float64(u)
		b.g.AnomPeak = math.Max(b.g.AnomPeak, math.Abs(sc.Z))
	}
	b.rememberSource(u, p, sc)
	b.g.PrevLvl = float64(sc.Level)
	b.g.PrevZ = p.z
	if iabs(sc.Level) < 2 && az >= 2 {
		// Held back (refractory, too few deviations, too small to
		// matter): not an alarm episode.
		b.g.PrevZ = 0
	}

	// Slot.
	s := b.change(idx)
	w := b.visitWeight()
	n := s.N + float32(w)
	if newVisit {
		n = b.rho*s.N + float32(w)
	}
	if s.N <= 0 {
		s.M = float32(yc)
		s.Q = float32(math.Min(e2, cv*cv))
	} else {
		k := w / float64(n)
		s.M += float32((yc - float64(s.M)) * k)
		if !outlier {
			s.Q += float32((e2 - float64(s.Q)) * k)
		}
	}
	s.N = n

	// Whole series. Its mean is a forgetting mean, but the samples of the
	// first visit of a slot (the first interval at five minutes and more,
	// the first five minutes at a shorter interval) establish it
	// together: their plain mean. Started at the first sample and moved
	// at the forgetting pace alone, it stayed that sample for a day at a
	// 1-second interval, where a young baseline leans on it (a slot's
	// samples weigh a fraction of a visit), and ordinary samples were
	// called low or high against one early value.
	ag := alpha(step, b.p.globalHalf)
	d := yc - b.g.M
	if u-b.g.First < b.width {
		b.g.M += math.Max(ag, 1/(b.g.Samples+1)) * d
	} else {
		b.g.M += ag * d
	}
	b.g.V = (1 - ag) * (b.g.V + ag*d*d)
	if !outlier {
		b.g.Q += ag * (e2 - b.g.Q)
	}
	b.g.Scale += ag * (math.Abs(y) - b.g.Scale)
	b.g.Samples++

	// Local levels and their error record, both clipped at the dev2 level
	// so that an excursion neither drags a level nor elects a candidate.
	as := alpha(step, b.p.selectHalf)
	r := y - p.seasonal
	lim2 := q2 * rawSD
	b.g.Sel = float64(p.local)
	for j := 0; j < nLocal; j++ {
		ej := r - b.g.Local[j]
		b.g.LocalErr[j] += as * (math.Min(ej*ej, lim2*lim2) - b.g.LocalErr[j])
		if h := b.p.localHalf[j]; h > 0 {
			b.g.Local[j] += alpha(step, h) * math.Max(-lim2, math.Min(lim2, ej))
		}
	}
}

// recalibrate recomputes the levels of every evidence record as the last
// learned sample left them: calibrated once the record is kept (from
// minRecord samples on), the levels 2 and 3 before.
func (b *Baseline) recalibrate() {
	for i := range b.g.Tails {
		t := &b.g.Tails[i]
		t.Q2, t.Q3 = 0, 0
		if b.g.Samples > b.p.minRecord {
			b.calibrateTail(t, i)
		}
	}
}

// calibrateTail recomputes the levels of evidence source i, recorded in
// t, from its exceedance record (from the Gaussian prior alone while the
// record is empty).
func (b *Baseline) calibrateTail(t *tail, i int) {
	step := float64(b.secs)
	rs := math.Min(step, b.p.rateStep)
	// The rarest rate read off the record: one episode in measureB, or
	// rarer once the record is long enough to hold measureMin of them.
	pb := step / b.p.measureB
	if b.g.Total > 0 {
		pb = math.Min(pb, b.p.measureMin/b.g.Total)
	}
	t.calibrate(rs/b.p.dev2Every[i], rs/b.p.anomEvery[i], step/b.p.measureA, pb, b.g.Total, b.p.calibPrior/step)
}

// visitWeight is the weight of one sample in its slot: one weekly visit
// of a slot weighs 1 however many intervals it holds.
func (b *Baseline) visitWeight() float64 {
	return float64(b.secs) / float64(b.width)
}

// toReal converts a count-scale baseline to the real scale (delta method),
// when KindAuto meets its first value that is not a count.
func (b *Baseline) toReal() {
	conv := func(m, q float64) (float64, float64) {
		x := b.inverse(m)
		g := m / 2
		return x, q * g * g
	}
	for i := range b.nslots {
		if b.slot(i).N <= 0 {
			continue
		}
		s := b.change(i)
		m, q := conv(float64(s.M), float64(s.Q))
		s.M, s.Q = float32(m), float32(q)
	}
	g := b.g.M / 2
	b.g.M, b.g.Q = conv(b.g.M, b.g.Q)
	b.g.V *= g * g
	b.g.Scale = math.Abs(b.g.M)
	b.g.Min, b.g.Max = b.inverse(b.g.Min), b.inverse(b.g.Max)
	b.g.Local = [nLocal]float64{}
	b.g.LocalErr = [nLocal]float64{}
	b.g.Sel = 0
	b.g.Tails = [nTails]tail{}
	b.g.Total = 0
	b.g.Run = 0
	b.g.Slow, b.g.SlowVar = 0, 0
	b.g.PrevZ = 0
	b.g.AlarmZ = 0
	b.g.AnomAt, b.g.PrevLvl, b.g.AnomPeak = 0, 0, 0
	b.g.Sources = nil
	b.g.Count = false
	b.metaOK = false
}

func iabs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}
