package actions

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/state"
)

// benchRules is a large host: 100 weekly measurements with keys, 20 user
// classes, 50 commands and 50 reports.
func benchRules(b *testing.B) string {
	var s strings.Builder
	s.WriteString("measurements:\n")
	for i := range 100 {
		fmt.Fprintf(&s, "  - {handle: m%d, path: /var/log/m.log, select_line_matching: '.*', key: 'from (\\S+)'}\n", i)
	}
	s.WriteString("classes:\n")
	for i := range 20 {
		fmt.Fprintf(&s, "  u%d: m%d_high_anomaly.entropy_m%d_low | u%d\n", i, i, i, (i+1)%20)
	}
	s.WriteString("commands:\n")
	for i := range 50 {
		fmt.Fprintf(&s, "  - {handle: c%d, if: 'm%d_high_dev2|u%d', command: [/bin/true, '$(top_m%d)', '$(value_m%d)'], ifelapsed: 30m}\n", i, i, i%20, i, i)
	}
	s.WriteString("reports:\n")
	for i := range 50 {
		fmt.Fprintf(&s, "  - {handle: r%d, if: m%d_high_anomaly, message: 'm%d $(value_m%d) from $(top_m%d)', ifelapsed: 1h}\n", i, i+50, i, i, i)
	}
	return s.String()
}

// BenchmarkDecide measures one interval's decision and commit for a large
// host, with the classes changing every interval.
func BenchmarkDecide(b *testing.B) {
	set := loadRules(b, benchRules(b))
	st, err := state.Open(filepath.Join(b.TempDir(), "state.db"), state.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	e, err := New(set, Options{DryRun: true})
	if err != nil {
		b.Fatal(err)
	}
	vars := map[string]float64{}
	keys := map[string]string{}
	for i := range 100 {
		m := fmt.Sprintf("m%d", i)
		vars["value_"+m], vars["av_"+m], vars["dev_"+m], vars["z_"+m] = 120, 30.5, 12.25, 7.3
		keys["top_"+m] = "192.0.2.1"
	}
	end := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; b.Loop(); n++ {
		end = end.Add(5 * time.Minute)
		var classes []string
		for i := range 100 {
			m := fmt.Sprintf("m%d", i)
			switch (n + i) % 7 {
			case 0:
				classes = append(classes, m+"_high", m+"_high_dev1", m+"_high_dev2", m+"_high_anomaly", "entropy_"+m+"_low")
			case 1, 2:
				classes = append(classes, m+"_low", "entropy_"+m+"_high")
			default:
				classes = append(classes, m+"_normal", "entropy_"+m+"_medium")
			}
		}
		err := st.Update(func(tx *state.Tx) error {
			_, err := e.Decide(tx, Interval{Start: end.Add(-5 * time.Minute), End: end, Classes: classes, Vars: vars, Keys: keys})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReportMessage measures expanding a report with a long key.
func BenchmarkReportMessage(b *testing.B) {
	x := newExpander(b, &Interval{End: time.Now(), Vars: map[string]float64{"value_h": 12345, "av_h": 3.5},
		Keys: map[string]string{"top_h": hostileKey}})
	const msg = "probes $(value_h) (normal $(av_h)), top source $(top_h)"
	b.SetBytes(int64(len(msg) + len(hostileKey)))
	b.ReportAllocs()
	for b.Loop() {
		_ = x.report(msg)
	}
}
