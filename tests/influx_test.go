package tests

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/logtally/logtally/internal/testutil"
	"github.com/logtally/logtally/output/influxtest"
)

// outputSeries returns the output label of the /metrics series of the
// destination whose name contains part.
func outputSeries(fams map[string]*dto.MetricFamily, part string) string {
	for _, m := range fams["logtally_output_spool_points"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "output" && strings.Contains(l.GetValue(), part) {
				return l.GetValue()
			}
		}
	}
	return ""
}

// pointKey identifies a point as InfluxDB does: measurement, tags, time.
func pointKey(measurement string, tags map[string]string, ts time.Time) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(measurement)
	for _, k := range keys {
		fmt.Fprintf(&b, ",%s=%s", k, tags[k])
	}
	fmt.Fprintf(&b, " %d", ts.UnixNano())
	return b.String()
}

// queryPoints reads every point of a measurement back from InfluxDB, by
// pointKey, with its fields as float64 (integers included).
func queryPoints(t *testing.T, srv *influxtest.Server, db, measurement string, tagKeys ...string) map[string]map[string]float64 {
	t.Helper()
	series, err := srv.Query(db, fmt.Sprintf("SELECT * FROM %q", measurement))
	if err != nil {
		t.Fatalf("query %s: %v", measurement, err)
	}
	isTag := map[string]bool{}
	for _, k := range tagKeys {
		isTag[k] = true
	}
	out := map[string]map[string]float64{}
	for _, s := range series {
		for _, row := range s.Values {
			tags := map[string]string{}
			fields := map[string]float64{}
			var ts time.Time
			for i, col := range s.Columns {
				v := row[i]
				if v == nil {
					continue
				}
				switch {
				case col == "time":
					ns, err := v.(json.Number).Int64()
					if err != nil {
						t.Fatalf("time %v: %v", v, err)
					}
					ts = time.Unix(0, ns)
				case isTag[col]:
					tags[col] = fmt.Sprint(v)
				default:
					n, ok := v.(json.Number)
					if !ok {
						t.Fatalf("%s: field %s is %T %v", measurement, col, v, v)
					}
					f, err := n.Float64()
					if err != nil {
						t.Fatalf("%s: field %s: %v", measurement, col, err)
					}
					fields[col] = f
				}
			}
			out[pointKey(measurement, tags, ts)] = fields
		}
	}
	return out
}

// TestInfluxOutage: the daemon writes to a real InfluxDB while a log
// grows steadily; the server is stopped for several intervals and started
// again. After SIGTERM every point is in the database, each once, with the
// values of the samples: the same points a file destination received, and
// the sample values sum to the lines written.
func TestInfluxOutage(t *testing.T) {
	srv := influxtest.New(t, influxtest.Options{})
	srv.CreateDatabase("lt")
	r := newRig(t, "")
	log := r.path("app.log")
	writeFile(t, log, "")
	writeFile(t, r.rules, fmt.Sprintf(`measurements:
  - handle: all
    path: %[1]s
    select_line_matching: 'seq \d+'
  - handle: odd
    path: %[1]s
    select_line_matching: 'seq \d*[13579]'
    history_type: scalar
`, log))
	d := startDaemon(t, daemonOpts{rules: r.rules, state: r.state, output: srv.URL() + "/write?db=lt",
		extra: []string{"--output", r.outLP, "--listen", "127.0.0.1:0"}})
	addr := d.webAddr()
	d.waitLog(`event=open `, 1)
	w := newSteadyWriter(t, log, 20*time.Millisecond, 1)
	w.start()

	fams := scrape(t, addr)
	httpOut := outputSeries(fams, "http-")
	if httpOut == "" {
		t.Fatalf("no output series for %s in /metrics", srv.URL())
	}
	metric := func(family string) float64 {
		v, _ := metricValue(scrape(t, addr), family, "output", httpOut)
		return v
	}
	testutil.WaitForWhy(t, waitTimeout, "points to reach InfluxDB", func() (bool, string) {
		n := metric("logtally_output_sent_points_total")
		return n >= 6, fmt.Sprintf("%v sent", n)
	})

	// The outage: several intervals without the server; points pile up in
	// the spool.
	srv.Stop()
	down := time.Now()
	commits, _ := metricValue(scrape(t, addr), "logtally_commits_total", "", "")
	testutil.WaitForWhy(t, waitTimeout, "intervals to pass during the outage", func() (bool, string) {
		n, _ := metricValue(scrape(t, addr), "logtally_commits_total", "", "")
		return n >= commits+5, fmt.Sprintf("%v commits", n)
	})
	if depth := metric("logtally_output_spool_points"); depth < 5 {
		t.Errorf("spool holds %v points during the outage, want the intervals' points", depth)
	}
	if f := metric("logtally_output_failures_total"); f == 0 {
		t.Errorf("no failed attempt counted during the outage")
	}
	srv.Start()
	up := time.Now()
	testutil.WaitForWhy(t, time.Minute, "the spool to drain after the server is back", func() (bool, string) {
		n := metric("logtally_output_spool_points")
		return n == 0, fmt.Sprintf("%v points spooled", n)
	})
	written := w.finish()
	waitTotal(t, r.state, "all", written)
	d.stop()

	// The file destination got every point; dedupe by key as InfluxDB
	// does (a later point for a key replaces an earlier one).
	want := map[string]map[string]float64{}
	wantTime := map[string]time.Time{}
	sum := 0.0
	for _, p := range decodeLPFile(t, r.outLP) {
		fields := map[string]float64{}
		for k, v := range p.fields {
			switch v := v.(type) {
			case float64:
				fields[k] = v
			case int64:
				fields[k] = float64(v)
			default:
				t.Fatalf("point %q: field %s is %T", p.line, k, v)
			}
		}
		want[pointKey(p.measurement, p.tags, p.ts)] = fields
		wantTime[pointKey(p.measurement, p.tags, p.ts)] = p.ts
		if p.measurement == "all" {
			sum += fields["value"]
		}
	}
	if sum != float64(written) {
		t.Errorf("the points of all sum to %v, want the %d lines written", sum, written)
	}
	got := map[string]map[string]float64{}
	for _, m := range []struct {
		name string
		tags []string
	}{{"all", []string{"host"}}, {"odd", []string{"host"}}, {"logtally_class", []string{"host", "class"}}} {
		for k, v := range queryPoints(t, srv, "lt", m.name, m.tags...) {
			got[k] = v
		}
	}
	perMeasurement := map[string]int{}
	duringOutage := 0
	for k, wf := range want {
		perMeasurement[strings.SplitN(k, ",", 2)[0]]++
		if ts := wantTime[k]; strings.HasPrefix(k, "all,") && ts.After(down) && !ts.After(up) {
			duringOutage++
		}
		gf, ok := got[k]
		if !ok {
			t.Errorf("lost: %s is not in InfluxDB", k)
			continue
		}
		if !sameFields(gf, wf) {
			t.Errorf("%s: InfluxDB has %v, the samples %v", k, gf, wf)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("InfluxDB has %s, which no sample wrote", k)
		}
	}
	st := readStatus(t, r.state)
	for _, h := range []string{"all", "odd"} {
		m, _ := st.measurement(h)
		// One point per committed complete interval: the interval
		// SIGTERM closed early is written once, complete, by the next
		// run.
		if want := int(m.Samples); perMeasurement[h] != want {
			t.Errorf("%s: %d points, want one per committed interval (%d)", h, perMeasurement[h], want)
		}
	}
	if duringOutage < 4 {
		t.Errorf("%d points of intervals that ended while InfluxDB was down, want the outage's (5)", duringOutage)
	}
	if perMeasurement["logtally_class"] == 0 {
		t.Errorf("no class change point")
	}
	t.Logf("%d points checked in InfluxDB (%v), %d of them from the outage", len(want), perMeasurement, duringOutage)
}

// sameFields compares two points' fields exactly.
func sameFields(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
