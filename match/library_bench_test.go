package match

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/coregx/ahocorasick"
)

// BenchmarkSharedPass compares, for the scaling benchmark's rules, the
// whole block scan (MatchBlock: the anchor search, the prefilter on the
// lines found and the verification of their candidates) with what a
// maintained Aho–Corasick library (github.com/coregx/ahocorasick, a DFA
// over byte classes) takes only to find the rules' literals in the
// blocks, before any verification; and the per-line prefilter of Match
// with the library on the same lines. The package doc says which is used
// and why.
func BenchmarkSharedPass(b *testing.B) {
	blocks, size := addressCorpus(b)
	var lines [][]byte
	for _, bl := range blocks {
		lines = append(lines, bytes.Split(bytes.TrimSuffix(bl, []byte{'\n'}), []byte{'\n'})...)
	}
	for _, n := range []int{10, 1000} {
		set, err := Compile(addressSpecs(n), Options{})
		if err != nil {
			b.Fatal(err)
		}
		// The literals the prefilter looks for, as the library's patterns.
		var exact, lowered [][]byte
		seenText := map[string]bool{}
		for _, r := range set.rules {
			for _, cl := range r.exact {
				for _, l := range cl {
					if !seenText[l.text] {
						seenText[l.text] = true
						exact = append(exact, []byte(l.text))
					}
				}
			}
		}
		for _, r := range set.rules {
			for _, cl := range r.clauses {
				for _, l := range cl {
					if !seenText["\x00"+l.text] {
						seenText["\x00"+l.text] = true
						lowered = append(lowered, []byte(l.text))
					}
				}
			}
		}
		lib, err := ahocorasick.NewBuilder().AddPatterns(exact).Build()
		if err != nil {
			b.Fatal(err)
		}
		libLow, err := ahocorasick.NewBuilder().AddPatterns(lowered).Build()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%d/block/own-MatchBlock", n), func(b *testing.B) {
			benchBlocks(b, set, blocks, size)
		})
		b.Run(fmt.Sprintf("%d/block/coregx-literals-only", n), func(b *testing.B) {
			found := 0
			b.SetBytes(size)
			for range b.N {
				for _, bl := range blocks {
					found += len(lib.FindAllOverlapping(bl))
				}
			}
			runtime.KeepAlive(found)
		})
		b.Run(fmt.Sprintf("%d/line/own-prefilter", n), func(b *testing.B) {
			f := set.filter()
			seen := make([]uint64, f.seenWords())
			cand := make([]uint64, f.words)
			b.SetBytes(size)
			for range b.N {
				for _, l := range lines {
					f.candidates(l, seen, cand)
				}
			}
		})
		b.Run(fmt.Sprintf("%d/line/coregx", n), func(b *testing.B) {
			low := make([]byte, 0, 4096)
			found := 0
			b.SetBytes(size)
			for range b.N {
				for _, l := range lines {
					low = append(low[:0], l...)
					for i, c := range low {
						if c >= 'A' && c <= 'Z' {
							low[i] = c + 'a' - 'A'
						}
					}
					found += len(libLow.FindAllOverlapping(low))
				}
			}
			runtime.KeepAlive(found)
		})
	}
}
