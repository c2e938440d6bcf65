package match

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dlclark/regexp2"
)

func TestLint(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string // a substring of each warning, in order; nil for none
	}{
		// Nested unbounded quantifiers.
		{`(a+)+`, []string{`nested quantifier in "(a+)+": "a+"`}},
		{`(.*)*`, []string{`nested quantifier in "(.*)*"`}},
		{`(\w+\s?)*`, []string{`nested quantifier in "(\\w+\\s?)*": "\\w+"`}},
		{`x(?:a|b+)*y`, []string{`nested quantifier`}},
		{`(.*,)*x`, []string{`nested quantifier`}},
		{`^(\d+)*$`, []string{`nested quantifier`}},
		// Overlapping alternations.
		{`(a|a)*`, []string{`alternation in "(a|a)*": the branches "a" and "a"`}},
		{`(\w|\d)+`, []string{`alternation in "(\\w|\\d)+"`}},
		{`(a|aa)+b`, []string{`alternation`}},
		{`(?i:A|a)+`, []string{`alternation`}},
		// Adjacent quantifiers, only where regexp2 runs every line.
		{`(?<=x)\d+\d+y`, []string{`adjacent quantifiers "\\d+" and "\\d+"`}},
		{`(?=a).*.*=`, []string{`adjacent quantifiers ".*" and ".*"`}},
		{`(?<!x)\s*-?\s*$`, []string{`adjacent quantifiers "\\s*" and "\\s*"`}},
		{`\d+\d+y`, nil},     // RE2 is linear
		{`(?=a).*=.*`, nil},  // a mandatory "=" between
		{`(?=a)\d+\s+`, nil}, // disjoint classes
		// Inside lookarounds, which always run on regexp2.
		{`(?=(a+)+b)a.*`, []string{`inside the lookahead "(?=(a+)+b)": nested quantifier in "(a+)+"`}},
		{`(?!(a+)+b).*`, []string{`inside the negative lookahead "(?!(a+)+b)": nested quantifier`}},
		{`(?=.*(a|aa)+$).*`, []string{`inside the lookahead "(?=.*(a|aa)+$)": adjacent quantifiers ".*" and "(a|aa)+"`,
			`inside the lookahead "(?=.*(a|aa)+$)": alternation in "(a|aa)+"`}},
		{`.*(?<=^(a+)+b)x`, []string{`inside the lookbehind "(?<=^(a+)+b)": nested quantifier`}},
		{`.*(?<!^(a|aa)+)x`, []string{`inside the negative lookbehind "(?<!^(a|aa)+)": alternation`}},
		{`(?=.*.*=)x.*`, []string{`inside the lookahead "(?=.*.*=)": adjacent quantifiers ".*" and ".*"`}},
		{`(?=a(?!(\w|\d)+$))a.*`, []string{`inside the negative lookahead "(?!(\\w|\\d)+$)": alternation`}},
		{`(?=x)(a+)+(?=(b+)+)`, []string{`nested quantifier in "(a+)+"`, `inside the lookahead "(?=(b+)+)": nested quantifier`}},
		{`(?=.*Invalid user)(?!.*root).*`, nil},
		{`(?<=port )\d+`, nil},
		{`(?=(?:\d+\.){3}\d+)\S+`, nil},
		{`(?:(?=\w)\w+\s)*x`, nil},
		// Safe shapes.
		{`(\w+\s)*`, nil},
		{`(?:[^,]*,)*`, nil},
		{`(\d+\.){3}\d+`, nil},
		{`(?:\d+\.)+`, nil},
		{`(GET|POST|PUT)+`, nil},
		{`(a|ab)*c`, nil},
		{`(a|b)*`, nil},
		{`(a+){2}`, nil},
		{`(a+)+(`, nil}, // does not compile: check reports the error
		// Constructs the matcher does not analyse.
		{`(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\10`, []string{"multi-digit backreference"}},
		{`(?<a>x)(?<b-a>y)`, []string{"balancing"}},
		{`(?(x)a|b)`, nil},
		// The example rules.
		{`.*sshd\[.*Invalid user.*`, nil},
		{`.*sshd\[.*POSSIBLE BREAK-IN ATTEMPT.*`, nil},
		{`.*sshd\[.*Did not receive identification string.*`, nil},
		{`.*sshd\[.*authentication failure.*`, nil},
		{`.*sshd\[.*Received disconnect from .*\[preauth\].*`, nil},
		{`.*sshd\[.*Failed password for .*`, nil},
		{`.*sshd\[.*PAM \d+ more authentication failures.*`, nil},
		{`PAM (\d+) more`, nil},
		{`from (\d+\.\d+\.\d+\.\d+)`, nil},
		{`port (\d+)`, nil},
		{`from (\S+)`, nil},
		{`.*ftpd\[.*`, nil},
		{`$(dir) .* = (\d+) bytes`, nil},
		{`(?<ip>\d{1,3}(?:\.\d{1,3}){3})`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			got := Lint(tt.pattern)
			if len(got) != len(tt.want) {
				t.Fatalf("Lint(%q) = %q, want %d warnings like %q", tt.pattern, got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, got[i], w)
				}
				why := strings.Contains(got[i], "backtrack") || strings.Contains(got[i], "slow")
				fix := strings.Contains(got[i], "e.g.") || strings.Contains(got[i], "Merge") || strings.Contains(got[i], "Rewrite")
				if !why || !fix {
					t.Errorf("warning %q does not say why and how to fix", got[i])
				}
			}
		})
	}
}

// TestLintSeeds runs Lint over every seed pattern: it must not panic, and
// its warnings name the pattern's text.
func TestLintSeeds(t *testing.T) {
	for _, p := range seedPatterns {
		for _, w := range Lint(p) {
			if !strings.Contains(w, "regexp2") {
				t.Errorf("Lint(%q): %q does not name the engine at risk", p, w)
			}
		}
	}
}

// TestLintLookaroundsTimeOut checks that what Lint warns about inside
// lookarounds is real: each pattern times out on a line that almost
// matches.
func TestLintLookaroundsTimeOut(t *testing.T) {
	as := strings.Repeat("a", 5000)
	tests := []struct{ pattern, line string }{
		{`(?=(a+)+b)a.*`, as + "c"},
		{`(?!(a+)+b).*`, as + "c"},
		{`(?=.*(a|aa)+$).*`, as + "c"},
		{`.*(?<=^(a+)+b)x`, "c" + as + "bx"},
		{`.*(?<!^(a|aa)+)x`, "c" + as + "x"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			if len(Lint(tt.pattern)) == 0 {
				t.Fatalf("Lint(%q) says nothing", tt.pattern)
			}
			set, err := Compile([]Spec{{Select: tt.pattern}}, Options{Timeout: MinTimeout})
			if err != nil {
				t.Fatal(err)
			}
			if got := set.NewMatcher().Match([]byte(tt.line)); len(got) != 1 || !got[0].Timeout {
				t.Fatalf("Match(%.20q...) = %s, want a timeout", tt.line, fmtHits(got))
			}
		})
	}
}

// FuzzLint checks that Lint never panics, that its warnings name the
// engine at risk, and that a pattern keeps its warnings when it is put
// inside a lookahead or a negative lookbehind, where each is said to be
// inside the lookaround.
func FuzzLint(f *testing.F) {
	for _, p := range seedPatterns {
		f.Add(p)
	}
	for _, p := range []string{`(a+)+b`, `(a|aa)+$`, `.*.*=`, `(?=(a+)+b)a.*`, `(\w|\d)+`} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pat string) {
		warns := Lint(pat)
		for _, w := range warns {
			if !strings.Contains(w, "regexp2") {
				t.Fatalf("Lint(%q): %q does not name the engine at risk", pat, w)
			}
		}
		if len(warns) == 0 || strings.Contains(warns[0], "does not analyse") {
			return
		}
		for _, wrapped := range []string{"(?=" + pat + ")", "(?<!" + pat + ")"} {
			if _, err := regexp2.Compile(wrapped, regexp2.None); err != nil {
				continue // e.g. a (?x) comment that swallows the ")"
			}
			inside := 0
			for _, w := range Lint(wrapped) {
				if strings.HasPrefix(w, "inside the ") {
					inside++
				}
			}
			if inside < len(warns) {
				t.Fatalf("Lint(%q) = %q, but Lint(%q) has %d warnings inside the lookaround", pat, warns, wrapped, inside)
			}
		}
	})
}

// TestLintAll: LintAll gives every pattern Lint's own warnings, whether
// its runs differ from an earlier pattern's outside every repeat and
// lookaround (shared), inside one (linted again), or under (?i).
func TestLintAll(t *testing.T) {
	pats := []string{
		`.*sshd\[\d+\]: Failed password for .* from 198\.18\.0\.7 port \d+ ssh2`,
		`.*sshd\[\d+\]: Failed password for .* from 198\.18\.3\.231 port \d+ ssh2`,
		`.*sshd\[\d+\]: Failed password for .* from 10\.0\.0\.1 port \d+ ssh2`,
		// The run inside the repeat decides: a separator, then none.
		`x(\d+,)*y`,
		`x(\d+5)*y`,
		`x(\d+-)*y`,
		// Inside a repeated alternation: words that cannot share text,
		// then words that can.
		`(GET|PUT)+ z`,
		`(GET|GETS)+ z`,
		// Inside a lookaround, which the warnings name.
		`(?=(a+)+b)abc`,
		`(?=(a+)+b)abd`,
		// Adjacent repeats that only regexp2 runs, with a run between.
		`(?<=q)\d+x\d+`,
		`(?<=q)\d+y\d+`,
		// Case-insensitive: each on its own.
		`(?i)(k+k)+`,
		`(?i)(s+s)+`,
		// Invalid, and not analysed.
		`(a`,
		`(b`,
		`(a)\10 x`,
		`(a)\10 y`,
	}
	got := LintAll(pats)
	for i, p := range pats {
		want := Lint(p)
		if strings.Join(got[i], "\n") != strings.Join(want, "\n") {
			t.Errorf("LintAll for %q:\n%q\nLint:\n%q", p, got[i], want)
		}
	}
	if w := LintAll(pats[:2]); len(w[0]) != 0 || len(w[1]) != 0 {
		t.Errorf("the ssh rules have warnings: %q", w)
	}
	if len(Lint(pats[4])) == 0 || len(Lint(pats[3])) != 0 {
		t.Fatal("the repeat's separator no longer decides: the table checks nothing")
	}
}

// FuzzLintAll: a pattern and the same with one of its runs of literal
// text replaced get from LintAll what Lint gives each.
func FuzzLintAll(f *testing.F) {
	for _, p := range seedPatterns {
		f.Add(p, 0, "x")
	}
	f.Add(`x(\d+,)*y`, 1, "5")
	f.Add(`(GET|PUT)+ z`, 0, "GETS")
	f.Add(`(?=(a+)+b)abc`, 1, "ab")
	f.Add(`(?<=q)\d+x\d+`, 1, "1")
	f.Fuzz(func(t *testing.T, pat string, run int, text string) {
		_, runs, ok := lexRuns(pat)
		if !ok || len(runs) == 0 || len(pat) > 200 {
			return
		}
		r := runs[((run%len(runs))+len(runs))%len(runs)]
		var lit strings.Builder
		for _, c := range []byte(text) {
			switch {
			case c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == ' ' || c == '-' || c == ',' || c == '=':
				lit.WriteByte(c)
			case c > 0x20 && c < 0x7f && isEscapedLiteral(c):
				lit.WriteByte('\\')
				lit.WriteByte(c)
			}
		}
		if lit.Len() == 0 {
			return
		}
		other := pat[:r.start] + lit.String() + pat[r.end:]
		got := LintAll([]string{pat, other})
		for i, p := range []string{pat, other} {
			if want := Lint(p); strings.Join(got[i], "\n") != strings.Join(want, "\n") {
				t.Fatalf("LintAll for %q (with %q):\n%q\nLint:\n%q", p, pat, got[i], want)
			}
		}
	})
}

// BenchmarkLintAll1000: the lint of the 1000 rules of bench/rules.sh, one
// per source address, which share one shape and are linted once.
func BenchmarkLintAll1000(b *testing.B) {
	pats := make([]string, 1000)
	for k := range pats {
		pats[k] = fmt.Sprintf(`.*sshd\[\d+\]: Failed password for .* from 198\.18\.%d\.%d port \d+ ssh2`, k/256, k%256)
	}
	for _, one := range []bool{false, true} {
		name := "LintAll"
		if one {
			name = "Lint each"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if one {
					for _, p := range pats {
						Lint(p)
					}
				} else {
					LintAll(pats)
				}
			}
		})
	}
}
