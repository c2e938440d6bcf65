package tests

import (
	"bytes"
	"context"
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

// hostileRuleFile is a rule file built to make the loader allocate far
// more than its size, and the error that must refuse it.
type hostileRuleFile struct {
	name string // file name; its extension picks the format
	data string
	want string // regexp of the error line, after the file's path
}

// hostileRuleFiles are rule files nested 10,000 deep in each format,
// nested by indentation, larger than the size limit, aliases that expand
// to millions of values ("billion laughs"), a list of 110,000 values and
// a map of 20,000 keys and for: cross products of 6,000 items.
func hostileRuleFiles() []hostileRuleFile {
	const deep = 10000
	var block strings.Builder
	block.WriteString("x:\n")
	for i := 1; i <= 100; i++ {
		block.WriteString(strings.Repeat("  ", i) + "a:\n")
	}
	block.WriteString(strings.Repeat("  ", 101) + "1\n")
	laughs := "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i <= 9; i++ {
		laughs += fmt.Sprintf("l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	var cross strings.Builder
	cross.WriteString("measurements:\n")
	values := make([]string, 1000)
	for i := range values {
		values[i] = strconv.Itoa(i)
	}
	for i := range 6 {
		fmt.Fprintf(&cross, "  - handle: h%d_$(n)\n    for: {n: [%s]}\n    path: /var/log/x.log\n    select_line_matching: 'x$(n) .*'\n", i, strings.Join(values, ", "))
	}
	return []hostileRuleFile{
		{"deep.yaml", "measurements: []\nx: " + strings.Repeat("{a: ", deep) + "1" + strings.Repeat("}", deep) + "\n",
			`:2:\d+: nested more than 32 levels deep`},
		{"deep.json", `{"x": ` + strings.Repeat(`{"a": `, deep) + "1" + strings.Repeat("}", deep) + "}\n",
			`:1:\d+: nested more than 32 levels deep`},
		{"deep.toml", "x" + strings.Repeat(".a", deep) + " = 1\n", `:1:\d+: nested more than 32 levels deep`},
		{"deeplist.toml", "x = " + strings.Repeat("[", deep) + strings.Repeat("]", deep) + "\n", `:1:\d+: nested more than 32 levels deep`},
		{"indented.yaml", block.String(), `:\d+:\d+: nested more than 32 levels deep`},
		{"big.yaml", "measurements: []\n" + strings.Repeat("# padding\n", 30000), `:26214: the file is larger than 256 KiB`},
		{"laughs.yaml", laughs, `:\d+:\d+: more than 100000 values, counting each use of an alias`},
		{"long.yaml", "x: [" + strings.TrimSuffix(strings.Repeat("1,", 110000), ",") + "]\n", `:1:4: more than 100000 values`},
		{"wide.yaml", "x: {" + wideMap(20000) + "}\n", `:1:4: a map of more than 2000 keys`},
		{"cross.yaml", cross.String(), `:\d+:\d+: measurements\[\d+\]: more than 5000 measurements, commands and reports`},
	}
}

// TestCheckHostileRules: `logtally check` refuses each hostile rule file
// with its file:line error, exit status 2, before decoding it. The peak
// RSS of each run is logged.
func TestCheckHostileRules(t *testing.T) {
	dir := t.TempDir()
	for _, h := range hostileRuleFiles() {
		t.Run(h.name, func(t *testing.T) {
			p := filepath.Join(dir, h.name)
			writeFile(t, p, h.data)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "check", "--rules", p)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("check: %v, want exit status 2; stderr:\n%s", err, stderr.String())
			}
			re := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(p) + h.want)
			if !re.MatchString(stderr.String()) {
				t.Fatalf("check's errors do not match %q:\n%.2000s", re, stderr.String())
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				t.Logf("%s (%d bytes): peak RSS %d KiB", h.name, len(h.data), ru.Maxrss)
			}
		})
	}
}

// TestReloadHostileRules: SIGHUP with each hostile rule file in the rules
// directory keeps the running rules (the error is logged with file:line,
// the measurement keeps counting, no line is lost or counted twice); the
// daemon's peak RSS before and after the reloads is logged.
func TestReloadHostileRules(t *testing.T) {
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules.d")
	if err := os.Mkdir(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	log, state := filepath.Join(dir, "app.log"), filepath.Join(dir, "state.db")
	writeFile(t, log, "")
	writeFile(t, filepath.Join(rulesDir, "a.yaml"), counterRules(log, "all", ".*"))
	d := startDaemon(t, daemonOpts{rules: rulesDir, state: state, output: filepath.Join(dir, "out.lp")})
	d.waitLog(`msg=started `, 1)
	d.waitLog(`event=open `, 1)
	w := newSteadyWriter(t, log, 2*time.Millisecond, 1)
	w.start()
	before := peakRSS(t, d.pid())
	for i, h := range hostileRuleFiles() {
		p := filepath.Join(rulesDir, "b-"+h.name)
		writeFile(t, p, h.data)
		d.signal(syscall.SIGHUP)
		d.waitLog(`reload: rules not changed.*`+regexp.QuoteMeta(p)+h.want, 1)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		total := readStatus(t, state).total("all")
		testutil.WaitForWhy(t, waitTimeout, fmt.Sprintf("%s: the running measurement to keep counting", h.name), func() (bool, string) {
			now := readStatus(t, state).total("all")
			return now > total, "total still " + itoa(int(now))
		})
		if n := d.countLog(reLine(`msg=reloaded `)); n != 0 {
			t.Fatalf("after %d hostile files, %d reloads succeeded", i+1, n)
		}
	}
	after := peakRSS(t, d.pid())
	written := w.finish()
	d.stop()
	wantTotal(t, state, "all", written)
	t.Logf("daemon peak RSS (VmHWM): %d KiB before the reloads, %d KiB after", before, after)
}

// peakRSS returns a process's VmHWM in KiB.
func peakRSS(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmHWM in /proc/pid/status")
	return 0
}

// wideMap returns the keys and values of a flow map of n keys.
func wideMap(n int) string {
	kv := make([]string, n)
	for i := range kv {
		kv[i] = "k" + strconv.Itoa(i) + ": 1"
	}
	return strings.Join(kv, ", ")
}
