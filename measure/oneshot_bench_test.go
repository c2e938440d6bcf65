package measure

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// authCorpus returns the path of a corpus of n real sshd lines built by
// make-auth-corpus.sh, cached under the temporary directory.
func authCorpus(b *testing.B, n int) string {
	b.Helper()
	script := filepath.Join(sharedDir(b), "corpus", "make-auth-corpus.sh")
	if _, err := exec.LookPath("perl"); err != nil {
		b.Skip("perl is missing: make-auth-corpus.sh needs it")
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("logtally-auth-%d.log", n))
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return path
	}
	tmp := filepath.Join(b.TempDir(), "auth.log")
	if out, err := exec.Command("sh", script, fmt.Sprint(n), tmp).CombinedOutput(); err != nil {
		b.Fatalf("make-auth-corpus.sh: %v: %s", err, out)
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		b.Fatal(err)
	}
	// Best effort: another run can reuse it.
	_ = os.WriteFile(path+".tmp", data, 0o644)
	_ = os.Rename(path+".tmp", path)
	return tmp
}

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
	groups, err := Groups(set.Measurements, path, match.Options{})
	if err != nil {
		b.Fatal(err)
	}
	open := func(g *Group) ([]Input, error) { return OpenPath(g.Source, nil) }
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
