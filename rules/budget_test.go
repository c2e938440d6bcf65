package rules

import (
	"testing"
	"time"
)

// TestAlarmThresholdKeys: anomaly_threshold, alarm_budget and
// alarm_budget_periods are read, and their errors say where and why.
func TestAlarmThresholdKeys(t *testing.T) {
	const file = "measurements:\n  - handle: f\n    path: /x\n    select_line_matching: x\n"
	set, err := LoadBytes("e.yaml", []byte(file+"    anomaly_threshold: 4.5\n    alarm_budget: 2 / week\n    alarm_budget_periods: 6\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := set.Measurements[0]
	if m.AnomalyThreshold != 4.5 || m.Budget == nil || *m.Budget != (AlarmBudget{Alarms: 2, Period: 7 * 24 * time.Hour, Unit: "week", Periods: 6}) ||
		m.Budget.String() != "2/week" {
		t.Errorf("threshold %v, budget %+v", m.AnomalyThreshold, m.Budget)
	}
	set, err = LoadBytes("e.yaml", []byte(file+"    alarm_budget: 3/day\n"))
	if err != nil || set.Measurements[0].Budget.Periods != DefaultBudgetPeriods || set.Measurements[0].Budget.Period != 24*time.Hour {
		t.Errorf("3/day: %v %+v", err, set.Measurements[0].Budget)
	}
	tests := []struct {
		name, src string
		want      []wantErr
	}{
		{"threshold below 1", file + "    anomaly_threshold: 0.5\n",
			[]wantErr{{"5:24", "measurements[0].anomaly_threshold", "must be at least 1", "e.g. 4.5"}}},
		{"negative threshold", file + "    anomaly_threshold: -1\n",
			[]wantErr{{"5:24", "measurements[0].anomaly_threshold", "must be a number of at least 0, not -1", "e.g. 4.5"}}},
		{"threshold not a number", file + "    anomaly_threshold: high\n",
			[]wantErr{{"5:24", "measurements[0].anomaly_threshold", "must be a number, not", "e.g. 4.5"}}},
		{"budget without a unit", file + "    alarm_budget: 2\n",
			[]wantErr{{"5:19", "measurements[0].alarm_budget", "must be a string", "quote it"}}},
		{"budget per month", file + "    alarm_budget: 2/month\n",
			[]wantErr{{"5:19", "measurements[0].alarm_budget", `invalid alarm budget "2/month"`, "hour, day or week"}}},
		{"budget of nothing", file + "    alarm_budget: 0/week\n",
			[]wantErr{{"5:19", "measurements[0].alarm_budget", "at least one alarm", ""}}},
		{"periods without budget", file + "    alarm_budget_periods: 3\n",
			[]wantErr{{"5:5", "measurements[0].alarm_budget_periods", "only with alarm_budget", ""}}},
		{"periods out of range", file + "    alarm_budget: 1/day\n    alarm_budget_periods: 100\n",
			[]wantErr{{"6:27", "measurements[0].alarm_budget_periods", "out of range", ""}}},
		{"budget on a scalar", file + "    history_type: scalar\n    alarm_budget: 1/day\n",
			[]wantErr{{"6:5", "measurements[0].alarm_budget", "only for history_type: weekly", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadBytes("e.yaml", []byte(tt.src))
			checkErrs(t, err, "e.yaml", tt.want)
		})
	}
}
