package measure

import (
	"fmt"
	"os"
	"testing"

	"github.com/logtally/logtally/internal/testutil"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// authCorpus returns the path of a corpus of n real sshd lines.
func authCorpus(b *testing.B, n int) string { return testutil.AuthCorpus(b, n) }

// BenchmarkEvaluateSSH is `logtally test` without the process: the rules
// of examples/rules/ssh.yaml over the 1,000,000-line corpus, in parts
// folded concurrently (one per CPU) and in one pass; and in one pass with
// syslog's repeat lines taken as they are (syslog_repeats: off), which
// tells what recognising them costs (the corpus has 1,000 of them).
func BenchmarkEvaluateSSH(b *testing.B) {
	path := authCorpus(b, 1000000)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	set, err := rules.Load("../examples/rules/ssh.yaml")
	if err != nil {
		b.Fatal(err)
	}
	groups, err := interval.Groups(set.Measurements, path, match.Options{})
	if err != nil {
		b.Fatal(err)
	}
	off := make([]*rules.Measurement, len(set.Measurements))
	for i, m := range set.Measurements {
		c := *m
		c.SyslogRepeats = rules.RepeatsOff
		off[i] = &c
	}
	offGroups, err := interval.Groups(off, path, match.Options{})
	if err != nil {
		b.Fatal(err)
	}
	open := func(g *interval.Group) ([]Input, error) { return OpenPath(g.Path, nil) }
	for _, c := range []struct {
		name   string
		groups []*interval.Group
		sp     split
	}{
		{"", groups, defaultSplit()},
		{"", groups, split{parts: 1}},
		{",repeats=off", offGroups, split{parts: 1}},
	} {
		groups, sp := c.groups, c.sp
		b.Run(fmt.Sprintf("parts=%d%s", sp.parts, c.name), func(b *testing.B) {
			b.SetBytes(fi.Size())
			var lines uint64
			for range b.N {
				rs := evaluate(groups, open, 0, nil, sp)
				if rs[0].Err != nil {
					b.Fatal(rs[0].Err)
				}
				lines += rs[0].Lines
			}
			b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
