package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/internal/testutil"
	"github.com/logtally/logtally/state"
)

// TestReloadKeepsTheIntervalUnderWay: a reload in the middle of an
// interval loses nothing counted before it. A measurement whose stream
// changes (another path, the same file written another way, back to the
// first path) has in the interval's sample every line of every stream it
// read, each once, and so has its total; lines written before the reload
// and not yet read are read before the old stream stops. A measurement
// the reload removes has what it counted as that interval's partial
// sample: in its total, as a shutdown would leave it.
func TestReloadKeepsTheIntervalUnderWay(t *testing.T) {
	type step struct {
		rules  []string // handle, path, pattern…; nil keeps the rules
		writes []string // file, lines…
	}
	w := func(file string, n int) []string { return []string{file, fmt.Sprint(n)} }
	both := func(a, b []string) []string { return append(append([]string{}, a...), b...) }
	for _, tc := range []struct {
		name  string
		steps []step
		want  map[string]float64 // totals
		value float64            // a's sample of the interval
	}{
		{"pattern changed, same path", []step{
			{[]string{"a", "x.log", ".*line .*"}, w("x.log", 100)},
			{[]string{"a", "x.log", ".*line [0-9]+"}, w("x.log", 10)},
		}, map[string]float64{"a": 110}, 110},
		{"another path", []step{
			{[]string{"a", "x.log", ".*line .*"}, w("x.log", 100)},
			{[]string{"a", "y.log", ".*line .*"}, w("y.log", 10)},
		}, map[string]float64{"a": 110}, 110},
		{"the same file written another way", []step{
			{[]string{"a", "x.log", ".*line .*"}, w("x.log", 100)},
			{[]string{"a", "./x.log", ".*line .*"}, w("x.log", 10)},
		}, map[string]float64{"a": 110}, 110},
		{"another path and back", []step{
			{[]string{"a", "x.log", ".*line .*"}, w("x.log", 100)},
			{[]string{"a", "y.log", ".*line .*"}, w("y.log", 10)},
			{[]string{"a", "x.log", ".*line .*"}, w("x.log", 5)},
		}, map[string]float64{"a": 115}, 115},
		{"a measurement removed, its stream kept", []step{
			{[]string{"a", "x.log", ".*line .*", "b", "x.log", ".*line .*"}, w("x.log", 100)},
			{[]string{"a", "x.log", ".*line .*"}, w("x.log", 10)},
		}, map[string]float64{"a": 110, "b": 100}, 110},
		{"a measurement removed with its stream", []step{
			{[]string{"a", "x.log", ".*line .*", "b", "y.log", ".*line .*"}, both(w("x.log", 100), w("y.log", 20))},
			{[]string{"a", "x.log", ".*line .*"}, w("x.log", 10)},
		}, map[string]float64{"a": 110, "b": 20}, 110},
		{"a measurement removed and back", []step{
			{[]string{"a", "x.log", ".*line .*", "b", "x.log", ".*line .*"}, w("x.log", 100)},
			{[]string{"a", "x.log", ".*line .*"}, w("x.log", 10)},
			{[]string{"a", "x.log", ".*line .*", "b", "x.log", ".*line .*"}, w("x.log", 5)},
		}, map[string]float64{"a": 115, "b": 105}, 115},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range []string{"x.log", "y.log"} {
				if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			writeRules := func(rs []string) {
				t.Helper()
				var b strings.Builder
				b.WriteString("measurements:\n")
				for i := 0; i < len(rs); i += 3 {
					fmt.Fprintf(&b, "  - handle: %s\n    path: %s\n    select_line_matching: '%s'\n    history_type: scalar\n",
						rs[i], dir+"/"+rs[i+1], rs[i+2])
				}
				if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(b.String()), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			writeRules(tc.steps[0].rules)
			clock := testutil.NewClock(t0)
			logs := &testutil.Buffer{}
			reload := make(chan struct{})
			_, stop := runDaemon(t, dir, clock, runOpts{logs: logs, reload: reload})
			f := &fixture{t: t, dir: dir, clock: clock, stop: stop}
			defer f.shutdown()
			written := 0
			for i, s := range tc.steps {
				if i > 0 {
					writeRules(s.rules)
					reload <- struct{}{}
					testutil.WaitForWhy(t, 10*time.Second, "the reload", func() (bool, string) {
						n := strings.Count(logs.String(), "msg=reloaded")
						return n == i, fmt.Sprintf("%d reloads logged", n)
					})
				}
				for j := 0; j < len(s.writes); j += 2 {
					f.log = filepath.Join(dir, s.writes[j])
					var n int
					fmt.Sscan(s.writes[j+1], &n)
					for range n {
						written++
						f.append(fmt.Sprintf("%s line %d", s.writes[j], written))
					}
				}
			}
			end := time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC)
			f.closeAt(end)
			got := map[string]float64{}
			for _, m := range f.status().Measurements {
				got[m.Handle] = m.Total
				if m.Handle == "a" && (m.Last == nil || m.Last.Value == nil || *m.Last.Value != tc.value || !m.Last.End.Equal(end)) {
					t.Errorf("a: last sample %+v; want %v in the interval ending %v", m.Last, tc.value, end)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("totals %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRespelledPositionsResumed: a state file that saved a stream's
// positions under another spelling of its path (/d/./auth.log, before
// paths were cleaned) is resumed from them: the lines written while the
// daemon was down are counted, once.
func TestRespelledPositionsResumed(t *testing.T) {
	dir := t.TempDir()
	f := start(t, dir, t0)
	f.append("Mar  2 10:00:40 h sshd[1]: Invalid user a from 10.0.0.1")
	f.closeAt(time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC))
	f.shutdown()
	// Saved as a release that did not clean paths saved them.
	store, err := state.Open(filepath.Join(dir, "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	spelled := filepath.Join(dir, ".") + "/./auth.log"
	err = store.Update(func(tx *state.Tx) error {
		var p follow.Position
		if ok, err := tx.GetJSON(posKey(f.log, f.log), &p); err != nil || !ok {
			return fmt.Errorf("no position saved for %s (%v)", f.log, err)
		}
		p.Path = spelled
		if err := tx.Delete(posKey(f.log, f.log)); err != nil {
			return err
		}
		return tx.SetJSON(posKey(spelled, spelled), p)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	f.append("Mar  2 10:01:50 h sshd[2]: Invalid user b from 10.0.0.2",
		"Mar  2 10:01:55 h sshd[2]: Invalid user c from 10.0.0.2")
	f = start(t, dir, time.Date(2026, 3, 2, 10, 2, 30, 0, time.UTC))
	defer f.shutdown()
	f.closeAt(time.Date(2026, 3, 2, 10, 3, 0, 0, time.UTC))
	if got := f.total(); got != 3 {
		t.Fatalf("total %v, want 3: the lines written while down are counted once", got)
	}
}
