package actions

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNoticePolicy: the rises of the classes the rules name are notices
// with a priority (a class's own, its guards', a pattern's); the policy's
// first matching entry decides (ignore, log, alarm, page; by pattern,
// predicate and priority), suppression windows hold per notice and per
// source, a tally line counts the suppressed ones, and the notice log gets
// one JSON line per notice and tally.
func TestNoticePolicy(t *testing.T) {
	dir := t.TempDir()
	alarms := filepath.Join(dir, "alarms.log")
	noticeLog := filepath.Join(dir, "notices.jsonl")
	set := probeRules(t, "0", `classes:
  chatter: {expression: value_probe > 0, persist: 0}
  busy: {expression: value_probe > 10, persist: 0}
  storm: {expression: value_probe > 20, persist: 0, priority: crit}
reports:
  - if: busy
    priority: warning
    message: busy
settings:
  priorities: {'probe_*_anomaly': err, 'probe_*': info}
policy:
  - class: chatter
    action: ignore
  - priority: crit
    if: value_probe > 25
    action: page
    command: [/bin/echo, $(notice), $(priority), $(key), $(message)]
    suppress: 1h
    per: key
    tally: 30m
  - class: 'b*'
    action: alarm
    to: `+alarms+`
    message: "$(notice) $(priority): $(value_probe) from $(key)"
`)
	if p := set.PriorityOf("busy"); p.String() != "warning" {
		t.Errorf("busy: priority %v, want warning (its report's)", p)
	}
	if p := set.PriorityOf("probe_high_anomaly"); p.String() != "err" {
		t.Errorf("probe_high_anomaly: priority %v, want err (the longest pattern)", p)
	}
	if p := set.PriorityOf("chatter"); p.String() != "notice" {
		t.Errorf("chatter: priority %v, want the default, notice", p)
	}
	h := newHarness(t, set, Options{NoticeLog: noticeLog})
	type seen struct{ notice, action, key string }
	var tally *Notice
	step := func(name string, value float64, key string, want []seen) []Notice {
		t.Helper()
		h.vars = map[string]float64{"value_probe": value}
		h.keys = map[string]string{"top_probe": key}
		d := h.next()
		var got []seen
		for _, n := range d.Notices {
			if n.Type == TallyType {
				tally = &n
				continue
			}
			got = append(got, seen{n.Notice, n.Action, n.Key})
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: notices %v, want %v", name, got, want)
		}
		return d.Notices
	}
	const a, b = "203.0.113.9", "192.0.2.77"
	ns := step("a storm from a", 30, a, []seen{{"busy", "alarm", a}, {"chatter", "ignore", a}, {"storm", "page", a}})
	if n := ns[2]; !slices.Equal(n.Command, []string{"/bin/echo", "storm", "crit", a, "storm (crit): probe 30, from " + a}) {
		t.Errorf("page argv %q", n.Command)
	}
	step("quiet", 0, "", nil)
	step("a again: the page is suppressed for a", 30, a, []seen{{"busy", "alarm", a}, {"chatter", "ignore", a}, {"storm", "suppressed", a}})
	step("quiet", 0, "", nil)
	step("b: its own window", 30, b, []seen{{"busy", "alarm", b}, {"chatter", "ignore", b}, {"storm", "page", b}})
	step("quiet", 0, "", nil)
	step("a storm below the predicate is logged", 22, a, []seen{{"busy", "alarm", a}, {"chatter", "ignore", a}, {"storm", "log", a}})
	step("quiet", 0, "", nil)
	step("a again, suppressed", 30, a, []seen{{"busy", "alarm", a}, {"chatter", "ignore", a}, {"storm", "suppressed", a}})
	// The tally was due 30 minutes after the first suppressed notice
	// (12:15), with this one: at 12:45.
	if tally == nil || !tally.Time.Equal(t0.Add(45*time.Minute)) || tally.Message != "2 more notices storm from 1 source suppressed in the last 30 minutes" || tally.Count != 2 {
		t.Fatalf("tally %+v", tally)
	}
	h.wait()
	b2, err := os.ReadFile(alarms)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b2), "b_any_alarm: busy warning: 30 from "+a) {
		t.Errorf("alarms:\n%s", b2)
	}
	data, err := os.ReadFile(noticeLog)
	if err != nil {
		t.Fatal(err)
	}
	logged, bad := ReadNotices(data)
	counts := map[string]int{}
	for _, n := range logged {
		counts[n.Type+"/"+n.Action]++
	}
	want := map[string]int{"notice/alarm": 5, "notice/ignore": 5, "notice/page": 2, "notice/suppressed": 2, "notice/log": 1, "tally/page": 1}
	if bad != 0 || !mapsEqual(counts, want) {
		t.Errorf("notice log: %v (%d bad), want %v", counts, bad, want)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
