package tests

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// TestSlowStreamStarvesNone: a hostile stream whose every line reaches the
// regex time limit (10 lines a second, at the default limit) delays no
// other stream. A steady stream's intervals are each committed within a
// second of their end, with exactly the lines written in them (before, one
// slow matcher held the lock every commit needed: commits came seconds
// late and merged intervals); the hostile stream may be late, on its own.
func TestSlowStreamStarvesNone(t *testing.T) {
	r := newRig(t, "")
	steady, hostile := r.path("steady.log"), r.path("hostile.log")
	writeFile(t, steady, "")
	writeFile(t, hostile, "")
	writeFile(t, r.rules, fmt.Sprintf(`measurements:
  - handle: steady
    path: %s
    select_line_matching: '.*tick.*'
    history_type: scalar
  - handle: hostile
    path: %s
    select_line_matching: '(?=a)(a|aa)+b'
    history_type: scalar
`, steady, hostile))
	const width = 2 * time.Second
	d := startDaemon(t, daemonOpts{rules: r.rules, state: r.state, output: r.outLP, interval: width, extra: []string{"--listen="}})
	d.waitLog(`event=open `, 2)
	d.waitLog(`msg=committed interval_start=\S+ partial=false`, 1)

	// Ten catastrophic lines a second on the hostile stream, meanwhile.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f, err := os.OpenFile(hostile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		line := strings.Repeat("a", 41) + "\n"
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := f.WriteString(line); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()

	// In the middle of each of six intervals, a known number of lines on
	// the steady stream.
	want := map[int64]int{} // by interval end
	next := time.Now().Truncate(width).Add(width)
	for i := range 6 {
		start := next.Add(time.Duration(i) * width)
		<-time.After(time.Until(start.Add(width / 2)))
		n := 3 + i%4
		appendString(t, steady, strings.Repeat("tick\n", n))
		want[start.Add(width).Unix()] = n
	}
	last := next.Add(6 * width)
	<-time.After(time.Until(last))
	close(stop)
	wg.Wait()
	testutil.WaitForWhy(t, waitTimeout, "the commit of the last interval", func() (bool, string) {
		end := readStatus(t, r.state).CommittedEnd
		return !end.Before(last), "committed up to " + end.String()
	})
	d.stop()

	got := map[int64][]float64{}
	for _, p := range readPoints(t, r.outLP) {
		if p.measurement == "steady" {
			got[p.ts.Unix()] = append(got[p.ts.Unix()], p.value)
		}
	}
	for end, n := range want {
		if v := got[end]; len(v) != 1 || v[0] != float64(n) {
			t.Errorf("steady interval ending %s: points %v, want one of %d lines", time.Unix(end, 0).UTC().Format(time.TimeOnly), v, n)
		}
	}
	// Each of those intervals was committed within a second of its end.
	re := regexp.MustCompile(`time=(\S+) level=INFO msg=committed interval_start=(\S+) partial=false`)
	commits := map[int64]time.Duration{}
	for _, l := range strings.Split(d.log(), "\n") {
		m := re.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		at, err1 := time.Parse(time.RFC3339Nano, m[1])
		start, err2 := time.Parse(time.RFC3339Nano, m[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("log line %q: %v %v", l, err1, err2)
		}
		commits[start.Add(width).Unix()] = at.Sub(start.Add(width))
	}
	var worst time.Duration
	for end := range want {
		late, ok := commits[end]
		worst = max(worst, late)
		switch {
		case !ok:
			t.Errorf("no commit of the interval ending %s", time.Unix(end, 0).UTC().Format(time.TimeOnly))
		case late > time.Second:
			t.Errorf("the interval ending %s was committed %v after its end, want within a second", time.Unix(end, 0).UTC().Format(time.TimeOnly), late)
		}
	}
	t.Logf("steady intervals committed at most %v after their end", worst)
}
