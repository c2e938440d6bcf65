package tests

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// The host observables and file watches end to end: the binary's readings
// against the system's tools, and synthetic changes of the machine raising
// their classes in the interval after the change.

// ownSource is the loopback address the connections of connect come from.
// A loopback port is open to every process of the machine, and some
// connect to one that is not theirs: a test that takes a port that was
// free a moment ago for its server, and then probes it until the server
// answers (from 127.0.0.1), probes whatever took the port meanwhile. The
// listener of listen resets every connection from elsewhere as it accepts
// it, so that the connections to its port are this test's alone.
const ownSource = "127.0.0.2"

// listen opens n connections to a new loopback listener and returns its
// port; everything is closed at the end of the test. The listener keeps
// the connections from ownSource and resets the others.
func listen(t *testing.T, n int) (int, net.Listener) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var kept []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if c.RemoteAddr().(*net.TCPAddr).IP.String() != ownSource {
				// Not one of ours: a reset leaves no socket behind (a
				// close would leave ours in FIN-WAIT until the peer
				// closes, and counted).
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				continue
			}
			kept = append(kept, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range kept {
			c.Close()
		}
	})
	connect(t, ln.Addr().String(), n)
	return ln.Addr().(*net.TCPAddr).Port, ln
}

// connect opens n connections from ownSource to addr, closed at the end of
// the test.
func connect(t *testing.T, addr string, n int) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ownSource)}}
	for range n {
		c, err := d.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
}

// testJSON runs logtally test and returns its measurements by handle.
func testJSON(t *testing.T, args ...string) map[string]map[string]any {
	t.Helper()
	r := run(t, "", append([]string{"test", "--format", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("logtally test: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Measurements []map[string]any `json:"measurements"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("decode: %v\n%s", err, r.stdout)
	}
	by := map[string]map[string]any{}
	for _, m := range out.Measurements {
		by[m["handle"].(string)] = m
	}
	return by
}

// TestObservablesMatchTools: what the binary reads equals what ss, df and
// uptime show at the same moment (read again when the machine changed in
// between).
func TestObservablesMatchTools(t *testing.T) {
	need(t, "ss")
	need(t, "df")
	need(t, "uptime")
	need(t, "who")
	port, _ := listen(t, 20)
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "obs.yaml")
	writeFile(t, rulesFile, fmt.Sprintf(`observe:
  - users
  - loadavg
  - diskused
  - listening_ports
  - {handle: e2e_in, tcp_in: [%d]}
  - {handle: e2e_out, tcp_out: [%d]}
`, port, port))
	count := func(args ...string) int {
		out, err := exec.Command("ss", args...).Output()
		if err != nil {
			t.Fatalf("ss %v: %v", args, err)
		}
		return len(strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(out)), " ", "_")))
	}
	loadRe := regexp.MustCompile(`load average: ([0-9.]+),`)
	usersRe := regexp.MustCompile(`\("([^"]*)",pid=`)
	for try := 1; ; try++ {
		got := testJSON(t, "--rules", rulesFile)
		up, err := exec.Command("uptime").Output()
		if err != nil {
			t.Fatal(err)
		}
		df, err := exec.Command("df", "--output=pcent", "/").Output()
		if err != nil {
			t.Fatal(err)
		}
		lst, err := exec.Command("ss", "-Hltnp").Output()
		if err != nil {
			t.Fatal(err)
		}
		who, err := exec.Command("who").Output()
		if err != nil {
			t.Fatal(err)
		}
		in := count("-Htn", fmt.Sprintf("sport = :%d", port))
		out := count("-Htn", fmt.Sprintf("dport = :%d", port))
		again := testJSON(t, "--rules", rulesFile)

		var problems []string
		check := func(ok bool, format string, args ...any) {
			if !ok {
				problems = append(problems, fmt.Sprintf(format, args...))
			}
		}
		sessions := 0
		if w := strings.TrimSpace(string(who)); w != "" {
			sessions = len(strings.Split(w, "\n"))
		}
		check(got["users"]["value"] == float64(sessions), "users %v, who lists %d sessions", got["users"]["value"], sessions)
		m := loadRe.FindSubmatch(up)
		check(m != nil && fmt.Sprintf("%.2f", got["loadavg"]["value"]) == string(m[1]), "loadavg %v, uptime %s", got["loadavg"]["value"], up)
		pct := strings.TrimSpace(strings.Split(strings.TrimSpace(string(df)), "\n")[1])
		check(fmt.Sprintf("%.0f%%", math.Ceil(got["diskused"]["value"].(float64))) == pct, "diskused %v, df %s", got["diskused"]["value"], pct)
		check(got["e2e_in"]["value"] == float64(in) && in == 20, "e2e_in %v, ss %d, opened 20", got["e2e_in"]["value"], in)
		check(got["e2e_out"]["value"] == float64(out) && out == 20, "e2e_out %v, ss %d, opened 20", got["e2e_out"]["value"], out)
		check(got["e2e_in"]["top_key"] == ownSource, "e2e_in top key %v, want %s", got["e2e_in"]["top_key"], ownSource)
		var ssSet []string
		for _, l := range strings.Split(strings.TrimSpace(string(lst)), "\n") {
			f := strings.Fields(l)
			if len(f) < 4 {
				continue
			}
			p := f[3][strings.LastIndexByte(f[3], ':')+1:]
			names := usersRe.FindAllStringSubmatch(l, -1)
			if len(names) == 0 {
				ssSet = append(ssSet, p+" -")
			}
			for _, n := range names {
				ssSet = append(ssSet, p+" "+n[1])
			}
		}
		slices.Sort(ssSet)
		ssSet = slices.Compact(ssSet)
		var set []string
		for _, k := range got["listening_ports"]["set"].([]any) {
			set = append(set, k.(string))
		}
		slices.Sort(set)
		check(slices.Equal(set, ssSet), "listening_ports %q, ss -ltnp %q", set, ssSet)
		check(slices.Contains(set, fmt.Sprintf("%d tests.test", port)), "listening_ports %q lacks this test's port %d", set, port)

		stable := fmt.Sprint(got["users"]["value"], got["loadavg"]["value"], got["diskused"]["value"], got["listening_ports"]["set"]) ==
			fmt.Sprint(again["users"]["value"], again["loadavg"]["value"], again["diskused"]["value"], again["listening_ports"]["set"])
		if len(problems) == 0 {
			return
		}
		if !stable && try < 30 {
			continue // the machine changed between the readings
		}
		t.Fatalf("after %d tries:\n%s", try, strings.Join(problems, "\n"))
	}
}

// lastSample returns a measurement's last committed sample.
func lastSample(t *testing.T, state, handle string) *sampleStatus {
	t.Helper()
	m, ok := readStatus(t, state).measurement(handle)
	if !ok {
		return nil
	}
	return m.Last
}

// TestObservablesRaiseClasses: 60 processes of another user, 20 connections
// to a loopback port and a listener on an unexpected port raise
// otherprocs_high_anomaly, the port's _in and _out anomalies and
// listening_ports_unexpected with the first readings after the change,
// with the report naming the source.
func TestObservablesRaiseClasses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("starting processes of another user needs root")
	}
	port, ln := listen(t, 0)
	// otherprocs counts the processes of every other user of the machine:
	// a baseline during which some came and went (another test run on a
	// shared machine) is taken again, so that the class is judged against
	// a quiet one, as on a machine of its own.
	var d *daemonProc
	var dir, state, reports string
	for attempt := 1; ; attempt++ {
		dir = t.TempDir()
		state = filepath.Join(dir, "state.db")
		reports = filepath.Join(dir, "reports.log")
		rulesFile := filepath.Join(dir, "obs.yaml")
		writeFile(t, rulesFile, fmt.Sprintf(`observe:
  - otherprocs
  - {handle: e2e_in, tcp_in: [%d], persist: 0}
  - {handle: e2e_out, tcp_out: [%d], persist: 0}
  - {name: listening_ports, expect: ['22 sshd'], expireafter: 2m}
reports:
  - if: e2e_in_high_anomaly
    message: "connections in: $(value_e2e_in) (normal $(mon.av_e2e_in)), top source $(top_e2e_in)"
    to: %s
  - if: otherprocs_high_anomaly
    message: "processes of other users: $(value_otherprocs), most $(top_otherprocs)"
    to: %s
`, port, port, reports, reports))
		d = startDaemon(t, daemonOpts{rules: rulesFile, state: state, output: "file://" + filepath.Join(dir, "samples.lp"),
			extra: []string{"--listen", "127.0.0.1:0"}})
		d.waitLog(`committed`, 1)
		// A baseline of quiet intervals.
		testutil.WaitForWhy(t, 60*time.Second, "sixteen samples of e2e_in", func() (bool, string) {
			m, _ := readStatus(t, state).measurement("e2e_in")
			return m.Samples >= 16, fmt.Sprintf("%d", m.Samples)
		})
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range decodeLPFile(t, filepath.Join(dir, "samples.lp")) {
			if v, ok := p.fields["value"].(float64); ok && p.measurement == "otherprocs" {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		if hi-lo < 5 {
			break
		}
		d.stop()
		if attempt == 6 {
			t.Fatalf("the processes of other users kept changing (by %v) during six baselines", hi-lo)
		}
		t.Logf("the processes of other users changed by %v during the baseline: again", hi-lo)
	}
	// listening_ports reads every process's open files: seconds, or more,
	// while another process holds hundreds of thousands of them (as
	// TestSlowObservableStarvesNone does, in another run on the machine).
	// Its readings may take their expireafter; the waits for them too.
	const slowWait = 2 * time.Minute
	testutil.WaitForWhy(t, slowWait, "a sample of listening_ports", func() (bool, string) {
		before := lastSample(t, state, "listening_ports")
		return before != nil && before.Value != nil, fmt.Sprintf("%+v", before)
	})
	// The change: 60 sleeping processes of a user of their own (its ID,
	// as no other run of this test uses it; more than another run, which
	// may come or go meanwhile, starts), 20 connections, and a listener
	// where none is expected. The daemon is stopped meanwhile, so
	// that every reading sees all of the change or none of it (a reading
	// in the middle of it would judge a part of it, and name another top
	// source).
	uid := 40000 + os.Getpid()%20000
	owner := strconv.Itoa(uid)
	if u, err := osuser.LookupId(owner); err == nil {
		owner = u.Username
	}
	if err := d.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Signal(syscall.SIGCONT) }) // if the change fails: before the daemon is stopped
	changed := time.Now()
	const sleepers = 60
	for range sleepers {
		cmd := exec.Command("sleep", "600")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: 65534}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	connect(t, ln.Addr().String(), 20)
	extra, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	newMember := fmt.Sprintf("%d tests.test", extra.Addr().(*net.TCPAddr).Port)
	if err := d.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}

	// Every interval that ends from now on is read after the change.
	first := time.Now().Truncate(time.Second).Add(time.Second)
	shared := false // another run's user has as many processes as this one's
	for _, c := range []struct {
		handle, class, top string
		count              uint64 // of the top source
	}{
		{"otherprocs", "otherprocs_high_anomaly", owner, sleepers},
		{"e2e_in", "e2e_in_high_anomaly", ownSource, 20},
		{"e2e_out", "e2e_out_high_anomaly", "127.0.0.1", 20},
	} {
		var s *sampleStatus
		testutil.WaitForWhy(t, waitTimeout, c.handle+" to sample the change", func() (bool, string) {
			s = lastSample(t, state, c.handle)
			if s == nil || s.End.Before(first) {
				return false, fmt.Sprintf("%+v", s)
			}
			return true, ""
		})
		// Another run of this test on the machine may have as many
		// processes of its own user: then either is the top.
		top := s.TopKey == c.top && s.TopCount == c.count
		if c.handle == "otherprocs" && !top && s.TopCount >= c.count {
			top, shared = true, true
		}
		if s.Value == nil || *s.Value < float64(c.count) || !top {
			t.Errorf("%s: value %v, top %q with %d; want %d from %s", c.handle, ptr(s.Value), s.TopKey, s.TopCount, c.count, c.top)
		}
		// The change raised the class: a sample read after it set it, and
		// the decision it joined (its own interval's, or the next one's
		// when it was read late) raised it.
		testutil.WaitForWhy(t, waitTimeout, c.class+" to rise", func() (bool, string) {
			var series []string
			for _, p := range decodeLPFile(t, filepath.Join(dir, "samples.lp")) {
				switch {
				case p.measurement == c.handle:
					series = append(series, fmt.Sprint(p.fields["value"]))
				case p.measurement == "logtally_class" && p.tags["class"] == c.class && p.fields["state"] == int64(1) && p.ts.After(changed):
					return true, ""
				}
			}
			return false, fmt.Sprintf("the series of %s: %v", c.handle, series)
		})
	}
	testutil.WaitForWhy(t, slowWait, "the new listener in listening_ports", func() (bool, string) {
		last := readStatusRaw(t, state, "listening_ports")
		end, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(last["end"]))
		if end.Before(first) {
			return false, "no sample after the change"
		}
		un, _ := last["unexpected"].([]any)
		if !slices.Contains(un, any(newMember)) {
			t.Fatalf("the first sample after the change (%v) does not have %q among the unexpected %v", end, newMember, un)
		}
		classes, _ := last["classes"].([]any)
		if !slices.Contains(classes, any("listening_ports_unexpected")) {
			t.Fatalf("classes %v", classes)
		}
		return true, ""
	})
	testutil.WaitFor(t, waitTimeout, "the reports", func() bool {
		b, _ := os.ReadFile(reports)
		return strings.Contains(string(b), "connections in: 20") && strings.Contains(string(b), "processes of other users:")
	})
	b, _ := os.ReadFile(reports)
	most := regexp.MustCompile(`processes of other users: \d+, most (\S+)`).FindStringSubmatch(string(b))
	if !strings.Contains(string(b), "top source "+ownSource) || most == nil || most[1] != owner && !shared {
		t.Errorf("reports (the processes of other users named by %s):\n%s", owner, b)
	}
	// Each observable has a stream's self-metrics: its readings, and the
	// readings that failed, each of which the log names (on a busy
	// machine, a reading still under way when the next interval ends
	// makes that interval a gap).
	fams := scrape(t, d.webAddr())
	d.stop()
	for h, least := range map[string]float64{"e2e_in": 16, "otherprocs": 1, "listening_ports": 1} {
		if n, ok := metricValue(fams, "logtally_stream_lines_total", "source", "observe:"+h); !ok || n < least {
			t.Errorf("logtally_stream_lines_total{source=observe:%s} = %v, %v; want at least %v", h, n, ok, least)
		}
		n, ok := metricValue(fams, "logtally_stream_open_errors_total", "source", "observe:"+h)
		logged := regexp.MustCompile(`msg="observable not read: no value this interval" handle=`+h+` `).FindAllStringIndex(d.log(), -1)
		if !ok || n > float64(len(logged)) {
			t.Errorf("logtally_stream_open_errors_total{source=observe:%s} = %v, %v; the log names %d failed readings", h, n, ok, len(logged))
		}
	}
}

func ptr(v *float64) string {
	if v == nil {
		return "nil"
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}

// readStatusRaw returns one measurement's last sample as JSON, whole.
func readStatusRaw(t *testing.T, state, handle string) map[string]any {
	t.Helper()
	r := run(t, "", "status", "--state", state, "--json")
	var st struct {
		Measurements []struct {
			Handle string         `json:"handle"`
			Last   map[string]any `json:"last"`
		} `json:"measurements"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Measurements {
		if m.Handle == handle {
			return m.Last
		}
	}
	return nil
}

// watchStatus is the watches part of `logtally status --json`.
type watchStatus struct {
	CommittedEnd time.Time `json:"committed_end"`
	Classes      []struct {
		Name string `json:"name"`
	} `json:"classes"`
	Watches []struct {
		Handle   string `json:"handle"`
		Progress struct {
			Files    int  `json:"files"`
			Complete bool `json:"complete"`
		} `json:"progress"`
		Outstanding int `json:"outstanding"`
	} `json:"watches"`
}

func readWatchStatus(t *testing.T, state string) watchStatus {
	t.Helper()
	r := run(t, "", "status", "--state", state, "--json")
	var st watchStatus
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("decode status: %v\n%s", err, r.stdout)
	}
	return st
}

func (s watchStatus) has(class string) bool {
	for _, c := range s.Classes {
		if c.Name == class {
			return true
		}
	}
	return false
}

// TestWatchFilesEndToEnd: a change of a watched file's content, mode and
// owner raises w_changed in the interval after it, with a report naming the
// files and the change log saying what changed; update_hashes: no keeps it
// raised until accept-changes, run while the daemon runs; a file added and
// one removed raise w_added and w_removed.
func TestWatchFilesEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	if err := os.MkdirAll(filepath.Join(etc, "ssh"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"passwd": "root:x:0:0::/root:/bin/sh\n", "ssh/sshd_config": "PermitRootLogin no\n", "hosts": "127.0.0.1 localhost\n"} {
		writeFile(t, filepath.Join(etc, name), content)
	}
	state := filepath.Join(dir, "state.db")
	reports := filepath.Join(dir, "reports.log")
	changeLog := filepath.Join(dir, "changes.jsonl")
	rulesFile := filepath.Join(dir, "watch.yaml")
	writeFile(t, rulesFile, fmt.Sprintf(`watch_files:
  - handle: etc
    paths: [%s]
    exclude: ['*.swp']
    persist: 0
reports:
  - if: etc_changed|etc_added|etc_removed
    message: "files changed: $(changed_etc); added: $(added_etc); removed: $(removed_etc)"
    to: %s
settings:
  file_change_log: %s
`, etc, reports, changeLog))
	d := startDaemon(t, daemonOpts{rules: rulesFile, state: state, output: "file://" + filepath.Join(dir, "samples.lp")})
	d.waitLog(`committed`, 2)
	testutil.WaitForWhy(t, waitTimeout, "the baseline", func() (bool, string) {
		st := readWatchStatus(t, state)
		return len(st.Watches) == 1 && st.Watches[0].Progress.Complete, fmt.Sprintf("%+v", st.Watches)
	})
	if st := readWatchStatus(t, state); st.has("etc_changed") || st.Watches[0].Progress.Files != 5 {
		t.Fatalf("after the baseline: %+v", st)
	}

	// The change: content, mode, owner.
	writeFile(t, filepath.Join(etc, "passwd"), "root:x:0:0::/root:/bin/sh\nevil:x:0:0::/:/bin/sh\n")
	if err := os.Chmod(filepath.Join(etc, "ssh/sshd_config"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(etc, "hosts"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	// Scanned at the start of the next interval, reported at its end.
	deadline := changed.Truncate(time.Second).Add(2 * time.Second)
	testutil.WaitForWhy(t, waitTimeout, "etc_changed", func() (bool, string) {
		st := readWatchStatus(t, state)
		return st.has("etc_changed"), fmt.Sprintf("committed to %v, classes %v", st.CommittedEnd, st.Classes)
	})
	if st := readWatchStatus(t, state); st.CommittedEnd.After(deadline.Add(time.Second)) {
		t.Logf("the daemon was late: etc_changed committed with the interval ending %v, the change was at %v", st.CommittedEnd, changed)
	}
	testutil.WaitFor(t, waitTimeout, "the report", func() bool {
		b, _ := os.ReadFile(reports)
		return strings.Contains(string(b), "files changed:")
	})
	b, _ := os.ReadFile(reports)
	for _, f := range []string{"etc/hosts", "etc/passwd", "etc/ssh/sshd_config"} {
		if !strings.Contains(string(b), filepath.Join(dir, f)) {
			t.Errorf("the report does not name %s:\n%s", f, b)
		}
	}
	logged := readChangeLog(t, changeLog)
	for _, want := range []string{"passwd: content", "sshd_config: permissions 0644 -> 0666", "hosts: owner 0 -> 1000, group 0 -> 1000"} {
		if !slices.ContainsFunc(logged, func(l string) bool { return strings.HasSuffix(l, want) || strings.Contains(l, want+",") }) {
			t.Errorf("the change log lacks %q:\n%s", want, strings.Join(logged, "\n"))
		}
	}

	// Reported until accepted, which the running daemon does.
	d.waitLog(`committed`, d.countLog(regexp.MustCompile(`committed`))+2)
	if st := readWatchStatus(t, state); !st.has("etc_changed") || st.Watches[0].Outstanding != 3 {
		t.Fatalf("update_hashes: no, before accept-changes: %+v", st)
	}
	r := run(t, "", "accept-changes", "--rules", rulesFile, "--state", state, "--wait", "30s")
	if r.code != 0 || !strings.Contains(r.stdout, "accepted by the running daemon") {
		t.Fatalf("accept-changes: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	testutil.WaitForWhy(t, waitTimeout, "etc_changed to clear", func() (bool, string) {
		st := readWatchStatus(t, state)
		return !st.has("etc_changed") && st.Watches[0].Outstanding == 0, fmt.Sprintf("%+v", st)
	})
	if n := len(readChangeLog(t, changeLog)); n != len(logged) {
		t.Errorf("the change log grew from %d to %d lines while nothing new changed", len(logged), n)
	}

	// A file added and one removed.
	writeFile(t, filepath.Join(etc, "cron.allow"), "root\n")
	if err := os.Remove(filepath.Join(etc, "hosts")); err != nil {
		t.Fatal(err)
	}
	testutil.WaitForWhy(t, waitTimeout, "etc_added and etc_removed", func() (bool, string) {
		st := readWatchStatus(t, state)
		return st.has("etc_added") && st.has("etc_removed") && !st.has("etc_changed"), fmt.Sprintf("%v", st.Classes)
	})
	d.stop()

	// Stopped: accept-changes writes the state file itself.
	r = run(t, "", "accept-changes", "--rules", rulesFile, "--state", state)
	if r.code != 0 || !strings.Contains(r.stdout, "accepted 2 changed files") {
		t.Fatalf("accept-changes with the daemon stopped: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if st := readWatchStatus(t, state); st.Watches[0].Outstanding != 0 {
		t.Errorf("after accept-changes: %+v", st.Watches)
	}
}

// readChangeLog returns the change log as "change path: details" lines.
func readChangeLog(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("change log: %v", err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e struct {
			Handle  string   `json:"handle"`
			Path    string   `json:"path"`
			Change  string   `json:"change"`
			Details []string `json:"details"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("change log line %q: %v", l, err)
		}
		var d []string
		for _, x := range e.Details {
			if x != "mtime" {
				d = append(d, x)
			}
		}
		out = append(out, e.Change+" "+e.Path+": "+strings.Join(d, ", "))
	}
	return out
}

// TestSelectLineNumber: the n-th line of a command's output, as CFEngine's
// select_line_number, through logtally test.
func TestSelectLineNumber(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "lines.yaml")
	writeFile(t, rulesFile, `measurements:
  - handle: second_line
    stream_type: pipe
    path: [printf, '%s\n', 'Filesystem Use%', '/dev/sda1 41%', '/dev/sdb1 77%']
    pipe_mode: interval
    select_line_number: 2
    data_type: int
    extraction_regex: '(\d+)%'
  - handle: mail_sm-mta
    stream_type: pipe
    path: [printf, '%s\n', a, b]
    pipe_mode: interval
    select_line_number: 1
`)
	got := testJSON(t, "--rules", rulesFile)
	if v := got["second_line"]["value"]; v != 41.0 {
		t.Errorf("second_line = %v, want 41", v)
	}
	if m := got["mail_sm_mta"]; m == nil || m["value"] != 1.0 || m["selected"] != 1.0 {
		t.Errorf("the canonified mail_sm_mta: %v", m)
	}
}

// TestIfElapsedEndToEnd: an interval command with ifelapsed: 3s runs once
// in three 1-second intervals, and the intervals in between repeat its
// last value, so that the series has no gap.
func TestIfElapsedEndToEnd(t *testing.T) {
	dir := t.TempDir()
	counter := filepath.Join(dir, "runs")
	writeFile(t, counter, "")
	rulesFile := filepath.Join(dir, "slow.yaml")
	writeFile(t, rulesFile, fmt.Sprintf(`measurements:
  - handle: slow
    stream_type: pipe
    path: [sh, -c, 'echo run >> %[1]s; echo run $(wc -l < %[1]s)']
    pipe_mode: interval
    select_line_matching: 'run \d+'
    data_type: int
    extraction_regex: 'run (\d+)'
    history_type: scalar
    ifelapsed: 3s
`, counter))
	out := filepath.Join(dir, "samples.lp")
	d := startDaemon(t, daemonOpts{rules: rulesFile, state: filepath.Join(dir, "state.db"), output: "file://" + out})
	// Ten samples written, however the intervals were grouped into
	// commits on a busy machine.
	testutil.WaitForWhy(t, waitTimeout, "ten samples of slow", func() (bool, string) {
		b, _ := os.ReadFile(out)
		n := 0
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if strings.HasPrefix(l, "slow,") && strings.HasSuffix(l, "\n") {
				n++
			}
		}
		return n >= 10, fmt.Sprintf("%d samples", n)
	})
	d.stop()
	var values []float64
	for _, p := range decodeLPFile(t, out) {
		if p.measurement == "slow" {
			values = append(values, p.fields["value"].(float64))
		}
	}
	data, _ := os.ReadFile(counter)
	runs := strings.Count(string(data), "\n")
	if len(values) < 10 {
		t.Fatalf("%d samples: %v", len(values), values)
	}
	// The first interval may be short; then every value holds three
	// intervals, and the runs are a third of the intervals.
	if max := len(values)/3 + 2; runs > max || runs < len(values)/3-1 {
		t.Errorf("%d runs in %d intervals: %v", runs, len(values), values)
	}
	for i := 1; i < len(values); i++ {
		if values[i] < values[i-1] || values[i] > values[i-1]+1 {
			t.Fatalf("samples %v: not one run's value held until the next", values)
		}
	}
	held := 0
	for i := 1; i < len(values); i++ {
		if values[i] == values[i-1] {
			held++
		}
	}
	if held < len(values)/2 {
		t.Errorf("samples %v: the value is held in only %d intervals", values, held)
	}
}
