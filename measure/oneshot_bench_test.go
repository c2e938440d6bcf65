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
// folded concurrently (one per CPU) and in one pass.
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
	open := func(g *interval.Group) ([]Input, error) { return OpenPath(g.Path, nil) }
	for _, sp := range []split{defaultSplit(), {parts: 1}} {
		b.Run(fmt.Sprintf("parts=%d", sp.parts), func(b *testing.B) {
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
