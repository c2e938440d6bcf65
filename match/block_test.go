package match

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// blockLines are sshd lines, with others, for block tests.
var blockLines = []string{
	"Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
	"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
	"Dec 10 07:07:38 LabSZ sshd[24206]: Failed password for invalid user test9 from 52.80.34.196 port 36060 ssh2",
	"Dec 10 09:32:20 LabSZ sshd[24680]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh",
	"Dec 10 09:32:20 LabSZ cron[2]: nothing to see",
	"",
	"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user \u00e9t\u00e9 from 173.234.31.186",
	"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user \xff from 1.2.3.4",
	"Dec 10 11:03:40 LabSZ sshd[25448]: Received disconnect from 183.62.140.253: 11: Bye Bye [preauth]",
	"x user007 from 10.0.0.1 12 user011 from b",
}

// TestMatchBlockPlans checks the three ways a block is scanned, each
// against Match on every line: anchors only, anchors with rules that take
// every line, and line by line when anchors are too many.
func TestMatchBlockPlans(t *testing.T) {
	withRest := append(append([]Spec(nil), sshSpecs...), Spec{Select: `\w+ \d+ .*`, Key: `(\d+)`}, Spec{Select: `(?i).*nothing.*`})
	tests := []struct {
		name    string
		specs   []Spec
		anchors bool
		rest    bool
	}{
		{"anchors", sshSpecs, true, false},
		{"anchors and rest", withRest, true, true},
		{"too many anchors", manySpecs(2*maxAnchors, 0), false, false},
	}
	var b strings.Builder
	for i := range 200 {
		b.WriteString(blockLines[i%len(blockLines)])
		if i%3 == 0 {
			b.WriteString("\r")
		}
		b.WriteString("\n")
	}
	block := []byte(b.String())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Compile(tt.specs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			m := set.NewMatcher()
			got := blockOf(m, block)
			p := m.blk.plan
			if (p != nil) != tt.anchors || p != nil && (p.rest != nil) != tt.rest {
				t.Fatalf("plan %+v: want anchors %v, rest %v", p, tt.anchors, tt.rest)
			}
			var want []blockHit
			lm := set.NewMatcher()
			for off := 0; off < len(block); {
				end := lineEnd(block, off)
				line := trimCR(block[off:end])
				if hs := lm.Match(line); len(hs) > 0 {
					want = append(want, blockHit{off, string(line), copyHits(hs)})
				}
				off = end + 1
			}
			if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}
}

// TestMatchBlockZeroAllocs checks that the block scan allocates nothing
// once its plan is made.
func TestMatchBlockZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	set, err := Compile(sshSpecs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := set.NewMatcher()
	block := []byte(strings.Join(blockLines, "\n") + "\n")
	n := 0
	fn := func(_ int, _ []byte, hits []Hit) { n += len(hits) }
	m.MatchBlock(block, fn)
	if n == 0 {
		t.Fatal("no hits")
	}
	if a := testing.AllocsPerRun(100, func() { m.MatchBlock(block, fn) }); a != 0 {
		t.Errorf("%v allocations per block", a)
	}
}

// TestMatchBlockRecovers breaks the bytes engine on purpose: the line is
// matched by the reference and the scan goes on; a panic in the callback
// is the callback's and is not swallowed.
func TestMatchBlockRecovers(t *testing.T) {
	set, err := Compile(sshSpecs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	block := []byte(strings.Join(blockLines, "\n") + "\n")
	want := blockOf(set.NewMatcher(), block)
	for i, r := range set.rules {
		if r.sel.bp != nil {
			set.rules[i].sel.bp.insts = nil
		}
	}
	if got := blockOf(set.NewMatcher(), block); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("with a broken engine:\ngot  %v\nwant %v", got, want)
	}
	defer func() {
		if r := recover(); r != "callback" {
			t.Fatalf("recovered %v, want the callback's panic", r)
		}
	}()
	set.NewMatcher().MatchBlock(block, func(int, []byte, []Hit) { panic("callback") })
	t.Fatal("the callback's panic was swallowed")
}

// blockCorpus returns the corpus in blocks of about 64 KiB of whole lines.
func blockCorpus(b *testing.B) [][]byte {
	lines := authCorpus(b, corpusLines)
	var blocks [][]byte
	var cur []byte
	for _, l := range lines {
		cur = append(append(cur, l...), '\n')
		if len(cur) >= 64<<10 {
			blocks = append(blocks, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		blocks = append(blocks, cur)
	}
	return blocks
}

// BenchmarkSSHBlock matches the 1,000,000-line corpus with the ssh rules
// in blocks of 64 KiB; one op is one pass over the corpus.
func BenchmarkSSHBlock(b *testing.B) {
	blocks := blockCorpus(b)
	set, err := Compile(sshSpecs, Options{})
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, bl := range blocks {
		size += int64(len(bl))
	}
	benchBlocks(b, set, blocks, size)
}

// benchBlocks matches the blocks of the corpus (size bytes, corpusLines
// lines) with MatchBlock; one op is one pass over them.
func benchBlocks(b *testing.B, set *Set, blocks [][]byte, size int64) {
	m := set.NewMatcher()
	hits := 0
	fn := func(_ int, _ []byte, hs []Hit) { hits += len(hs) }
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, bl := range blocks {
			m.MatchBlock(bl, fn)
		}
	}
	b.ReportMetric(float64(corpusLines*b.N)/b.Elapsed().Seconds(), "lines/s")
	runtime.KeepAlive(hits)
}
