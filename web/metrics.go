package web

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/logtally/logtally/internal/num"
	"github.com/logtally/logtally/rules"
)

// maxLabel caps a label value, in bytes. Label values come from rule files
// (handles, class names, sources, output names), never from log text, but a
// long command line as a stream's source must not make every series huge.
const maxLabel = 256

// metric describes one metric family.
type metric struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
}

func newMetric(name, help string, typ prometheus.ValueType, labels ...string) metric {
	return metric{desc: prometheus.NewDesc("logtally_"+name, help, labels, nil), typ: typ}
}

// Per-measurement metrics, labelled by handle.
type measurementMetric struct {
	metric
	get func(*MeasurementView) (float64, bool)
}

func ptr(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

const (
	gauge   = prometheus.GaugeValue
	counter = prometheus.CounterValue
)

// Metric families, built once per Server (no package-level state).
type families struct {
	build, started, interval, intervalStart metric

	measurement []measurementMetric

	classActive, classRemaining metric

	stream []streamMetric

	output []outputMetric

	self []selfMetric

	viewFailed metric
}

type streamMetric struct {
	metric
	get func(*StreamView) uint64
}

type outputMetric struct {
	metric
	get func(*OutputView) uint64
}

type selfMetric struct {
	metric
	get func(*SelfView) uint64
}

func newFamilies() *families {
	h, src, out := "handle", "source", "output"
	return &families{
		build:         newMetric("build_info", "Always 1; the labels say which build of logtally runs: module version, VCS revision, whether the tree was modified, Go version.", gauge, "version", "revision", "modified", "goversion"),
		started:       newMetric("start_time_seconds", "Start time of the daemon, in seconds since the Unix epoch.", gauge),
		interval:      newMetric("interval_seconds", "Length of a sampling interval, in seconds.", gauge),
		intervalStart: newMetric("interval_start_time_seconds", "Start of the interval being accumulated, in seconds since the Unix epoch.", gauge),
		measurement: []measurementMetric{
			{newMetric("measurement_value", "Value of the last committed sample of a measurement.", gauge, h),
				func(m *MeasurementView) (float64, bool) { return ptr(m.Value) }},
			{newMetric("measurement_average", "Learned expected value for the last sample's time of week.", gauge, h),
				func(m *MeasurementView) (float64, bool) { return ptr(m.Av) }},
			{newMetric("measurement_deviation", "Learned spread around the expected value for the last sample's time of week.", gauge, h),
				func(m *MeasurementView) (float64, bool) { return ptr(m.Dev) }},
			{newMetric("measurement_z", "How unusual the last sample is, in deviations from the expected value.", gauge, h),
				func(m *MeasurementView) (float64, bool) { return ptr(m.Z) }},
			{newMetric("measurement_anomaly_threshold", "Alarm score from which a weekly measurement's samples are anomalies: anomaly_threshold, the default 3, or the adaptive threshold of its alarm_budget.", gauge, h),
				func(m *MeasurementView) (float64, bool) { return ptr(m.Threshold) }},
			// The sum of a counter's values only grows: a counter. An int or
			// real measurement's may fall: a gauge.
			{newMetric("measurement_value_total", "Sum of every value committed for a counter measurement since the state file began: the lines it counted.", counter, h),
				func(m *MeasurementView) (float64, bool) { return m.Total, m.DataType == rules.Counter }},
			{newMetric("measurement_accumulated", "Sum of every value committed for an int or real measurement since the state file began.", gauge, h),
				func(m *MeasurementView) (float64, bool) { return m.Total, m.DataType != rules.Counter }},
			{newMetric("measurement_last_sample_time_seconds", "End of the interval of the last committed sample, in seconds since the Unix epoch.", gauge, h),
				func(m *MeasurementView) (float64, bool) {
					if m.LastEnd.IsZero() {
						return 0, false
					}
					return float64(m.LastEnd.UnixNano()) / 1e9, true
				}},
			{newMetric("measurement_lines_total", "Lines a measurement examined.", counter, h),
				func(m *MeasurementView) (float64, bool) { return float64(m.Lines), true }},
			{newMetric("measurement_selected_lines_total", "Lines a measurement's rule selected.", counter, h),
				func(m *MeasurementView) (float64, bool) { return float64(m.Selected), true }},
			{newMetric("measurement_regex_timeouts_total", "Matches abandoned at their time limit.", counter, h),
				func(m *MeasurementView) (float64, bool) { return float64(m.Timeouts), true }},
			{newMetric("measurement_extraction_misses_total", "Selected lines from which no number could be extracted.", counter, h),
				func(m *MeasurementView) (float64, bool) { return float64(m.ExtractMisses), true }},
			{newMetric("measurement_key_rejects_total", "Keys refused by the rule's key type.", counter, h),
				func(m *MeasurementView) (float64, bool) { return float64(m.KeyRejects), true }},
			{newMetric("measurement_ignored_lines_total", "Selected lines not counted because their key is one of the rule's ignore_keys.", counter, h),
				func(m *MeasurementView) (float64, bool) { return float64(m.Ignored), true }},
		},
		classActive:    newMetric("class_active", "1 for a class that is set, 0 for one the rules can set that is not.", gauge, "class"),
		classRemaining: newMetric("class_remaining_seconds", "Seconds a persistent class stays set.", gauge, "class"),
		stream: []streamMetric{
			{newMetric("stream_lines_total", "Lines read from a stream.", counter, src), func(s *StreamView) uint64 { return s.Lines }},
			{newMetric("stream_bytes_total", "Bytes read from a stream.", counter, src), func(s *StreamView) uint64 { return s.Bytes }},
			{newMetric("stream_cut_lines_total", "Lines cut at the length cap.", counter, src), func(s *StreamView) uint64 { return s.Cut }},
			{newMetric("stream_rotations_total", "Rotations of a stream's files that were followed.", counter, src), func(s *StreamView) uint64 { return s.Rotations }},
			{newMetric("stream_truncations_total", "Truncations of a stream's files.", counter, src), func(s *StreamView) uint64 { return s.Truncations }},
			{newMetric("stream_open_errors_total", "Failures to open a stream's files.", counter, src), func(s *StreamView) uint64 { return s.OpenErrors }},
			{newMetric("stream_restarts_total", "Restarts of a stream's command.", counter, src), func(s *StreamView) uint64 { return s.Restarts }},
			{newMetric("stream_kills_total", "Kills of a stream's command.", counter, src), func(s *StreamView) uint64 { return s.Kills }},
			{newMetric("stream_losses_total", "Times lines of a stream may have been, or were, lost (each also logged as a WARN).", counter, src), func(s *StreamView) uint64 { return s.Losses }},
			{newMetric("stream_lost_bytes_total", "Bytes of a stream's files proven lost: written between logrotate's copy and its truncation, by a writer that left a hole of that size, or seen and never read.", counter, src), func(s *StreamView) uint64 { return s.LostBytes }},
			{newMetric("stream_up", "1 while a stream can be read, 0 while it cannot (its intervals are unavailable).", gauge, src), func(s *StreamView) uint64 {
				if s.Down {
					return 0
				}
				return 1
			}},
			{newMetric("stream_unavailable_intervals_total", "Intervals in which a stream could not be read: gaps, not zeros.", counter, src), func(s *StreamView) uint64 { return s.Unavailable }},
		},
		output: []outputMetric{
			{newMetric("output_sent_points_total", "Points an output delivered.", counter, out), func(o *OutputView) uint64 { return o.Sent }},
			{newMetric("output_failures_total", "Failed attempts to deliver to an output.", counter, out), func(o *OutputView) uint64 { return o.Failures }},
			{newMetric("output_invalid_points_total", "Points an output refused as invalid.", counter, out), func(o *OutputView) uint64 { return o.Invalid }},
			{newMetric("output_spool_points", "Points waiting in an output's spool.", gauge, out), func(o *OutputView) uint64 { return o.Depth }},
			{newMetric("output_spool_dropped_points_total", "Oldest points dropped because an output's spool was full.", counter, out), func(o *OutputView) uint64 { return o.DroppedFull }},
		},
		self: []selfMetric{
			{newMetric("commits_total", "Interval commits to the state file.", counter), func(s *SelfView) uint64 { return s.Commits }},
			{newMetric("commit_failures_total", "Failed interval commits.", counter), func(s *SelfView) uint64 { return s.CommitFailures }},
			{newMetric("reloads_total", "Rule reloads.", counter), func(s *SelfView) uint64 { return s.Reloads }},
			{newMetric("reload_failures_total", "Rule reloads refused; the old rules were kept.", counter), func(s *SelfView) uint64 { return s.ReloadFailures }},
			{newMetric("command_runs_total", "Commands and reports run.", counter), func(s *SelfView) uint64 { return s.CommandRuns }},
			{newMetric("command_failures_total", "Commands and reports that failed, timed out or were killed.", counter), func(s *SelfView) uint64 { return s.CommandFails }},
			{newMetric("command_suppressed_total", "Commands and reports not run because of ifelapsed or the concurrency limit.", counter), func(s *SelfView) uint64 { return s.Suppressed }},
		},
		viewFailed: newMetric("view_failed", "1 when this scrape could not build the daemon's view, else 0.", gauge),
	}
}

// collector builds metrics from a fresh View at each scrape.
type collector struct {
	s *Server
	f *families

	// The label pairs of the one-label series, by label name and value,
	// built once and shared by every scrape (read only once built): a
	// scrape of 1000 measurements has 20,000 such series, whose pairs
	// NewConstMetric would build again each time.
	mu    sync.Mutex
	pairs map[[2]string]*labelPairs
	gen   uint64 // scrapes begun
}

// labelPairs are the pairs of one label, and the last scrape that used
// them (those unused since are dropped when they are the most).
type labelPairs struct {
	pairs []*dto.LabelPair
	gen   uint64
}

// labelled returns the label pairs of name=value.
func (c *collector) labelled(name, value string, gen uint64) []*dto.LabelPair {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := [2]string{name, value}
	lp := c.pairs[k]
	if lp == nil {
		lp = &labelPairs{pairs: []*dto.LabelPair{{Name: &k[0], Value: &k[1]}}}
		if c.pairs == nil {
			c.pairs = make(map[[2]string]*labelPairs)
		}
		c.pairs[k] = lp
	}
	lp.gen = gen
	return lp.pairs
}

// prune drops the label pairs no scrape since gen used, once they are
// more than those it used.
func (c *collector) prune(gen uint64, used int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pairs) <= 2*used {
		return
	}
	for k, lp := range c.pairs {
		if lp.gen < gen {
			delete(c.pairs, k)
		}
	}
}

// labelledSample is a metric of one label whose pairs collector.labelled built.
type labelledSample struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	pairs []*dto.LabelPair
	val   float64
}

func (m *labelledSample) Desc() *prometheus.Desc { return m.desc }

func (m *labelledSample) Write(out *dto.Metric) error {
	out.Label = m.pairs
	v := m.val
	switch m.typ {
	case counter:
		out.Counter = &dto.Counter{Value: &v}
	default:
		out.Gauge = &dto.Gauge{Value: &v}
	}
	return nil
}

// Describe sends the description of every family.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	f := c.f
	for _, m := range []metric{f.build, f.started, f.interval, f.intervalStart, f.classActive, f.classRemaining, f.viewFailed} {
		ch <- m.desc
	}
	for _, m := range f.measurement {
		ch <- m.desc
	}
	for _, m := range f.stream {
		ch <- m.desc
	}
	for _, m := range f.output {
		ch <- m.desc
	}
	for _, m := range f.self {
		ch <- m.desc
	}
}

// Collect sends the metrics of one View.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	f := c.f
	v, err := c.s.view()
	if err != nil {
		c.s.log.Error("web metrics", "err", err)
		ch <- prometheus.MustNewConstMetric(f.viewFailed.desc, gauge, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(f.viewFailed.desc, gauge, 0)
	emit := func(m metric, val float64, labels ...string) {
		pm, err := prometheus.NewConstMetric(m.desc, m.typ, val, labels...)
		if err != nil {
			c.s.log.Warn("web metrics", "err", err)
			return
		}
		ch <- pm
	}
	c.mu.Lock()
	c.gen++
	gen := c.gen
	c.mu.Unlock()
	used := 0
	// emit1 sends a series of the one label name=value.
	emit1 := func(m metric, val float64, name, value string) {
		used++
		ch <- &labelledSample{desc: m.desc, typ: m.typ, pairs: c.labelled(name, value, gen), val: val}
	}
	defer func() { c.prune(gen, used) }()
	emit(f.build, 1, labelValue(v.Build.Version), labelValue(v.Build.Revision), strconv.FormatBool(v.Build.Modified), labelValue(v.Build.GoVersion))
	if !v.Started.IsZero() {
		emit(f.started, float64(v.Started.UnixNano())/1e9)
	}
	if v.Interval > 0 {
		emit(f.interval, v.Interval.Seconds())
	}
	if !v.IntervalStart.IsZero() {
		emit(f.intervalStart, float64(v.IntervalStart.UnixNano())/1e9)
	}

	// A label set may appear once per family: the first of duplicates wins.
	seen := make(map[string]bool)
	for i := range v.Measurements {
		m := &v.Measurements[i]
		h := labelValue(m.Handle)
		if seen[h] {
			continue
		}
		seen[h] = true
		for _, mm := range f.measurement {
			if val, ok := mm.get(m); ok {
				emit1(mm.metric, num.Round(val, num.Digits), "handle", h)
			}
		}
	}

	// Classes: one series per name, the longest persistence if repeated.
	until := make(map[string]float64)
	var order []string
	for _, cl := range v.Classes {
		n := labelValue(cl.Name)
		rem := -1.0
		if !cl.Until.IsZero() {
			rem = max(cl.Until.Sub(v.Now).Seconds(), 0)
		}
		if old, ok := until[n]; !ok {
			order = append(order, n)
			until[n] = rem
		} else {
			until[n] = max(old, rem)
		}
	}
	for _, n := range order {
		emit1(f.classActive, 1, "class", n)
		if until[n] >= 0 {
			emit1(f.classRemaining, until[n], "class", n)
		}
	}
	// A class that falls goes to 0 rather than vanishing: every class the
	// rules can set is a series.
	for _, c := range v.KnownClasses {
		n := labelValue(c)
		if _, set := until[n]; set || c == "any" { // any is always set
			continue
		}
		until[n] = -1
		emit1(f.classActive, 0, "class", n)
	}

	clear(seen)
	for i := range v.Streams {
		st := &v.Streams[i]
		src := labelValue(st.Source)
		if seen[src] {
			continue
		}
		seen[src] = true
		for _, sm := range f.stream {
			emit(sm.metric, float64(sm.get(st)), src)
		}
	}

	clear(seen)
	for i := range v.Outputs {
		o := &v.Outputs[i]
		name := labelValue(o.Name)
		if seen[name] {
			continue
		}
		seen[name] = true
		for _, om := range f.output {
			emit(om.metric, float64(om.get(o)), name)
		}
	}

	for _, sm := range f.self {
		emit(sm.metric, float64(sm.get(&v.Self)))
	}
}

// labelValue makes s a valid label value: valid UTF-8 without control
// characters, at most maxLabel bytes.
func labelValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, s)
	if len(s) > maxLabel {
		cut := maxLabel
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
