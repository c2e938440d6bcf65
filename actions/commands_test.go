package actions

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
	"github.com/logtally/logtally/rules"
)

// measurementKey is the rules of h, with the source of each line as its
// key.
var measurementKey = ruleOf("h", `key: 'from (\S+)'`, "persist: 0")

// hostileKey is text an attacker can put in a log line.
var hostileKey = "$(reboot) `reboot` ; reboot && echo pwned | tee /x\n'single' \"double\" \\back $(value_h) \r\x1b[31m\xff\u2028" +
	strings.Repeat("A", 10<<10)

func splitNul(b []byte) []string {
	parts := strings.Split(string(b), "\x00")
	return parts[:len(parts)-1]
}

// TestArgvAndEnvironment: a key full of shell syntax reaches the command as
// one argv element and as environment values, byte for byte, and the other
// variables are expanded as documented.
func TestArgvAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	set := loadRules(t, measurementKey+fmt.Sprintf(`
commands:
  - handle: probe
    if: h_high
    command: ['%s', --, '$(top_h)', 'pre-$(top_h)-post', '$(value_h)', '$(av_h)', '$(classes)', '$(nope)', '$(nope)']
    env:
      LOGTALLY_ACTIONS_HELPER: argv
      HELPER_OUT: '%s'
      SOURCE: '$(top_h)'
      LOGTALLY_HANDLE: spoofed
`, helperPath(t), dir))
	h := newHarness(t, set, Options{Environ: []string{"PATH=/usr/bin:/bin", "BASE=kept"}})
	h.vars = map[string]float64{"value_h": 42, "av_h": 3.25, "dev_h": 1.0 / 3, "z_h": 11.5}
	h.keys = map[string]string{"top_h": hostileKey}
	d := h.next("h_high", "h_high_anomaly")
	if len(d.Fired) != 1 {
		t.Fatalf("fired %v", firedHandles(d.Fired))
	}
	h.wait()
	if rec, _ := lastRecord(h.e, "probe", ""); rec.Outcome != OutcomeOK {
		t.Fatalf("run: %+v", rec)
	}
	args, err := os.ReadFile(filepath.Join(dir, "args"))
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := []string{"--", hostileKey, "pre-" + hostileKey + "-post", "42", "3.25", "h_high h_high_anomaly", "$(nope)", "$(nope)"}
	if got := splitNul(args); !slices.Equal(got, wantArgs) {
		t.Errorf("argv differs:\n got %.300q\nwant %.300q", got, wantArgs)
	}
	envb, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	env := splitNul(envb)
	for _, want := range []string{
		"BASE=kept",
		"SOURCE=" + hostileKey,
		"LOGTALLY_TOP_h=" + hostileKey,
		"LOGTALLY_HANDLE=probe",
		"LOGTALLY_GUARD=h_high",
		"LOGTALLY_CLASSES=h_high h_high_anomaly",
		"LOGTALLY_INTERVAL_START=2025-03-10T12:00:00Z",
		"LOGTALLY_INTERVAL_END=2025-03-10T12:05:00Z",
		"LOGTALLY_VALUE_h=42",
		"LOGTALLY_AV_h=3.25",
		"LOGTALLY_DEV_h=0.3333333333",
		"LOGTALLY_Z_h=11.5",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("environment lacks %.120q", want)
		}
	}
	if slices.Contains(env, "LOGTALLY_HANDLE=spoofed") {
		t.Error("env: overrode LOGTALLY_HANDLE")
	}
	if n := strings.Count(h.log.String(), "unknown variable"); n != 1 {
		t.Errorf("unknown $(nope) logged %d times, want once:\n%s", n, h.log)
	}
	for _, line := range strings.Split(strings.TrimSuffix(h.log.String(), "\n"), "\n") {
		if !strings.Contains(line, "level=") {
			t.Errorf("log line broken by log text: %.200q", line)
		}
	}
}

// TestShellNeverGetsLogText: a shell command whose argv would carry text
// from a log line is refused and counted, even when built around the rule
// loader's check; one without log text runs, with its handle as $0.
func TestShellNeverGetsLogText(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	ok := filepath.Join(dir, "ok")
	guard := rules.MustParseExpr("h_high")
	set := &rules.Set{
		Measurements: []*rules.Measurement{{Handle: "h", HistoryType: rules.HistoryWeekly, Key: `from (\S+)`}},
		Commands: []*rules.Command{
			{Handle: "bad", If: guard, Shell: true, Timeout: time.Minute,
				Argv: []string{`touch "$1" # $(top_h)`, marker}},
			{Handle: "badarg", If: guard, Shell: true, Timeout: time.Minute,
				Argv: []string{`touch "$1"`, marker + "$(top_h)"}},
			{Handle: "good", If: guard, Shell: true, Timeout: time.Minute,
				Argv: []string{`echo "$0 $(value_h)" > "$1"`, ok}},
		},
	}
	h := newHarness(t, set, Options{})
	h.vars = map[string]float64{"value_h": 7}
	h.keys = map[string]string{"top_h": "x; touch " + marker}
	h.next("h_high")
	h.wait()
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a shell command ran with text from a log line")
	}
	for _, handle := range []string{"bad", "badarg"} {
		if rec, found := lastRecord(h.e, handle, OutcomeRefused); !found || !strings.Contains(rec.Err, "shell") {
			t.Errorf("%s: no refusal recorded: %+v", handle, rec)
		}
	}
	if st := h.e.Stats(); st.Refused != 2 || st.Runs != 1 {
		t.Errorf("refused %d, runs %d; want 2 and 1", st.Refused, st.Runs)
	}
	b, err := os.ReadFile(ok)
	if err != nil || string(b) != "good 7\n" {
		t.Errorf("shell command without log text: %q, %v", b, err)
	}
}

// TestRefusals: a NUL byte in argv or the environment, or a key that fails
// its key_type, refuses the run; a bad key of another measurement only
// keeps its LOGTALLY_TOP_ variable out of the environment.
func TestRefusals(t *testing.T) {
	rulesSrc := `
measurements:
  - {handle: ip, path: /l, select_line_matching: '.*', key: 'from (\S+)', key_type: ip, persist: 0}
  - {handle: user, path: /l, select_line_matching: '.*', key: 'user (\S+)', key_type: word, persist: 0}
  - {handle: text, path: /l, select_line_matching: '.*', key: 'x (\S+)', persist: 0}
commands:
  - {handle: c, if: any, command: %s, env: %s}
`
	cases := []struct {
		name    string
		argv    string
		env     string
		keys    map[string]string
		refused string // substring of the reason; "" runs
		envLack string
	}{
		{name: "NUL in argv", argv: "[/bin/true, '$(top_text)']", env: "{}", keys: map[string]string{"top_text": "a\x00b"}, refused: "argv[1] contains a NUL byte"},
		{name: "NUL in env", argv: "[/bin/true]", env: "{K: '$(top_text)'}", keys: map[string]string{"top_text": "a\x00b"}, refused: "environment variable K contains a NUL"},
		{name: "NUL in a key not used", argv: "[/bin/true]", env: "{}", keys: map[string]string{"top_text": "a\x00b"}, envLack: "LOGTALLY_TOP_text="},
		{name: "not an address", argv: "[/usr/sbin/nft, add, element, '{ $(top_ip) }']", env: "{}", keys: map[string]string{"top_ip": "1.2.3.4 }; flush ruleset"}, refused: "$(top_ip) is not a valid ip key"},
		{name: "address with a zone", argv: "[/bin/true, '$(top_ip)']", env: "{}", keys: map[string]string{"top_ip": "fe80::1%;reboot"}, refused: "not a valid ip key"},
		{name: "not a word", argv: "[/bin/true]", env: "{U: '$(top_user)'}", keys: map[string]string{"top_user": "bob smith"}, refused: "$(top_user) is not a valid word key"},
		{name: "valid address", argv: "[/bin/true, '$(top_ip)']", env: "{}", keys: map[string]string{"top_ip": "2001:db8::1"}},
		{name: "bad key not used", argv: "[/bin/true, '$(top_user)']", env: "{}", keys: map[string]string{"top_ip": "; reboot", "top_user": "root@host"}, envLack: "LOGTALLY_TOP_ip="},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, loadRules(t, fmt.Sprintf(rulesSrc, tc.argv, tc.env)), Options{DryRun: tc.refused == ""})
			h.keys = tc.keys
			h.next()
			h.wait()
			rec, _ := lastRecord(h.e, "c", "")
			st := h.e.Stats()
			if tc.refused == "" {
				if rec.Outcome != OutcomeDryRun || st.Refused != 0 {
					t.Fatalf("not run: %+v", rec)
				}
				for _, kv := range rec.Env {
					if tc.envLack != "" && strings.HasPrefix(kv, tc.envLack) {
						t.Errorf("environment has %q", kv)
					}
				}
				return
			}
			if rec.Outcome != OutcomeRefused || !strings.Contains(rec.Err, tc.refused) || st.Refused != 1 || st.Runs != 0 {
				t.Errorf("record %+v, stats %+v; want refused with %q", rec, st, tc.refused)
			}
		})
	}
}

// TestTimeoutKillsProcessGroup: a hung command is killed with its children
// at its timeout, also when it ignores SIGTERM or leaves a background
// child holding its output.
func TestTimeoutKillsProcessGroup(t *testing.T) {
	cases := []struct {
		name, script, signal string
	}{
		{"hangs", `sleep 1000 & echo $! > "$1"; sleep 1000`, "SIGTERM"},
		{"ignores SIGTERM", `trap "" TERM; sleep 1000 & echo $! > "$1"; wait`, "SIGKILL"},
		{"background child holds output", `sleep 1000 & echo $! > "$1"`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			set := loadRules(t, measurementKey+fmt.Sprintf(`
commands:
  - handle: hang
    if: h_high
    command: [/bin/sh, -c, '%s', sh, '%s']
    timeout: 1s
`, tc.script, pidFile))
			h := newHarness(t, set, Options{KillGrace: 200 * time.Millisecond})
			h.next("h_high")
			child := readPid(t, pidFile)
			testutil.WaitFor(t, 20*time.Second, "the timeout", func() bool { _, ok := lastRecord(h.e, "hang", OutcomeTimeout); return ok })
			testutil.WaitFor(t, 20*time.Second, "the grandchild to die", func() bool { return gone(child) })
			rec, _ := lastRecord(h.e, "hang", "")
			if rec.Signal != tc.signal {
				t.Errorf("signal %q, want %q", rec.Signal, tc.signal)
			}
			if st := h.e.Stats(); st.Timeouts != 1 || st.Failures != 1 || st.Running != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestHungCommandBlocksNothing: Execute returns while a command hangs,
// other commands run, and Wait kills the hung one at shutdown.
func TestHungCommandBlocksNothing(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	set := loadRules(t, measurementKey+fmt.Sprintf(`
commands:
  - handle: hang
    if: h_high
    command: [/bin/sh, -c, 'sleep 1000 & echo $! > "$1"; sleep 1000', sh, '%s']
    timeout: 1h
  - handle: quick
    if: h_low
    command: [/bin/sh, -c, 'echo done']
`, pidFile))
	h := newHarness(t, set, Options{KillGrace: 200 * time.Millisecond})
	h.next("h_high")
	child := readPid(t, pidFile)
	h.next("h_low")
	testutil.WaitFor(t, 20*time.Second, "the quick command", func() bool { _, ok := lastRecord(h.e, "quick", OutcomeOK); return ok })
	if rec, _ := lastRecord(h.e, "quick", ""); rec.Stdout != "done\n" || rec.ExitCode != 0 {
		t.Errorf("quick: %+v", rec)
	}
	if _, ok := lastRecord(h.e, "hang", ""); ok || h.e.Stats().Running != 1 {
		t.Fatalf("the hung command ended early: %+v", h.e.Stats())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.e.Wait(ctx); err != context.Canceled {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
	if rec, ok := lastRecord(h.e, "hang", OutcomeKilled); !ok || rec.Signal != "SIGTERM" {
		t.Errorf("hang after Wait: %+v", rec)
	}
	testutil.WaitFor(t, 20*time.Second, "the grandchild to die", func() bool { return gone(child) })
	if st := h.e.Stats(); st.Killed != 1 || st.Running != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestExpireAfter: a run younger than expireafter suppresses a new firing;
// an older one is killed, reported, and replaced; never two at once.
func TestExpireAfter(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	set := loadRules(t, measurementKey+fmt.Sprintf(`
commands:
  - handle: slow
    if: h_high
    command: [/bin/sh, -c, 'echo $$ >> "$1"; exec sleep 1000', sh, '%s']
    timeout: 1h
    expireafter: 1m
`, pids))
	clock := testutil.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	h := newHarness(t, set, Options{KillGrace: 200 * time.Millisecond, Now: clock.Now})
	started := func(n int) []string {
		var lines []string
		testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("%d runs to start", n), func() bool {
			b, _ := os.ReadFile(pids)
			lines = strings.Fields(string(b))
			return len(lines) >= n
		})
		return lines
	}
	h.next("h_high")
	first := started(1)[0]

	h.next()
	clock.Advance(30 * time.Second)
	d := h.next("h_high")
	if len(d.Fired) != 0 || len(d.Suppressed) != 1 || d.Suppressed[0].Reason != ReasonRunning {
		t.Fatalf("young run: fired %v, suppressed %+v", firedHandles(d.Fired), d.Suppressed)
	}

	h.next()
	clock.Advance(2 * time.Minute)
	d = h.next("h_high")
	if len(d.Fired) != 1 || !d.Fired[0].Replace {
		t.Fatalf("old run: fired %+v", d.Fired)
	}
	second := started(2)[1]
	if second == first {
		t.Fatal("the same process twice")
	}
	if _, ok := lastRecord(h.e, "slow", OutcomeExpired); !ok {
		t.Error("the old run is not recorded as expired")
	}
	var pid int
	fmt.Sscan(first, &pid)
	testutil.WaitFor(t, 20*time.Second, "the expired run to die", func() bool { return gone(pid) })
	// A started command can write its pid before the runner, back from
	// fork and exec, counts the run, and a killed run is counted after its
	// output is read: wait for both counts, then check the
	// whole of the statistics.
	testutil.WaitFor(t, 20*time.Second, "the second run and the expired one to be counted", func() bool {
		st := h.e.Stats()
		return st.Runs >= 2 && st.Expired >= 1
	})
	st := h.e.Stats()
	if st.Expired != 1 || st.MaxRunning != 1 || st.Running != 1 || st.Suppressed != 1 || st.Runs != 2 {
		t.Errorf("stats %+v", st)
	}
}

// blockers returns the rules of h with n commands c_1 … c_n guarded by
// h_high, each a run that marks its start in dir (started.<i>) and blocks
// until dir/release exists.
func blockers(dir string, n int) string {
	is := make([]string, n)
	for i := range is {
		is[i] = fmt.Sprintf("'%d'", i+1)
	}
	return measurementKey + fmt.Sprintf(`commands:
  - handle: c_$(i)
    for: {i: [%s]}
    if: h_high
    command: [/bin/sh, -c, 'touch "$1/started.$2"; while [ ! -e "$1/release" ]; do sleep 0.02; done', sh, '%s', '$(i)']
`, strings.Join(is, ", "), dir)
}

func countStarted(dir string) int {
	m, _ := filepath.Glob(filepath.Join(dir, "started.*"))
	return len(m)
}

// TestConcurrencyLimit: N+3 commands fire at once; N run, 3 wait, and the
// waiting ones run when slots free.
func TestConcurrencyLimit(t *testing.T) {
	const n = 2
	dir := t.TempDir()
	set := loadRules(t, blockers(dir, n+3))
	h := newHarness(t, set, Options{MaxConcurrent: n})
	d := h.next("h_high")
	if len(d.Fired) != n+3 {
		t.Fatalf("fired %v", firedHandles(d.Fired))
	}
	testutil.WaitFor(t, 20*time.Second, "the first runs", func() bool { return countStarted(dir) >= n })
	if st := h.e.Stats(); st.Running != n || st.Queued != 3 || countStarted(dir) != n {
		t.Fatalf("running %d, queued %d, started %d; want %d, 3, %d", st.Running, st.Queued, countStarted(dir), n, n)
	}
	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.wait()
	st := h.e.Stats()
	if countStarted(dir) != n+3 || st.Runs != n+3 || st.MaxRunning != n || st.Queued != 0 || st.Running != 0 {
		t.Errorf("started %d, stats %+v", countStarted(dir), st)
	}
}

// TestQueueFull: a firing that finds the queue full is dropped and counted.
func TestQueueFull(t *testing.T) {
	dir := t.TempDir()
	set := loadRules(t, blockers(dir, 3))
	h := newHarness(t, set, Options{MaxConcurrent: 1, QueueSize: 1})
	h.next("h_high")
	if st := h.e.Stats(); st.QueueDrops != 1 || st.Queued != 1 || st.Running != 1 {
		t.Fatalf("stats %+v", st)
	}
	if rec, ok := lastRecord(h.e, "c_3", OutcomeDropped); !ok || !strings.Contains(rec.Err, "queue full") {
		t.Errorf("c_3: %+v", rec)
	}
	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.wait()
	if countStarted(dir) != 2 {
		t.Errorf("started %d, want 2", countStarted(dir))
	}
}

// TestDryRun: nothing runs or is delivered; what would have is logged and
// recorded.
func TestDryRun(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	report := filepath.Join(dir, "report")
	set := loadRules(t, measurementKey+fmt.Sprintf(`
commands:
  - handle: touch
    if: h_high
    command: [/usr/bin/touch, '%s', '$(top_h)']
    env: {WHO: '$(top_h)'}
reports:
  - handle: say
    if: h_high
    message: 'from $(top_h)'
    to: '%s'
`, marker, report))
	h := newHarness(t, set, Options{DryRun: true})
	h.keys = map[string]string{"top_h": "192.0.2.7"}
	h.next("h_high")
	h.wait()
	for _, p := range []string{marker, report} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists after a dry run", p)
		}
	}
	rec, ok := lastRecord(h.e, "touch", OutcomeDryRun)
	if !ok || !rec.DryRun || !slices.Equal(rec.Argv, []string{"/usr/bin/touch", marker, "192.0.2.7"}) || !slices.Contains(rec.Env, "WHO=192.0.2.7") {
		t.Errorf("touch: %+v", rec)
	}
	if rec, ok := lastRecord(h.e, "say", OutcomeDryRun); !ok || rec.Message != "from 192.0.2.7" {
		t.Errorf("say: %+v", rec)
	}
	if st := h.e.Stats(); st.DryRuns != 2 || st.Runs != 0 || st.Reports != 0 {
		t.Errorf("stats %+v", st)
	}
	log := h.log.String()
	if !strings.Contains(log, "dry run: would run") || !strings.Contains(log, `\"192.0.2.7\"`) {
		t.Errorf("log:\n%s", log)
	}
}

// TestOutputCapped: output beyond the cap is counted and dropped; the run
// is logged on one line with its output escaped.
func TestOutputCapped(t *testing.T) {
	set := loadRules(t, measurementKey+fmt.Sprintf(`
commands:
  - handle: spew
    if: h_high
    command: ['%s']
    env: {LOGTALLY_ACTIONS_HELPER: spew, HELPER_N: '300000'}
`, helperPath(t)))
	h := newHarness(t, set, Options{OutputCap: 1000})
	h.next("h_high")
	h.wait()
	rec, _ := lastRecord(h.e, "spew", "")
	if rec.Outcome != OutcomeFailed || rec.ExitCode != 7 {
		t.Errorf("outcome %s exit %d", rec.Outcome, rec.ExitCode)
	}
	if len(rec.Stdout) != 1000 || rec.Dropped != 300000-1000 || rec.Stderr != "to stderr\x1b[31m\n" {
		t.Errorf("stdout %d bytes, stderr %q, dropped %d", len(rec.Stdout), rec.Stderr, rec.Dropped)
	}
	if st := h.e.Stats(); st.OutputDropped != 299000 || st.Failures != 1 {
		t.Errorf("stats %+v", st)
	}
	var line string
	for _, l := range strings.Split(h.log.String(), "\n") {
		if strings.Contains(l, "command ran") {
			line = l
		}
	}
	if !strings.Contains(line, `spew line\\nspew line`) || !strings.Contains(line, `to stderr\\x1b[31m\\n`) || !strings.Contains(line, "output_dropped=299000") {
		t.Errorf("log line: %.400s", line)
	}
}

// TestStartError: a command whose program cannot be started (missing,
// not in PATH, a directory, not executable) is recorded, counted and
// logged in one line per attempt, and the engine carries on: the attempt
// holds ifelapsed like a run, so a guard that stays true, or rises again
// within ifelapsed, makes no new attempt, and one after ifelapsed makes one
// more.
func TestStartError(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, program, err string
	}{
		{"absolute, missing", "/nonexistent/program", "no such file"},
		{"relative, not in PATH", "logtally-no-such-program", "executable file not found in $PATH"},
		{"directory", dir, "permission denied"},
		{"not executable", plain, "permission denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := loadRules(t, measurementKey+fmt.Sprintf(`
commands:
  - {handle: missing, if: h_high, ifelapsed: 30m, command: ['%s', now]}
`, tc.program))
			h := newHarness(t, set, Options{})
			attempts := func() int { return strings.Count(h.log.String(), "command could not start") }
			h.next("h_high")
			h.wait()
			if rec, _ := lastRecord(h.e, "missing", ""); rec.Outcome != OutcomeError || !strings.Contains(rec.Err, tc.err) {
				t.Errorf("%+v", rec)
			}
			if st := h.e.Stats(); st.Failures != 1 || st.Runs != 0 {
				t.Errorf("stats %+v", st)
			}
			if n := attempts(); n != 1 {
				t.Fatalf("%d log lines, want 1:\n%s", n, h.log.String())
			}
			line := h.log.String()
			if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "handle=missing") || !strings.Contains(line, tc.program) {
				t.Errorf("log line: %s", line)
			}
			h.next("h_high") // still true: no rise
			h.next()
			h.next("h_high") // a rise 15 minutes after the attempt
			h.wait()
			if n := attempts(); n != 1 {
				t.Errorf("%d attempts within ifelapsed, want 1:\n%s", n, h.log.String())
			}
			for range 4 { // 35 minutes after the attempt
				h.next()
			}
			if d := h.next("h_high"); len(d.Fired) != 1 {
				t.Fatalf("after ifelapsed: fired %v", firedHandles(d.Fired))
			}
			h.wait()
			if n := attempts(); n != 2 {
				t.Errorf("%d attempts after ifelapsed, want 2", n)
			}
			if st := h.e.Stats(); st.Failures != 2 || st.Runs != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestLogTextNeverChoosesProgram: a command whose program would be text
// from a log line is refused, even when built around the rule loader's
// check; one with the text as an argument runs.
func TestLogTextNeverChoosesProgram(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	guard := rules.MustParseExpr("h_high")
	set := &rules.Set{
		Measurements: []*rules.Measurement{{Handle: "h", HistoryType: rules.HistoryWeekly, Key: `from (\S+)`}},
		Commands: []*rules.Command{
			{Handle: "chosen", If: guard, Timeout: time.Minute, Argv: []string{"$(top_h)", marker}},
			{Handle: "arg", If: guard, Timeout: time.Minute, Argv: []string{"/bin/echo", "$(top_h)"}},
		},
	}
	h := newHarness(t, set, Options{})
	touch, err := exec.LookPath("touch")
	if err != nil {
		t.Fatal(err)
	}
	h.keys = map[string]string{"top_h": touch}
	h.next("h_high")
	h.wait()
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("text from a log line chose the program")
	}
	if rec, found := lastRecord(h.e, "chosen", OutcomeRefused); !found || !strings.Contains(rec.Err, "choose the program") {
		t.Errorf("no refusal recorded: %+v", rec)
	}
	if rec, _ := lastRecord(h.e, "arg", ""); rec.Outcome != OutcomeOK {
		t.Errorf("the text as an argument: %+v", rec)
	}
}

// TestRebuildKeepsRuns: an Engine rebuilt for reloaded rules knows the run
// still going and does not start a second one.
func TestRebuildKeepsRuns(t *testing.T) {
	dir := t.TempDir()
	src := blockers(dir, 1)
	h := newHarness(t, loadRules(t, src), Options{})
	h.next("h_high")
	testutil.WaitFor(t, 20*time.Second, "the run", func() bool { return countStarted(dir) == 1 })
	e2, err := h.e.Rebuild(loadRules(t, src), h.opts)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e2
	h.next()
	if d := h.next("h_high"); len(d.Fired) != 0 || len(d.Suppressed) != 1 {
		t.Fatalf("after rebuild: fired %v suppressed %v", firedHandles(d.Fired), firedHandles(d.Suppressed))
	}
	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.wait()
	if st := e2.Stats(); st.Runs != 1 || st.Suppressed != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestNewOptions(t *testing.T) {
	set := loadRules(t, measurementKey)
	for _, o := range []Options{{Shell: "sh"}, {MaxConcurrent: -1}, {OutputCap: -5}} {
		if _, err := New(set, o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) accepted")
	}
	e, err := New(set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e.opts.MaxConcurrent != rules.DefaultMaxConcurrentCommands || e.opts.Shell != DefaultShell {
		t.Errorf("defaults: %+v", e.opts)
	}
}

// TestRebuildRaisesLimit: a reload that raises max_concurrent_commands
// starts the waiting commands at once.
func TestRebuildRaisesLimit(t *testing.T) {
	dir := t.TempDir()
	set := loadRules(t, blockers(dir, 3))
	h := newHarness(t, set, Options{MaxConcurrent: 1})
	h.next("h_high")
	testutil.WaitFor(t, 20*time.Second, "the first run", func() bool { return countStarted(dir) == 1 })
	if st := h.e.Stats(); st.Queued != 2 {
		t.Fatalf("stats %+v", st)
	}
	opts := h.opts
	opts.MaxConcurrent = 3
	e2, err := h.e.Rebuild(set, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e2
	testutil.WaitFor(t, 20*time.Second, "all runs", func() bool { return countStarted(dir) == 3 })
	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.wait()
	if st := e2.Stats(); st.MaxRunning != 3 || st.Runs != 3 {
		t.Errorf("stats %+v", st)
	}
}
