package tests

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// This file tests, end to end, what decides and tells about alarms:
// comparisons and hard classes in class expressions, per-source alarms,
// trusted sources, the notice policy and its log, the survey, threshold
// learning and alarm budgets.

// storm is a burst of invalid-user probes from one address.
type storm struct {
	at      time.Time // the first minute
	addr    string
	minutes int
	perMin  int
}

// stormLog writes an auth.log of the syslog-dated normal rhythm of ssh
// probes (probeLines) from `from` to `to`, with the storms, and returns
// its path.
func stormLog(t *testing.T, dir string, from, to time.Time, storms ...storm) string {
	t.Helper()
	log := filepath.Join(dir, "auth.log")
	normal := probeLines(11)
	rng := rand.New(rand.NewPCG(3, 4))
	writeSyslog(t, log, from, to, func(ts time.Time) []string {
		out := normal(ts)
		for _, s := range storms {
			if !ts.Before(s.at) && ts.Before(s.at.Add(time.Duration(s.minutes)*time.Minute)) && ts.Second() == 0 {
				for i := 0; i < s.perMin; i++ {
					out = append(out, fmt.Sprintf("sshd[%d]: Invalid user u%d from %s port %d", 2000+i, rng.IntN(1000), s.addr, 1024+i))
				}
			}
		}
		return out
	})
	return log
}

// backtestDay is a day, two days ago in UTC, whose hours the backtests
// name: far enough back that syslog timestamps without a year are dated
// correctly, and recent enough to be this year.
func backtestDay() time.Time {
	return time.Now().UTC().Truncate(24 * time.Hour).Add(-48 * time.Hour)
}

// wouldFire returns the "would fire" lines of a backtest's summary for a
// handle.
func wouldFire(stderr, handle string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, " "+handle+" would fire") {
			out = append(out, l)
		}
	}
	return out
}

// TestHardClassGuardsCommand: a command guarded by an anomaly and Hr14
// fires for the storm of 14:30 and not for the storm of 13:30 the day
// before (the hour of the interval's start in settings.timezone), while
// one guarded by the anomaly alone fires for both; GMT_ classes follow
// UTC. The storms are a day apart so that neither is the repetition of
// the other's alarm, which the baseline holds to a higher bar.
func TestHardClassGuardsCommand(t *testing.T) {
	dir := t.TempDir()
	day := backtestDay()
	log := stormLog(t, dir, day.Add(-3*24*time.Hour), day.Add(16*time.Hour),
		storm{at: day.Add(-24*time.Hour + 13*time.Hour + 30*time.Minute), addr: "203.0.113.9", minutes: 3, perMin: 80},
		storm{at: day.Add(14*time.Hour + 30*time.Minute), addr: "192.0.2.77", minutes: 3, perMin: 80})
	rulesPath := filepath.Join(dir, "rules.yaml")
	writeFile(t, rulesPath, fmt.Sprintf(`measurements:
  - handle: probe
    path: %s
    select_line_matching: '.*sshd\[\d+\]: Invalid user .*'
    key: 'from (\S+) port'
    key_type: ip
    persist: 0s
commands:
  - handle: any_hour
    if: probe_high_anomaly
    command: [/bin/echo, $(top_probe)]
  - handle: at_two
    if: probe_high_anomaly.Hr14
    command: [/bin/echo, $(top_probe)]
  - handle: at_two_gmt
    if: probe_high_anomaly.GMT_Hr14.Afternoon.Q3
    command: [/bin/echo, $(top_probe)]
settings:
  timezone: Asia/Kolkata
`, log))
	// In Kolkata (UTC+5:30) 13:30 UTC is 19:00 (Hr19, Evening) and 14:30
	// UTC is 20:00: Hr14 is never set at a storm. Then again in UTC.
	res := run(t, "", "backtest", "--rules", rulesPath, "--interval", "5m", log)
	if res.code != 0 {
		t.Fatalf("backtest: exit %d\n%s", res.code, res.stderr)
	}
	if got := wouldFire(res.stderr, "any_hour"); len(got) != 2 {
		t.Fatalf("any_hour fired %d times, want at both storms:\n%s", len(got), tail(res.stderr, 3000))
	}
	if got := wouldFire(res.stderr, "at_two"); len(got) != 0 {
		t.Errorf("at_two fired in Asia/Kolkata, where no storm is at 14h: %v", got)
	}
	if got := wouldFire(res.stderr, "at_two_gmt"); len(got) != 0 {
		t.Errorf("at_two_gmt fired, but no storm is in the Afternoon in Kolkata: %v", got)
	}

	writeFile(t, rulesPath, strings.Replace(readFile(t, rulesPath), "timezone: Asia/Kolkata", "timezone: UTC", 1))
	res = run(t, "", "backtest", "--rules", rulesPath, "--interval", "5m", log)
	if res.code != 0 {
		t.Fatalf("backtest: exit %d\n%s", res.code, res.stderr)
	}
	if got := wouldFire(res.stderr, "any_hour"); len(got) != 2 {
		t.Fatalf("any_hour fired %d times, want at both storms:\n%s", len(got), tail(res.stderr, 3000))
	}
	for _, h := range []string{"at_two", "at_two_gmt"} {
		got := wouldFire(res.stderr, h)
		if len(got) != 1 || !strings.HasPrefix(got[0], day.Add(14*time.Hour+35*time.Minute).Format(time.RFC3339)) ||
			!strings.HasSuffix(got[0], "192.0.2.77") {
			t.Errorf("%s fired %q, want once, for the storm of 14:30 UTC (at the end of its first interval)", h, got)
		}
	}
}

// TestThresholdOnScalar: a comparison on a scalar measurement's value
// (which has no baseline and no other class) raises a user class whose
// report runs, once the value passes the threshold.
func TestThresholdOnScalar(t *testing.T) {
	r := newRig(t, "")
	log, reports := r.path("queue.log"), r.path("reports.log")
	writeFile(t, log, "")
	writeFile(t, r.rules, fmt.Sprintf(`measurements:
  - handle: mailq
    path: %s
    data_type: int
    extraction_regex: 'queue=(\d+)'
    select_line_matching: '.*postfix/qmgr.*'
    history_type: scalar
classes:
  mailq_long: {expression: value_mailq > 50, persist: 0s}
reports:
  - if: mailq_long
    message: "mail queue $(value_mailq) > 50"
    to: %s
`, log, reports))
	d := r.start("inotify", 0, "--listen=")
	d.waitLog(`msg=committed `, 1)
	appendString(t, log, "postfix/qmgr[1]: queue=10\n")
	d.waitLog(`msg=committed `, 3)
	if b, err := os.ReadFile(reports); err == nil {
		t.Fatalf("a report at 10: %s", b)
	}
	appendString(t, log, "postfix/qmgr[1]: queue=60\n")
	testutil.WaitForWhy(t, waitTimeout, "the report", func() (bool, string) {
		b, _ := os.ReadFile(reports)
		return strings.Contains(string(b), "mail queue 60 > 50"), string(b)
	})
	d.stop()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIgnoreKeys: lines whose source is in ignore_keys (a network, an
// address, a literal) are not counted by the daemon, and are counted in
// the measurement_ignored_lines_total self-metric; a bad network is an
// error of `check` with its file, line and column.
func TestIgnoreKeys(t *testing.T) {
	r := newRig(t, "")
	log := r.path("auth.log")
	writeFile(t, log, "")
	rulesText := fmt.Sprintf(`measurements:
  - handle: probe
    path: %s
    select_line_matching: '.*sshd\[\d+\]: Invalid user .*'
    key: 'from (\S+) port'
    key_type: ip
    ignore_keys: [192.0.2.0/24, "2001:db8::/32", 198.51.100.7]
`, log)
	writeFile(t, r.rules, rulesText)

	bad := r.path("bad.yaml")
	writeFile(t, bad, strings.Replace(rulesText, "192.0.2.0/24", "192.0.2.0/33", 1))
	res := run(t, "", "check", "--rules", bad)
	if want := bad + `:7:19: measurements[0].ignore_keys[0]: invalid network "192.0.2.0/33"`; res.code != 2 || !strings.Contains(res.stderr, want) {
		t.Fatalf("check of a bad network: exit %d, stderr:\n%s\nwant exit 2 and %q", res.code, res.stderr, want)
	}

	d := r.start("inotify", 0, "--listen=127.0.0.1:0")
	addr := d.webAddr()
	d.waitLog(`msg=committed `, 1)
	var b strings.Builder
	counted, ignored := 0, 0
	for i := 0; i < 200; i++ {
		src := []string{"192.0.2.17", "203.0.113.9", "2001:db8::5", "198.51.100.7", "198.51.100.8"}[i%5]
		fmt.Fprintf(&b, "sshd[%d]: Invalid user u%d from %s port 22\n", 100+i, i, src)
		if i%5 == 1 || i%5 == 4 {
			counted++
		} else {
			ignored++
		}
	}
	appendString(t, r.path("auth.log"), b.String())
	waitTotal(t, r.state, "probe", counted)
	testutil.WaitForWhy(t, waitTimeout, "the ignored lines in /metrics", func() (bool, string) {
		v, _ := metricValue(scrape(t, addr), "logtally_measurement_ignored_lines_total", "handle", "probe")
		return v == float64(ignored), fmt.Sprintf("%v", v)
	})
	d.stop()
	wantTotal(t, r.state, "probe", counted)
	sum := 0.0
	for _, p := range decodeLPFile(t, r.outLP) {
		if p.measurement == "probe" {
			sum += p.fields["value"].(float64)
		}
	}
	if sum != float64(counted) {
		t.Errorf("the points sum to %v, want the %d lines of sources not ignored", sum, counted)
	}
}
