package actions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// The test binary doubles as a command that records how it was run: with
// LOGTALLY_ACTIONS_HELPER set, it does what the mode says and exits.
func TestMain(m *testing.M) {
	if mode := os.Getenv("LOGTALLY_ACTIONS_HELPER"); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

func helper(mode string) int {
	out := os.Getenv("HELPER_OUT")
	switch mode {
	case "argv": // write argv and environment, NUL-terminated
		var a, e bytes.Buffer
		for _, s := range os.Args[1:] {
			a.WriteString(s)
			a.WriteByte(0)
		}
		for _, s := range os.Environ() {
			e.WriteString(s)
			e.WriteByte(0)
		}
		if os.WriteFile(filepath.Join(out, "args"), a.Bytes(), 0o600) != nil ||
			os.WriteFile(filepath.Join(out, "env"), e.Bytes(), 0o600) != nil {
			return 3
		}
		return 0
	case "spew": // write HELPER_N bytes of lines to stdout, a line to stderr
		n, _ := strconv.Atoi(os.Getenv("HELPER_N"))
		line := []byte("spew line\n")
		for n > 0 {
			k := min(n, len(line))
			os.Stdout.Write(line[:k])
			n -= k
		}
		fmt.Fprintln(os.Stderr, "to stderr\x1b[31m")
		return 7
	}
	return 2
}

// helperPath is the test binary, for commands.
func helperPath(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// harness drives an Engine interval by interval over a real state file.
type harness struct {
	t      *testing.T
	path   string
	st     *state.Store
	set    *rules.Set
	opts   Options
	e      *Engine
	end    time.Time
	step   time.Duration
	vars   map[string]float64
	keys   map[string]string
	log    *testutil.Buffer
	stderr *testutil.Buffer
}

var t0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

func loadRules(t testing.TB, src string) *rules.Set {
	t.Helper()
	set, err := rules.LoadBytes("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("load rules: %v\n%s", err, src)
	}
	return set
}

// ruleOf returns the rules of one measurement, handle, of every line of a
// log, with more of its keys (each "name: value").
func ruleOf(handle string, keys ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "measurements:\n  - handle: %s\n    path: /var/log/%[1]s.log\n    select_line_matching: '.*'\n", handle)
	for _, k := range keys {
		b.WriteString("    " + k + "\n")
	}
	return b.String()
}

// probeRules loads rules of probe, a measurement of the sources (IP
// addresses) of a log's lines whose classes persist as given, followed by
// more.
func probeRules(t testing.TB, persist, more string) *rules.Set {
	t.Helper()
	return loadRules(t, ruleOf("probe", `key: 'from (\S+)'`, "key_type: ip", "persist: "+persist)+more)
}

func newHarness(t *testing.T, set *rules.Set, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "state.db"), set: set, opts: opts,
		end: t0, step: 5 * time.Minute, log: &testutil.Buffer{}, stderr: &testutil.Buffer{}}
	if h.opts.Logger == nil {
		h.opts.Logger = slog.New(slog.NewTextHandler(h.log, nil))
	}
	if h.opts.Stderr == nil {
		h.opts.Stderr = h.stderr
	}
	h.open()
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = h.e.Wait(ctx)
		h.st.Close()
	})
	return h
}

// open opens the state file and builds and loads a new Engine, as the
// daemon does at start.
func (h *harness) open() {
	h.t.Helper()
	st, err := state.Open(h.path, state.Options{NoSync: true})
	if err != nil {
		h.t.Fatal(err)
	}
	h.st = st
	e, err := New(h.set, h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := st.View(e.Load); err != nil {
		h.t.Fatal(err)
	}
	h.e = e
}

// restart closes the state file and starts over with a new Engine, after
// letting the old one's commands end.
func (h *harness) restart() {
	h.t.Helper()
	if err := h.e.Wait(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.st.Close()
	h.open()
}

// decide advances one interval and commits a decision, without executing it.
func (h *harness) decide(classes ...string) *Decision {
	h.t.Helper()
	h.end = h.end.Add(h.step)
	var d *Decision
	err := h.st.Update(func(tx *state.Tx) error {
		var err error
		d, err = h.e.Decide(tx, Interval{Start: h.end.Add(-h.step), End: h.end, Classes: classes, Vars: h.vars, Keys: h.keys})
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

// next advances one interval, commits and executes.
func (h *harness) next(classes ...string) *Decision {
	h.t.Helper()
	d := h.decide(classes...)
	h.e.Execute(context.Background(), d)
	return d
}

// wait waits for every command and report to end.
func (h *harness) wait() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.e.Wait(ctx); err != nil {
		h.t.Fatal(err)
	}
}

func firedHandles(fs []Firing) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Handle)
	}
	return out
}

func activeNames(as []ActiveClass) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}

// lastRecord returns the last record of a handle with the outcome, if any.
func lastRecord(e *Engine, handle, outcome string) (RunRecord, bool) {
	recs := e.Recent()
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Handle == handle && (outcome == "" || recs[i].Outcome == outcome) {
			return recs[i], true
		}
	}
	return RunRecord{}, false
}

// gone reports whether the process has exited (absent, or a zombie that
// nobody reaps).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// readPid polls for a file holding a pid and returns it.
func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	testutil.WaitFor(t, 20*time.Second, "pid file "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}
