package match

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
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

// authCorpus returns the lines of a corpus of n real sshd lines built by
// make-auth-corpus.sh, cached under the temporary directory.
func authCorpus(b *testing.B, n int) [][]byte {
	b.Helper()
	script := filepath.Join(shared(b), "corpus", "make-auth-corpus.sh")
	if _, err := exec.LookPath("perl"); err != nil {
		b.Skip("perl is missing: make-auth-corpus.sh needs it")
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("logtally-auth-%d.log", n))
	data, err := os.ReadFile(path)
	if err != nil || bytes.Count(data, []byte{'\n'}) != n {
		tmp := filepath.Join(b.TempDir(), "auth.log")
		if out, err := exec.Command("sh", script, fmt.Sprint(n), tmp).CombinedOutput(); err != nil {
			b.Fatalf("make-auth-corpus.sh: %v: %s", err, out)
		}
		if data, err = os.ReadFile(tmp); err != nil {
			b.Fatal(err)
		}
		// Best effort: another run can reuse it.
		_ = os.WriteFile(path+".tmp", data, 0o644)
		_ = os.Rename(path+".tmp", path)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
	return lines
}

// shared returns the directory that holds corpus/ (the real log samples),
// from $LOGTALLY_SHARED or beside the checkout, or skips.
func shared(tb testing.TB) string {
	tb.Helper()
	for _, d := range []string{os.Getenv("LOGTALLY_SHARED"), "../../shared", "../../../shared"} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "corpus", "openssh.log")); err == nil {
			return d
		}
	}
	tb.Skip("shared corpus not found; set LOGTALLY_SHARED")
	return ""
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
