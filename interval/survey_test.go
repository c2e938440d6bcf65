package interval

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/history"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, 50, 2.5},
		{[]float64{1, 2, 3, 4}, 90, 3.7},
		{[]float64{1, 2, 3, 4}, 99, 3.97},
		{[]float64{1, 2, 3, 4}, 0, 1},
		{[]float64{1, 2, 3, 4}, 100, 4},
		{[]float64{7}, 50, 7},
		{[]float64{0, 10}, 99, 9.9},
	}
	for _, tt := range tests {
		if got := Percentile(tt.xs, tt.p); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tt.xs, tt.p, got, tt.want)
		}
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("the percentile of nothing is not NaN")
	}
}

// TestAlarmScore: the score is |z| at the anomaly level and held under the
// next level below it, so that a threshold of 3 is the baseline's own.
func TestAlarmScore(t *testing.T) {
	tests := []struct {
		sc   history.Score
		want float64
	}{
		{history.Score{Z: 5, Level: 3}, 5},
		{history.Score{Z: -4, Level: -3}, 4},
		{history.Score{Z: 7, Level: 2}, 3 - heldBand*3/7},
		{history.Score{Z: 3, Level: 2}, 3 - heldBand},
		{history.Score{Z: 2.5, Level: 2}, 2.5},
		{history.Score{Z: 0.4, Level: 0}, 0.4},
		{history.Score{Z: 9, Level: 0, Micro: true}, 1 - heldBand/9},
	}
	for _, tt := range tests {
		if got := AlarmScore(tt.sc); got != tt.want {
			t.Errorf("AlarmScore(%+v) = %v, want %v", tt.sc, got, tt.want)
		}
		for _, th := range []float64{2.5, 3, 4.5} {
			sc := tt.sc
			applyThreshold(&sc, th)
			anomaly := sc.Level == 3 || sc.Level == -3
			if anomaly != (AlarmScore(tt.sc) >= th) && th != 3 {
				t.Errorf("threshold %v on %+v: level %d", th, tt.sc, sc.Level)
			}
		}
	}
}

func TestSurveyRows(t *testing.T) {
	v := NewSurvey(time.Hour)
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var rows []SurveyRow
	for i := 0; i < 24; i++ {
		val := float64(i % 12)
		s := &Sample{Handle: "h", Start: t0.Add(time.Duration(i) * 5 * time.Minute), Value: &val,
			Score: &history.Score{Z: val / 4, Level: 0}}
		rows = append(rows, v.Add(s)...)
	}
	rows = append(rows, v.Flush(time.Time{})...)
	if len(rows) != 2 || rows[0].Samples != 12 || rows[1].Period != t0.Add(time.Hour) {
		t.Fatalf("rows %+v", rows)
	}
	var b bytes.Buffer
	if err := WriteSurvey(&b, rows[:1], true); err != nil {
		t.Fatal(err)
	}
	want := SurveyHeader + "\n2026-03-02T10:00:00Z\th\t12\t5.5\t9.9\t10.89\t0.992666666667\t0.995955555556\t0.996323636364\n"
	if b.String() != want {
		t.Errorf("survey\n%q\nwant\n%q", b.String(), want)
	}
	if !strings.HasPrefix(SurveyHeader, "period\t") {
		t.Error("header")
	}
}
