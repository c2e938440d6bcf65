package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/logtally/logtally/internal/testutil"
)

// liveGroupMembers returns the processes of a process group that are
// still running (zombies waiting to be reaped do not count).
func liveGroupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state, ppid, pgrp, ...
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// readInts reads one integer per whitespace-separated field of a file.
func readInts(t *testing.T, path string) []int {
	t.Helper()
	var out []int
	for _, f := range strings.Fields(string(readIfAny(t, path))) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %q", path, f)
		}
		out = append(out, n)
	}
	return out
}

// TestPipes runs, next to a followed file, a command that exits (and is
// restarted, its lines from each run counted), an interval command that
// hangs (killed at its timeout with its whole process group), a command
// that prints a 10 MB line (cut), and one that does not exist. The file
// stream keeps being sampled and committed exactly through all of it.
func TestPipes(t *testing.T) {
	r := newRig(t, "")
	dir := r.dir
	log := r.path("app.log")
	writeFile(t, log, "")
	rules := `measurements:
  - handle: file_lines
    path: DIR/app.log
    select_line_matching: '.*'
    history_type: scalar
  # Exits at once; its first three runs print three lines each, later runs
  # nothing.
  - handle: exits
    stream_type: pipe
    path: [sh, -c, 'n=$(cat DIR/runs 2>/dev/null || echo 0); if [ "$n" -lt 3 ]; then echo $((n+1)) > DIR/runs; printf "tick\ntick\ntick\n"; fi']
    select_line_matching: tick
    history_type: scalar
  # Prints a line, then hangs with a child in its process group.
  - handle: hangs
    stream_type: pipe
    pipe_mode: interval
    timeout: 300ms
    path: [sh, -c, 'sleep 1000 & echo $$ >> DIR/hang.pgids; echo started; wait']
    select_line_matching: started
    history_type: scalar
  # Its first run prints a 10 MB line, then one more line. Cut to the
  # 64 KiB limit, the long line is HEAD and x only; its tail is dropped, not
  # made a line of its own.
  - handle: huge
    stream_type: pipe
    path: [sh, -c, 'if [ ! -e DIR/huge.done ]; then : > DIR/huge.done; printf HEAD; head -c 10485760 /dev/zero | tr "\000" x; echo TAIL; echo after; fi']
    select_line_matching: 'HEADx+'
    history_type: scalar
  - handle: huge_tail
    stream_type: pipe
    path: [sh, -c, 'if [ ! -e DIR/huge.done ]; then : > DIR/huge.done; printf HEAD; head -c 10485760 /dev/zero | tr "\000" x; echo TAIL; echo after; fi']
    select_line_matching: '.*TAIL'
    history_type: scalar
  - handle: huge_after
    stream_type: pipe
    path: [sh, -c, 'if [ ! -e DIR/huge.done ]; then : > DIR/huge.done; printf HEAD; head -c 10485760 /dev/zero | tr "\000" x; echo TAIL; echo after; fi']
    select_line_matching: after
    history_type: scalar
  - handle: missing
    stream_type: pipe
    path: [DIR/no-such-command, --flag]
    select_line_matching: '.*'
    history_type: scalar
`
	writeFile(t, r.rules, strings.ReplaceAll(rules, "DIR", dir))
	// At debug level: while a stream's outage is logged, its further
	// kills and failed starts are DEBUG lines, which this test counts.
	d := r.start("inotify", 0, "--log-level", "debug")
	d.waitLog(`event=open `, 1)

	fileLines := 0
	write := func(n int) {
		appendString(t, log, numbered("file", fileLines, n))
		fileLines += n
	}
	write(10)
	waitTotal(t, r.state, "file_lines", fileLines)

	// The exiting command ran three times with output (restarted with
	// backoff each time), every line of each run counted.
	waitTotal(t, r.state, "exits", 9)
	if got := readInts(t, filepath.Join(dir, "runs")); len(got) != 1 || got[0] != 3 {
		t.Errorf("runs file %v, want [3]", got)
	}
	write(10)
	// The 10 MB line is one line, cut, and the line after it is intact.
	waitTotal(t, r.state, "huge_after", 1)
	waitTotal(t, r.state, "huge", 1)
	// The hanging command is killed at its timeout, with its child.
	d.waitLog(`event=kill .*timeout`, 3)
	write(10)
	if pgids := readInts(t, filepath.Join(dir, "hang.pgids")); len(pgids) < 3 {
		t.Errorf("hanging command ran %d times, want at least 3", len(pgids))
	} else {
		// The groups of the runs already killed (all but the last).
		for _, g := range pgids[:len(pgids)-1] {
			testutil.WaitForWhy(t, waitTimeout, "process group "+strconv.Itoa(g)+" to be gone", func() (bool, string) {
				live := liveGroupMembers(g)
				return len(live) == 0, "still running: " + itoaList(live)
			})
		}
	}
	// The missing command is reported and retried, never fatal.
	d.waitLog(`event=start-error .*no-such-command`, 2)
	// Sampling kept up: the total is reached only by the commit of the
	// interval the lines were written in (a stalled sampling fails the
	// wait; how late the machine's load lets a commit come is no verdict).
	write(10)
	waitTotal(t, r.state, "file_lines", fileLines)
	d.stop()

	st := readStatus(t, r.state)
	for h, want := range map[string]int{"file_lines": fileLines, "exits": 9, "huge": 1, "huge_after": 1, "huge_tail": 0, "missing": 0} {
		if got := st.total(h); got != float64(want) {
			t.Errorf("%s: committed total %v, want %d", h, got, want)
		}
	}
	// Every run of the hanging command printed one line; a run killed by
	// the shutdown may have been cut before it did.
	pgids := readInts(t, filepath.Join(dir, "hang.pgids"))
	if got := int(st.total("hangs")); got > len(pgids) || got < len(pgids)-1 {
		t.Errorf("hangs: committed total %d, want %d runs' lines (or one less)", got, len(pgids))
	}
	for _, g := range pgids {
		testutil.WaitForWhy(t, waitTimeout, "process group "+strconv.Itoa(g)+" to be gone after shutdown", func() (bool, string) {
			live := liveGroupMembers(g)
			return len(live) == 0, itoaList(live)
		})
	}
	if m, _ := st.measurement("file_lines"); m.Samples < 5 {
		t.Errorf("file_lines has %d committed samples, want one per interval", m.Samples)
	}
}

func itoaList(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(s, " ") + "]"
}
