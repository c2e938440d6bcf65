package tests

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPartialIntervalOnce: SIGTERM in the middle of an interval commits
// its partial count to the state file, not to the outputs; the run that
// completes the interval (in the same interval after a quick restart, or
// from the backlog after a longer one) writes it once, with every line. A
// consumer that sums the points of the output counts each line once
// (before: 3 at the shutdown, then 5 with the same timestamp, 8 in all).
func TestPartialIntervalOnce(t *testing.T) {
	r := newRig(t, "")
	log := r.path("app.log")
	writeFile(t, log, "")
	writeFile(t, r.rules, counterRules(log, "hits", "hit .*"))
	opts := daemonOpts{rules: r.rules, state: r.state, output: r.outLP, interval: 4 * time.Second, extra: []string{"--listen="}}

	d := startDaemon(t, opts)
	d.waitLog(`event=open `, 1)
	appendString(t, log, numbered("hit", 0, 3))
	d.stop() // the followers read what was written before the partial interval closes
	if st := readStatus(t, r.state); st.total("hits") != 3 {
		t.Fatalf("total after the shutdown %v, want the partial interval's 3", st.total("hits"))
	}

	d = startDaemon(t, opts)
	d.waitLog(`event=resume `, 1)
	appendString(t, log, numbered("hit", 3, 2))
	waitTotal(t, r.state, "hits", 5)
	// The interval of the last lines is complete.
	d.waitLog(`msg=committed interval_start=\S+ partial=false`, 2)
	d.stop()

	sum, seen := 0.0, map[int64]int{}
	for _, p := range readPoints(t, r.outLP) {
		if p.measurement != "hits" {
			continue
		}
		sum += p.value
		seen[p.ts.Unix()]++
	}
	for ts, n := range seen {
		if n != 1 {
			t.Errorf("%d points of hits at %s, want one", n, time.Unix(ts, 0).UTC().Format(time.RFC3339))
		}
	}
	if sum != 5 {
		t.Errorf("the points of hits sum to %v, want 5: every line once", sum)
	}
}

// TestIntervalChange: a baseline learned at one interval never serves
// another. The README's own sequence, learn at the default 5 minutes then
// run at a short interval, used to read the 5-minute baseline back at the
// next restart as if it held short counts (a quiet log then had an
// expectation of dozens of lines, and _low_dev2 classes); graph and the
// status page disagreed; and learn at the short interval learned nothing
// until the state file was deleted. Now each width has its own baseline,
// graph shows the one run uses, and learn retrains at the new width.
func TestIntervalChange(t *testing.T) {
	r := newRig(t, "")
	log := r.path("auth.log")
	writeFile(t, r.rules, fmt.Sprintf(`measurements:
  - handle: probe
    path: %s
    select_line_matching: '.*sshd\[\d+\]: Invalid user .*'
`, log))
	// Eight days ending two minutes ago, a probe every 5 seconds: 60 in
	// every 5 minutes.
	now := time.Now()
	writeSyslog(t, log+".1", now.Add(-8*24*time.Hour), now.Add(-2*time.Minute), func(ts time.Time) []string {
		if ts.Second()%5 != 0 {
			return nil
		}
		return []string{fmt.Sprintf("sshd[%d]: Invalid user admin from 203.0.113.7 port 22", ts.Second())}
	})
	writeFile(t, log, "")
	if got := learn(t, "--rules", r.rules, "--state", r.state)["probe"]; got.intervals < 8*288-2 {
		t.Fatalf("learned %d intervals at 5m, want eight days'", got.intervals)
	}

	// Run at 2 seconds on the quiet live log, stop, run again.
	const short = 2 * time.Second
	opts := daemonOpts{rules: r.rules, state: r.state, output: r.outLP, interval: short, extra: []string{"--listen="}}
	d := startDaemon(t, opts)
	d.waitLog(`msg=committed interval_start=\S+ partial=false`, 2)
	d.stop()
	d = startDaemon(t, opts)
	d.waitLog(`msg=committed interval_start=\S+ partial=false`, 2)
	d.stop()
	// Every sample of the quiet log is a zero, and those scored (all
	// but the first, observed in part) expect about that.
	scored := 0
	for _, p := range decodeLPFile(t, r.outLP) {
		if p.measurement != "probe" {
			continue
		}
		if v, _ := p.fields["value"].(float64); v != 0 {
			t.Errorf("a sample of the quiet log is %v: %q", v, p.line)
		}
		if av, ok := p.fields["av"].(float64); ok {
			scored++
			if av > 1 {
				t.Errorf("av %v at %v: the 5-minute baseline (60 per interval) came back: %q", av, short, p.line)
			}
		}
	}
	if scored < 2 {
		t.Errorf("%d scored samples at %v, want those of both runs", scored, short)
	}
	m, _ := readStatus(t, r.state).measurement("probe")
	for _, c := range m.Last.Classes {
		if strings.Contains(c, "_dev2") || strings.Contains(c, "_anomaly") {
			t.Errorf("class %s on a quiet log", c)
		}
	}

	// graph shows what run uses (the 2-second baseline, about 0), and
	// the 5-minute one, intact, on request.
	avAt := func(extra ...string) float64 {
		t.Helper()
		dir := r.path("graph" + strings.Join(extra, ""))
		res := run(t, "", append([]string{"graph", "--state", r.state, "--handle", "probe", "--out", dir}, extra...)...)
		if res.code != 0 {
			t.Fatalf("graph %v: exit %d\n%s", extra, res.code, res.stderr)
		}
		f, err := os.Open(filepath.Join(dir, "probe.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		// The largest expectation of the week.
		high := 0.0
		for _, rec := range recs[1:] {
			if v, err := strconv.ParseFloat(rec[3], 64); err == nil && v > high {
				high = v
			}
		}
		return high
	}
	if got := avAt(); got > 1 {
		t.Errorf("graph of the interval run uses: av up to %v, want the 2-second baseline of a quiet log", got)
	}
	if got := avAt("--interval", "5m"); got < 40 || got > 80 {
		t.Errorf("graph --interval 5m: av up to %v, want the learned 60", got)
	}

	// learn at the new width retrains it, without deleting anything.
	if got := learn(t, "--rules", r.rules, "--state", r.state, "--interval", short.String())["probe"]; got.intervals == 0 {
		t.Errorf("learn --interval %v learned nothing (skipped %d)", short, got.skipped)
	}
	if got := avAt("--interval", "5m"); got < 40 || got > 80 {
		t.Errorf("after learning at %v, graph --interval 5m: av up to %v, want the learned 60", short, got)
	}
}
