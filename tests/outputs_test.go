package tests

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/logtally/logtally/internal/testutil"
)

// TestOutputSpecialFiles: --output may name something that is not a
// regular file — /dev/null, a FIFO read by another program, another
// character device. Points are written to it without fsync (which only a
// regular file supports), nothing fails, and the spool stays empty. A FIFO
// that nobody reads yet keeps its points in the spool (a destination that
// is down) and receives them all, in order, once a reader opens it.
func TestOutputSpecialFiles(t *testing.T) {
	cases := []struct {
		name string
		// output returns the destination, prepared in dir.
		output func(t *testing.T, dir string) string
		// fifo: the test reads the destination and checks the points.
		fifo bool
	}{
		{name: "dev null", output: func(*testing.T, string) string { return "/dev/null" }},
		{name: "dev zero", output: func(*testing.T, string) string { return "/dev/zero" }},
		{name: "fifo", fifo: true, output: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "points.fifo")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "")
			log := r.path("app.log")
			writeFile(t, r.rules, counterRules(log, "all", ".*"))
			writeFile(t, log, "")
			out := c.output(t, r.dir)
			d := startDaemon(t, daemonOpts{rules: r.rules, state: r.state, output: out,
				extra: []string{"--listen", "127.0.0.1:0"}})
			addr := d.webAddr()
			d.waitLog(`event=open `, 1)

			const written = 40
			appendString(t, log, numbered("before-reader", 0, written/2))
			waitTotal(t, r.state, "all", written/2)

			var points chan []lpPoint
			if c.fifo {
				// Nobody reads the FIFO yet: its points wait in the spool.
				testutil.WaitForWhy(t, waitTimeout, "points spooled for the FIFO", func() (bool, string) {
					v, _ := metricValue(scrape(t, addr), "logtally_output_spool_points", "", "")
					return v > 0, "spool empty"
				})
				points = make(chan []lpPoint, 1)
				go func() {
					f, err := os.Open(out)
					if err != nil {
						t.Error(err)
						points <- nil
						return
					}
					defer f.Close()
					var buf strings.Builder
					sc := bufio.NewScanner(f)
					for sc.Scan() {
						buf.WriteString(sc.Text() + "\n")
					}
					points <- decodeLP(t, []byte(buf.String()))
				}()
			}
			appendString(t, log, numbered("after-reader", 0, written/2))
			waitTotal(t, r.state, "all", written)
			testutil.WaitForWhy(t, waitTimeout, "the spool to empty", func() (bool, string) {
				v, ok := metricValue(scrape(t, addr), "logtally_output_spool_points", "", "")
				return ok && v == 0, "spool not empty"
			})
			fams := scrape(t, addr)
			if v, _ := metricValue(fams, "logtally_output_failures_total", "", ""); v != 0 && !c.fifo {
				t.Errorf("%v failed deliveries to %s, want none", v, out)
			}
			if v, _ := metricValue(fams, "logtally_output_sent_points_total", "", ""); v == 0 {
				t.Errorf("no point delivered to %s", out)
			}
			d.stop()
			for _, l := range strings.Split(d.log(), "\n") {
				if strings.Contains(l, "invalid argument") || (!c.fifo && strings.Contains(l, "level=WARN")) {
					t.Errorf("log line: %s", l)
				}
			}
			wantTotal(t, r.state, "all", written)
			if !c.fifo {
				return
			}
			// The daemon closed its end: the reader saw every point once.
			if sum := sumOnce(t, <-points, "all"); sum != written {
				t.Errorf("the points read from the FIFO add up to %v, want the %d lines written", sum, written)
			}
		})
	}
}
