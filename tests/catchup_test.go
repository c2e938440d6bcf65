package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// untilWallClock waits until the wall clock reaches at: the daemon dates
// lines by the real clock, so a downtime of several intervals has to last
// that long.
func untilWallClock(at time.Time) {
	if d := time.Until(at); d > 0 {
		<-time.After(d)
	}
}

// lastValues returns, for one measurement of a line-protocol file, the
// value of the last point written for each timestamp (a later point for
// the same time replaces an earlier one, as in InfluxDB).
func lastValues(pts []point, measurement string) map[time.Time]float64 {
	out := map[time.Time]float64{}
	for _, p := range pts {
		if p.measurement == measurement {
			out[p.ts] = p.value
		}
	}
	return out
}

// TestDowntimeCatchUp: lines appended while logtally is down are counted
// when it comes back, each in the interval of its own syslog timestamp, so
// that the downtime does not come back as one burst; intervals of the
// downtime with no line get a zero (the file was followed without a
// break), and lines without a timestamp go to the interval in which they
// are read.
func TestDowntimeCatchUp(t *testing.T) {
	r := newRig(t, "")
	log := r.path("app.log")
	writeFile(t, r.rules, counterRules(log, "all", ".*"))
	writeFile(t, log, "")
	d := r.start("inotify", 0)
	d.waitLog(`event=open `, 1)
	appendString(t, log, numbered("live", 0, 5))
	waitTotal(t, r.state, "all", 5)
	d.stop()
	stoppedIn := time.Now().Truncate(time.Second) // the interval closed early

	// While down, a line count per second, written as each second comes,
	// dated by a syslog timestamp; one second has none.
	perSecond := []int{3, 0, 7, 5}
	first := stoppedIn.Add(time.Second)
	for i, n := range perSecond {
		sec := first.Add(time.Duration(i) * time.Second)
		untilWallClock(sec)
		var b strings.Builder
		for j := 0; j < n; j++ {
			b.WriteString(sec.Format(time.Stamp) + " host app[7]: downtime line\n")
		}
		appendString(t, log, b.String())
	}
	appendString(t, log, "an undated line\nanother undated line\n")
	last := first.Add(time.Duration(len(perSecond)-1) * time.Second)
	untilWallClock(last.Add(time.Second)) // the last dated second is over

	startedIn := time.Now().Truncate(time.Second)
	d = r.start("inotify", 0)
	d.waitLog(`event=resume `, 1)
	// The interval in which it started, and the next, are committed.
	testutil.WaitForWhy(t, waitTimeout, "the intervals after the restart to be committed", func() (bool, string) {
		st := readStatus(t, r.state)
		return !st.CommittedEnd.Before(startedIn.Add(2 * time.Second)), "committed up to " + st.CommittedEnd.String()
	})
	d.stop()

	wantTotal(t, r.state, "all", 5+3+0+7+5+2)
	vals := lastValues(readPoints(t, r.outLP), "all")
	for i, n := range perSecond {
		end := first.Add(time.Duration(i+1) * time.Second)
		got, ok := vals[end]
		switch {
		case !ok:
			t.Errorf("no sample for the downtime interval ending %s (want %d)", end.Format(time.TimeOnly), n)
		case got != float64(n):
			t.Errorf("downtime interval ending %s: %v, want %d (lines of that second)", end.Format(time.TimeOnly), got, n)
		}
	}
	// The rest of the downtime was quiet: zeros, not gaps.
	for end := last.Add(2 * time.Second); !end.After(startedIn); end = end.Add(time.Second) {
		if got, ok := vals[end]; !ok || got != 0 {
			t.Errorf("quiet downtime interval ending %s: %v (present %v), want 0", end.Format(time.TimeOnly), got, ok)
		}
	}
	// Since the restart: only the undated lines, in one interval.
	var since []float64
	for end, v := range vals {
		if end.After(startedIn) {
			since = append(since, v)
		}
	}
	sum, peak := 0.0, 0.0
	for _, v := range since {
		sum += v
		peak = max(peak, v)
	}
	if sum != 2 || peak != 2 {
		t.Errorf("intervals since the restart: %v, want the 2 undated lines in one interval (the downtime not as a burst)", since)
	}
}
