package tests

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
	"github.com/logtally/logtally/observe"
)

// TestSlowStreamStarvesNone: a hostile stream whose every line reaches the
// regex time limit (10 lines a second, each costing at least the limit in
// real time) delays no other stream. The hostile stream can never keep
// up: it writes three seconds of matching a second, so it falls behind by
// two seconds more every second, whatever the machine's speed or load. A
// steady stream's intervals are each committed with exactly the lines
// written in them, by the interval's own commit, while the hostile stream
// is behind (the commits count it late) and before the hostile stream's
// part of the same interval (before, one slow matcher held the
// lock every commit needed: commits came seconds late, after the hostile
// backlog, and merged intervals); the hostile stream may be late, on its
// own. How late the steady commits are in seconds is the machine's
// business, not the verdict's: bench/starve.sh measures it.
func TestSlowStreamStarvesNone(t *testing.T) {
	r := newRig(t, "")
	hostile := r.path("hostile.log")
	writeFile(t, hostile, "")
	d, steady := startSteady(t, r, fmt.Sprintf(`  - handle: hostile
    path: %s
    select_line_matching: '(?=a)(a|aa)+b'
    history_type: scalar
settings:
  regex_timeout: %v
`, hostile, hostileLimit), 2)

	// Ten catastrophic lines a second on the hostile stream, meanwhile.
	// Each costs at least hostileLimit in real time (the match runs until
	// its deadline), one after another: the stream cannot keep up.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f, err := os.OpenFile(hostile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		line := strings.Repeat("a", 41) + "\n"
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := f.WriteString(line); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	want := writeSteady(t, r, steady)
	close(stop)
	wg.Wait()
	d.stop()
	// A late commit of a stream says the start of the last interval it
	// commits.
	lateStream := regexp.MustCompile(`msg="committed late" stream=(\S+) interval_start=(\S+) `)
	commits := checkSteady(t, d, r.outLP, want, func(start time.Time, l string) bool {
		m := lateStream.FindStringSubmatch(l)
		if m == nil || m[1] != hostile {
			return false
		}
		upTo, err := time.Parse(time.RFC3339Nano, m[2])
		return err == nil && !upTo.Before(start)
	})
	// The hostile stream was behind when they were committed: they did
	// not wait for it. (At any one commit it may have just finished what
	// it had before the interval's end, and be busy with the lines that
	// came after; not at all of them.)
	behind := 0
	for end := range want {
		if c, ok := commits[end]; ok && c.pending > 0 {
			behind++
		}
	}
	if behind == 0 {
		t.Errorf("the hostile stream was complete at every commit of the steady intervals: it was never slow")
	}
	t.Logf("the hostile stream was late at %d of the %d commits", behind, len(want))
}

// hostileLimit is the regex time limit of TestSlowStreamStarvesNone: ten
// lines a second of the hostile stream cost at least three seconds.
const hostileLimit = 300 * time.Millisecond

// TestSlowObservableStarvesNone: an observable whose reading takes seconds
// delays no stream's commit, nor another observable's sample. The slow one
// is listening_ports on a machine where processes hold hundreds of
// thousands of open files (it reads every /proc/PID/fd link to name the
// programs that own the listening sockets, as ss -p does): the helpers
// here hold as many as it takes for one reading to last at least
// slowReading, several times the commit's budget. Its readings are
// committed late, on their own (before, every commit waited for the
// reading: each came as late as the reading took, with it), and the steady
// stream's intervals are each committed by their own commit with exactly
// their lines, before the slow reading of the same interval; the load
// average and the connections to a port (read from the same kernel tables
// as listening_ports, without naming programs) have one sample of each
// interval; listening_ports has at most one.
func TestSlowObservableStarvesNone(t *testing.T) {
	port, _ := listen(t, 0) // a listening socket whose owner is to be named
	took := holdOpenFiles(t, slowReading)
	t.Logf("one reading of listening_ports takes %v", took.Round(time.Millisecond))
	r := newRig(t, "")
	d, steady := startSteady(t, r, fmt.Sprintf(`observe:
  - {name: listening_ports, expireafter: 2m}
  - loadavg
  - {handle: conns, tcp_in: [%d]}
`, port), 1)
	want := writeSteady(t, r, steady)
	// The slow observable was indeed late: its readings were committed on
	// their own.
	late := regexp.MustCompile(`msg="committed late" observables=\[listening_ports\] interval_start=(\S+)`)
	testutil.WaitFor(t, 2*time.Minute, "a late commit of listening_ports", func() bool { return d.countLog(late) > 0 })
	// The other observables' readings of the last intervals may be late
	// too, on a loaded machine: they come on their own.
	testutil.WaitForWhy(t, 2*time.Minute, "the samples of loadavg and conns", func() (bool, string) {
		have := map[string]map[int64]bool{"loadavg": {}, "conns": {}}
		for _, p := range decodeLPFile(t, r.outLP) {
			if _, ok := p.fields["value"]; ok && have[p.measurement] != nil {
				have[p.measurement][p.ts.Unix()] = true
			}
		}
		for end := range want {
			for h, ends := range have {
				if !ends[end] {
					return false, fmt.Sprintf("%s has none of the interval ending %s", h, time.Unix(end, 0).UTC().Format(time.TimeOnly))
				}
			}
		}
		return true, ""
	})
	d.stop()
	lateReading := func(start time.Time, l string) bool {
		m := late.FindStringSubmatch(l)
		if m == nil {
			return false
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		return err == nil && at.Equal(start)
	}
	checkSteady(t, d, r.outLP, want, lateReading)

	points := map[string]map[int64]int{}
	for _, p := range decodeLPFile(t, r.outLP) {
		if _, ok := p.fields["value"]; !ok || (p.measurement != "loadavg" && p.measurement != "conns" && p.measurement != "listening_ports") {
			continue
		}
		if points[p.measurement] == nil {
			points[p.measurement] = map[int64]int{}
		}
		points[p.measurement][p.ts.Unix()]++
	}
	for end := range want {
		for _, h := range []string{"loadavg", "conns"} {
			if n := points[h][end]; n != 1 {
				t.Errorf("%s: %d points of the interval ending %s, want 1", h, n, time.Unix(end, 0).UTC().Format(time.TimeOnly))
			}
		}
	}
	sampled := 0
	for end, n := range points["listening_ports"] {
		if n != 1 {
			t.Errorf("listening_ports: %d points of the interval ending %s, want at most 1", n, time.Unix(end, 0).UTC().Format(time.TimeOnly))
		}
		if _, ok := want[end]; ok {
			sampled++
		}
	}
	// How many of them depends on the machine's load: a reading that
	// takes longer than an interval makes the intervals that end meanwhile
	// gaps.
	t.Logf("listening_ports has samples of %d of the %d intervals (the others are gaps: its source was still being read)", sampled, len(want))
}

// steadyWidth is the interval of the starvation tests.
const steadyWidth = 2 * time.Second

// slowReading is how long a reading of the slow observable lasts at least
// when the test starts: more than the interval and several times the
// commit's budget for observables, so that its readings are committed
// late, on their own, however the machine's load changes meanwhile.
const slowReading = 3 * time.Second

// startSteady starts a daemon at steadyWidth whose rules are the steady
// stream's measurement followed by more, and waits for its files (the
// number given) to be open and its first commit.
func startSteady(t *testing.T, r *rig, more string, files int) (*daemonProc, string) {
	t.Helper()
	steady := r.path("steady.log")
	writeFile(t, steady, "")
	writeFile(t, r.rules, fmt.Sprintf(`measurements:
  - handle: steady
    path: %s
    select_line_matching: '.*tick.*'
    history_type: scalar
`, steady)+more)
	d := startDaemon(t, daemonOpts{rules: r.rules, state: r.state, output: r.outLP, interval: steadyWidth, extra: []string{"--listen="}})
	d.waitLog(`event=open `, files)
	d.waitLog(`msg=committed interval_start=\S+ partial=false`, 1)
	return d, steady
}

// writeSteady writes, in the middle of each of six intervals, a known
// number of lines to the steady stream, waits for the commit of the last
// interval, and returns the lines by interval end.
func writeSteady(t *testing.T, r *rig, steady string) map[int64]int {
	t.Helper()
	want := map[int64]int{} // by interval end
	next := time.Now().Truncate(steadyWidth).Add(steadyWidth)
	for i := range 6 {
		start := next.Add(time.Duration(i) * steadyWidth)
		<-time.After(time.Until(start.Add(steadyWidth / 2)))
		n := 3 + i%4
		appendString(t, steady, strings.Repeat("tick\n", n))
		want[start.Add(steadyWidth).Unix()] = n
	}
	last := next.Add(6 * steadyWidth)
	<-time.After(time.Until(last))
	testutil.WaitForWhy(t, waitTimeout, "the commit of the last interval", func() (bool, string) {
		end := readStatus(t, r.state).CommittedEnd
		return !end.Before(last), "committed up to " + end.String()
	})
	return want
}

// steadyCommit is the regular commit of one of the steady stream's
// intervals, from the daemon's log.
type steadyCommit struct {
	line int           // its place in the log: commits are logged in order
	late time.Duration // after the interval's end, for the record
	// pending is how many streams and observables were not complete at
	// the commit: committed later, on their own.
	pending int
}

// checkSteady checks that each interval of want has one point of the
// steady stream with its number of lines, and was committed by its own
// regular commit before any commit of the slow party's part of the same
// interval (slow reports whether a log line is one, for the interval
// starting at start): a commit that waited for the slow party could not
// come first. It returns the commits by interval end.
func checkSteady(t *testing.T, d *daemonProc, outLP string, want map[int64]int, slow func(start time.Time, line string) bool) map[int64]steadyCommit {
	t.Helper()
	got := map[int64][]float64{}
	for _, p := range readPoints(t, outLP) {
		if p.measurement == "steady" {
			got[p.ts.Unix()] = append(got[p.ts.Unix()], p.value)
		}
	}
	for end, n := range want {
		if v := got[end]; len(v) != 1 || v[0] != float64(n) {
			t.Errorf("steady interval ending %s: points %v, want one of %d lines", time.Unix(end, 0).UTC().Format(time.TimeOnly), v, n)
		}
	}
	re := regexp.MustCompile(`time=(\S+) level=INFO msg=committed interval_start=(\S+) partial=false .* late=(\d+)$`)
	lines := strings.Split(d.log(), "\n")
	commits := map[int64]steadyCommit{}
	for i, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		at, err1 := time.Parse(time.RFC3339Nano, m[1])
		start, err2 := time.Parse(time.RFC3339Nano, m[2])
		pending, err3 := strconv.Atoi(m[3])
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("log line %q: %v %v %v", l, err1, err2, err3)
		}
		end := start.Add(steadyWidth)
		commits[end.Unix()] = steadyCommit{line: i, late: at.Sub(end), pending: pending}
	}
	var worst time.Duration
	for end := range want {
		c, ok := commits[end]
		if !ok {
			t.Errorf("no commit of the interval ending %s", time.Unix(end, 0).UTC().Format(time.TimeOnly))
			continue
		}
		worst = max(worst, c.late)
		start := time.Unix(end, 0).Add(-steadyWidth)
		for _, l := range lines[:c.line] {
			if slow(start, l) {
				t.Errorf("the interval ending %s was committed after the slow party's part of it (%s), want before", time.Unix(end, 0).UTC().Format(time.TimeOnly), l)
			}
		}
	}
	t.Logf("steady intervals committed at most %v after their end", worst)
	return commits
}

// holdOpenFiles starts helpers (the test binary, helper mode "files") that
// each hold as many open files as their limit allows, until one reading
// of listening_ports takes at least d, and returns how long the last
// reading took. The helpers end with the test.
func holdOpenFiles(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	spec, ok := observe.Builtin("listening_ports")
	if !ok {
		t.Fatal("no listening_ports observable")
	}
	var s observe.Sampler
	held := 0
	for {
		start := time.Now()
		r := s.Sample([]observe.Spec{spec})
		took := time.Since(start)
		if r[0].Err != nil {
			t.Fatalf("listening_ports: %v", r[0].Err)
		}
		if took >= d {
			t.Logf("%d files held open", held)
			return took
		}
		if held >= 8<<20 {
			t.Fatalf("%d files held open, and a reading of listening_ports still takes only %v", held, took)
		}
		for range 4 {
			held += startHolder(t)
		}
	}
}

// startHolder starts one helper holding open files and returns how many.
func startHolder(t *testing.T) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"=files")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the helper's end of input: it exits
		if err := cmd.Wait(); err != nil {
			t.Errorf("files helper: %v", err)
		}
	})
	var n int
	if _, err := fmt.Fscan(bufio.NewReader(stdout), &n); err != nil || n <= 0 {
		t.Fatalf("files helper: %d files, %v", n, err)
	}
	return n
}

// holdFiles is the helper mode "files": it holds its limit of open files
// (at most maxHeld), says how many on stdout, and exits at the end of its
// input.
func holdFiles() int {
	const maxHeld = 1 << 20
	var fds []int
	for len(fds) < maxHeld {
		fd, err := syscall.Dup(0)
		if err != nil {
			break // EMFILE: the limit
		}
		fds = append(fds, fd)
	}
	fmt.Println(len(fds))
	io.Copy(io.Discard, os.Stdin)
	return 0
}
