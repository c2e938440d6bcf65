package tests

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
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

// backtest runs logtally backtest of log at five-minute intervals with
// the rules at rulesPath and more arguments, and fails the test when it
// fails.
func backtest(t *testing.T, rulesPath, log string, more ...string) result {
	t.Helper()
	args := append([]string{"backtest", "--rules", rulesPath, "--interval", "5m"}, more...)
	res := run(t, "", append(args, log)...)
	if res.code != 0 {
		t.Fatalf("logtally %s: exit %d\n%s", strings.Join(args, " "), res.code, res.stderr)
	}
	return res
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
	writeFile(t, rulesPath, probeRule(log, "persist: 0s")+`commands:
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
`)
	// In Kolkata (UTC+5:30) 13:30 UTC is 19:00 (Hr19, Evening) and 14:30
	// UTC is 20:00: Hr14 is never set at a storm. Then again in UTC.
	res := backtest(t, rulesPath, log)
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
	res = backtest(t, rulesPath, log)
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
	rulesText := probeRule(log, `ignore_keys: [192.0.2.0/24, "2001:db8::/32", 198.51.100.7]`)
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

// TestPerKeyBacktest: the finding of the issue, replayed. Two storms from
// different sources six hours apart; the block command without per: key
// fires for the first and is suppressed by ifelapsed: 12h for the second,
// while the one with per: key fires for each, with its source in $(key).
func TestPerKeyBacktest(t *testing.T) {
	dir := t.TempDir()
	day := backtestDay()
	log := stormLog(t, dir, day.Add(-2*24*time.Hour), day.Add(20*time.Hour),
		storm{at: day.Add(8*time.Hour + 10*time.Minute), addr: "203.0.113.9", minutes: 3, perMin: 60},
		storm{at: day.Add(14*time.Hour + 10*time.Minute), addr: "192.0.2.77", minutes: 3, perMin: 60})
	rulesPath := filepath.Join(dir, "rules.yaml")
	writeFile(t, rulesPath, probeRule(log)+`classes:
  probe_storm: {expression: value_probe > 100, persist: 0s}
commands:
  - handle: block_top
    if: probe_storm
    command: [/usr/sbin/nft, add, element, inet, filter, blocked, "{ $(top_probe) }"]
    ifelapsed: 12h
  - handle: block_each
    if: probe_storm
    per: key
    command: [/usr/sbin/nft, add, element, inet, filter, blocked, "{ $(key) }"]
    ifelapsed: 12h
policy:
  - class: probe_storm
    action: page
    command: [/usr/local/bin/page-oncall, $(notice), $(key)]
    suppress: 12h
settings:
  timezone: UTC
`)
	res := backtest(t, rulesPath, log)
	first := day.Add(8*time.Hour + 15*time.Minute).Format(time.RFC3339)
	second := day.Add(14*time.Hour + 15*time.Minute).Format(time.RFC3339)
	each := wouldFire(res.stderr, "block_each")
	if len(each) != 2 || !strings.HasPrefix(each[0], first) || !strings.HasSuffix(each[0], "{ 203.0.113.9 }") ||
		!strings.HasPrefix(each[1], second) || !strings.HasSuffix(each[1], "{ 192.0.2.77 }") {
		t.Errorf("block_each fired %q, want at %s for 203.0.113.9 and at %s for 192.0.2.77", each, first, second)
	}
	top := wouldFire(res.stderr, "block_top")
	if len(top) != 1 || !strings.HasPrefix(top[0], first) {
		t.Errorf("block_top fired %q, want once, at %s", top, first)
	}
	if !strings.Contains(res.stderr, second+"  command block_top suppressed (ifelapsed)") {
		t.Errorf("the second storm's block_top is not shown suppressed:\n%s", tail(res.stderr, 2000))
	}
	// What the notice policy would have done: page for the first storm,
	// suppress the second (its window is per notice, not per source).
	if !strings.Contains(res.stderr, first+"  notice probe_storm (notice) would page (policy probe_storm_page): /usr/local/bin/page-oncall probe_storm 203.0.113.9") ||
		!strings.Contains(res.stderr, second+"  notice probe_storm (notice) would be suppressed (policy probe_storm_page)") {
		t.Errorf("the backtest does not show what the policy would have done:\n%s", tail(res.stderr, 2000))
	}
}

// TestPolicyPerKeyPersisted: a policy entry with per: key pages for every
// new source of a class that persists (10 minutes by default) as it does
// for one that falls between storms: three storms from two addresses in
// consecutive intervals, then a third address, page each address once,
// as the block command with per: key fires for each; the class rose only
// once. A source already paged in the class's stretch is not a new
// notice, and the quiet intervals after the storms (the class held only
// by persistence) page nobody.
func TestPolicyPerKeyPersisted(t *testing.T) {
	dir := t.TempDir()
	day := backtestDay()
	at := func(m int) time.Time { return day.Add(8*time.Hour + time.Duration(m)*time.Minute) }
	log := stormLog(t, dir, day.Add(-2*24*time.Hour), day.Add(12*time.Hour),
		storm{at: at(10), addr: "203.0.113.9", minutes: 3, perMin: 40},
		storm{at: at(15), addr: "192.0.2.77", minutes: 3, perMin: 40},
		storm{at: at(20), addr: "203.0.113.9", minutes: 3, perMin: 40},
		storm{at: at(25), addr: "198.51.100.4", minutes: 3, perMin: 40})
	rulesPath := filepath.Join(dir, "rules.yaml")
	writeFile(t, rulesPath, probeRule(log)+`classes:
  probe_storm: value_probe > 60
commands:
  - handle: block_each
    if: probe_storm
    per: key
    command: [/usr/sbin/nft, add, element, inet, filter, blocked, "{ $(key) }"]
policy:
  - class: probe_storm
    action: page
    command: [/usr/local/bin/page-oncall, $(notice), $(key)]
    suppress: 1h
    per: key
settings:
  timezone: UTC
`)
	res := backtest(t, rulesPath, log)
	var pages, blocks []string
	for _, l := range strings.Split(res.stderr, "\n") {
		if i := strings.Index(l, "would page (policy probe_storm_page): /usr/local/bin/page-oncall probe_storm "); i > 0 {
			pages = append(pages, l[:20]+" "+l[strings.LastIndexByte(l, ' ')+1:])
		}
	}
	for _, l := range wouldFire(res.stderr, "block_each") {
		blocks = append(blocks, l[:20]+" "+strings.TrimSuffix(l[strings.Index(l, "{ ")+2:], " }"))
	}
	want := []string{
		at(15).Format(time.RFC3339) + " 203.0.113.9",
		at(20).Format(time.RFC3339) + " 192.0.2.77",
		at(30).Format(time.RFC3339) + " 198.51.100.4",
	}
	if !slices.Equal(blocks, want) {
		t.Fatalf("block_each fired %q, want %q (the scenario itself is off)", blocks, want)
	}
	if !slices.Equal(pages, want) {
		t.Errorf("pages %q, want %q, one per source as block_each:\n%s", pages, want, tail(res.stderr, 2000))
	}
	if n := strings.Count(res.stderr, "notice probe_storm (notice)"); n != len(want) {
		t.Errorf("%d notices of probe_storm, want %d (one per new source)", n, len(want))
	}
}

// TestPerKeyDaemon: the daemon runs a per: key command for each storm
// source, the second within ifelapsed of the first, each with its own
// source as an argument and in LOGTALLY_KEY; the key table of the
// interval (top_keys, the others summed, count, share, entropy) is in
// `status` and on the status page, and is written as the <handle>_keys
// measurement with the key as a tag, at most top_keys + 1 points.
func TestPerKeyDaemon(t *testing.T) {
	r := newRig(t, "")
	log, fired := r.path("auth.log"), r.path("fired.log")
	writeFile(t, log, "")
	writeFile(t, r.rules, probeRule(log, "top_keys: 3")+fmt.Sprintf(`classes:
  probe_storm: {expression: value_probe >= 100, persist: 0s}
commands:
  - handle: block
    if: probe_storm
    per: key
    command: [%s, %s, block, "$(key)"]
    env: {%s: record}
    ifelapsed: 1h
    timeout: 30s
`, yamlQuote(testBinary(t)), yamlQuote(fired), helperEnv))
	d := r.start("inotify", 0, "--listen=127.0.0.1:0")
	addr := d.webAddr()
	d.waitLog(`msg=committed `, 1)
	burst := func(addr string, n int, others int) {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "sshd[9]: Invalid user u%d from %s port 22\n", i, addr)
		}
		for i := 0; i < others; i++ {
			fmt.Fprintf(&b, "sshd[9]: Invalid user v from 198.51.100.%d port 22\n", 1+i)
		}
		appendString(t, log, b.String())
	}
	burst("203.0.113.9", 150, 5)
	testutil.WaitForWhy(t, waitTimeout, "the command for the first source", func() (bool, string) {
		n := len(readRecords(t, fired))
		return n == 1, fmt.Sprintf("%d runs", n)
	})
	testutil.WaitForWhy(t, waitTimeout, "probe_storm to fall", func() (bool, string) {
		st := readStatus(t, r.state)
		return !st.hasClass("probe_storm"), fmt.Sprintf("classes %v", st.Classes)
	})
	burst("192.0.2.77", 150, 0)
	testutil.WaitForWhy(t, waitTimeout, "the command for the second source", func() (bool, string) {
		n := len(readRecords(t, fired))
		return n == 2, fmt.Sprintf("%d runs", n)
	})
	recs := readRecords(t, fired)
	for i, want := range []string{"203.0.113.9", "192.0.2.77"} {
		if got := recs[i].args(); !slices.Equal(got, []string{"block", want}) || string(recs[i].Env["LOGTALLY_KEY"]) != want {
			t.Errorf("run %d: argv %q, LOGTALLY_KEY %q; want block %s", i, got, recs[i].Env["LOGTALLY_KEY"], want)
		}
	}

	// While the second source goes on, a line every 200 ms, status and
	// the page show it alone in the table of the last interval.
	stopTrickle := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopTrickle:
				return
			case <-tick.C:
				f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					return
				}
				fmt.Fprintln(f, "sshd[9]: Invalid user w from 192.0.2.77 port 22")
				f.Close()
			}
		}
	}()
	lastTable := regexp.MustCompile(`(?m)keys of probe in the interval ending .*: \d+ lines from 1 keys, entropy 0\.00\n\s*KEY\s+COUNT\s+SHARE\s*\n\s*192\.0\.2\.77\s+\d+\s+100\.0%\s*$`)
	testutil.WaitForWhy(t, waitTimeout, "status to show the key table", func() (bool, string) {
		out := run(t, "", "status", "--state", r.state)
		return lastTable.MatchString(out.stdout), out.stdout
	})
	testutil.WaitForWhy(t, waitTimeout, "the page to show the key table", func() (bool, string) {
		_, body := httpGet(t, "http://"+addr+"/")
		keys := string(body)
		if i := strings.Index(keys, `<table class="keys">`); i >= 0 {
			keys = keys[i:]
		} else {
			return false, "no key table"
		}
		keys, _, _ = strings.Cut(keys, "</table>")
		return strings.Contains(strings.ReplaceAll(keys, "<wbr>", ""), "<code>192.0.2.77</code>") && strings.Contains(keys, "100.0%"), keys
	})
	close(stopTrickle)
	<-trickled
	d.stop()

	// The first burst's interval: 150 from one source and 5 others, in
	// line protocol (top 3, and the other 3 summed).
	var keyPts []lpPoint
	for _, p := range decodeLPFile(t, r.outLP) {
		if p.measurement == "probe_keys" {
			keyPts = append(keyPts, p)
		}
	}
	byTime := map[time.Time][]lpPoint{}
	for _, p := range keyPts {
		byTime[p.ts] = append(byTime[p.ts], p)
	}
	found := false
	for _, pts := range byTime {
		if len(pts) > 4 {
			t.Errorf("%d key points in one interval, want at most top_keys + 1 = 4", len(pts))
		}
		var total int64
		top := false
		for _, p := range pts {
			total += p.fields["count"].(int64)
			if p.tags["key"] == "203.0.113.9" && p.fields["count"] == int64(150) {
				top = true
			}
		}
		if top {
			found = true
			var other *lpPoint
			for i := range pts {
				if pts[i].tags["other"] == "true" {
					other = &pts[i]
				}
			}
			if total != 155 || len(pts) != 4 || other == nil || other.fields["count"] != int64(3) || other.fields["keys"] != int64(3) {
				t.Errorf("the first burst's key points %v, want 150 from 203.0.113.9, two of the others and the other 3 summed", pts)
			}
		}
	}
	if !found {
		t.Errorf("no key point of 203.0.113.9 with its 150 lines in %v", keyPts)
	}
}

// TestNoticePolicyDaemon: the daemon logs every notice with the action the
// policy took — ignore, log, alarm (a report to a file) and page (a
// command, run with the notice and its source) — suppresses a second page
// for the same source within the window while a new source pages at once,
// and writes a tally line of what it suppressed; `logtally notices` reads
// the log.
func TestNoticePolicyDaemon(t *testing.T) {
	r := newRig(t, "")
	log, paged, alarms := r.path("auth.log"), r.path("paged.log"), r.path("alarms.log")
	noticeLog := r.path("notices.jsonl")
	writeFile(t, log, "")
	writeFile(t, r.rules, probeRule(log)+fmt.Sprintf(`classes:
  probe_seen: {expression: value_probe > 0, persist: 0s}
  probe_many: {expression: value_probe > 10, persist: 0s}
  probe_lots: {expression: value_probe > 20, persist: 0s, priority: warning}
  probe_storm: {expression: value_probe > 30, persist: 0s, priority: crit}
policy:
  - class: probe_seen
    action: ignore
  - priority: crit
    action: page
    command: [/usr/bin/env, %s=record, %s, %s, page, $(notice), $(priority), $(key)]
    suppress: 1h
    per: key
    tally: 3s
  - class: probe_lots
    action: alarm
    to: %s
  - action: log
`, helperEnv, yamlQuote(testBinary(t)), yamlQuote(paged), alarms))
	// The page command is the test binary, recording its argv (env(1)
	// gives it its helper mode).
	d := r.start("inotify", 0, "--listen=")
	d.waitLog(`msg=committed `, 1)
	burst := func(addr string) {
		var b strings.Builder
		for i := 0; i < 40; i++ {
			fmt.Fprintf(&b, "sshd[9]: Invalid user u%d from %s port 22\n", i, addr)
		}
		appendString(t, log, b.String())
	}
	quiet := func() {
		testutil.WaitForWhy(t, waitTimeout, "probe_seen to fall", func() (bool, string) {
			st := readStatus(t, r.state)
			return !st.hasClass("probe_seen"), fmt.Sprintf("classes %v", st.Classes)
		})
	}
	notices := func() []map[string]any {
		b, _ := os.ReadFile(noticeLog)
		var out []map[string]any
		for _, l := range strings.Split(string(b), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil {
				out = append(out, m)
			}
		}
		return out
	}
	count := func(typ, action string) int {
		n := 0
		for _, m := range notices() {
			if m["type"] == typ && m["action"] == action {
				n++
			}
		}
		return n
	}
	burst("203.0.113.9")
	testutil.WaitForWhy(t, waitTimeout, "the first page", func() (bool, string) {
		n := len(readRecords(t, paged))
		return n == 1, fmt.Sprintf("%d pages", n)
	})
	quiet()
	burst("203.0.113.9")
	testutil.WaitForWhy(t, waitTimeout, "the second storm's page to be suppressed", func() (bool, string) {
		n := count("notice", "suppressed")
		return n == 1, fmt.Sprintf("%d suppressed", n)
	})
	quiet()
	burst("192.0.2.77")
	testutil.WaitForWhy(t, waitTimeout, "the page of the new source", func() (bool, string) {
		n := len(readRecords(t, paged))
		return n == 2, fmt.Sprintf("%d pages", n)
	})
	testutil.WaitForWhy(t, waitTimeout, "the tally line", func() (bool, string) {
		n := count("tally", "page")
		return n == 1, fmt.Sprintf("%d tally lines", n)
	})
	d.stop()

	recs := readRecords(t, paged)
	for i, want := range []string{"203.0.113.9", "192.0.2.77"} {
		if got := recs[i].args(); !slices.Equal(got, []string{"page", "probe_storm", "crit", want}) {
			t.Errorf("page %d: argv %q, want page probe_storm crit %s", i, got, want)
		}
	}
	for _, c := range []struct {
		typ, action string
		n           int
	}{{"notice", "ignore", 3}, {"notice", "log", 3}, {"notice", "alarm", 3}, {"notice", "page", 2}, {"notice", "suppressed", 1}, {"tally", "page", 1}} {
		if got := count(c.typ, c.action); got != c.n {
			t.Errorf("%d %s lines of action %s in the notice log, want %d", got, c.typ, c.action, c.n)
		}
	}
	var tallyMsg string
	for _, m := range notices() {
		if m["type"] == "tally" {
			tallyMsg, _ = m["message"].(string)
		}
	}
	if tallyMsg != "1 more notice probe_storm from 1 source suppressed in the last 3s" {
		t.Errorf("tally line %q", tallyMsg)
	}
	if b, _ := os.ReadFile(alarms); strings.Count(string(b), "probe_lots (warning): probe 40") != 3 {
		t.Errorf("alarms:\n%s", b)
	}
	res := run(t, "", "notices", "--file", noticeLog)
	if res.code != 0 || strings.Contains(res.stdout, "probe_seen") || !strings.Contains(res.stdout, "tally (page)") ||
		!regexp.MustCompile(`probe_storm\s+crit\s+suppressed\s+crit_page\s+203\.0\.113\.9`).MatchString(res.stdout) {
		t.Errorf("logtally notices: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = run(t, "", "notices", "--state", r.state, "--all", "--action", "ignore")
	if res.code != 0 || len(regexp.MustCompile(`(?m)^\S+ \S+\s+probe_seen\s+notice\s+ignore\s`).FindAllString(res.stdout, -1)) != 3 {
		t.Errorf("logtally notices --state --all --action ignore: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

// surveyPy computes the survey of CSV rows on stdin (period,handle,value,
// score; score "NaN" for none) with Python's statistics.quantiles
// (method "inclusive", the same linear interpolation), independently of
// logtally, and prints period, handle, samples and the six percentiles.
const surveyPy = `
import csv, sys, math, statistics
from collections import defaultdict
vals, scores = defaultdict(list), defaultdict(list)
for period, handle, value, score in csv.reader(sys.stdin):
    vals[(period, handle)].append(float(value))
    if score != "NaN":
        scores[(period, handle)].append(float(score))
def pct(xs):
    if not xs:
        return ["-"] * 3
    if len(xs) == 1:
        return [repr(xs[0])] * 3
    q = statistics.quantiles(xs, n=100, method="inclusive")
    return [repr(q[49]), repr(q[89]), repr(q[98])]
for key in sorted(vals):
    print("\t".join([key[0], key[1], str(len(vals[key]))] + pct(vals[key]) + pct(scores[key])))
`

// runSurveyPy runs surveyPy over rows.
func runSurveyPy(t *testing.T, rows [][]string) map[string][]string {
	t.Helper()
	py := need(t, "python3")
	var in strings.Builder
	w := csv.NewWriter(&in)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", surveyPy)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	got := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "\t")
		got[f[0]+" "+f[1]] = f[2:]
	}
	return got
}

// sameSurvey compares a survey row's columns after period and handle with
// Python's: the counts exactly, the percentiles within 1e-9 (relative).
func sameSurvey(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) || got[0] != want[0] {
		t.Errorf("%s: %v, python says %v", what, got, want)
		return
	}
	for i := 1; i < len(got); i++ {
		if got[i] == "-" || want[i] == "-" {
			if got[i] != want[i] {
				t.Errorf("%s column %d: %s, python says %s", what, i, got[i], want[i])
			}
			continue
		}
		a, err1 := strconv.ParseFloat(got[i], 64)
		b, err2 := strconv.ParseFloat(want[i], 64)
		if err1 != nil || err2 != nil || math.Abs(a-b) > 1e-9*math.Max(1, math.Abs(b)) {
			t.Errorf("%s column %d: %s, python says %s", what, i, got[i], want[i])
		}
	}
}

// TestSurvey: the survey's percentiles of values and scores, per hour and
// measurement, equal an independent computation (Python's
// statistics.quantiles) on the same samples, which backtest writes out;
// and the daemon's settings.survey file holds, for each period, the
// percentiles of the values it wrote as line protocol.
func TestSurvey(t *testing.T) {
	dir := t.TempDir()
	day := backtestDay()
	log := stormLog(t, dir, day.Add(-1*24*time.Hour), day.Add(12*time.Hour),
		storm{at: day.Add(9*time.Hour + 10*time.Minute), addr: "203.0.113.9", minutes: 3, perMin: 60})
	rulesPath := filepath.Join(dir, "rules.yaml")
	writeFile(t, rulesPath, fmt.Sprintf(`measurements:
  - handle: probe
    path: %[1]s
    select_line_matching: '.*sshd\[\d+\]: Invalid user .*'
    key: 'from (\S+) port'
  - handle: probe_users
    path: %[1]s
    select_line_matching: '.*sshd\[\d+\]: Invalid user (?:admin|root) .*'
    history_type: scalar
settings:
  timezone: UTC
`, log))
	res := run(t, "", "survey", "--rules", rulesPath, "--interval", "5m", log)
	if res.code != 0 {
		t.Fatalf("survey: exit %d\n%s", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if lines[0] != "period\tmeasurement\tsamples\tvalue_p50\tvalue_p90\tvalue_p99\tscore_p50\tscore_p90\tscore_p99" {
		t.Fatalf("survey header %q", lines[0])
	}
	bt := backtest(t, rulesPath, log)
	recs, err := csv.NewReader(strings.NewReader(bt.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for _, r := range recs[1:] {
		ts, err := time.Parse(time.RFC3339, r[0])
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, []string{ts.UTC().Truncate(time.Hour).Format(time.RFC3339), r[1], r[2], r[7]})
	}
	want := runSurveyPy(t, rows)
	if len(lines)-1 != len(want) || len(want) < 60 {
		t.Errorf("survey has %d rows, python %d (two measurements over 36 hours)", len(lines)-1, len(want))
	}
	scored := 0
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		w, ok := want[f[0]+" "+f[1]]
		if !ok {
			t.Errorf("survey row %q: no such period in the backtest", l)
			continue
		}
		sameSurvey(t, f[0]+" "+f[1], f[2:], w)
		if f[1] == "probe_users" && f[6] != "-" {
			t.Errorf("a scalar measurement has scores: %q", l)
		}
		if f[1] == "probe" && f[6] != "-" {
			scored++
		}
	}
	if scored < 30 {
		t.Errorf("only %d periods of probe have scores", scored)
	}
	storm := day.Add(9 * time.Hour).Format(time.RFC3339)
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, storm+"\tprobe\t") {
			f := strings.Split(l, "\t")
			if p99, _ := strconv.ParseFloat(f[8], 64); p99 < 3 {
				t.Errorf("the storm's hour scores %s at p99, want an anomaly's 3 or more: %q", f[8], l)
			}
		}
	}

	// The daemon's survey file: periods of 3 s over 1 s intervals.
	r := newRig(t, "")
	dlog, survey := r.path("d.log"), r.path("survey.tsv")
	writeFile(t, dlog, "")
	writeFile(t, r.rules, fmt.Sprintf(`measurements:
  - handle: probe
    path: %s
    select_line_matching: '.*probe.*'
settings:
  survey: {file: %s, period: 3s}
`, dlog, survey))
	d := r.start("inotify", 0, "--listen=")
	d.waitLog(`msg=committed `, 1)
	for i := 1; i <= 9; i++ {
		appendString(t, dlog, strings.Repeat("probe\n", i*i))
		d.waitLog(`msg=committed `, 1+i)
	}
	testutil.WaitForWhy(t, waitTimeout, "three rows in the survey file", func() (bool, string) {
		b, _ := os.ReadFile(survey)
		return strings.Count(string(b), "\n") >= 4, string(b)
	})
	d.stop()
	// Every interval written is surveyed, also the first, which its
	// stream observed only in part (it began during it): not scored, but
	// written with its value.
	m := regexp.MustCompile(`msg=committed interval_start=(\S+)`).FindStringSubmatch(d.log())
	first, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatal(err)
	}
	var lpRows [][]string
	sawFirst := false
	slots := map[time.Time]bool{} // the 5-minute slots of the scored samples
	for _, p := range decodeLPFile(t, r.outLP) {
		if p.measurement == "probe" {
			start := p.ts.Add(-time.Second)
			if start.Equal(first) {
				sawFirst = true
			} else {
				slots[start.Truncate(5*time.Minute)] = true
			}
			lpRows = append(lpRows, []string{start.UTC().Truncate(3 * time.Second).Format(time.RFC3339), "probe",
				strconv.FormatFloat(p.fields["value"].(float64), 'g', -1, 64), "NaN"})
		}
	}
	if !sawFirst {
		t.Fatalf("no point of the first interval (%s) in the line protocol", first.Format(time.RFC3339))
	}
	// The first interval is not scored, the second is the baseline's
	// first sample: neither has an expectation (it would be the sample's
	// own value, ± 0); the third has one.
	var probePts []lpPoint
	for _, p := range decodeLPFile(t, r.outLP) {
		if p.measurement == "probe" {
			probePts = append(probePts, p)
		}
	}
	sort.Slice(probePts, func(i, j int) bool { return probePts[i].ts.Before(probePts[j].ts) })
	for i, p := range probePts[:3] {
		_, av := p.fields["av"]
		_, dev := p.fields["dev"]
		_, z := p.fields["z"]
		if want := i == 2; av != want || dev != want || z != want {
			t.Errorf("point %d of probe %v: av, dev and z present %v, want %v", i+1, p.fields, av && dev && z, want)
		}
	}
	wantD := runSurveyPy(t, lpRows)
	b, _ := os.ReadFile(survey)
	dl := strings.Split(strings.TrimSpace(string(b)), "\n")
	if dl[0] != lines[0] {
		t.Errorf("survey file header %q", dl[0])
	}
	for _, l := range dl[1:] {
		f := strings.Split(l, "\t")
		w, ok := wantD[f[0]+" "+f[1]]
		if !ok {
			t.Errorf("survey file row %q: no such period in the line protocol", l)
			continue
		}
		// The daemon's samples are scored: compare the values only.
		sameSurvey(t, "file "+f[0], f[2:6], w[:4])
	}
	if got := first.UTC().Truncate(3 * time.Second).Format(time.RFC3339); !strings.HasPrefix(dl[1], got+"\tprobe\t") {
		t.Errorf("the survey file's first row %q, want the period of the first interval, %s", dl[1], got)
	}

	// Over the state file: it keeps the last scored sample of each
	// 5-minute slot of the week, and the survey says that it surveys
	// those, not every 1-second interval.
	st := run(t, "", "survey", "--state", r.state, "--period", "1h")
	if st.code != 0 {
		t.Fatalf("survey --state: exit %d\n%s", st.code, st.stderr)
	}
	if !strings.Contains(st.stderr, "the state keeps one sample of every 5m0s of the 1s intervals (the last of each)") {
		t.Errorf("survey --state does not say what it surveys of 1-second intervals:\n%s", st.stderr)
	}
	surveyed := 0
	for _, l := range strings.Split(strings.TrimSpace(st.stdout), "\n")[1:] {
		n, err := strconv.Atoi(strings.Split(l, "\t")[2])
		if err != nil {
			t.Fatalf("survey --state row %q", l)
		}
		surveyed += n
	}
	if surveyed != len(slots) {
		t.Errorf("survey --state surveyed %d samples, want one for each of the %d 5-minute slots of the scored intervals:\n%s", surveyed, len(slots), st.stdout)
	}
}

// riseCounts returns the "rises per class" counts of a backtest's
// summary.
func riseCounts(t *testing.T, stderr string) map[string]int {
	t.Helper()
	out := map[string]int{}
	_, after, ok := strings.Cut(stderr, "rises per class:\n")
	if !ok {
		t.Fatalf("no rises per class in the summary:\n%s", tail(stderr, 2000))
	}
	for _, l := range strings.Split(after, "\n") {
		f := strings.Fields(l)
		if len(f) != 2 || !strings.HasPrefix(l, "  ") {
			break
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("rises line %q", l)
		}
		out[f[0]] = n
	}
	return out
}

// learnedRE is a line of threshold learning.
var learnedRE = regexp.MustCompile(`(?m)^  (\S+) +anomaly_threshold: (\S+) gives (\d+) rises?( \(no threshold gives exactly \d+\))?; the default 3 gives (\d+)$`)

// TestTargetAlerts: backtest --target-alerts K reports, per measurement,
// the anomaly threshold that would have raised K anomaly rises and what
// the default raises; the default's count is the replay's, and the
// threshold, written in the rule as anomaly_threshold, makes a replay
// raise exactly K.
func TestTargetAlerts(t *testing.T) {
	dir := t.TempDir()
	day := backtestDay()
	// Storms of growing size, a day and more apart (so that the baseline
	// does not hold one back as the repetition of the last), and two
	// unusually quiet hours.
	var storms []storm
	for i, n := range []int{25, 40, 60, 90, 140} {
		storms = append(storms, storm{at: day.Add(time.Duration(-5+i)*24*time.Hour + time.Duration(9+2*i)*time.Hour),
			addr: fmt.Sprintf("198.51.100.%d", 10+i), minutes: 2 + i%2, perMin: n})
	}
	log := stormLog(t, dir, day.Add(-8*24*time.Hour), day.Add(12*time.Hour), storms...)
	rulesPath := filepath.Join(dir, "rules.yaml")
	rulesText := fmt.Sprintf(`measurements:
  - handle: probe
    path: %s
    select_line_matching: '.*sshd\[\d+\]: Invalid user .*'
    key: 'from (\S+) port'
settings:
  timezone: UTC
`, log)
	writeFile(t, rulesPath, rulesText)
	anomalies := func(stderr string) int {
		c := riseCounts(t, stderr)
		return c["probe_high_anomaly"] + c["probe_low_anomaly"]
	}
	base := backtest(t, rulesPath, log)
	def := anomalies(base.stderr)
	if def < 4 {
		t.Fatalf("the replay has %d anomaly rises, too few to learn a smaller number:\n%s", def, tail(base.stderr, 3000))
	}
	for _, k := range []int{1, 2, def + 3} {
		res := backtest(t, rulesPath, log, "--target-alerts", strconv.Itoa(k))
		m := learnedRE.FindStringSubmatch(res.stderr)
		if m == nil || m[1] != "probe" {
			t.Fatalf("--target-alerts %d: no threshold learned for probe:\n%s", k, tail(res.stderr, 1500))
		}
		th, rises, exact := m[2], m[3], m[4] == ""
		if got, _ := strconv.Atoi(m[5]); got != def {
			t.Errorf("--target-alerts %d says the default gives %d rises; the replay has %d", k, got, def)
		}
		if k <= def && (rises != strconv.Itoa(k) || !exact) {
			t.Errorf("--target-alerts %d: %q, want a threshold that gives exactly %d", k, m[0], k)
		}
		if v, _ := strconv.ParseFloat(th, 64); k > def && (v >= 3 || v < 1) {
			t.Errorf("--target-alerts %d (more than the default's %d): threshold %s, want one below 3", k, def, th)
		}
		applied := filepath.Join(dir, "applied.yaml")
		writeFile(t, applied, strings.Replace(rulesText, "key: 'from (\\S+) port'", "key: 'from (\\S+) port'\n    anomaly_threshold: "+th, 1))
		again := backtest(t, applied, log)
		if got := strconv.Itoa(anomalies(again.stderr)); got != rises {
			t.Errorf("anomaly_threshold %s (learned for %d) raises %s anomalies, want the %s learning said", th, k, got, rises)
		}
		t.Logf("target %d: %s", k, m[0])
	}
}

// chattySeries writes a CSV of eight weeks of 15-minute values from a
// Monday: a daily rhythm, noise, and one interval in twenty some 30 to 70%
// up, which an anomaly_threshold of 1.5 calls anomalous many times a
// week; and at burst a tenfold value.
func chattySeries(t *testing.T, path string, t0, burst time.Time) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	for ts := t0; ts.Before(t0.Add(8 * 7 * 24 * time.Hour)); ts = ts.Add(15 * time.Minute) {
		h := float64(ts.Hour()) + float64(ts.Minute())/60
		level := 100 * (1 + 0.5*math.Sin((h-6)/24*2*math.Pi))
		v := level + rng.NormFloat64()*math.Sqrt(level)
		if rng.IntN(20) == 0 {
			v *= 1.3 + 0.4*rng.Float64()
		}
		if ts.Equal(burst) {
			v = 10 * level
		}
		fmt.Fprintf(&b, "%s,%.0f\n", ts.Format(time.RFC3339), math.Max(0, v))
	}
	writeFile(t, path, b.String())
}

// weeklyAnomalyRises replays a series with rules and returns the anomaly
// rises of each week (from its first row), counted from the classes of
// the CSV as the summary counts them, and the classes of the row at burst.
func weeklyAnomalyRises(t *testing.T, series, rulesPath string, t0, burst time.Time) ([]int, string) {
	t.Helper()
	res := run(t, "", "backtest", "--series", series, "--handle", "chatty", "--rules", rulesPath)
	if res.code != 0 {
		t.Fatalf("backtest: exit %d\n%s", res.code, res.stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(res.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	weeks := make([]int, 8)
	prev := map[string]bool{}
	var atBurst string
	total := 0
	for _, r := range recs[1:] {
		ts, err := time.Parse(time.RFC3339, r[0])
		if err != nil {
			t.Fatal(err)
		}
		cur := map[string]bool{}
		for _, c := range strings.Fields(r[6]) {
			if strings.HasSuffix(c, "_anomaly") {
				cur[c] = true
				if !prev[c] {
					weeks[int(ts.Sub(t0)/(7*24*time.Hour))]++
					total++
				}
			}
		}
		prev = cur
		if ts.Equal(burst) {
			atBurst = r[6]
		}
	}
	c := riseCounts(t, res.stderr)
	if sum := c["chatty_high_anomaly"] + c["chatty_low_anomaly"]; sum != total {
		t.Fatalf("%d anomaly rises in the CSV, the summary says %d", total, sum)
	}
	return weeks, atBurst
}

// TestAlarmBudget: alarm_budget: 1/week brings a chatty series (many
// anomaly rises a week at its anomaly_threshold of 1.5) to about one rise
// a week once its first weeks are observed, and still raises an anomaly
// at a tenfold burst. Learned from logs, the adaptive threshold is in the
// state file, shown by status, and on the running daemon's status page
// and status.json.
func TestAlarmBudget(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC) // a Monday
	burst := t0.Add(31*24*time.Hour + 15*time.Hour)
	series := filepath.Join(dir, "chatty.csv")
	chattySeries(t, series, t0, burst)
	rule := `measurements:
  - handle: chatty
    path: /var/log/chatty.log
    data_type: real
    select_line_matching: '.*requests=.*'
    extraction_regex: 'requests=(\d+)'
    anomaly_threshold: 1.5
settings:
  timezone: UTC
`
	without, with := filepath.Join(dir, "without.yaml"), filepath.Join(dir, "with.yaml")
	writeFile(t, without, rule)
	writeFile(t, with, strings.Replace(rule, "anomaly_threshold: 1.5\n", "anomaly_threshold: 1.5\n    alarm_budget: 1/week\n", 1))
	before, _ := weeklyAnomalyRises(t, series, without, t0, burst)
	after, atBurst := weeklyAnomalyRises(t, series, with, t0, burst)
	t.Logf("anomaly rises per week: %v without a budget, %v with alarm_budget: 1/week", before, after)
	for w, n := range before {
		if n < 5 {
			t.Fatalf("week %d has %d anomaly rises without a budget: the series is not chatty (%v)", w+1, n, before)
		}
	}
	if after[0] != before[0] {
		t.Errorf("the first week, observed before any adaptation, has %d rises with the budget and %d without", after[0], before[0])
	}
	// The threshold averages the ideals of the last four weeks: once the
	// first week (a fresh baseline's, the most surprised) has left the
	// average, about one rise a week; never many before.
	settled := 0
	for w, n := range after[1:] {
		if n > 3 {
			t.Errorf("week %d has %d anomaly rises under a budget of 1/week (%v)", w+2, n, after)
		}
		if w+2 >= 5 {
			settled += n
		}
	}
	if avg := float64(settled) / 4; avg < 0.5 || avg > 2 {
		t.Errorf("with the budget, weeks 5 to 8 have %v anomaly rises (%.2f a week), want about one a week", after[4:], avg)
	}
	if !strings.Contains(atBurst, "chatty_high_anomaly") {
		t.Errorf("the tenfold burst has classes %q under the budget, want chatty_high_anomaly", atBurst)
	}

	// The threshold learned from logs, in the state and shown.
	day := backtestDay()
	log := stormLog(t, dir, day.Add(-6*24*time.Hour), day.Add(-time.Hour))
	r := newRig(t, fmt.Sprintf(`measurements:
  - handle: probe
    path: %s
    select_line_matching: '.*sshd\[\d+\]: Invalid user .*'
    anomaly_threshold: 1.5
    alarm_budget: 1/day
settings:
  timezone: UTC
  interval: 5m
`, log))
	learn(t, "--rules", r.rules, "--state", r.state, log)
	res := run(t, "", "status", "--state", r.state, "--json")
	if res.code != 0 {
		t.Fatalf("status: exit %d\n%s", res.code, res.stderr)
	}
	var st struct {
		Measurements []struct {
			Handle    string
			Threshold *struct {
				Budget    string
				Threshold float64
				Ideals    []float64
			}
		}
	}
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		t.Fatal(err)
	}
	var th float64
	for _, m := range st.Measurements {
		if m.Handle == "probe" && m.Threshold != nil {
			if m.Threshold.Budget != "1/day" || len(m.Threshold.Ideals) != 4 || m.Threshold.Threshold < 1.5 {
				t.Errorf("the learned threshold state %+v, want budget 1/day, the ideals of the last 4 days, at least 1.5", *m.Threshold)
			}
			th = m.Threshold.Threshold
		}
	}
	if th == 0 {
		t.Fatalf("status --json shows no threshold of probe:\n%s", res.stdout)
	}
	shown := strconv.FormatFloat(th, 'f', 2, 64)
	res = run(t, "", "status", "--state", r.state)
	if !regexp.MustCompile(`(?m)^probe +1/day +` + regexp.QuoteMeta(shown) + ` `).MatchString(res.stdout) {
		t.Errorf("status does not show probe's threshold %s:\n%s", shown, res.stdout)
	}
	d := startDaemon(t, daemonOpts{rules: r.rules, state: r.state, output: r.outLP, watch: "inotify",
		interval: 5 * time.Minute, extra: []string{"--listen=127.0.0.1:0"}})
	addr := d.webAddr()
	_, body := httpGet(t, "http://"+addr+"/status.json")
	var sj struct {
		Measurements []struct {
			Handle    string   `json:"handle"`
			Threshold *float64 `json:"anomaly_threshold"`
			Budget    string   `json:"alarm_budget"`
		} `json:"measurements"`
	}
	if err := json.Unmarshal(body, &sj); err != nil {
		t.Fatalf("status.json: %v", err)
	}
	ok := false
	for _, m := range sj.Measurements {
		ok = ok || (m.Handle == "probe" && m.Threshold != nil && math.Abs(*m.Threshold-th) < 1e-6 && m.Budget == "1/day")
	}
	if !ok {
		t.Errorf("status.json does not give probe's anomaly threshold %v and alarm budget:\n%.1500s", th, body)
	}
	if v, ok := metricValue(scrape(t, addr), "logtally_measurement_anomaly_threshold", "handle", "probe"); !ok || math.Abs(v-th) > 1e-6 {
		t.Errorf("logtally_measurement_anomaly_threshold{handle=probe} = %v (%v), want %v", v, ok, th)
	}
	_, page := httpGet(t, "http://"+addr+"/")
	if !strings.Contains(string(page), shown+" (alarm budget 1/day)") {
		t.Errorf("the status page does not show the anomaly threshold %s (alarm budget 1/day)", shown)
	}
	d.stop()
}

// TestReportSignal: SIGUSR1 makes the running daemon log an intermediate
// report, as Spade does: the survey of the period under way, the key table
// of the last interval, and the anomaly threshold with its alarm budget;
// and it goes on running.
func TestReportSignal(t *testing.T) {
	r := newRig(t, "")
	log := r.path("auth.log")
	writeFile(t, log, "")
	writeFile(t, r.rules, probeRule(log, "top_keys: 2", "alarm_budget: 1/day"))
	d := r.start("inotify", 0, "--listen=")
	d.waitLog(`msg=committed `, 1)
	var b strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "sshd[%d]: Invalid user u%d from %s port 22\n", 100+i, i, []string{"203.0.113.9", "203.0.113.9", "203.0.113.9", "192.0.2.7", "198.51.100.1"}[i%5])
	}
	appendString(t, log, b.String())
	waitTotal(t, r.state, "probe", 40)
	d.signal(syscall.SIGUSR1)
	d.waitLog(`msg="intermediate report" measurements=1 survey_periods=1`, 1)
	d.waitLog(`msg="report survey" period=\S+ handle=probe samples=[1-9]\d* value_p50=\S+ value_p90=\S+ value_p99=\S+`, 1)
	// The interval with the 40 lines: the two top keys, the other one.
	d.waitLog(`msg="report keys" handle=probe interval_end=\S+ total=40 top="\\"203\.0\.113\.9\\"=24 \\"192\.0\.2\.7\\"=8" other=8 other_keys=1 entropy=\S+`, 1)
	d.waitLog(`msg="report threshold" handle=probe anomaly_threshold=3 alarm_budget=1/day ideals=(?:""|3) period=\S+ peaks=\d+`, 1)
	// Still running: a second report.
	d.signal(syscall.SIGUSR1)
	d.waitLog(`msg="intermediate report"`, 2)
	d.stop()
}

// TestHourClassDaemon: the running daemon sets the time classes of each
// interval in settings.timezone: a command guarded by Hr14 runs, one
// guarded by the GMT_ class of the hour in UTC runs, one guarded by Hr02
// does not. The time zone is the one where it is 14h within 90 seconds
// and for the 58 minutes after, whatever the time the test runs at: the
// lines go on until the guarded commands run.
func TestHourClassDaemon(t *testing.T) {
	at := time.Now().Add(90 * time.Second).UTC()
	zone, east := "Etc/UTC", 14-at.Hour() // where it is 14h at `at`
	switch {
	case east > 0:
		zone = fmt.Sprintf("Etc/GMT-%d", east) // POSIX signs: GMT-5 is 5 hours east
	case east < 0:
		zone = fmt.Sprintf("Etc/GMT+%d", -east)
	}
	r := newRig(t, "")
	log, fired := r.path("app.log"), r.path("fired.log")
	writeFile(t, log, "")
	command := func(handle, guard string) string {
		return fmt.Sprintf("  - handle: %[1]s\n    if: %[2]s\n    command: [%[3]s, %[4]s, %[1]s]\n    env: {%[5]s: record}\n    ifelapsed: 1h\n",
			handle, guard, yamlQuote(testBinary(t)), yamlQuote(fired), helperEnv)
	}
	writeFile(t, r.rules, fmt.Sprintf(`measurements:
  - handle: probe
    path: %s
    select_line_matching: '.*Invalid user.*'
    history_type: scalar
classes:
  probe_seen: {expression: value_probe > 0, persist: 0s}
commands:
%s%s%ssettings:
  timezone: %s
`, log, command("at_two", "probe_seen.Hr14"), command("at_two_gmt", fmt.Sprintf("probe_seen.GMT_Hr%02d", at.Hour())),
		command("at_two_am", "probe_seen.Hr02"), zone))
	d := r.start("inotify", 0, "--listen=")
	d.waitLog(`msg=committed `, 1)
	ran := func() map[string]int {
		out := map[string]int{}
		for _, rec := range readRecords(t, fired) {
			out[strings.Join(rec.args(), " ")]++
		}
		return out
	}
	testutil.WaitForWhy(t, 90*time.Second+waitTimeout, "the commands guarded by Hr14 and GMT_Hr", func() (bool, string) {
		appendString(t, log, "sshd[1]: Invalid user admin from 203.0.113.9 port 22\n")
		got := ran()
		return got["at_two"] == 1 && got["at_two_gmt"] == 1, fmt.Sprintf("runs %v in %s", got, zone)
	})
	d.stop()
	if got := ran(); got["at_two_am"] != 0 {
		t.Errorf("the command guarded by Hr02 ran %d times in %s, where it is 14h", got["at_two_am"], zone)
	}
}

// TestPerKeyRefractory: an anomaly-guarded per: key block command fires
// for each new probing source, even within a day of another source's
// storm of the same size, while the same source storming again within a
// day is held back by the baseline's refractory rule (an alarm no stronger
// than the last one from that source is no news). Three equal storms six
// hours apart: 203.0.113.9, then 192.0.2.77, then 203.0.113.9 again.
func TestPerKeyRefractory(t *testing.T) {
	dir := t.TempDir()
	day := backtestDay()
	first := day.Add(2*time.Hour + 10*time.Minute)
	second := first.Add(6 * time.Hour)
	third := second.Add(6 * time.Hour)
	log := stormLog(t, dir, day.Add(-3*24*time.Hour), day.Add(22*time.Hour),
		storm{at: first, addr: "203.0.113.9", minutes: 3, perMin: 60},
		storm{at: second, addr: "192.0.2.77", minutes: 3, perMin: 60},
		storm{at: third, addr: "203.0.113.9", minutes: 3, perMin: 60})
	rulesPath := filepath.Join(dir, "rules.yaml")
	writeFile(t, rulesPath, probeRule(log)+`commands:
  - handle: block
    if: probe_high_anomaly
    per: key
    command: [/usr/sbin/nft, add, element, inet, filter, blocked, "{ $(key) }"]
    ifelapsed: 1h
settings:
  timezone: UTC
`)
	res := backtest(t, rulesPath, log)
	// The storms' intervals: the one each storm starts in (its first
	// minutes) ends 5 minutes after it, the classes are decided there.
	end := func(at time.Time) string {
		return at.Add(5 * time.Minute).Truncate(5 * time.Minute).Format(time.RFC3339)
	}
	got := wouldFire(res.stderr, "block")
	if len(got) != 2 || !strings.HasPrefix(got[0], end(first)) || !strings.HasSuffix(got[0], "{ 203.0.113.9 }") ||
		!strings.HasPrefix(got[1], end(second)) || !strings.HasSuffix(got[1], "{ 192.0.2.77 }") {
		t.Errorf("block fired %q, want at %s for 203.0.113.9 and at %s for 192.0.2.77, and not for 203.0.113.9's second storm\n%s",
			got, end(first), end(second), tail(res.stderr, 3000))
	}
	// The rows of the three storms' intervals: the two first an anomaly,
	// the third held back, though as far out as the first.
	rows, err := csv.NewReader(strings.NewReader(res.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	classes := map[string]string{}
	zs := map[string]float64{}
	for _, r := range rows[1:] {
		ts, _ := time.Parse(time.RFC3339, r[0])
		k := ts.Add(5 * time.Minute).Format(time.RFC3339)
		classes[k] = r[6]
		zs[k], _ = strconv.ParseFloat(r[5], 64)
	}
	for _, c := range []struct {
		at      time.Time
		anomaly bool
	}{{first, true}, {second, true}, {third, false}} {
		k := end(c.at)
		has := slices.Contains(strings.Fields(classes[k]), "probe_high_anomaly")
		if has != c.anomaly {
			t.Errorf("interval ending %s: classes %q (z %.1f), want probe_high_anomaly %v", k, classes[k], zs[k], c.anomaly)
		}
	}
	if zs[end(third)] < 3 {
		t.Errorf("the third storm is %.1f deviations out: the test does not show the refractory rule", zs[end(third)])
	}
}

// TestFirstSampleNotJudged: a baseline's first sample has nothing to be
// judged by: backtest gives it no expectation, deviation, z or score
// (NaN, not its own value ± 0) and the class _learning; the second is
// judged against the first.
func TestFirstSampleNotJudged(t *testing.T) {
	dir := t.TempDir()
	series := filepath.Join(dir, "s.csv")
	writeFile(t, series, "2026-01-05T00:00:00Z,4\n2026-01-05T00:05:00Z,5\n2026-01-05T00:10:00Z,6\n")
	res := run(t, "", "backtest", "--series", series, "--handle", "s")
	if res.code != 0 {
		t.Fatalf("backtest: exit %d\n%s", res.code, res.stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(res.stdout)).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("backtest CSV %q (%v)", res.stdout, err)
	}
	if got := rows[1]; got[2] != "4" || got[3] != "NaN" || got[4] != "NaN" || got[5] != "NaN" || got[7] != "NaN" ||
		!slices.Contains(strings.Fields(got[6]), "s_learning") {
		t.Errorf("first row %q, want value 4, av, dev, z and score NaN, and s_learning", got)
	}
	if got := rows[2]; got[3] != "4" || got[4] == "NaN" || got[5] == "NaN" {
		t.Errorf("second row %q, want av 4 (the first sample) with a deviation and z", got)
	}
}
