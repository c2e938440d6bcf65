package rules

import (
	"slices"
	"testing"
	"time"
)

// TestTimeClasses: CFEngine's time classes of a moment, in the zone and
// in UTC (GMT_), with CFEngine's boundaries: the five minutes exclude their
// second number, Q is the quarter of the hour, the shifts are six hours.
func TestTimeClasses(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		t       time.Time
		loc     *time.Location
		want    []string
		notWant []string
	}{
		{
			t:   time.Date(2026, 12, 6, 14, 55, 0, 0, time.UTC), // a Sunday
			loc: time.UTC,
			want: []string{"Yr2026", "December", "Sunday", "Day6", "Afternoon", "Hr14", "Q4", "Hr14_Q4",
				"Min55", "Min55_00", "Lcycle_1", "GMT_Hr14", "GMT_Sunday", "GMT_Min55_00"},
			notWant: []string{"Hr15", "Min50_55", "Min00_05", "Q3", "Evening", "Hr4"},
		},
		{
			t:       time.Date(2026, 1, 5, 0, 4, 59, 0, time.UTC), // a Monday
			loc:     time.UTC,
			want:    []string{"Monday", "January", "Day5", "Night", "Hr00", "Hr0", "Q1", "Hr00_Q1", "Min04", "Min00_05"},
			notWant: []string{"Min05_10", "Morning"},
		},
		{
			t:       time.Date(2026, 1, 5, 5, 59, 0, 0, time.UTC),
			loc:     time.UTC,
			want:    []string{"Night", "Hr05", "Hr5", "Q4", "Min55_00"},
			notWant: []string{"Morning"},
		},
		{
			t:    time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC),
			loc:  time.UTC,
			want: []string{"Morning", "Hr06", "Min00_05", "Q1"},
		},
		{
			t:    time.Date(2026, 1, 5, 18, 15, 0, 0, time.UTC),
			loc:  time.UTC,
			want: []string{"Evening", "Hr18", "Q2", "Hr18_Q2", "Min15_20"},
		},
		{
			// 23:30 UTC on New Year's Eve is 00:30 on 1 January in Paris.
			t:       time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC),
			loc:     paris,
			want:    []string{"Yr2027", "January", "Friday", "Day1", "Night", "Hr00", "Q3", "Lcycle_2", "GMT_Yr2026", "GMT_December", "GMT_Thursday", "GMT_Day31", "GMT_Hr23", "GMT_Evening"},
			notWant: []string{"Yr2026", "Hr23", "GMT_Hr00"},
		},
	}
	for _, tt := range tests {
		got := TimeClasses(tt.t, tt.loc)
		for _, c := range tt.want {
			if !slices.Contains(got, c) {
				t.Errorf("%v in %v: no %s in %v", tt.t, tt.loc, c, got)
			}
		}
		for _, c := range tt.notWant {
			if slices.Contains(got, c) {
				t.Errorf("%v in %v: %s set: %v", tt.t, tt.loc, c, got)
			}
		}
		for _, c := range got {
			if !IsTimeClass(c) {
				t.Errorf("IsTimeClass(%q) = false for a class TimeClasses sets", c)
			}
			if !ValidClassName(c) {
				t.Errorf("%q is not a class name", c)
			}
		}
	}
}

func TestIsTimeClass(t *testing.T) {
	for name, want := range map[string]bool{
		"Hr00": true, "Hr23": true, "Hr7": true, "Hr24": false, "Hr007": false, "Hr14_Q3": true, "Hr14_Q5": false,
		"Min00_05": true, "Min55_00": true, "Min05_15": false, "Min03_08": false, "Min59": true, "Min60": false,
		"Monday": true, "GMT_Sunday": true, "December": true, "Q1": true, "Q4": true, "Q5": false,
		"Yr2026": true, "Yr26": false, "Day6": true, "Day06": false, "Day32": false, "Day0": false,
		"Morning": true, "Night": true, "Lcycle_2": true, "Lcycle_3": false,
		"ssh_probe": false, "Hr": false, "Min": false, "GMT_": false, "Hr-1": false,
	} {
		if got := IsTimeClass(name); got != want {
			t.Errorf("IsTimeClass(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestHostClasses(t *testing.T) {
	if got := HostClasses("mx1.example.net"); !slices.Equal(got, []string{"mx1_example_net", "mx1"}) {
		t.Errorf("HostClasses = %v", got)
	}
	if got := HostClasses("web-2"); !slices.Equal(got, []string{"web_2"}) {
		t.Errorf("HostClasses = %v", got)
	}
	if got := HostClasses(""); got != nil {
		t.Errorf("HostClasses(\"\") = %v", got)
	}
}
