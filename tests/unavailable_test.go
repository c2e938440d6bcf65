package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/logtally/logtally/internal/testutil"
)

// TestUnavailableStreams: a stream that cannot be read is a gap, not a
// zero. A missing file, /bin/false, a command that does not exist and an
// interval command killed at its timeout give intervals without a value
// that set <handle>_unavailable (which a report can be guarded by), teach
// nothing, are logged once per outage (not per interval), counted in
// /metrics and marked down on the status page and in `status`. A file that
// exists but receives no line is a real 0. When the missing file appears,
// its recovery is logged and its intervals are real zeros again.
func TestUnavailableStreams(t *testing.T) {
	r := newRig(t, "")
	missing, quiet, reports := r.path("missing.log"), r.path("quiet.log"), r.path("reports.log")
	writeFile(t, quiet, "")
	falseCmd, err := exec.LookPath("false")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, r.rules, fmt.Sprintf(`measurements:
  - handle: miss
    path: %[1]s
    select_line_matching: '.*probe.*'
  - handle: quiet
    path: %[2]s
    select_line_matching: '.*probe.*'
  - handle: fails
    stream_type: pipe
    path: [%[3]s]
    select_line_matching: '.*'
  - handle: absent
    stream_type: pipe
    path: [%[4]s/no-such-command]
    select_line_matching: '.*'
  - handle: hangs
    stream_type: pipe
    pipe_mode: interval
    timeout: 200ms
    path: [sleep, '10']
    select_line_matching: '.*'
reports:
  - if: miss_unavailable
    message: "cannot read the log"
    to: %[5]s
`, missing, quiet, falseCmd, r.dir, reports))
	if res := run(t, "", "check", "--rules", r.rules); res.code != 0 {
		t.Fatalf("check refuses a class expression of _unavailable: exit %d\n%s", res.code, res.stderr)
	}
	d := r.start("inotify", 0, "--listen", "127.0.0.1:0")
	addr := d.webAddr()
	// Five complete intervals.
	d.waitLog(`msg=committed interval_start=\S+ partial=false`, 6)

	st := readStatus(t, r.state)
	for _, h := range []string{"miss", "fails", "absent", "hangs"} {
		m, _ := st.measurement(h)
		if m.Last == nil || m.Last.Value != nil || !slices.Contains(m.Last.Classes, h+"_unavailable") {
			t.Errorf("%s: last sample %+v, want no value and %s_unavailable", h, m.Last, h)
		}
		if m.Total != 0 || m.Samples != 0 {
			t.Errorf("%s: total %v over %d samples, want nothing counted", h, m.Total, m.Samples)
		}
	}
	if m, _ := st.measurement("quiet"); m.Last == nil || m.Last.Value == nil || *m.Last.Value != 0 ||
		slices.Contains(m.Last.Classes, "quiet_unavailable") {
		t.Errorf("quiet: last sample %+v, want a real 0", m.Last)
	}
	down := map[string]bool{}
	for _, s := range st.Down {
		down[s.Source] = true
	}
	if len(down) != 4 || !down[missing] || down[quiet] {
		t.Errorf("status: down streams %v, want the four that cannot be read", st.Down)
	}
	res := run(t, "", "status", "--state", r.state)
	if !strings.Contains(res.stdout, "stream "+missing+" DOWN since ") {
		t.Errorf("status does not show the missing file's stream down:\n%s", res.stdout)
	}

	// One warning per outage, however many intervals it lasts.
	for _, src := range []string{missing, "pipe:stream:" + falseCmd, "pipe:stream:" + r.dir + "/no-such-command", "pipe:interval:sleep 10"} {
		re := reLine(`msg="stream unavailable.*stream="?` + regexp.QuoteMeta(src))
		if n := d.countLog(re); n != 1 {
			t.Errorf("%d unavailability warnings for %q over five intervals, want 1", n, src)
		}
		// Nor is the failure that starts the outage, or each one that
		// prolongs it, a warning of its own (a command that exits, cannot
		// start or is killed again at every interval or restart): the
		// outage's warning, which names the reason, is the only one.
		quoted := regexp.MustCompile(`stream="?` + regexp.QuoteMeta(strings.ReplaceAll(src, "\x00", `\x00`)) + `"?( |$)`)
		var warned []string
		for _, l := range strings.Split(d.log(), "\n") {
			if strings.Contains(l, "level=WARN") && quoted.MatchString(l) && !re.MatchString(l) {
				warned = append(warned, l)
			}
		}
		if len(warned) > 0 {
			t.Errorf("%d warnings for %q besides its outage's, want none:\n%s", len(warned), src, strings.Join(warned, "\n"))
		}
	}

	fams := scrape(t, addr)
	for src, want := range map[string]float64{missing: 0, quiet: 1} {
		if v, ok := metricValue(fams, "logtally_stream_up", "source", src); !ok || v != want {
			t.Errorf("logtally_stream_up{source=%s} = %v (present %v), want %v", src, v, ok, want)
		}
	}
	if v, ok := metricValue(fams, "logtally_stream_unavailable_intervals_total", "source", missing); !ok || v < 5 {
		t.Errorf("logtally_stream_unavailable_intervals_total{source=%s} = %v, want one per interval (5 or more)", missing, v)
	}
	_, page := httpGet(t, "http://"+addr+"/")
	if !strings.Contains(string(page), "down</span> since") {
		t.Errorf("the status page marks no stream down")
	}

	// The report guarded by miss_unavailable fired once: the class rose
	// once.
	testutil.WaitForWhy(t, waitTimeout, "the report", func() (bool, string) {
		b, _ := os.ReadFile(reports)
		return countLines(string(b)) >= 1, string(b)
	})

	// The file appears: the outage ends.
	writeFile(t, missing, "")
	d.waitLog(`msg="stream available again" stream=`+regexp.QuoteMeta(missing), 1)
	d.waitLog(`msg=committed interval_start=\S+ partial=false`, d.countLog(reLine(`msg=committed interval_start=\S+ partial=false`))+1)
	d.stop()
	if m, _ := readStatus(t, r.state).measurement("miss"); m.Last == nil || m.Last.Value == nil || *m.Last.Value != 0 {
		t.Errorf("miss after the file appeared: %+v, want a real 0", m.Last)
	}
	if b, _ := os.ReadFile(reports); countLines(string(b)) != 1 {
		t.Errorf("reports:\n%s\nwant one line: miss_unavailable rose once", b)
	}
	// Nothing was learned of the gaps: the missing file's week is empty
	// but for what its last interval, a real zero, taught.
	out := filepath.Join(r.dir, "graph")
	if res := run(t, "", "graph", "--state", r.state, "--handle", "miss", "--out", out); res.code != 0 {
		t.Fatalf("graph: exit %d\n%s", res.code, res.stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "miss.csv"))
	if err != nil {
		t.Fatal(err)
	}
	learned := 0
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		if f := strings.Split(l, ","); f[len(f)-1] != "0" {
			learned++
		}
	}
	if learned > 2 {
		t.Errorf("the missing file's baseline learned %d slots, want at most the one after it appeared", learned)
	}
}
