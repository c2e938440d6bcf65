package interval

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/logtally/logtally/rules"
)

// Scored is one interval's alarm score, signed by its direction (the sign
// of z): what threshold learning and alarm budgets need of a sample.
type Scored struct {
	Start time.Time `json:"t"`
	Score float64   `json:"s"`
}

// SignedScore is a sample's alarm score signed by its direction, 0 when it
// was not scored.
func SignedScore(s *Sample) float64 {
	if s.Score == nil {
		return 0
	}
	a := AlarmScore(*s.Score)
	if s.Score.Z < 0 {
		return -a
	}
	return a
}

// AlarmRises counts the rises of measurement m's anomaly classes
// (h_high_anomaly, h_low_anomaly) over consecutive intervals of width
// with these scores, were its anomaly threshold t: a sample of score at
// least t sets the class of its direction, held by the measurement's
// persistence exactly as a replay holds it (Rows).
func AlarmRises(m *rules.Measurement, width time.Duration, pts []Scored, t float64) int {
	rm := &rules.Measurement{Handle: "m", Persist: m.Persist, PersistPolicy: m.PersistPolicy}
	rows := NewRows(rm)
	high, low := []string{"m_high_anomaly"}, []string{"m_low_anomaly"}
	n := 0
	for _, p := range pts {
		s := &Sample{Start: p.Start, End: p.Start.Add(width)}
		switch {
		case p.Score >= t:
			s.Classes = high
		case -p.Score >= t:
			s.Classes = low
		}
		n += len(rows.Add(s).Rises)
	}
	return n
}

// Learned is the outcome of threshold learning.
type Learned struct {
	// Threshold is the anomaly threshold that would have raised Rises
	// anomalies: Rises is the target when Exact, else the most there are
	// without passing it.
	Threshold float64
	Rises     int
	Exact     bool
	// Lo and Hi bound the thresholds that give Rises: above Lo, up to
	// Hi (infinite when every threshold above Lo does).
	Lo, Hi float64
}

// maxCandidates bounds the thresholds threshold learning tries.
const maxCandidates = 5000

// LearnThreshold returns the anomaly threshold, at least floor, that
// would have raised k anomaly rises over these consecutive intervals
// (Spade's threshold learning, counting rises rather than samples). It
// lowers the threshold through the distinct scores, from the highest,
// until the rises would pass k; of the thresholds that give the last
// count at most k, it returns one in the middle, rounded to as few
// decimals as stay within them, so that it keeps its count when written
// in a rule (when even floor gives at most k rises, one between floor
// and the highest threshold with that count).
func LearnThreshold(m *rules.Measurement, width time.Duration, pts []Scored, k int, floor float64) Learned {
	var cands []float64
	for _, p := range pts {
		if a := math.Abs(p.Score); a >= floor {
			cands = append(cands, a)
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(cands)))
	cands = slices.Compact(cands)
	// Thresholds above hi and down to lo (exclusive) give `rises`.
	hi, rises := math.Inf(1), 0
	for i, c := range cands {
		r := k + 1 // past the thresholds tried: as if too many
		if i < maxCandidates {
			r = AlarmRises(m, width, pts, c)
		}
		if r > k {
			return Learned{Threshold: between(c, hi), Rises: rises, Exact: rises == k, Lo: c, Hi: hi}
		}
		if r != rises {
			hi, rises = c, r
		}
	}
	// Down to the floor the rises stay at most k: the thresholds from the
	// floor up to hi give them.
	th := floor
	if !math.IsInf(hi, 1) && hi > floor {
		th = between(floor, hi)
	}
	return Learned{Threshold: th, Rises: rises, Exact: rises == k, Lo: floor, Hi: math.Max(hi, floor)}
}

// between returns a short number in (lo, hi], near their middle: the
// fewest decimals that stay within; above lo by one (to a whole number)
// when hi is infinite.
func between(lo, hi float64) float64 {
	if math.IsInf(hi, 1) {
		return math.Floor(lo) + 1
	}
	mid := lo + (hi-lo)/2
	for d := 0; d <= 12; d++ {
		v, _ := strconv.ParseFloat(strconv.FormatFloat(mid, 'f', d, 64), 64)
		if v > lo && v <= hi {
			return v
		}
	}
	return hi
}

// Threshold is the anomaly threshold in force for the measurement of st:
// the adaptive one of its alarm budget, else its anomaly_threshold, else
// the default.
func Threshold(st *State) float64 {
	if a := st.Adaptive; a != nil && a.Threshold > 0 {
		return math.Max(a.Threshold, floor(st.Rule))
	}
	return floor(st.Rule)
}

// Adaptive is a measurement's adaptive anomaly threshold under an alarm
// budget (rules.AlarmBudget), kept in the state file with the interval
// that changed it.
type Adaptive struct {
	// Budget is the budget it adapts to, as written ("2/week"): another
	// budget starts afresh.
	Budget string `json:"budget"`
	// Threshold is the anomaly threshold now.
	Threshold float64 `json:"threshold"`
	// Period is the start of the observation period under way.
	Period time.Time `json:"period"`
	// Ideals are the ideal thresholds of the last periods, oldest first.
	Ideals []float64 `json:"ideals,omitempty"`
	// Peaks are the scores of the period under way that reach the floor:
	// only they can set an anomaly at any threshold the budget may
	// choose.
	Peaks []Scored `json:"peaks,omitempty"`

	changed bool
}

// maxPeaks bounds an observation period's peaks: past it the lowest go,
// which matter the least to a budget of a few alarms.
const maxPeaks = 1000

// floor is the lowest anomaly threshold of measurement m: its
// anomaly_threshold, or the default.
func floor(m *rules.Measurement) float64 {
	if m.AnomalyThreshold > 0 {
		return m.AnomalyThreshold
	}
	return DefaultThreshold
}

// periodStart is the start of the budget period (an hour, a day from
// midnight, a week from Monday) that t is in, in loc.
func periodStart(b *rules.AlarmBudget, t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.Local
	}
	t = t.In(loc)
	switch b.Unit {
	case "hour":
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
	case "day":
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	}
	wd := (int(t.Weekday()) + 6) % 7 // days since Monday
	return time.Date(t.Year(), t.Month(), t.Day()-wd, 0, 0, 0, 0, loc)
}

// observe takes the alarm score of measurement m's sample starting at
// start into the adaptive threshold, first closing the observation period
// before start's (its ideal threshold joins the average), and returns the
// threshold that applies to the sample.
func (a *Adaptive) observe(m *rules.Measurement, width time.Duration, loc *time.Location, start time.Time, score float64) float64 {
	b, fl := m.Budget, floor(m)
	switch {
	case math.IsNaN(score):
		score = 0
	case math.IsInf(score, 0):
		score = math.Copysign(math.MaxFloat64, score)
	}
	p := periodStart(b, start, loc)
	if a.Budget != b.String() {
		*a = Adaptive{Budget: b.String(), Threshold: fl, Period: p, changed: true}
	}
	if p.After(a.Period) {
		a.closePeriod(m, width, fl)
		a.Period = p
		a.changed = true
	}
	a.Threshold = math.Max(a.Threshold, fl)
	if math.Abs(score) >= fl {
		a.Peaks = append(a.Peaks, Scored{Start: start, Score: score})
		if len(a.Peaks) > maxPeaks {
			i := 0
			for j, pk := range a.Peaks {
				if math.Abs(pk.Score) < math.Abs(a.Peaks[i].Score) {
					i = j
				}
			}
			a.Peaks = slices.Delete(a.Peaks, i, i+1)
		}
		a.changed = true
	}
	return a.Threshold
}

// closePeriod adds the ideal threshold of the period under way, the one
// that would have raised the budget's alarms in it, to the last ideals and
// sets the threshold to their average, at least fl. Of the thresholds
// that would have raised them, the ideal is near the lowest (a tenth of
// the way up): one towering peak in a period then does not silence the
// periods after it, and the average stays just above the peaks that
// exceeded the budget.
func (a *Adaptive) closePeriod(m *rules.Measurement, width time.Duration, fl float64) {
	b := m.Budget
	l := LearnThreshold(m, width, a.peakRows(width), b.Alarms, fl)
	ideal := l.Threshold
	if !math.IsInf(l.Hi, 1) && l.Hi > l.Lo {
		ideal = math.Nextafter(l.Lo, l.Hi)
	}
	a.Ideals = append(a.Ideals, ideal)
	if len(a.Ideals) > b.Periods {
		a.Ideals = slices.Delete(a.Ideals, 0, len(a.Ideals)-b.Periods)
	}
	sum := 0.0
	for _, v := range a.Ideals {
		sum += v
	}
	a.Threshold = math.Max(fl, sum/float64(len(a.Ideals)))
	a.Peaks = nil
}

// peakRows returns the period's peaks as consecutive intervals: between
// two peaks further apart than an interval, the intervals after the first
// and before the second score nothing, which is all that the others can
// change of the classes' rises and persistence.
func (a *Adaptive) peakRows(width time.Duration) []Scored {
	pk := slices.Clone(a.Peaks)
	sort.Slice(pk, func(i, j int) bool { return pk[i].Start.Before(pk[j].Start) })
	var out []Scored
	for i, p := range pk {
		if i > 0 {
			prev := pk[i-1].Start
			if gap := p.Start.Sub(prev); gap > width {
				out = append(out, Scored{Start: prev.Add(width)})
				if gap > 2*width {
					out = append(out, Scored{Start: p.Start.Add(-width)})
				}
			}
		}
		out = append(out, p)
	}
	return out
}
