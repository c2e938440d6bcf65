package measure

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

func BenchmarkEvaluateSSH(b *testing.B) {
	path := filepath.Join(os.TempDir(), "logtally-auth-1000000.log")
	fi, err := os.Stat(path)
	if err != nil {
		b.Skip("no corpus")
	}
	set, err := rules.Load("../examples/rules/ssh.yaml")
	if err != nil {
		b.Fatal(err)
	}
	groups, err := Groups(set.Measurements, path, match.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for range b.N {
		rs := Evaluate(groups, func(g *Group) ([]Input, error) { return OpenPath(g.Source, nil) }, 0, nil)
		if rs[0].Err != nil {
			b.Fatal(rs[0].Err)
		}
	}
}
