package match

import (
	"strings"
	"testing"
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
