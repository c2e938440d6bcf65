package interval

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"
)

// The survey is Spade's survey mode: per period and measurement, the
// number of samples and the 50th, 90th and 99th percentiles of their
// values and of their alarm scores (AlarmScore), so that a threshold can
// be chosen from what is normal. Percentiles interpolate linearly between
// the two closest ranks: the p-th percentile of n sorted values x[0..n-1]
// is x[i] + f·(x[i+1] − x[i]) with i + f = p/100 · (n − 1) (the "linear"
// method of NumPy and R's type 7).

// SurveyHeader is the header line of a survey file; its columns are
// separated by tabs.
const SurveyHeader = "period\tmeasurement\tsamples\tvalue_p50\tvalue_p90\tvalue_p99\tscore_p50\tscore_p90\tscore_p99"

// SurveyRow is one period of one measurement.
type SurveyRow struct {
	Period  time.Time // the start of the period
	Handle  string
	Samples int
	// Value and Score are the 50th, 90th and 99th percentiles; Score is
	// NaN for a measurement without a baseline, which has no score.
	Value, Score [3]float64
	Scored       int // samples with a score
}

// SurveyPercentiles are the percentiles of a survey row.
var SurveyPercentiles = [3]float64{50, 90, 99}

// Percentile returns the p-th percentile (0 to 100) of sorted values,
// interpolated linearly; NaN when there are none.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	r := p / 100 * float64(n-1)
	i := int(math.Floor(r))
	if i >= n-1 {
		return sorted[n-1]
	}
	f := r - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}

// surveyPeriod is the samples of one measurement in the current period.
type surveyPeriod struct {
	Start  time.Time `json:"start"`
	Values []float64 `json:"values"`
	Scores []float64 `json:"scores,omitempty"`
}

// Survey gathers the samples of the current period of each measurement
// and turns each finished period into a row. It is not safe for
// concurrent use.
type Survey struct {
	period time.Duration
	cur    map[string]*surveyPeriod
}

// NewSurvey returns a survey of periods of the given length, aligned to
// multiples of it since the Unix epoch.
func NewSurvey(period time.Duration) *Survey {
	return &Survey{period: period, cur: map[string]*surveyPeriod{}}
}

// Period returns the length of the survey's periods.
func (v *Survey) Period() time.Duration { return v.period }

// Add adds a complete sample with a value (others are ignored) and
// returns the rows of the periods its measurement finished before it. A
// sample its stream observed only in part (Short) is surveyed as it is
// written, with its value, and without a score, as is a baseline's first
// sample.
func (v *Survey) Add(s *Sample) []SurveyRow {
	return v.AddScore(s, s.AlarmScore())
}

// AlarmScore returns the sample's alarm score (the function AlarmScore of
// its Score), NaN when it was not judged: not scored, or a baseline's
// first sample, which has nothing to be judged by.
func (s *Sample) AlarmScore() float64 {
	if s.Score == nil || math.IsNaN(s.Score.Z) {
		return math.NaN()
	}
	return AlarmScore(*s.Score)
}

// AddScore is Add with the sample's alarm score given (NaN for none), for
// samples read back from the state file.
func (v *Survey) AddScore(s *Sample, score float64) []SurveyRow {
	if s.Value == nil || s.Partial {
		return nil
	}
	start := s.Start.Truncate(v.period)
	cur := v.cur[s.Handle]
	var out []SurveyRow
	if cur != nil && !cur.Start.Equal(start) {
		if start.Before(cur.Start) {
			return nil // a sample of a period already written
		}
		out = append(out, cur.row(s.Handle))
		cur = nil
	}
	if cur == nil {
		cur = &surveyPeriod{Start: start}
		v.cur[s.Handle] = cur
	}
	cur.Values = append(cur.Values, *s.Value)
	if !math.IsNaN(score) {
		cur.Scores = append(cur.Scores, score)
	}
	return out
}

// Current returns the rows of the periods under way, by handle, without
// forgetting them: the survey so far.
func (v *Survey) Current() []SurveyRow {
	out := make([]SurveyRow, 0, len(v.cur))
	for _, h := range sortedKeys(v.cur) {
		out = append(out, v.cur[h].row(h))
	}
	return out
}

// Flush returns the rows of the periods that end at or before now (all of
// them when now is zero), by handle, and forgets them.
func (v *Survey) Flush(now time.Time) []SurveyRow {
	var out []SurveyRow
	for _, h := range sortedKeys(v.cur) {
		cur := v.cur[h]
		if now.IsZero() || !now.Before(cur.Start.Add(v.period)) {
			out = append(out, cur.row(h))
			delete(v.cur, h)
		}
	}
	return out
}

// row computes the row of a period.
func (p *surveyPeriod) row(h string) SurveyRow {
	r := SurveyRow{Period: p.Start, Handle: h, Samples: len(p.Values), Scored: len(p.Scores)}
	vals := append([]float64(nil), p.Values...)
	sort.Float64s(vals)
	scores := append([]float64(nil), p.Scores...)
	sort.Float64s(scores)
	for i, q := range SurveyPercentiles {
		r.Value[i] = Percentile(vals, q)
		r.Score[i] = Percentile(scores, q)
	}
	return r
}

// WriteSurvey writes rows in the survey format, tab-separated, with the
// header line first when header is true. A percentile that does not exist
// (a score of a measurement without a baseline) is written "-".
func WriteSurvey(w io.Writer, rows []SurveyRow, header bool) error {
	if header {
		if _, err := fmt.Fprintln(w, SurveyHeader); err != nil {
			return err
		}
	}
	num := func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "-"
		}
		return strconv.FormatFloat(v, 'g', 12, 64)
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Period.UTC().Format(time.RFC3339), r.Handle, r.Samples,
			num(r.Value[0]), num(r.Value[1]), num(r.Value[2]), num(r.Score[0]), num(r.Score[1]), num(r.Score[2])); err != nil {
			return err
		}
	}
	return nil
}

// SortSurvey orders rows by period, then measurement.
func SortSurvey(rows []SurveyRow) {
	sort.SliceStable(rows, func(i, j int) bool {
		if !rows[i].Period.Equal(rows[j].Period) {
			return rows[i].Period.Before(rows[j].Period)
		}
		return rows[i].Handle < rows[j].Handle
	})
}
