package web

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"google.golang.org/protobuf/proto"

	"github.com/logtally/logtally/internal/num"
)

// sample is one float sample as Prometheus' own scrape parser reads it.
type sample struct {
	series string // labels.Labels.String(), with __name__
	v      float64
}

// promParse parses an exposition with the parser a Prometheus server
// scrapes with (model/textparse), chosen by the content type as a scrape
// chooses it, and returns its float samples in order.
func promParse(t testing.TB, body []byte, contentType string) []sample {
	t.Helper()
	p, err := textparse.New(body, contentType, nil, textparse.ParserOptions{})
	if err != nil || p == nil {
		t.Fatalf("content type %q: no parser: %v", contentType, err)
	}
	var out []sample
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s does not parse: %v\n%s", contentType, err, body)
		}
		if e != textparse.EntrySeries {
			continue
		}
		_, _, v := p.Series()
		var l labels.Labels
		p.Labels(&l)
		out = append(out, sample{l.String(), v})
	}
}

// sameValue is == for floats, with NaN equal to NaN.
func sameValue(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// valueToken is the last token of a sample line: its value, in an
// exposition without timestamps and exemplars.
var valueToken = regexp.MustCompile(`(?m)^[^#\n].* (\S+)$`)

// checkPlain fails when a sample value of a text exposition is written
// with an exponent although its magnitude is in num.Exact's plain range,
// or without one outside it.
func checkPlain(t testing.TB, body []byte, openMetrics bool) {
	t.Helper()
	for _, m := range valueToken.FindAllSubmatch(body, -1) {
		tok := string(m[1])
		v, err := strconv.ParseFloat(tok, 64)
		if err != nil {
			t.Fatalf("value %q: %v", tok, err)
		}
		a := math.Abs(v)
		plain := a == 0 || a >= num.Epsilon && a < num.PlainMax || math.IsInf(v, 0) || math.IsNaN(v)
		if strings.ContainsAny(tok, "eE") == plain {
			t.Errorf("%q: value written as %s", m[0], tok)
		}
	}
	if openMetrics && !bytes.HasSuffix(body, []byte("# EOF\n")) {
		t.Errorf("OpenMetrics without # EOF")
	}
}

// TestMetricsExposition scrapes /metrics as Prometheus 2 and 3, curl,
// and clients asking for each format, compressed or not, and reads every
// answer with Prometheus' own parser: the values of logtally's series are
// exactly those gathered, written in plain digits (1204331, not
// 1.204331e+06; 1204331.0 in OpenMetrics, where a float has a point).
func TestMetricsExposition(t *testing.T) {
	v := fixture(t)
	v.Measurements[0].Value = f64(63245916)
	v.Measurements[0].Av = f64(1.5e-5)
	v.Measurements[0].Dev = f64(2.5e21)
	s := New(staticSource{v}, nil)
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "logtally_") {
			continue // the Go and process collectors change between scrapes
		}
		for _, m := range mf.GetMetric() {
			lm := map[string]string{"__name__": mf.GetName()}
			for _, lp := range m.GetLabel() {
				lm[lp.GetName()] = lp.GetValue()
			}
			val := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			want[labels.FromMap(lm).String()] = val
		}
	}
	const (
		prom2 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
		prom3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
	)
	for _, tc := range []struct {
		name, accept, encoding string
		typ                    expfmt.FormatType
	}{
		{"no Accept", "", "", expfmt.TypeTextPlain},
		{"curl", "*/*", "", expfmt.TypeTextPlain},
		{"Prometheus 2", prom2, "gzip", expfmt.TypeOpenMetrics},
		{"Prometheus 3", prom3, "gzip", expfmt.TypeOpenMetrics},
		{"text 0.0.4", "text/plain;version=0.0.4", "", expfmt.TypeTextPlain},
		{"text 0.0.4 gzip", "text/plain;version=0.0.4", "gzip, deflate", expfmt.TypeTextPlain},
		{"gzip refused", "text/plain;version=0.0.4", "gzip;q=0, identity", expfmt.TypeTextPlain},
		{"OpenMetrics 0.0.1", "application/openmetrics-text;version=0.0.1", "", expfmt.TypeOpenMetrics},
		{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "gzip", expfmt.TypeProtoDelim},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			if tc.encoding != "" {
				req.Header.Set("Accept-Encoding", tc.encoding)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			ct := rec.Header().Get("Content-Type")
			if got := expfmt.Format(ct).FormatType(); got != tc.typ {
				t.Fatalf("Content-Type %q, want format %v", ct, tc.typ)
			}
			body := rec.Body.Bytes()
			gzipped := rec.Header().Get("Content-Encoding") == "gzip"
			if gzipped != (tc.encoding != "" && !strings.Contains(tc.encoding, "q=0")) || !strings.Contains(strings.Join(rec.Header().Values("Vary"), ","), "Accept-Encoding") {
				t.Fatalf("Content-Encoding %q, Vary %q for Accept-Encoding %q", rec.Header().Get("Content-Encoding"), rec.Header().Values("Vary"), tc.encoding)
			}
			if gzipped {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			got := map[string]float64{}
			for _, smp := range promParse(t, body, ct) {
				if strings.Contains(smp.series, `__name__="logtally_`) {
					got[smp.series] = smp.v
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d logtally series, want %d", len(got), len(want))
			}
			for series, w := range want {
				if g, ok := got[series]; !ok || !sameValue(g, w) {
					t.Errorf("%s = %v (present %v), want %v", series, g, ok, w)
				}
			}
			switch tc.typ {
			case expfmt.TypeTextPlain:
				checkPlain(t, body, false)
				tp := expfmt.NewTextParser(model.LegacyValidation)
				if _, err := tp.TextToMetricFamilies(bytes.NewReader(body)); err != nil {
					t.Errorf("expfmt does not parse it: %v", err)
				}
				for _, line := range []string{
					`logtally_measurement_value{handle="ssh_username_probe"} 63245916`,
					`logtally_measurement_average{handle="ssh_username_probe"} 0.000015`,
					`logtally_measurement_deviation{handle="ssh_username_probe"} 2.5e+21`,
					`logtally_stream_bytes_total{source="/var/log/auth.log"} 151022313`,
				} {
					if !bytes.Contains(body, []byte(line+"\n")) {
						t.Errorf("no line %s", line)
					}
				}
			case expfmt.TypeOpenMetrics:
				checkPlain(t, body, true)
				for _, line := range []string{
					`logtally_measurement_value{handle="ssh_username_probe"} 63245916.0`,
					`logtally_measurement_average{handle="ssh_username_probe"} 0.000015`,
					`logtally_measurement_deviation{handle="ssh_username_probe"} 2.5e+21`,
					`logtally_stream_bytes_total{source="/var/log/auth.log"} 151022313.0`,
				} {
					if !bytes.Contains(body, []byte(line+"\n")) {
						t.Errorf("no line %s", line)
					}
				}
			}
		})
	}
}

// metricFamilies are families as client_golang gathers them, with the
// values and a label value of a fuzz case.
func metricFamilies(label string, a, b float64) []*dto.MetricFamily {
	lp := func(v string) []*dto.LabelPair {
		return []*dto.LabelPair{{Name: proto.String("handle"), Value: proto.String(v)}}
	}
	return []*dto.MetricFamily{
		{Name: proto.String("x_value"), Help: proto.String(`help with "e+07" \ and ` + label), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{
			{Label: lp(label), Gauge: &dto.Gauge{Value: proto.Float64(a)}},
			{Label: lp(label + `"} 1e+07 `), Gauge: &dto.Gauge{Value: proto.Float64(b)}},
		}},
		{Name: proto.String("x_lines_total"), Help: proto.String("lines"), Type: dto.MetricType_COUNTER.Enum(), Metric: []*dto.Metric{
			{Label: lp(label), Counter: &dto.Counter{Value: proto.Float64(math.Abs(a))}},
		}},
		{Name: proto.String("x_seconds"), Help: proto.String("durations"), Type: dto.MetricType_SUMMARY.Enum(), Metric: []*dto.Metric{
			{Label: lp(label), Summary: &dto.Summary{SampleCount: proto.Uint64(12345678), SampleSum: proto.Float64(b), Quantile: []*dto.Quantile{
				{Quantile: proto.Float64(0.5), Value: proto.Float64(a)}, {Quantile: proto.Float64(1), Value: proto.Float64(b)},
			}}},
		}},
	}
}

// FuzzPlainExposition: whatever the values and the label text, the
// rewritten exposition (text and OpenMetrics) reads back in Prometheus'
// parser as exactly the same samples as expfmt's own, with values in
// plain digits inside num.Exact's range.
func FuzzPlainExposition(f *testing.F) {
	for _, v := range []float64{63245916, 1.5e-5, 4e-7, 1e21, -2.5e300, 0.1 + 0.2, 1, 0, math.NaN(), math.Inf(-1)} {
		f.Add(`web1 {"a"}`, math.Float64bits(v), math.Float64bits(v*7))
	}
	f.Add(`\"} 1e+07 # {a="b"} 1`, uint64(0x4170000000000000), uint64(1))
	f.Fuzz(func(t *testing.T, label string, a, b uint64) {
		if !utf8.ValidString(label) {
			return // client_golang refuses such a label value before encoding
		}
		fams := metricFamilies(label, math.Float64frombits(a), math.Float64frombits(b))
		for _, format := range []expfmt.Format{expfmt.FmtText, expfmt.FmtOpenMetrics_1_0_0} {
			var buf bytes.Buffer
			enc := expfmt.NewEncoder(&buf, format)
			for _, mf := range fams {
				if err := enc.Encode(mf); err != nil {
					t.Fatalf("encode: %v", err)
				}
			}
			if c, ok := enc.(expfmt.Closer); ok {
				c.Close()
			}
			orig := buf.Bytes()
			om := format.FormatType() == expfmt.TypeOpenMetrics
			got := plainExposition(bytes.Clone(orig), om)
			want, have := promParse(t, orig, string(format)), promParse(t, got, string(format))
			if len(want) != len(have) {
				t.Fatalf("%d samples, want %d:\n%s\nfrom\n%s", len(have), len(want), got, orig)
			}
			for i := range want {
				if want[i].series != have[i].series || !sameValue(want[i].v, have[i].v) {
					t.Fatalf("sample %d = %s %v, want %s %v:\n%s", i, have[i].series, have[i].v, want[i].series, want[i].v, got)
				}
			}
			checkPlain(t, got, om)
		}
	})
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip;q=0.5": true, "gzip;q=0": false, "gzip; q=0.0, identity": false,
		"*": true, "br, *;q=0.1": true, "identity": false, "x-gzip": false,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}

// TestPlainValuesChunks: however next splits what it writes, plainValues
// serves what plainExposition makes of the whole, compressed or not, and
// passes other content types and error statuses unchanged.
func TestPlainValuesChunks(t *testing.T) {
	const text = "# HELP a_b A.\n# TYPE a_b gauge\na_b{h=\"x y\"} 6.3245916e+07\na_b{h=\"z\"} 1.5e-05\na_b{h=\"w\"} 12\nc 2.5e+21"
	const om = "# TYPE a gauge\na 1e+06\na{b=\"}\"} 7\n# EOF\n"
	for _, tc := range []struct {
		name, ctype, body string
		code              int
		want              string
	}{
		{"text", string(expfmt.FmtText), text, 0, string(plainExposition([]byte(text), false))},
		{"OpenMetrics", string(expfmt.FmtOpenMetrics_1_0_0), om, 0, string(plainExposition([]byte(om), true))},
		{"protobuf", string(expfmt.NewFormat(expfmt.TypeProtoDelim)), text, 0, text},
		{"error", string(expfmt.FmtText), text, http.StatusServiceUnavailable, text},
		{"empty", string(expfmt.FmtText), "", 0, ""},
	} {
		for _, chunk := range []int{1, 3, 7, 1 << 20} {
			for _, gz := range []bool{false, true} {
				h := plainValues(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", tc.ctype)
					if tc.code != 0 {
						w.WriteHeader(tc.code)
					}
					for b := []byte(tc.body); len(b) > 0; {
						n := min(chunk, len(b))
						w.Write(b[:n])
						b = b[n:]
					}
				}))
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				if gz {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				body := rec.Body.Bytes()
				if rec.Header().Get("Content-Encoding") == "gzip" {
					zr, err := gzip.NewReader(bytes.NewReader(body))
					if err != nil {
						t.Fatalf("%s: %v", tc.name, err)
					}
					if body, err = io.ReadAll(zr); err != nil {
						t.Fatalf("%s: %v", tc.name, err)
					}
				} else if gz && tc.body != "" {
					t.Errorf("%s, chunks of %d: not compressed", tc.name, chunk)
				}
				if string(body) != tc.want {
					t.Errorf("%s, chunks of %d, gzip %v:\n%q\nwant\n%q", tc.name, chunk, gz, body, tc.want)
				}
				if want := max(tc.code, http.StatusOK); rec.Code != want || rec.Header().Get("Content-Type") != tc.ctype {
					t.Errorf("%s: status %d, type %q", tc.name, rec.Code, rec.Header().Get("Content-Type"))
				}
			}
		}
	}
}
