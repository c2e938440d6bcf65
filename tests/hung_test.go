package tests

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestHungIntervalCommand: an interval command that never finishes (its
// timeout is the interval's) is unavailable in every interval, not every
// other one: each run is killed at the end of the interval it was run
// for, so that the next interval's run starts on time, and the interval is
// committed with its class. The class rises once and stays, so that its
// edge-triggered report fires once. Stopping the daemon kills the
// commands it runs without a warning: that kill was asked for.
func TestHungIntervalCommand(t *testing.T) {
	r := newRig(t, "")
	reports := r.path("reports.log")
	writeFile(t, r.rules, fmt.Sprintf(`measurements:
  - handle: slowcmd
    stream_type: pipe
    pipe_mode: interval
    path: [/bin/sh, -c, 'sleep 300; echo 1']
    select_line_matching: '.*'
  - handle: waits
    stream_type: pipe
    path: [sleep, '1000']
    select_line_matching: '.*'
reports:
  - if: slowcmd_unavailable
    message: "slowcmd unavailable"
    to: %s
`, reports))
	// At debug level: the kills after the outage's first are DEBUG lines
	// (an outage is one WARN), which this test counts.
	d := r.start("inotify", 0, "--log-level", "debug")
	committed := `msg=committed interval_start=\S+ partial=false`
	d.waitLog(committed, 8)
	d.stop()

	// The class, as its points record it: set once, never unset.
	var changes []string
	b, err := os.ReadFile(r.outLP)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "logtally_class,class=slowcmd_unavailable,") {
			f := strings.Fields(l)
			changes = append(changes, f[1])
		}
	}
	if !slices.Equal(changes, []string{"state=1i"}) {
		t.Errorf("slowcmd_unavailable changed %v over 8 intervals, want set once and held", changes)
	}
	if b, _ := os.ReadFile(reports); countLines(string(b)) != 1 {
		t.Errorf("reports:\n%s\nwant one line: slowcmd_unavailable rose once", b)
	}
	// Every interval ran the command (none was skipped because the
	// previous run was still going), each run killed at its interval's
	// end.
	if n := d.countLog(reLine(`level=(WARN|DEBUG) msg=stream .*event=kill .*at the end of the interval`)); n < 7 {
		t.Errorf("%d runs killed at the end of their interval over 8 intervals, want one per interval", n)
	}
	if strings.Contains(d.log(), "was still going") {
		t.Errorf("an interval had no run of its command because the previous run was still going")
	}
	// One warning for the outage, however many intervals it lasts.
	if n := d.countLog(reLine(`msg="stream unavailable`)); n != 1 {
		t.Errorf("%d unavailability warnings, want 1", n)
	}
	m, _ := readStatus(t, r.state).measurement("slowcmd")
	if m.Last == nil || m.Last.Value != nil || !slices.Contains(m.Last.Classes, "slowcmd_unavailable") {
		t.Errorf("slowcmd: last sample %+v, want no value and slowcmd_unavailable", m.Last)
	}
	// The command stream is named by its command line, as a shell would
	// read it, in the log and in `status`: no NUL byte, no \x00.
	const name = `pipe:interval:/bin/sh -c 'sleep 300; echo 1'`
	if !strings.Contains(d.log(), `stream="`+name+`"`) || strings.Contains(d.log(), `\x00`) {
		t.Errorf("the log does not name the stream %s", name)
	}
	if res := run(t, "", "status", "--state", r.state); !strings.Contains(res.stdout, name) || strings.ContainsAny(res.stdout, "\x00␀") {
		t.Errorf("status does not name the stream %s:\n%s", name, res.stdout)
	}
	// A stop the daemon asked for is no warning.
	for _, l := range strings.Split(d.log(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "stopped") {
			t.Errorf("a normal stop logged a warning: %s", l)
		}
	}
}

// TestStatusAfterStop: after a stop, `status` shows the last complete
// interval of each measurement, with its expectation (av, dev) and
// classes, not the partial interval the stop cut short (which has
// neither, and is completed by the next start).
func TestStatusAfterStop(t *testing.T) {
	r := newRig(t, "")
	log := r.path("app.log")
	writeFile(t, log, "")
	writeFile(t, r.rules, fmt.Sprintf("measurements:\n  - handle: lines\n    path: %q\n    select_line_matching: '.*x.*'\n", log))
	d := r.start("inotify", 0)
	d.waitLog(`event=open `, 1)
	committed := `msg=committed interval_start=\S+ partial=false`
	for k := 1; k <= 3; k++ {
		appendString(t, log, numbered("x", k, 2))
		d.waitLog(committed, k+1)
	}
	appendString(t, log, numbered("x", 9, 1))
	d.stop()
	m, _ := readStatus(t, r.state).measurement("lines")
	if m.Last == nil || m.Last.Partial || m.Last.Av == nil || m.Last.Dev == nil || len(m.Last.Classes) == 0 {
		t.Errorf("last sample after a stop %+v, want the last complete one, with av, dev and classes", m.Last)
	}
	res := run(t, "", "status", "--state", r.state)
	for _, l := range strings.Split(res.stdout, "\n") {
		if strings.HasPrefix(l, "lines ") && (strings.Contains(l, "(partial)") || strings.Contains(l, " -  ")) {
			t.Errorf("status row after a stop: %q, want the last complete interval's values", l)
		}
	}
}
