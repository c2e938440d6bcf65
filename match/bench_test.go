package match

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// sshSpecs are CFEngine's ssh rules with a key and an extraction.
var sshSpecs = []Spec{
	{Select: `.*sshd\[.*Invalid user.*`, Key: `from (\d+\.\d+\.\d+\.\d+)`},
	{Select: `.*sshd\[.*POSSIBLE BREAK-IN ATTEMPT.*`},
	{Select: `.*sshd\[.*Did not receive identification string.*`},
	{Select: `.*sshd\[.*authentication failure.*`},
	{Select: `.*sshd\[.*Received disconnect from .*\[preauth\].*`},
	{Select: `.*sshd\[.*Failed password for .*`, Extract: `port (\d+)`},
	{Select: `.*sshd\[.*PAM \d+ more authentication failures.*`, Extract: `PAM (\d+) more`},
}

// corpusLines is the number of lines of the benchmark corpus.
const corpusLines = 1000000

// authCorpus returns the lines of a corpus of n real sshd lines.
func authCorpus(b *testing.B, n int) [][]byte {
	b.Helper()
	data, err := os.ReadFile(testutil.AuthCorpus(b, n))
	if err != nil {
		b.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
}

func totalBytes(lines [][]byte) int64 {
	var n int64
	for _, l := range lines {
		n += int64(len(l)) + 1
	}
	return n
}

// BenchmarkSSH matches every line of the 1,000,000-line corpus with the
// ssh rules; one op is one pass over the corpus.
func BenchmarkSSH(b *testing.B) {
	lines := authCorpus(b, corpusLines)
	set, err := Compile(sshSpecs, Options{})
	if err != nil {
		b.Fatal(err)
	}
	m := set.NewMatcher()
	b.SetBytes(totalBytes(lines))
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for range b.N {
		for _, l := range lines {
			hits += len(m.Match(l))
		}
	}
	b.ReportMetric(float64(len(lines)*b.N)/b.Elapsed().Seconds(), "lines/s")
	runtime.KeepAlive(hits)
}

// BenchmarkSSHReference is the same with plain regexp2 on the corpus's
// first lines, for the ratio.
func BenchmarkSSHReference(b *testing.B) {
	lines := authCorpus(b, corpusLines)[:500]
	ref, err := compileReference(sshSpecs, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(totalBytes(lines))
	b.ResetTimer()
	for range b.N {
		for _, l := range lines {
			ref.match(l)
		}
	}
	b.ReportMetric(float64(len(lines)*b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkManyRules matches a line against 1000 rules with literals, of
// which it selects one: the prefilter makes the cost depend on the line,
// not on the number of rules.
func BenchmarkManyRules(b *testing.B) {
	specs := manySpecs(1000, 0)
	set, err := Compile(specs, Options{})
	if err != nil {
		b.Fatal(err)
	}
	m := set.NewMatcher()
	line := []byte("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user500 from 173.234.31.186 port 22")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		m.Match(line)
	}
}

// hostileSpecs are rules that backtrack catastrophically on hostileLine,
// on regexp2 (lookaheads), in the select, extraction and key patterns.
var hostileSpecs = []Spec{
	{Select: `(?=(a+)+b)a.*`},
	{Select: `.*`, Extract: `(?=a)((a|aa)+)b`},
	{Select: `.*`, Key: `(?=a)((a|aa)+)b`},
	{Select: `(?=a)(a|aa)+b`},
}

var hostileLine = []byte(strings.Repeat("a", 5000) + "c")

// BenchmarkTimedOutLine measures what a line that times out costs, with
// one hostile rule and with four (select, extraction, key): the limit is
// the line's, so both should cost the limit and a few milliseconds. It
// reports the cost per line in ms and as a multiple of the limit.
func BenchmarkTimedOutLine(b *testing.B) {
	for _, limit := range []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
		500 * time.Millisecond, time.Second} {
		for _, n := range []int{1, len(hostileSpecs)} {
			b.Run(fmt.Sprintf("limit=%v/rules=%d", limit, n), func(b *testing.B) {
				set, err := Compile(hostileSpecs[:n], Options{Timeout: limit})
				if err != nil {
					b.Fatal(err)
				}
				m := set.NewMatcher()
				m.Match(hostileLine) // the Matcher compiles its copies
				start := time.Now()
				for b.Loop() {
					if hits := m.Match(hostileLine); len(hits) != n || !m.TimedOut() {
						b.Fatalf("hits %s, timed out %v: want %d timeouts", fmtHits(hits), m.TimedOut(), n)
					}
				}
				per := time.Since(start) / time.Duration(b.N)
				b.ReportMetric(float64(per)/1e6, "ms/line")
				b.ReportMetric(float64(per)/float64(limit), "x-limit")
			})
		}
	}
}
