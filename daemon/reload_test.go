package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// TestReloadKeepsTheIntervalUnderWay: a reload that changes the stream of
// a measurement in the middle of an interval (another path, the same file
// spelled another way, back to the first path) keeps what the measurement
// counted before it: the interval's sample holds every line of every
// stream it read, each once, and so does the total. Lines written before
// the reload and not yet read are read before the old stream stops.
func TestReloadKeepsTheIntervalUnderWay(t *testing.T) {
	type step struct {
		path  string // the measurement's path from now on ("" keeps it)
		write string // the file the lines are appended to
		lines int
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  float64
	}{
		{"pattern changed, same path", []step{{"", "x.log", 100}, {"x.log", "x.log", 10}}, 110},
		{"another path", []step{{"", "x.log", 100}, {"y.log", "y.log", 10}}, 110},
		{"the same file spelled another way", []step{{"", "x.log", 100}, {"./x.log", "x.log", 10}}, 110},
		{"another path and back", []step{{"", "x.log", 100}, {"y.log", "y.log", 10}, {"x.log", "x.log", 5}}, 115},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range []string{"x.log", "y.log"} {
				if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			writeRules := func(path, pattern string) {
				t.Helper()
				rules := fmt.Sprintf("measurements:\n  - handle: a\n    path: %s\n    select_line_matching: '%s'\n    history_type: scalar\n",
					dir+"/"+path, pattern)
				if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rules), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			writeRules("x.log", ".*line .*")
			clock := testutil.NewClock(t0)
			logs := &testutil.Buffer{}
			reload := make(chan struct{})
			_, stop := runDaemon(t, dir, clock, runOpts{logs: logs, reload: reload})
			f := &fixture{t: t, dir: dir, clock: clock, stop: stop}
			defer f.shutdown()
			written := 0
			for i, s := range tc.steps {
				if i > 0 {
					pattern := ".*line .*"
					if i%2 == 1 {
						pattern = ".*line [0-9]+"
					}
					writeRules(s.path, pattern)
					reload <- struct{}{}
					testutil.WaitForWhy(t, 10*time.Second, "the reload", func() (bool, string) {
						n := strings.Count(logs.String(), "msg=reloaded")
						return n == i, fmt.Sprintf("%d reloads logged", n)
					})
				}
				f.log = filepath.Join(dir, s.write)
				for range s.lines {
					written++
					f.append(fmt.Sprintf("%s line %d", s.write, written))
				}
			}
			end := time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC)
			f.closeAt(end)
			var got []string
			for _, m := range f.status().Measurements {
				got = append(got, fmt.Sprintf("%s total %v", m.Handle, m.Total))
				if m.Handle != "a" {
					continue
				}
				if m.Total != tc.want || m.Last == nil || m.Last.Value == nil || *m.Last.Value != tc.want || !m.Last.End.Equal(end) {
					t.Fatalf("a: total %v, last sample %+v; want %v in the interval ending %v", m.Total, m.Last, tc.want, end)
				}
				return
			}
			t.Fatalf("no measurement a committed: %v", got)
		})
	}
}
