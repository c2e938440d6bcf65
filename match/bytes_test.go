package match

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// bytesTokens are pieces of generated patterns that the bytes engine
// compiles, with the shapes of log rules: literals, classes and runs,
// optional groups, alternations, anchors and captures.
var bytesTokens = []string{
	"a", "b", "ab", " ", ":", "-", `\[`, `\]`, `\.`, "=", "x",
	`\d`, `\w`, `\s`, `\S`, `\D`, `\W`, ".", `[a-c]`, `[^a ]`, `[\d.]`, `[^\]]`,
	"+", "*", "?", "+?", "*?", "{2}", "{1,3}", "{0,2}?", "{2,}",
	"(", "(?:", "(?i:", "(?<n>", ")", ")", ")?", ")+", ")*", "){2}", "|",
	"^", "$", `\b`, `\B`, ".*", ".*?", `(?:a )?`, `(?:ab|b)`, `(\S+)`, `(\d+)`,
}

// bytesAlphabet is what generated lines are made of: few bytes, so that
// patterns match often.
const bytesAlphabet = "aab b:-[].=x12 \tAB"

// TestBytesEngineGenerated compares the bytes engine with the reference
// on generated patterns and ASCII lines, with a fixed seed so a failure
// reproduces, and checks that the engine was used for most of them.
func TestBytesEngineGenerated(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 500
	}
	r := rand.New(rand.NewPCG(3, 4))
	used, tried := 0, 0
	for range n {
		var b strings.Builder
		for range 1 + r.IntN(7) {
			b.WriteString(bytesTokens[r.IntN(len(bytesTokens))])
		}
		pat := b.String()
		var lines []string
		for range 12 {
			var l strings.Builder
			for range r.IntN(16) {
				l.WriteByte(bytesAlphabet[r.IntN(len(bytesAlphabet))])
			}
			lines = append(lines, l.String())
		}
		for _, sp := range specsFor(pat) {
			set, err := Compile([]Spec{sp}, Options{Timeout: diffTimeout})
			if err != nil {
				break
			}
			tried++
			info := set.Describe(0)
			if info.Select == "bytes" || info.Extract == "bytes" || info.Key == "bytes" {
				used++
			}
			compareSets(t, []Spec{sp}, lines)
		}
		if t.Failed() {
			return
		}
	}
	if used < tried/2 {
		t.Errorf("the bytes engine ran %d of %d specs: the test proves little", used, tried)
	}
}

// TestBytesEngineShapes checks patterns whose runs are deterministic, have
// a computed length, or backtrack, on lines that exercise each case.
func TestBytesEngineShapes(t *testing.T) {
	tests := []struct {
		pat   string
		lines []string
	}{
		{`.*sshd\[\d+\]: Invalid user .*`, []string{"x sshd[12]: Invalid user a", "x sshd[12a]: Invalid user a", "sshd[]: Invalid user ", "sshd[1]: Invalid user"}},
		{`.*sshd\[\d+\]: (?:error: )?Received disconnect from .* \[preauth\]`, []string{
			"a sshd[1]: Received disconnect from 1.2.3.4 port 1:11: Bye [preauth]",
			"a sshd[1]: error: Received disconnect from x [preauth]",
			"a sshd[1]: error: Received disconnect from x [preauth] ",
			"a sshd[1]: Received disconnect from  [preauth]",
			"a sshd[1]: Received disconnect from [preauth]",
		}},
		{`Invalid user .* from (\S+)`, []string{"Invalid user a from b from c port 1", "Invalid user  from ", "Invalid user from x", "Invalid user x from 1.2.3.4"}},
		{`from (\S+) port \d+`, []string{"from 1.2.3.4 port 22 ssh2", "from x port y from z port 1", "from  port 1"}},
		{`(\d+)\.(\d+)`, []string{"12.34", "1.", ".5", "a1.2.3"}},
		{`(a|ab)(c|bcd)(d*)`, []string{"abcd", "acd", "abd"}},
		{`(?:a+)+b`, []string{strings.Repeat("a", 40), strings.Repeat("a", 40) + "b"}},
		{`(?:a|a)*c`, []string{strings.Repeat("a", 60)}},
		{`(\w+)\s*=\s*(\S*)`, []string{"key = value", "k=", "=v", "  a  =  b  "}},
		{`.*?(\d{2,3}).*`, []string{"a1234b", "1", "12", "x99"}},
		{`^\w{3} [ \d]\d [\d:]{8} (\S+)`, []string{"Jan  1 00:00:00 host x", "Jan 10 00:00:00 h", "Jan 1 00:00:00 h"}},
		{`\bfailed\b`, []string{"failed", "xfailed", "failed_", "a failed b"}},
		{`(?i)ERROR: (\w+)`, []string{"error: x", "Error: y", "ERR: z"}},
	}
	for _, tt := range tests {
		t.Run(tt.pat, func(t *testing.T) {
			for _, sp := range specsFor(tt.pat) {
				set, err := Compile([]Spec{sp}, Options{})
				if errors.Is(err, ErrNoGroup) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				info := set.Describe(0)
				if info.Select != "bytes" && info.Select != "literal" || sp.Extract != "" && info.Extract != "bytes" || sp.Key != "" && info.Key != "bytes" {
					t.Errorf("%+v: engines %+v, want bytes", sp, info)
				}
				compareSets(t, []Spec{sp}, tt.lines)
			}
		})
	}
}

// TestBytesEngineBounded checks that patterns that backtrack
// catastrophically under regexp2 cost the bytes engine a bounded amount of
// work (program size × line length × a constant): within it the bytes
// engine answers, beyond it the line goes to the RE2 engine; the result
// is the reference's either way.
func TestBytesEngineBounded(t *testing.T) {
	gaveUp := 0
	for _, pat := range []string{`(?:a|aa)+(?:a|aa)+b`, `(?:a+)+b`, `.*a.*a.*a.*b`, `(\w+\s?)*$`, `(?:a+b*)+c`, `x.*?y.*?z`} {
		set, err := Compile([]Spec{{Select: pat}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if set.Engine(0) != "bytes" && set.Engine(0) != "literal" {
			t.Fatalf("%s: engine %s, want bytes", pat, set.Engine(0))
		}
		ref, err := compileReference([]Spec{{Select: pat}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		m := set.NewMatcher()
		for _, n := range []int{10, 100, 3000} {
			for _, line := range []string{strings.Repeat("a", n) + "!", strings.Repeat("xa y", n/4) + "c"} {
				got := m.Match([]byte(line))
				if p := set.rules[0].sel.bp; p != nil && m.bs.work > m.bs.budget+len(line)+len(p.insts) {
					t.Errorf("%s on %d bytes: work %d over the budget %d", pat, len(line), m.bs.work, m.bs.budget)
				}
				if n > 100 {
					continue // the reference would take too long
				}
				if m.bs.gaveUp {
					gaveUp++
				}
				if d := diffHits(got, ref.match([]byte(line))); d != "" {
					t.Errorf("%s on %q: %s", pat, line, d)
				}
			}
		}
	}
	if gaveUp == 0 {
		t.Error("no line went over the budget: the hand-over is not tested")
	}
}

// BenchmarkBytesEngine measures the bytes engine on a typical line: a
// select pattern in search mode, and a key extraction.
func BenchmarkBytesEngine(b *testing.B) {
	line := []byte("Jan  1 00:00:07 LabSZ sshd[24206]: Failed password for invalid user test9 from 52.80.34.196 port 36060 ssh2")
	for _, sp := range []Spec{
		{Select: `.*sshd\[\d+\]: Failed password for .*`},
		{Select: `.*sshd\[\d+\]: (?:error: )?Received disconnect from .* \[preauth\]`},
		{Select: `.*`, Key: `from (\S+) port \d+`},
		{Select: `.*`, Key: `Invalid user .* from (\S+)`},
	} {
		set, err := Compile([]Spec{sp}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		m := set.NewMatcher()
		b.Run(sp.Select+" "+sp.Key, func(b *testing.B) {
			r := set.rules[0]
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for range b.N {
				if r.key != nil {
					r.key.bp.group(&m.bs, line)
				} else {
					r.sel.bp.match(&m.bs, line)
				}
			}
		})
	}
}
