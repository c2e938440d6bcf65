package web

import (
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches /metrics from a Server for src and parses it back.
func scrape(t *testing.T, src Source) map[string]*dto.MetricFamily {
	t.Helper()
	rec := get(t, New(src, nil).Handler(), "/metrics")
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics: content type %q", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// series finds the value of the series of family name with exactly the
// given labels.
func series(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, dto.MetricType, bool) {
	mf := fams[name]
	if mf == nil {
		return 0, 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if labels[lp.GetName()] != lp.GetValue() {
				continue next
			}
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), mf.GetType(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), mf.GetType(), true
		default:
			return m.GetUntyped().GetValue(), mf.GetType(), true
		}
	}
	return 0, 0, false
}

func TestMetricsValues(t *testing.T) {
	fams := scrape(t, staticSource{fixture(t)})
	G, C := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	h := func(v string) map[string]string { return map[string]string{"handle": v} }
	src := func(v string) map[string]string { return map[string]string{"source": v} }
	out := func(v string) map[string]string { return map[string]string{"output": v} }
	cls := func(v string) map[string]string { return map[string]string{"class": v} }
	tests := []struct {
		name   string
		labels map[string]string
		typ    dto.MetricType
		want   float64
	}{
		{"logtally_build_info", map[string]string{"version": "v1.2.0", "revision": "4ddfd7e0123456789abcdef0123456789abcdef0", "modified": "false", "goversion": "go1.26.8"}, G, 1},
		{"logtally_interval_seconds", nil, G, 300},
		{"logtally_start_time_seconds", nil, G, float64(fixtureNow().Add(-(76*time.Hour + 12*time.Minute)).Unix())},
		{"logtally_interval_start_time_seconds", nil, G, float64(fixtureNow().Truncate(5 * time.Minute).Unix())},
		{"logtally_view_failed", nil, G, 0},
		{"logtally_measurement_value", h("ssh_username_probe"), G, 42},
		{"logtally_measurement_average", h("ssh_username_probe"), G, 6.5},
		{"logtally_measurement_deviation", h("ssh_username_probe"), G, 3.1},
		{"logtally_measurement_z", h("ssh_username_probe"), G, 11.4},
		{"logtally_measurement_z", h("postfix_reject"), G, -0.4},
		{"logtally_measurement_value_total", h("ssh_username_probe"), C, 18234},
		{"logtally_measurement_accumulated", h("smtp_delay"), G, 921.5},
		{"logtally_measurement_last_sample_time_seconds", h("smtp_delay"), G, float64(fixtureNow().Truncate(5 * time.Minute).Unix())},
		{"logtally_measurement_value", h("smtp_delay"), G, 0.184},
		{"logtally_measurement_lines_total", h("ssh_username_probe"), C, 1204331},
		{"logtally_measurement_selected_lines_total", h("ssh_username_probe"), C, 18234},
		{"logtally_measurement_regex_timeouts_total", h("milter_errors"), C, 3},
		{"logtally_measurement_extraction_misses_total", h("milter_errors"), C, 12},
		{"logtally_measurement_key_rejects_total", h("postfix_reject"), C, 2},
		{"logtally_class_active", cls("ssh_username_probe_high_anomaly"), G, 1},
		{"logtally_class_active", cls("postfix_reject_normal"), G, 1},
		// A class that falls is 0, not gone.
		{"logtally_class_active", cls("ssh_username_probe_low"), G, 0},
		{"logtally_class_active", cls("postfix_reject_high_anomaly"), G, 0},
		{"logtally_class_remaining_seconds", cls("ssh_username_probe_high_anomaly"), G, 570},
		{"logtally_class_remaining_seconds", cls("probe_storm"), G, 3300},
		{"logtally_stream_lines_total", src("/var/log/auth.log"), C, 1204331},
		{"logtally_stream_bytes_total", src("/var/log/auth.log"), C, 151022313},
		{"logtally_stream_cut_lines_total", src("/var/log/mail.log"), C, 4},
		{"logtally_stream_rotations_total", src("/var/log/auth.log"), C, 3},
		{"logtally_stream_truncations_total", src("/var/log/mail.log"), C, 1},
		{"logtally_stream_open_errors_total", src("ss -ltnH"), C, 1},
		{"logtally_stream_restarts_total", src("ss -ltnH"), C, 2},
		{"logtally_stream_kills_total", src("ss -ltnH"), C, 1},
		{"logtally_output_sent_points_total", out("influxdb"), C, 120345},
		{"logtally_output_failures_total", out("influxdb"), C, 3},
		{"logtally_output_invalid_points_total", out("stdout"), C, 0},
		{"logtally_output_spool_points", out("influxdb"), G, 42},
		{"logtally_output_spool_dropped_points_total", out("influxdb"), C, 0},
		{"logtally_commits_total", nil, C, 913},
		{"logtally_commit_failures_total", nil, C, 0},
		{"logtally_reloads_total", nil, C, 2},
		{"logtally_reload_failures_total", nil, C, 1},
		{"logtally_command_runs_total", nil, C, 7},
		{"logtally_command_failures_total", nil, C, 1},
		{"logtally_command_suppressed_total", nil, C, 4},
	}
	for _, tt := range tests {
		got, typ, ok := series(fams, tt.name, tt.labels)
		if !ok {
			t.Errorf("%s%v: no such series", tt.name, tt.labels)
			continue
		}
		if typ != tt.typ || got != tt.want {
			t.Errorf("%s%v = %v (%v), want %v (%v)", tt.name, tt.labels, got, typ, tt.want, tt.typ)
		}
	}
}

func TestMetricsAbsentSeries(t *testing.T) {
	fams := scrape(t, staticSource{fixture(t)})
	tests := []struct {
		name   string
		labels map[string]string
	}{
		// milter_errors has no committed sample yet.
		{"logtally_measurement_value", map[string]string{"handle": "milter_errors"}},
		{"logtally_measurement_z", map[string]string{"handle": "milter_errors"}},
		{"logtally_measurement_last_sample_time_seconds", map[string]string{"handle": "milter_errors"}},
		// A class set for this interval only has no remaining time.
		{"logtally_class_remaining_seconds", map[string]string{"class": "ssh_username_probe_high"}},
	}
	for _, tt := range tests {
		if v, _, ok := series(fams, tt.name, tt.labels); ok {
			t.Errorf("%s%v = %v, want no series", tt.name, tt.labels, v)
		}
	}
	if n := len(fams["logtally_class_active"].GetMetric()); n != 8 {
		t.Errorf("logtally_class_active has %d series, want the 6 set and the 2 not set", n)
	}
	if _, _, ok := series(fams, "logtally_class_active", map[string]string{"class": "any"}); ok {
		t.Error("logtally_class_active{class=\"any\"}: any is always set, and no series")
	}
	if _, _, ok := series(fams, "logtally_measurement_accumulated", map[string]string{"handle": "ssh_username_probe"}); ok {
		t.Error("a counter's sum is a gauge too")
	}
}

// TestMetricsConventions checks names, types and labels against the
// Prometheus conventions, and that no text from a log is a label value.
func TestMetricsConventions(t *testing.T) {
	v := fixture(t)
	fams := scrape(t, staticSource{v})
	allowed := map[string]bool{"handle": true, "class": true, "source": true, "output": true,
		"version": true, "revision": true, "modified": true, "goversion": true} // build_info
	var names []string
	for name := range fams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		mf := fams[name]
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue
		}
		if !strings.HasPrefix(name, "logtally_") {
			t.Errorf("%s: not under logtally_", name)
		}
		if mf.GetHelp() == "" {
			t.Errorf("%s: no help", name)
		}
		counter := mf.GetType() == dto.MetricType_COUNTER
		if counter != strings.HasSuffix(name, "_total") {
			t.Errorf("%s: type %v; counters, and only counters, end in _total", name, mf.GetType())
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if !allowed[lp.GetName()] {
					t.Errorf("%s: label %q", name, lp.GetName())
				}
				for _, meas := range v.Measurements {
					if meas.TopKey != "" && strings.Contains(lp.GetValue(), meas.TopKey) {
						t.Errorf("%s: label %s=%q carries the top key %q", name, lp.GetName(), lp.GetValue(), meas.TopKey)
					}
				}
			}
		}
	}
	// The process and Go collectors are on the Server's own registry.
	for _, want := range []string{"process_resident_memory_bytes", "go_goroutines"} {
		if fams[want] == nil {
			t.Errorf("no %s", want)
		}
	}
}

// TestMetricsHostileLabels feeds label values no rule should produce but a
// bug might: the exposition must still parse, every value be valid UTF-8
// without control characters, and long values be capped.
func TestMetricsHostileLabels(t *testing.T) {
	v := hostile(t)
	v.Streams[1].Source = strings.Repeat("x", 10000)
	fams := scrape(t, staticSource{v})
	if fams["logtally_measurement_value"] == nil || len(fams["logtally_measurement_value"].GetMetric()) != 3 {
		t.Fatalf("measurement_value series: %v", fams["logtally_measurement_value"])
	}
	n := 0
	for name, mf := range fams {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				n++
				val := lp.GetValue()
				if !utf8.ValidString(val) {
					t.Errorf("%s: label %s=%q is not UTF-8", name, lp.GetName(), val)
				}
				if strings.ContainsFunc(val, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
					t.Errorf("%s: label %s=%q has control characters", name, lp.GetName(), val)
				}
				if len(val) > maxLabel+len("…") {
					t.Errorf("%s: label %s is %d bytes", name, lp.GetName(), len(val))
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no labels seen")
	}
	if _, _, ok := series(fams, "logtally_output_sent_points_total", map[string]string{"output": hScript}); !ok {
		t.Errorf("output %q lost", hScript)
	}
}

func TestMetricsDuplicates(t *testing.T) {
	v := fixture(t)
	dup := v.Measurements[0]
	dup.Value = f64(-1)
	v.Measurements = append(v.Measurements, dup)
	v.Classes = append(v.Classes, ClassView{Name: "probe_storm", Until: fixtureNow().Add(2 * time.Hour)})
	v.Streams = append(v.Streams, v.Streams[0])
	v.Outputs = append(v.Outputs, v.Outputs[0])
	fams := scrape(t, staticSource{v})
	if got, _, _ := series(fams, "logtally_measurement_value", map[string]string{"handle": "ssh_username_probe"}); got != 42 {
		t.Errorf("duplicate handle: value %v, want the first, 42", got)
	}
	if got, _, _ := series(fams, "logtally_class_remaining_seconds", map[string]string{"class": "probe_storm"}); got != 7200 {
		t.Errorf("repeated class: remaining %v, want the longest, 7200", got)
	}
}

func TestMetricsPanickingSource(t *testing.T) {
	fams := scrape(t, panicSource{})
	if got, _, ok := series(fams, "logtally_view_failed", nil); !ok || got != 1 {
		t.Errorf("logtally_view_failed = %v, %v; want 1", got, ok)
	}
	if fams["process_resident_memory_bytes"] == nil {
		t.Error("a failing view hides the process metrics")
	}
}

// TestMetricsOneViewPerScrape checks that a scrape builds one View, however
// many families it fills.
func TestMetricsOneViewPerScrape(t *testing.T) {
	src := &countingSource{v: fixture(t)}
	h := New(src, nil).Handler()
	for i := 1; i <= 3; i++ {
		if rec := get(t, h, "/metrics"); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		if got := src.n.Load(); got != int64(i) {
			t.Fatalf("after %d scrapes, %d views", i, got)
		}
	}
}

func TestLabelValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ssh_probe", "ssh_probe"},
		{"a\nb", "a\uFFFDb"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"tab\there", "tab\uFFFDhere"},
		{strings.Repeat("é", 200), strings.Repeat("é", 128) + "…"},
		{strings.Repeat("a", 255) + "é", strings.Repeat("a", 255) + "…"},
	}
	for _, tt := range tests {
		if got := labelValue(tt.in); got != tt.want {
			t.Errorf("labelValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
