package tests

import (
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// learnResult is one row of `logtally learn`'s table.
type learnResult struct {
	intervals, skipped int
}

// learn runs `logtally learn` and returns its table by measurement.
func learn(t *testing.T, args ...string) map[string]learnResult {
	t.Helper()
	r := run(t, "", append([]string{"learn"}, args...)...)
	if r.code != 0 {
		t.Fatalf("logtally learn %v: exit %d\n%s", args, r.code, r.stderr)
	}
	out := map[string]learnResult{}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "MEASUREMENT") {
		t.Fatalf("logtally learn: unexpected output\n%s", r.stdout)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 3 {
			t.Fatalf("logtally learn: unexpected row %q", l)
		}
		iv, err1 := strconv.Atoi(f[1])
		sk, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("logtally learn: unexpected row %q", l)
		}
		out[f[0]] = learnResult{iv, sk}
	}
	return out
}

// quietTraining writes, as the rotated predecessor of a log, two hours of
// syslog-dated "probe" lines up to now, about one every eight seconds, and
// teaches them to the rules' baselines with a 1 s interval: after it, a
// burst of a few hundred lines in one second is an anomaly at once.
func quietTraining(t *testing.T, rulesPath, statePath, rotated string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	writeSyslog(t, rotated, now.Add(-2*time.Hour), now.Add(-2*time.Second), func(time.Time) []string {
		if rng.IntN(8) != 0 {
			return nil
		}
		return []string{fmt.Sprintf("app[7]: probe user=u%d", rng.IntN(50))}
	})
	res := learn(t, "--rules", rulesPath, "--state", statePath, "--interval", "1s", rotated)
	if len(res) == 0 {
		t.Fatalf("learn taught nothing")
	}
	for h, r := range res {
		if r.intervals < 7000 {
			t.Fatalf("learn: %s learned %d intervals, want two hours of 1 s intervals", h, r.intervals)
		}
	}
}

// TestCommandFiresOnce: a command guarded by a user class built on
// h_high_anomaly runs once when a burst makes the class rise; a second
// rise within ifelapsed (after the class fell) is suppressed, also after a
// restart, since the last run's time is in the state file; with --dry-run
// the command is logged and not run.
func TestCommandFiresOnce(t *testing.T) {
	r := newRig(t, "")
	log, fired := r.path("app.log"), r.path("fired.log")
	writeFile(t, log, "")
	writeFile(t, r.rules, fmt.Sprintf(`measurements:
  - handle: probe
    path: %s
    select_line_matching: '.*probe user=.*'
    key: 'user=(\S+)'
    persist: 0s
classes:
  probe_storm: {expression: probe_high_anomaly, persist: 0s}
commands:
  - handle: respond
    if: probe_storm
    command: [%s, %s, respond, "$(top_probe)"]
    env: {%s: record}
    ifelapsed: 1h
    timeout: 30s
settings:
  tags: {dc: par1}
`, log, yamlQuote(testBinary(t)), yamlQuote(fired), helperEnv))
	quietTraining(t, r.rules, r.state, log+".1")
	dryState := r.path("dry.db")
	copyFile(t, r.state, dryState)

	burst := func(user string, n int) {
		appendString(t, log, strings.Repeat("app[7]: probe user="+user+"\n", n))
	}
	suppressed := `msg="actions: rise suppressed" kind=command handle=respond guard=probe_storm reason=ifelapsed`
	waitFall := func() {
		testutil.WaitForWhy(t, waitTimeout, "probe_storm to fall", func() (bool, string) {
			st := readStatus(t, r.state)
			return !st.hasClass("probe_storm"), fmt.Sprintf("classes %v", st.Classes)
		})
	}

	d := r.start("inotify", 0, "--listen=")
	d.waitLog(`event=open `, 1)
	// The file's first interval is observed only in part, and not scored.
	d.waitLog(`msg=committed `, 1)
	burst("evil1", 300)
	testutil.WaitForWhy(t, waitTimeout, "the command to run", func() (bool, string) {
		n := len(readRecords(t, fired))
		return n > 0, fmt.Sprintf("%d runs", n)
	})
	d.waitLog(`msg="actions: command ran" handle=respond guard=probe_storm outcome=ok`, 1)
	recs := readRecords(t, fired)
	if got := recs[0].args(); len(got) != 2 || got[0] != "respond" || got[1] != "evil1" {
		t.Errorf("command argv %q, want [respond evil1]", got)
	}
	if recs[0].PPID != d.pid() {
		t.Errorf("command's parent is %d, not the daemon (%d): something ran in between", recs[0].PPID, d.pid())
	}
	if recs[0].PGID != recs[0].PID {
		t.Errorf("command runs in process group %d, want its own (%d)", recs[0].PGID, recs[0].PID)
	}

	// The class falls, then rises again within ifelapsed: suppressed.
	waitFall()
	burst("evil2", 600)
	d.waitLog(suppressed, 1)
	waitFall()
	d.stop()

	// A restart within ifelapsed does not forget the last run.
	d = r.start("inotify", 0, "--listen=")
	d.waitLog(`event=resume `, 1)
	d.waitLog(`msg=committed `, 1)
	burst("evil3", 900)
	d.waitLog(suppressed, 1)
	d.stop()

	if n := len(readRecords(t, fired)); n != 1 {
		t.Errorf("the command ran %d times, want once", n)
	}
	pts := decodeLPFile(t, r.outLP)
	if n := classRises(pts, "probe_storm"); n != 3 {
		t.Errorf("probe_storm rose %d times in the output, want 3 (the command ran at the first only)", n)
	}
	// Class points carry the global tags, as the samples do.
	for _, p := range pts {
		if p.tags["dc"] != "par1" {
			t.Errorf("point without the tag dc=par1 of settings.tags: %s", p.line)
			break
		}
	}

	// --dry-run logs the command instead of running it.
	d = startDaemon(t, daemonOpts{rules: r.rules, state: dryState, output: r.path("dry.lp"),
		extra: []string{"--dry-run", "--listen="}})
	d.waitLog(`event=open `, 1)
	d.waitLog(`msg=committed `, 1)
	burst("evil4", 300)
	d.waitLog(`msg="actions: dry run: would run" handle=respond guard=probe_storm argv=.*evil4`, 1)
	d.stop()
	if n := len(readRecords(t, fired)); n != 1 {
		t.Errorf("the command ran %d times, want once (a dry run runs nothing)", n)
	}
	if n := d.countLog(reLine(`msg="actions: command ran"`)); n != 0 {
		t.Errorf("the dry run ran %d commands", n)
	}
}

// TestHungCommandKilled: a command that hangs (ignoring SIGTERM, with a
// child in its process group) is killed at its timeout with its whole
// group, while the daemon keeps sampling and committing a file exactly.
func TestHungCommandKilled(t *testing.T) {
	r := newRig(t, "")
	log, pids := r.path("app.log"), r.path("hang.pids")
	writeFile(t, log, "")
	writeFile(t, r.rules, fmt.Sprintf(`measurements:
  - handle: lines
    path: %s
    select_line_matching: '.*'
    history_type: scalar
commands:
  - handle: hang
    if: any
    command: [%s, %s]
    env: {%s: hang}
    timeout: 1s
`, log, yamlQuote(testBinary(t)), yamlQuote(pids), helperEnv))
	d := r.start("inotify", 0, "--listen=")
	d.waitLog(`event=open `, 1)

	written := 0
	write := func(n int) {
		appendString(t, log, numbered("line", written, n))
		written += n
	}
	// The guard "any" is true from the first interval: the command starts
	// then and hangs.
	var pid, pgid, child int
	testutil.WaitForWhy(t, waitTimeout, "the command to start", func() (bool, string) {
		b, err := os.ReadFile(pids)
		if err != nil {
			return false, err.Error()
		}
		_, err = fmt.Sscan(string(b), &pid, &pgid, &child)
		return err == nil, fmt.Sprintf("%q", b)
	})
	if pgid != pid {
		t.Errorf("command runs in process group %d, want its own (%d)", pgid, pid)
	}
	if cg := procPgid(child); cg != pgid {
		t.Errorf("the command's child is in process group %d, want %d", cg, pgid)
	}
	write(10)
	waitTotal(t, r.state, "lines", written)
	testutil.WaitForWhy(t, waitTimeout, "process group "+strconv.Itoa(pgid)+" to be killed", func() (bool, string) {
		live := liveGroupMembers(pgid)
		return len(live) == 0, "still running: " + itoaList(live)
	})
	d.waitLog(`msg="actions: command ran" handle=hang guard=any outcome=timeout`, 1)
	m := regexp.MustCompile(`outcome=timeout exit=-?\d+ duration=(\S+)`).FindStringSubmatch(d.log())
	if m == nil {
		t.Fatalf("no duration in the log of the killed run")
	}
	if dur, err := time.ParseDuration(m[1]); err != nil || dur < time.Second {
		t.Errorf("killed run lasted %s, want at least its 1s timeout", m[1])
	}
	// Sampling goes on, exactly, after the kill: each total is reached only
	// by the commit of the interval the lines were written in (a stalled
	// sampling fails the wait; how late the machine's load lets a commit
	// come is no verdict).
	for range 3 {
		write(7)
		waitTotal(t, r.state, "lines", written)
	}
	d.stop()
	wantTotal(t, r.state, "lines", written)
	if n := d.countLog(reLine(`msg="actions: command ran" handle=hang`)); n != 1 {
		t.Errorf("the command ran %d times, want once (its guard rose once)", n)
	}
}

// procPgid returns the process group of a running process (-1 if it is
// gone).
func procPgid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return -1
	}
	g, _ := strconv.Atoi(f[2])
	return g
}
