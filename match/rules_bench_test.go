package match

import (
	"bytes"
	"fmt"
	"regexp"
	"runtime"
	"testing"
)

// The scaling benchmarks of the shared prefilter pass: n rules, one per
// source address, over the 1,000,000-line sshd corpus in which the
// address of every "Failed password" line is rewritten to one of 120
// addresses (as bench/rules.sh does). Rule k selects the failed passwords
// from address k, so 120 rules occur in the corpus and the others do not.

// addressRule returns the select pattern of rule k of the scaling
// benchmark and its address.
func addressRule(k int) (string, string) {
	addr := fmt.Sprintf("198.18.%d.%d", k/256, k%256)
	return `.*sshd\[\d+\]: Failed password for .* from ` + regexp.QuoteMeta(addr) + ` port \d+ ssh2`, addr
}

// addressSpecs returns n rules of the scaling benchmark.
func addressSpecs(n int) []Spec {
	specs := make([]Spec, n)
	for k := range specs {
		specs[k].Select, _ = addressRule(k)
	}
	return specs
}

// occurring is the number of addresses of the scaling corpus.
const occurring = 120

var failedFrom = regexp.MustCompile(`Failed password for .* from (\S+) port \d+ ssh2$`)

// addressCorpus returns the corpus with the address of the i-th "Failed
// password" line rewritten to address i mod occurring, in blocks of about
// 64 KiB, and its size.
func addressCorpus(b *testing.B) ([][]byte, int64) {
	lines := authCorpus(b, corpusLines)
	var blocks [][]byte
	var cur []byte
	var size int64
	n := 0
	for _, l := range lines {
		if m := failedFrom.FindSubmatchIndex(l); m != nil {
			_, addr := addressRule(n % occurring)
			n++
			l = append(append(append([]byte{}, l[:m[2]]...), addr...), l[m[3]:]...)
		}
		cur = append(append(cur, l...), '\n')
		if len(cur) >= 64<<10 {
			blocks = append(blocks, cur)
			size += int64(len(cur))
			cur = nil
		}
	}
	if len(cur) > 0 {
		blocks = append(blocks, cur)
		size += int64(len(cur))
	}
	return blocks, size
}

// BenchmarkRulesBlock is the one-shot path (MatchBlock) with 10, 100 and
// 1000 rules; one op is one pass over the corpus.
func BenchmarkRulesBlock(b *testing.B) {
	blocks, size := addressCorpus(b)
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			set, err := Compile(addressSpecs(n), Options{})
			if err != nil {
				b.Fatal(err)
			}
			benchBlocks(b, set, blocks, size)
		})
	}
}

// BenchmarkRulesLine is the daemon's path (Match, line by line) with 10,
// 100 and 1000 rules.
func BenchmarkRulesLine(b *testing.B) {
	blocks, size := addressCorpus(b)
	var lines [][]byte
	for _, bl := range blocks {
		lines = append(lines, bytes.Split(bytes.TrimSuffix(bl, []byte{'\n'}), []byte{'\n'})...)
	}
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			set, err := Compile(addressSpecs(n), Options{})
			if err != nil {
				b.Fatal(err)
			}
			m := set.NewMatcher()
			hits := 0
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for _, l := range lines {
					hits += len(m.Match(l))
				}
			}
			b.ReportMetric(float64(len(lines)*b.N)/b.Elapsed().Seconds(), "lines/s")
			runtime.KeepAlive(hits)
		})
	}
}
