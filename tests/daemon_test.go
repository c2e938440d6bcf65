package tests

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// This file is the harness of the daemon tests: it runs `logtally run` as a
// real process, reads its log and its state file from outside (with
// `logtally status --json`, as an operator would), and waits for what it
// needs with deadlines.

// waitTimeout is the default deadline for something the daemon does within
// a few intervals of 1 s.
const waitTimeout = 20 * time.Second

// daemonProc is one running `logtally run`.
type daemonProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	stderr *testutil.Buffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, set before done is closed
}

// daemonOpts are the flags of one daemon start.
type daemonOpts struct {
	rules, state, output string
	watch                string        // inotify (default) or poll
	pollEvery            time.Duration // --poll-interval; 0: the default
	interval             time.Duration // --interval; 0: 1 s
	extra                []string
}

// startDaemon starts `logtally run` (with a 1 s interval unless told
// otherwise). It is killed at the end of the test if still running; its
// log is shown when the test fails.
func startDaemon(t testing.TB, o daemonOpts) *daemonProc {
	t.Helper()
	if o.interval == 0 {
		o.interval = time.Second
	}
	args := []string{"run", "--rules", o.rules, "--state", o.state, "--interval", o.interval.String()}
	if o.output != "" {
		args = append(args, "--output", o.output)
	}
	if o.watch != "" {
		args = append(args, "--watch", o.watch)
	}
	if o.pollEvery > 0 {
		args = append(args, "--poll-interval", o.pollEvery.String())
	}
	if !hasListen(o.extra) {
		// No status page unless the test asks for one: the default port
		// 9321 is shared by every daemon of a test run (and by a logtally
		// the machine may run itself), so a second daemon would log
		// "status page not served" at random.
		args = append(args, "--listen=")
	}
	args = append(args, o.extra...)
	cmd := exec.Command(bin, args...)
	d := &daemonProc{t: t, cmd: cmd, stderr: &testutil.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = d.stderr
	if o.output == "" {
		cmd.Stdout = d.stderr // no destination given: stdout carries the samples
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start logtally: %v", err)
	}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		if d.running() {
			_ = cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("log of logtally (pid %d):\n%s", cmd.Process.Pid, d.stderr.String())
		}
	})
	return d
}

// hasListen tells whether args set --listen.
func hasListen(args []string) bool {
	for _, a := range args {
		if a == "--listen" || strings.HasPrefix(a, "--listen=") {
			return true
		}
	}
	return false
}

func (d *daemonProc) pid() int { return d.cmd.Process.Pid }

func (d *daemonProc) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// log returns everything the daemon logged so far.
func (d *daemonProc) log() string { return d.stderr.String() }

// countLog counts the log lines matching re.
func (d *daemonProc) countLog(re *regexp.Regexp) int {
	n := 0
	for _, l := range strings.Split(d.log(), "\n") {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// waitLog waits until at least n log lines match the pattern, and fails if
// the daemon exits first.
func (d *daemonProc) waitLog(pattern string, n int) {
	d.t.Helper()
	re := regexp.MustCompile(pattern)
	testutil.WaitForWhy(d.t, waitTimeout, fmt.Sprintf("%d log lines matching %q", n, pattern), func() (bool, string) {
		if !d.running() {
			d.t.Fatalf("logtally exited (%v) while waiting for %q", d.err, pattern)
		}
		got := d.countLog(re)
		return got >= n, fmt.Sprintf("%d so far", got)
	})
}

// waitExit waits for the process to exit and returns its exit code.
func (d *daemonProc) waitExit(timeout time.Duration) int {
	d.t.Helper()
	select {
	case <-d.done:
	case <-time.After(timeout):
		d.t.Fatalf("logtally did not exit within %v", timeout)
	}
	var ee *exec.ExitError
	switch {
	case d.err == nil:
		return 0
	case errors.As(d.err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	d.t.Fatalf("wait for logtally: %v", d.err)
	return 0
}

// stop sends SIGTERM and requires a clean exit: the current interval is
// committed.
func (d *daemonProc) stop() {
	d.t.Helper()
	// A signal that arrives before the process has installed its handlers
	// (within milliseconds of exec) gets the default action.
	d.waitLog(`msg=started `, 1)
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatalf("SIGTERM: %v", err)
	}
	if code := d.waitExit(30 * time.Second); code != 0 {
		d.t.Fatalf("logtally exited with %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(d.log(), "msg=stopped") {
		d.t.Fatalf("logtally exited without logging that it stopped")
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (d *daemonProc) kill() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		d.t.Fatalf("SIGKILL: %v", err)
	}
	if code := d.waitExit(10 * time.Second); code != -int(syscall.SIGKILL) {
		d.t.Fatalf("logtally exited with %d, want killed by SIGKILL", code)
	}
}

// signal sends sig to the daemon.
func (d *daemonProc) signal(sig syscall.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("signal %v: %v", sig, err)
	}
}

// status is `logtally status --json`.
type status struct {
	CommittedEnd time.Time `json:"committed_end"`
	Interval     string    `json:"interval"`
	Streams      []struct {
		Source string `json:"source"`
		Path   string `json:"path"`
		Dev    uint64 `json:"dev"`
		Ino    uint64 `json:"ino"`
		Offset int64  `json:"offset"`
	} `json:"streams"`
	Measurements []measurementStatus `json:"measurements"`
	Classes      []struct {
		Name  string    `json:"name"`
		Until time.Time `json:"until"`
	} `json:"classes"`
	Down []struct {
		Source string    `json:"source"`
		Since  time.Time `json:"since"`
		Why    string    `json:"why"`
	} `json:"down"`
}

// hasClass reports whether a class was set at the last committed interval.
func (s status) hasClass(name string) bool {
	for _, c := range s.Classes {
		if c.Name == name {
			return true
		}
	}
	return false
}

type measurementStatus struct {
	Handle  string          `json:"handle"`
	Total   float64         `json:"total"`
	Samples uint64          `json:"samples"`
	Last    *sampleStatus   `json:"last"`
	Open    json.RawMessage `json:"open"`
}

type sampleStatus struct {
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Value      *float64  `json:"value"`
	Av         *float64  `json:"av"`
	Dev        *float64  `json:"dev"`
	Lines      uint64    `json:"lines"`
	Selected   uint64    `json:"selected"`
	Backdated  uint64    `json:"backdated"`
	Undated    uint64    `json:"undated"`
	Partial    bool      `json:"partial"`
	CatchUp    bool      `json:"catch_up"`
	Classes    []string  `json:"classes"`
	KeyRejects uint64    `json:"key_rejects"`
	TopKey     string    `json:"top_key"`
	TopCount   uint64    `json:"top_count"`
}

// readStatus runs `logtally status --json` on a state file, which works
// while the daemon runs.
func readStatus(t testing.TB, state string) status {
	t.Helper()
	r := run(t, "", "status", "--state", state, "--json")
	if r.code != 0 {
		t.Fatalf("logtally status: exit %d\n%s", r.code, r.stderr)
	}
	var st status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("decode status: %v\n%s", err, r.stdout)
	}
	return st
}

// measurement returns a measurement's status, and whether it has one.
func (s status) measurement(handle string) (measurementStatus, bool) {
	for _, m := range s.Measurements {
		if m.Handle == handle {
			return m, true
		}
	}
	return measurementStatus{}, false
}

// total returns a measurement's committed total (0 when it has none).
func (s status) total(handle string) float64 {
	m, _ := s.measurement(handle)
	return m.Total
}

// wantTotal checks a measurement's committed total.
func wantTotal(t *testing.T, state, handle string, want int) {
	t.Helper()
	if got := readStatus(t, state).total(handle); got != float64(want) {
		t.Errorf("%s: committed total %v, want %d (every line exactly once)", handle, got, want)
	}
}

// waitTotal waits until a measurement's committed total reaches want, and
// fails at once if it goes past it (a line counted twice).
func waitTotal(t *testing.T, state, handle string, want int) {
	t.Helper()
	testutil.WaitForWhy(t, waitTimeout, fmt.Sprintf("committed total of %s to reach %d", handle, want), func() (bool, string) {
		got := readStatus(t, state).total(handle)
		if got > float64(want) {
			t.Fatalf("%s: committed total %v is above the %d lines written", handle, got, want)
		}
		return got == float64(want), fmt.Sprintf("total %v", got)
	})
}

// writeFile writes a file, failing the test on error.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// appendString appends to a file (created if needed) in one write.
func appendString(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// numbered returns n lines "<tag> <i>" for i from first, each newline
// terminated.
func numbered(tag string, first, n int) string {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		b.WriteString(tag)
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	return b.String()
}

// counterRules returns a rule file with one scalar counter per handle,
// selecting lines matching its regex in path.
func counterRules(path string, handles ...string) string {
	var b strings.Builder
	b.WriteString("measurements:\n")
	for i := 0; i+1 < len(handles); i += 2 {
		fmt.Fprintf(&b, "  - handle: %s\n    path: %q\n    select_line_matching: %q\n    history_type: scalar\n",
			handles[i], path, handles[i+1])
	}
	return b.String()
}

// point is one line-protocol point of the output file.
type point struct {
	measurement string
	value       float64
	ts          time.Time
}

// readPoints parses the "value" field of every point in a line-protocol
// file written at the default precision (seconds).
func readPoints(t *testing.T, path string) []point {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []point
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) != 3 {
			t.Fatalf("unexpected point %q", sc.Text())
		}
		meas, _, _ := strings.Cut(parts[0], ",")
		var p point
		p.measurement = meas
		for _, kv := range strings.Split(parts[1], ",") {
			if v, ok := strings.CutPrefix(kv, "value="); ok {
				if p.value, err = strconv.ParseFloat(strings.TrimSuffix(v, "i"), 64); err != nil {
					t.Fatalf("point %q: %v", sc.Text(), err)
				}
			}
		}
		sec, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			t.Fatalf("point %q: %v", sc.Text(), err)
		}
		p.ts = time.Unix(sec, 0)
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rig is a directory with a rule file and a state file for one daemon
// test.
type rig struct {
	t                        *testing.T
	dir, rules, state, outLP string
}

func newRig(t *testing.T, rulesText string) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{t: t, dir: dir, rules: filepath.Join(dir, "rules.yaml"), state: filepath.Join(dir, "state.db"),
		outLP: filepath.Join(dir, "out.lp")}
	writeFile(t, r.rules, rulesText)
	return r
}

func (r *rig) path(name string) string { return filepath.Join(r.dir, name) }

func (r *rig) start(watch string, pollEvery time.Duration, extra ...string) *daemonProc {
	r.t.Helper()
	return startDaemon(r.t, daemonOpts{rules: r.rules, state: r.state, output: r.outLP,
		watch: watch, pollEvery: pollEvery, extra: extra})
}

// countLines counts the newline-terminated lines of s.
func countLines(s string) int { return strings.Count(s, "\n") }

// reLine compiles a log line pattern.
func reLine(pattern string) *regexp.Regexp { return regexp.MustCompile(pattern) }
