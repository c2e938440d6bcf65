package match

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The differential tests compile the same specs twice, for the fast
// engines and for the reference (plain regexp2), match the same lines and
// require identical hits. A comparison is skipped only when either side
// timed out: the reference has then no answer to compare with.

// diffTimeout bounds each regexp2 match in differential tests.
const diffTimeout = 10 * time.Millisecond

// seedPatterns are realistic and tricky patterns: the differential fuzz
// test starts from them.
var seedPatterns = []string{
	// Realistic.
	`.*sshd\[.*Invalid user.*`,
	`.*sshd\[.*POSSIBLE BREAK-IN ATTEMPT.*`,
	`.*sshd\[.*Did not receive identification string.*`,
	`.*sshd\[.*authentication failure.*`,
	`.*sshd\[.*Received disconnect from .*\[preauth\].*`,
	`.*sshd\[.*Failed password for .*`,
	`.*sshd\[.*PAM \d+ more authentication failures.*`,
	`PAM (\d+) more`,
	`from (\d+\.\d+\.\d+\.\d+)`,
	`port (\d+)`,
	`from (\S+)`,
	`.*ftpd\[.*`,
	`(get|put) .* = (\d+) bytes`,
	`took (\d+) ms`,
	`reject: RCPT from \S+\[(\S+)\]: 554`,
	`client (\S+)#\d+ .*denied`,
	`.*(?i)refused.*`,
	`user=(?<user>\w+)`,
	`(?<ip>\d{1,3}(?:\.\d{1,3}){3})`,
	`\bfailed\b`,
	`^\s*$`,
	`.*Milter \((\w+)\): to error state.*`,
	`.*\[(\d+)\]: .*`,
	`(?i).*error.*`,
	`.*sshd\[\d+\]: (Accepted|Failed) (password|publickey) for (\S+)`,
	// Shapes of the bytes engine: deterministic runs, computed runs,
	// optional groups, backtracking runs, loops of groups.
	`.*sshd\[\d+\]: (?:error: )?Received disconnect from .* \[preauth\]`,
	`Invalid user .* from (\S+)`, `from (\S+) port \d+`, `rhost=(\S+)`, `(\w+)=(\S*)`,
	`.*?(\d{2,3}).*`, `(?:a+)+b`, `(?:ab|b)+c`, `x.*?y.*?z`, `(?:(\d+)\.){3}`, `^\w{3} [ \d]\d (\S+)`,
	// Classes whose meaning differs between regexp2 and RE2.
	`\s+`, `a\sb`, `[\s]+`, `\S+`, `\w+`, `\W`, `\d+`, `\D+`, `[^\d]+`, `[\d-z]+`,
	`\p{L}+`, `\P{Lu}`, `\pN`, `[\p{P}\d]`, `\p{IsGreek}`,
	`[a-z-[aeiou]]+`, `[[:alpha:]]+`, `[[:^digit:]]`, `[a-[b]]`, `[\w-[\d]]+`,
	// Case folding.
	`(?i)k`, `(?i)s`, `(?i)i`, `(?i)[a-z]+`, `(?i)[^k]`, `(?i)\u212a`, `(?i)İ`, `(?i)ſ`,
	`(?i)straße`, `(?-i:a)B`, `(?i:a(?-i)b)c`, `a(?i)b|c`, `(?i)[k-m]`, `(?i)\w`,
	// Anchors.
	`a$`, `^a`, `\Aa\z`, `a\Z`, `\Ga`, `(?m)^a$`, `a\b`, `\Bb`, `\b\w+\b`, `$`, `^`,
	// Trimming.
	`.*`, `.*?`, `.*a`, `a.*`, `.*?a.*?`, `a|b.*`, `.*a|b`, `.*.*a`, `(?s).*a.*`,
	`(?x) .* a .*`, `.*(a).*`, `.+a.+`, `\.*a`, `.*\[.*`, `.*a{2}.*`,
	// Groups and numbering.
	`(a)`, `(a)?b`, `(a)|b`, `(?:a)(b)`, `(?<x>a)(b)`, `(?<x>a)|(?<x>b)`, `(?n)(a)(?<x>b)`,
	`(?<3>a)(b)`, `((a)|b)+`, `(?:(a)|b)+`, `(a|ab)(c|bcd)(d*)`, `(a*)*`, `(a|)+`, `(a*)+b`,
	`(a?)*`, `()`, `(|a)*`, `(a+|b+)*c`, `(.*)`, `(?:.*)`, `(.)(.)`, `(\d+)-(\d+)`,
	// Syntax corners.
	`x{2,3}`, `x{,3}`, `x{1001}`, `x{2,}?`, `a{`, `a{1,2`, `}`, `]`, `[]a]`, `[^]a]`,
	`[a-]`, `[-a]`, `[a\-z]`, `[a-\-z]`, `\x41\u0042\101\cA\e`, `[\b]`, `\0`, `[\0-\x1f]`,
	`\x{1F600}`, `(?#comment)a`, `a(?#c)*`, `(?x)a b # comment`, `(?x)a#c`, `(?x)a\ b\#`,
	`(?x)[ a]`, `(?x)a {2}`, `a\<b`, `\'`, `a\\b`, `\1(a)`, `(a)\1`, `(?<n>a)\k<n>`,
	`(?=a)a`, `(?!a).`, `(?<=a)b`, `(?<!a)b`, `(?>a+)b`, `(?(a)a|b)`, `.*(?(?=a)ab|cd).*`, `(a)?(?(1)b|c)`,
	`(?<n>a)?(?(n)b|c)d`, `(?(x)(a)|b)(c)`, `a\r`, "a\x00b", "\t",
	`(?i:k)|\p{Lu}`, `\P{L}*?\p{Lu}(?i)k`, `(\p{Lu})(?i:k)?`, "é+", "[é-ü]", "\ufffd", `\uFFFD`, `[^a]`, `[^\n]`, `(?s).`, `.`, `a.c`,
}

// seedLines are lines the seeds are tried on, with the variants of
// lineVariants.
var seedLines = []string{
	"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
	"Dec 10 07:07:38 LabSZ sshd[24206]: Failed password for invalid user test9 from 52.80.34.196 port 36060 ssh2",
	"Dec 10 09:32:20 LabSZ sshd[24680]: PAM 5 more authentication failures; logname= uid=0",
	"",
	"a", "ab", "aaa", "b", "abc", "aab", "ac", "abcd", "k", "K", "s", "S", "i",
	"a b", "a\vb", "a\u00a0b", "a\tb\r", "12 34", "١٢٣", "x\x00y", "bad \xff\xfe utf8",
	"Straße STRASSE", "İstanbul", "\u212a", "ſ", "😀 é ü", "[]", "-", "x{,3}", "xxx",
}

// lineVariants returns lines derived from line and the pattern, so that
// random patterns meet lines they match: the pattern's own text, its
// literal characters, and case and Unicode variations.
func lineVariants(pat, line string) []string {
	lit := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`\^$.|?*+()[]{}`, r) {
			return -1
		}
		return r
	}, pat)
	vs := []string{line, pat, lit, line + lit, lit + line, strings.ToUpper(lit), strings.ToLower(line),
		"Dec 10 07:07:38 LabSZ sshd[24206]: Failed password for " + lit + " port 22"}
	swap := strings.NewReplacer("k", "\u212a", "s", "ſ", "i", "İ", " ", "\u00a0", "a", "\xff", "1", "١")
	vs = append(vs, swap.Replace(lit), lit+"\r", "\v"+lit+"\v")
	var out []string
	seen := map[string]bool{}
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// specsFor returns specs that use pat in every role.
func specsFor(pat string) []Spec {
	return []Spec{
		{Select: pat},
		{Select: ".*", Extract: pat},
		{Select: ".*", Key: pat},
		{Select: ".*" + pat + ".*"},
		{Select: "(?i)" + pat},
		{Select: pat, Extract: pat, Key: pat},
	}
}

// checkDifferential requires the fast engines to agree with the reference
// on every spec using pat, over the variants of each line.
func checkDifferential(t *testing.T, pat string, lines ...string) {
	t.Helper()
	var all []string
	for _, l := range lines {
		all = append(all, lineVariants(pat, l)...)
	}
	lines = all
	// Each spec alone, then all that compile in one set with the ssh
	// rules, so that rules share the prefilter.
	set := append([]Spec(nil), sshSpecs...)
	for _, sp := range specsFor(pat) {
		if compareSets(t, []Spec{sp}, lines) {
			set = append(set, sp)
		}
	}
	compareSets(t, set, lines)
}

// compareSets compiles specs both ways and compares the hits on lines. It
// reports whether the specs compiled.
func compareSets(t *testing.T, specs []Spec, lines []string) bool {
	t.Helper()
	set, errF := Compile(specs, Options{Timeout: diffTimeout})
	ref, errR := compileReference(specs, Options{Timeout: diffTimeout})
	if (errF == nil) != (errR == nil) {
		t.Fatalf("specs %+q: fast error %v, reference error %v", specs, errF, errR)
	}
	if errF != nil {
		return false
	}
	m := set.NewMatcher()
	refHits := refCache{ref: ref, hits: map[string][]Hit{}}
	for _, l := range lines {
		got := m.Match([]byte(l))
		want := refHits.match([]byte(l))
		if d := diffHits(got, want); d != "" {
			t.Fatalf("specs %+q (%s) on line %+q:\n%s", specs, describe(set), l, d)
		}
	}
	for _, b := range []string{
		strings.Join(lines, "\n") + "\n",
		strings.Join(lines, "\r\n"),
		strings.Join(lines, "\r\n") + "\r\n",
	} {
		compareBlock(t, specs, set, &refHits, []byte(b))
	}
	return true
}

// refCache is the reference's hits by line, each line matched once.
type refCache struct {
	ref  *referenceSet
	hits map[string][]Hit
}

func (c *refCache) match(line []byte) []Hit {
	hs, ok := c.hits[string(line)]
	if !ok {
		hs = copyHits(c.ref.match(line))
		c.hits[string(line)] = hs
	}
	return hs
}

// blockHit is a line reported by MatchBlock, with copies of its hits.
type blockHit struct {
	off  int
	line string
	hits []Hit
}

func copyHits(hs []Hit) []Hit {
	out := make([]Hit, len(hs))
	for i, h := range hs {
		out[i] = h
		if h.Value != nil {
			out[i].Value = append([]byte{}, h.Value...)
		}
		if h.Key != nil {
			out[i].Key = append([]byte{}, h.Key...)
		}
	}
	return out
}

// blockOf returns what MatchBlock reports for block, with a fresh Matcher
// (whose anchors are picked on this block) or m.
func blockOf(m *Matcher, block []byte) []blockHit {
	var got []blockHit
	m.MatchBlock(block, func(off int, line []byte, hits []Hit) {
		got = append(got, blockHit{off, string(line), copyHits(hits)})
	})
	return got
}

// compareBlock matches block with MatchBlock and requires, for each line
// as the line framer cuts it ('\n' ends it, a '\r' before is dropped),
// the reference's hits.
func compareBlock(t *testing.T, specs []Spec, set *Set, ref *refCache, block []byte) {
	t.Helper()
	var want []blockHit
	for off := 0; off < len(block); {
		end := lineEnd(block, off)
		line := trimCR(block[off:end])
		if hs := ref.match(line); len(hs) > 0 {
			want = append(want, blockHit{off, string(line), hs})
		}
		off = end + 1
	}
	got := blockOf(set.NewMatcher(), block)
	// Lines by offset: a line missing on one side has no hits there. A
	// line on which either side timed out is not compared (diffHits).
	byOff := map[int][2]blockHit{}
	for _, g := range got {
		byOff[g.off] = [2]blockHit{g, byOff[g.off][1]}
	}
	for _, w := range want {
		byOff[w.off] = [2]blockHit{byOff[w.off][0], w}
	}
	for off, gw := range byOff {
		g, w := gw[0], gw[1]
		if g.hits != nil && w.hits != nil && g.line != w.line {
			t.Fatalf("specs %+q (%s) on block %+q: at %d got line %q, want %q", specs, describe(set), block, off, g.line, w.line)
		}
		if d := diffHits(g.hits, w.hits); d != "" {
			t.Fatalf("specs %+q (%s) on block %+q, line at %d %q:\n%s", specs, describe(set), block, off, w.line+g.line, d)
		}
	}
	// And in order.
	for i := 1; i < len(got); i++ {
		if got[i].off <= got[i-1].off {
			t.Fatalf("specs %+q on block %+q: line at %d reported after the line at %d", specs, block, got[i].off, got[i-1].off)
		}
	}
}

func describe(s *Set) string {
	var b strings.Builder
	for i := 0; i < s.Len(); i++ {
		fmt.Fprintf(&b, "%+v", s.Describe(i))
	}
	return b.String()
}

// diffHits returns "" when the hits agree, else what differs.
func diffHits(got, want []Hit) string {
	for _, h := range append(append([]Hit(nil), got...), want...) {
		if h.Timeout {
			return ""
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("got %d hits %s, want %d %s", len(got), fmtHits(got), len(want), fmtHits(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Rule != w.Rule || g.Selected != w.Selected || g.ExtractMiss != w.ExtractMiss ||
			!sameValue(g.Value, w.Value) || !sameValue(g.Key, w.Key) {
			return fmt.Sprintf("got %s, want %s", fmtHits(got), fmtHits(want))
		}
	}
	return ""
}

func sameValue(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func fmtHits(hs []Hit) string {
	var b strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&b, "{rule %d sel %v timeout %v miss %v value %s key %s}", h.Rule, h.Selected, h.Timeout, h.ExtractMiss, fmtVal(h.Value), fmtVal(h.Key))
	}
	return "[" + b.String() + "]"
}

func fmtVal(v []byte) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", v)
}

func FuzzDifferential(f *testing.F) {
	for i, p := range seedPatterns {
		f.Add(p, seedLines[i%len(seedLines)])
	}
	f.Fuzz(func(t *testing.T, pat, line string) {
		if len(pat) > 120 || len(line) > 200 || strings.Count(pat, "{") > 4 {
			t.Skip("too large")
		}
		checkDifferential(t, pat, line)
	})
}

// TestDifferentialSeeds runs every seed pattern over every seed line.
func TestDifferentialSeeds(t *testing.T) {
	for _, p := range seedPatterns {
		t.Run(p, func(t *testing.T) {
			checkDifferential(t, p, seedLines...)
		})
	}
}

// genTokens are the pieces of generated patterns.
var genTokens = []string{
	"a", "b", "k", "s", "i", "K", "S", " ", "1", "-", "_", ".", `\.`, `\[`, "é", "\u212a", "ſ", "İ",
	`\d`, `\D`, `\w`, `\W`, `\s`, `\S`, `\b`, `\B`, `[a-c]`, `[^a]`, `[\s\d]`, `[a-z-[k]]`,
	`[[:alpha:]]`, `\p{L}`, `\p{Lu}`, `[k-m]`, `[^\w]`, `\x41`, `\u00e9`, `\t`, `\v`,
	"*", "+", "?", "*?", "+?", "??", "{2}", "{1,2}", "{0,}", "{,2}", "|", "|",
	"(", "(", "(?:", "(?i)", "(?-i)", "(?i:", "(?<n>", "(?n)", "(?s)", "(?x)", ")", ")", ")",
	"^", "$", `\A`, `\z`, `\Z`, ".*", ".*?", "#", "\n",
	`\101`, `\0`, `\cA`, `\e`, `\x{41}`, `[\b]`, `\<`, `(?#c)`, "{", "}", "]", `[]a]`, `[a-]`,
	`\-`, `[\-a]`, `(?=a)`, `(?<=a)`, `(?!a)`, `(?>`, `\1`, `\k<n>`, `(?'n'`, `(?<m>`, `\p{Ll}`,
	`\P{L}`, `[^\s]`, `\G`, `(?m)`, `(?x:`, `(?s:.)`, `[.]`, `a{2,}`, `{1}`, `\ `, `\#`,
	`\p{Greek}`, `\p{Nd}`, `[\w-[\d]]`, `[^\W\d]`, `[\P{L}\p{Lu}]`, `[\s\S]`, `[\d\D]`, `[^\d\D]`,
	`\p{White_Space}`, `\P{Lu}`, `[\p{Lu}\P{L}]`, `[a\S]`, `[^a\s]`, `\pL`, `[α-ω]`, `[^\x00-\x7f]`,
	"(?(a)", "(?(1)", "(?(?=a)", "(?(?!b)", "(?(n)",
}

// genPattern builds a pattern from random tokens.
func genPattern(r *rand.Rand) string {
	n := 1 + r.IntN(8)
	var b strings.Builder
	for range n {
		b.WriteString(genTokens[r.IntN(len(genTokens))])
	}
	return b.String()
}

// genLine builds a line from characters the tokens use.
func genLine(r *rand.Rand) string {
	const alphabet = "abksiKS1 -_.[é\u212aſİ\u00a0\v\tA2\xff" +
		"١\u2003\u200c\u203f\u0301αΣд中😀\u0085ß\ufffdΩ\u2160"
	rs := []rune(alphabet)
	n := r.IntN(12)
	var b strings.Builder
	for range n {
		b.WriteRune(rs[r.IntN(len(rs))])
	}
	return b.String()
}

// TestDifferentialGenerated checks patterns built from random tokens, with
// a fixed seed so a failure reproduces.
func TestDifferentialGenerated(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 300
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range n {
		pat := genPattern(r)
		line := genLine(r)
		if !utf8.ValidString(pat) {
			continue
		}
		checkDifferential(t, pat, line)
		if t.Failed() {
			return
		}
	}
}

// corpusSpecs are rules in the style of the examples, for the real logs.
var corpusSpecs = append(append([]Spec(nil), sshSpecs...),
	Spec{Select: `.*sshd\[\d+\]: (Accepted|Failed) \w+ for (invalid user )?\S+ from .*`, Key: `from (\S+) port`},
	Spec{Select: `.*Connection closed by .*\[preauth\]`, Extract: `port (\d+)`},
	Spec{Select: `.*postfix/smtpd\[\d+\]: NOQUEUE: reject: .*`, Key: `RCPT from [^\[]*\[([^\]]+)\]`},
	Spec{Select: `.*: (?i)relay access denied.*`},
	Spec{Select: `.*named\[\d+\]: client .*denied.*`, Key: `client ([\d.]+)#`},
	Spec{Select: `.*query \(cache\) '[^']+/(?<type>[A-Z]+)/IN' denied`, Key: `/(?<type>[A-Z]+)/IN`},
	Spec{Select: `.*sm-(mta|acceptingconnections)\[\d+\]: \w+: ruleset=check_rcpt.*reject=550.*`, Key: `relay=.*\[(\d+(?:\.\d+){3})\]`},
	Spec{Select: `.*proftpd\[\d+\].*(?<!no such )USER \S+ \(Login failed\).*`},
	Spec{Select: `\w{3} \w{3} [ \d]\d [\d:]{8} \d{4} \d+ \S+ (\d+) .*`, Extract: `^(?:\S+\s+){7}(\d+)`},
)

// TestCorpus compares the fast engines with the reference on every line
// of the real logs, with rules in the style of the examples.
func TestCorpus(t *testing.T) {
	files := realLogs(t)
	set, err := Compile(corpusSpecs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := compileReference(corpusSpecs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := set.NewMatcher()
	selected := make([]int, len(corpusSpecs))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var want []blockHit
		off := 0
		for n, line := range bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'}) {
			got := m.Match(line)
			if d := diffHits(got, ref.match(line)); d != "" {
				t.Fatalf("%s:%d: %s", filepath.Base(f), n+1, d)
			}
			for _, h := range got {
				if h.Selected {
					selected[h.Rule]++
				}
			}
			if len(got) > 0 {
				want = append(want, blockHit{off, string(line), copyHits(got)})
			}
			off += len(line) + 1
		}
		// The whole file as one block, and in blocks of about 4 KiB.
		got := blockOf(set.NewMatcher(), data)
		var pieces []blockHit
		bm := set.NewMatcher()
		for start := 0; start < len(data); {
			end := min(start+4096, len(data))
			if i := bytes.LastIndexByte(data[start:end], '\n'); i >= 0 && end < len(data) {
				end = start + i + 1
			}
			for _, h := range blockOf(bm, data[start:end]) {
				h.off += start
				pieces = append(pieces, h)
			}
			start = end
		}
		for name, got := range map[string][]blockHit{"one block": got, "blocks": pieces} {
			if len(got) != len(want) {
				t.Fatalf("%s as %s: %d lines with hits, want %d", filepath.Base(f), name, len(got), len(want))
			}
			for i := range got {
				if got[i].off != want[i].off || got[i].line != want[i].line {
					t.Fatalf("%s as %s: line %d at %d, want %q at %d", filepath.Base(f), name, i, got[i].off, want[i].line, want[i].off)
				}
				if d := diffHits(got[i].hits, want[i].hits); d != "" {
					t.Fatalf("%s as %s: %q: %s", filepath.Base(f), name, got[i].line, d)
				}
			}
		}
	}
	for i, n := range selected {
		if n == 0 {
			t.Errorf("rule %d (%s) selects no corpus line: the comparison proves little", i, corpusSpecs[i].Select)
		}
	}
}
