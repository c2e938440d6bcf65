package tests

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// TestReload: while a writer appends at a steady rate, SIGHUP with a
// broken rule file keeps the running rules (every error logged with
// file:line, the measurement keeps counting); SIGHUP with the file fixed
// adds its measurements (one on the same file, one on a new file) and
// keeps the old one's position and total: no line lost or counted twice
// across the reloads.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules.d")
	if err := os.Mkdir(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	log, other := filepath.Join(dir, "app.log"), filepath.Join(dir, "other.log")
	state, out := filepath.Join(dir, "state.db"), filepath.Join(dir, "out.lp")
	writeFile(t, log, "")
	writeFile(t, filepath.Join(rulesDir, "a.yaml"), counterRules(log, "all", ".*"))

	d := startDaemon(t, daemonOpts{rules: rulesDir, state: state, output: out})
	d.waitLog(`msg=started `, 1)
	d.waitLog(`event=open `, 1)
	w := newSteadyWriter(t, log, 2*time.Millisecond, 1)
	w.start()
	errorLines := 0
	addErrors := func(n int) {
		appendString(t, log, numbered("ERROR", errorLines, n))
		errorLines += n
	}
	addErrors(3) // before the measurement that counts them exists

	// A broken file: the running rules stay.
	b := filepath.Join(rulesDir, "b.yaml")
	writeFile(t, b, strings.Join([]string{
		"measurements:",
		"  - handle: errors",
		"    path: " + log,
		"    select_line_matchin: 'ERROR .*'",
		"  - handle: other",
		"    path: " + other,
		"    select_line_matching: '(unclosed'",
		"",
	}, "\n"))
	d.signal(syscall.SIGHUP)
	d.waitLog(`reload: rules not changed.*b\.yaml:4:\d+.*select_line_matchin`, 1)
	d.waitLog(`reload: rules not changed.*b\.yaml:7:\d+.*select_line_matching`, 1)
	before := readStatus(t, state).total("all")
	testutil.WaitForWhy(t, waitTimeout, "the old measurement to keep counting", func() (bool, string) {
		now := readStatus(t, state).total("all")
		return now > before, "total still " + itoa(int(now))
	})
	if _, ok := readStatus(t, state).measurement("errors"); ok {
		t.Errorf("a measurement of the broken file was committed")
	}

	// Fixed: the new measurements take effect; the old one goes on.
	writeFile(t, b, strings.Join([]string{
		"measurements:",
		"  - handle: errors",
		"    path: " + log,
		"    select_line_matching: 'ERROR .*'",
		"    history_type: scalar",
		"  - handle: other",
		"    path: " + other,
		"    select_line_matching: 'other .*'",
		"    history_type: scalar",
		"",
	}, "\n"))
	writeFile(t, other, "")
	d.signal(syscall.SIGHUP)
	d.waitLog(`msg=reloaded `, 1)
	d.waitLog(`other\.log event=open `, 1)
	addErrors(7)
	appendString(t, other, numbered("other", 0, 11))
	waitTotal(t, state, "errors", 7)
	waitTotal(t, state, "other", 11)

	// Reloading the same rules again changes nothing.
	d.signal(syscall.SIGHUP)
	d.waitLog(`msg=reloaded `, 2)
	addErrors(2)

	written := w.finish()
	d.stop()
	wantTotal(t, state, "all", written+errorLines)
	wantTotal(t, state, "errors", 9)
	wantTotal(t, state, "other", 11)
	if n := d.countLog(reLine(`event=(lost|reset) `)); n != 0 {
		t.Errorf("%d lost or reset events across the reloads", n)
	}
}

// TestReloadChangesThePath: SIGHUP that changes a measurement's path in
// the middle of an interval keeps what it counted from the old file, and
// the same file written another way (/d/./x.log) is the same stream: 100
// lines, the reload, 10 lines, SIGTERM, and the committed total is 110.
// Following by inotify the old file's lines are read before the reload;
// by a poll an hour apart only at the reload and at the end.
func TestReloadChangesThePath(t *testing.T) {
	for _, watch := range []string{"inotify", "poll"} {
		for _, tc := range []struct{ name, path, after string }{
			{"another path", "y.log", "y.log"},
			{"the same file spelled another way", "./x.log", "x.log"},
		} {
			t.Run(watch+"/"+tc.name, func(t *testing.T) {
				dir := t.TempDir()
				x, rulesFile, state := filepath.Join(dir, "x.log"), filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "state.db")
				writeFile(t, x, "")
				writeFile(t, filepath.Join(dir, "y.log"), "")
				writeFile(t, rulesFile, counterRules(x, "a", ".*line .*"))
				// One interval of an hour: the reload falls in it, and the
				// shutdown commits it, partial.
				o := daemonOpts{rules: rulesFile, state: state, output: filepath.Join(dir, "out.lp"), interval: time.Hour, watch: watch}
				if watch == "poll" {
					o.pollEvery = time.Hour
				}
				d := startDaemon(t, o)
				d.waitLog(`msg=started `, 1)
				appendString(t, x, numbered("x line", 0, 100))
				writeFile(t, rulesFile, counterRules(dir+"/"+tc.path, "a", ".*line .*"))
				d.signal(syscall.SIGHUP)
				d.waitLog(`msg=reloaded `, 1)
				appendString(t, filepath.Join(dir, tc.after), numbered(tc.after+" line", 0, 10))
				d.stop()
				wantTotal(t, state, "a", 110)
			})
		}
	}
}

// TestReloadRemovesAMeasurement: a measurement that SIGHUP removes keeps
// in its total what it counted in the interval under way (its partial
// sample, as at a shutdown), whether its stream stays (another
// measurement reads it) or goes; the others go on.
func TestReloadRemovesAMeasurement(t *testing.T) {
	dir := t.TempDir()
	x, y := filepath.Join(dir, "x.log"), filepath.Join(dir, "y.log")
	rulesFile, state := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "state.db")
	writeFile(t, x, "")
	writeFile(t, y, "")
	writeFile(t, rulesFile, counterRules(x, "a", ".*line .*", "b", ".*line .*")+
		strings.TrimPrefix(counterRules(y, "c", ".*line .*"), "measurements:\n"))
	d := startDaemon(t, daemonOpts{rules: rulesFile, state: state, output: filepath.Join(dir, "out.lp"), interval: time.Hour})
	d.waitLog(`msg=started `, 1)
	appendString(t, x, numbered("x line", 0, 100))
	appendString(t, y, numbered("y line", 0, 20))
	writeFile(t, rulesFile, counterRules(x, "a", ".*line .*"))
	d.signal(syscall.SIGHUP)
	d.waitLog(`msg="reload: measurements removed.*handles="?\[b c\]`, 1)
	d.waitLog(`msg=reloaded `, 1)
	appendString(t, x, numbered("x line", 100, 10))
	appendString(t, y, numbered("y line", 20, 5))
	d.stop()
	wantTotal(t, state, "a", 110)
	wantTotal(t, state, "b", 100)
	wantTotal(t, state, "c", 20)
}
