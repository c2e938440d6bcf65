package daemon

import (
	"strconv"
	"strings"

	"github.com/logtally/logtally/interval"
)

// Report writes an intermediate report to the log, as Spade does on
// SIGUSR1: the survey of the periods under way (samples and percentiles
// of values and alarm scores so far), the key table of each keyed
// measurement's last interval with keyed lines, and each weekly measurement's anomaly
// threshold (with its alarm budget, the ideal thresholds it averages and
// the period under way). It is safe to call from any goroutine.
func (d *Daemon) Report() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.eng == nil {
		return
	}
	var rows []interval.SurveyRow
	if d.survey != nil {
		rows = d.survey.Current()
	}
	d.log.Info("intermediate report", "measurements", len(d.eng.Handles()), "survey_periods", len(rows))
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, r := range rows {
		attrs := []any{"period", r.Period, "handle", r.Handle, "samples", r.Samples,
			"value_p50", num(r.Value[0]), "value_p90", num(r.Value[1]), "value_p99", num(r.Value[2])}
		if r.Scored > 0 {
			attrs = append(attrs, "score_p50", num(r.Score[0]), "score_p90", num(r.Score[1]), "score_p99", num(r.Score[2]))
		}
		d.log.Info("report survey", attrs...)
	}
	for _, h := range d.eng.Handles() {
		st := d.eng.State(h)
		if l := st.LastKeyed; l != nil {
			t := l.KeyTable
			var b strings.Builder
			for i, kc := range t.Top {
				if i > 0 {
					b.WriteByte(' ')
				}
				// strconv.Quote: a key is text from a log line.
				b.WriteString(strconv.Quote(kc.Key) + "=" + strconv.FormatUint(kc.Count, 10))
			}
			attrs := []any{"handle", h, "interval_end", l.End, "total", t.Total, "top", b.String(),
				"other", t.Other, "other_keys", t.OtherKeys}
			if l.Entropy != nil {
				attrs = append(attrs, "entropy", num(*l.Entropy))
			}
			d.log.Info("report keys", attrs...)
		}
		if st.Base == nil {
			continue
		}
		attrs := []any{"handle", h, "anomaly_threshold", num(interval.Threshold(st))}
		if a := st.Adaptive; a != nil && st.Rule.Budget != nil {
			ideals := make([]string, len(a.Ideals))
			for i, v := range a.Ideals {
				ideals[i] = num(v)
			}
			attrs = append(attrs, "alarm_budget", st.Rule.Budget.String(), "ideals", strings.Join(ideals, " "),
				"period", a.Period, "peaks", len(a.Peaks))
		}
		d.log.Info("report threshold", attrs...)
	}
}
